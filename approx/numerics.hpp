// Internal numerical building blocks of the approximation methods (not a public header).
#pragma once

#include <Eigen/Dense>

#include <functional>
#include <vector>

#include "henn/approx/chebyshev.hpp"

namespace henn::approx::detail {

struct QuadratureRule {
    std::vector<double> nodes;
    std::vector<double> weights;
};

// Gauss-Legendre rule of `order` nodes on [-1, 1] (Newton on the Legendre recurrence).
const QuadratureRule& gauss_legendre(int order);

// Composite Gauss-Legendre on [lo, hi], panels split at every breakpoint strictly inside, so that
// a function with kinks there is integrated as accurately as a smooth one.
QuadratureRule composite_rule(double lo, double hi, const std::vector<double>& breakpoints,
                              int panels = 96, int order = 24);

// Row [T_0(t), ..., T_degree(t)].
void chebyshev_row(double t, int degree, double* out);
// Matrix with rows chebyshev_row(t_i).
Eigen::MatrixXd chebyshev_matrix(const std::vector<double>& ts, int degree);

// Sorted grid of [lo, hi]: Chebyshev-distributed and equispaced points, the ends and the
// breakpoints inside.
std::vector<double> dense_grid(double lo, double hi, const std::vector<double>& breakpoints,
                               int points);

struct Extremum {
    double x;
    double value;  // signed error at x
};
// One extremum per maximal run of constant sign of `error` on `grid` (argmax of |error|, refined
// by golden-section search between the neighbouring grid points). Consecutive ones alternate.
std::vector<Extremum> sign_run_extrema(const std::function<double(double)>& error,
                                       const std::vector<double>& grid);
// Reduces alternating extrema to exactly `count`, keeping the largest while preserving
// alternation (Remez multi-point exchange). Returns fewer when fewer are given.
std::vector<Extremum> select_alternating(std::vector<Extremum> extrema, std::size_t count);

}  // namespace henn::approx::detail
