// Polynomials in the Chebyshev basis of an interval [a, b] (numerics only; what evaluating them
// under encryption costs is henn::circuits' business: circuits/chebyshev_plan.hpp and
// circuits/polynomial_plan.hpp).
//
// Every polynomial here is p(x) = sum_k c_k T_k(t), with t = (2x - a - b) / (b - a) the affine map
// of [a, b] onto [-1, 1]. The Chebyshev basis stays well conditioned up to high degree; the power
// basis of x does not, so to_power_basis() is an export format only, never used for computing.
#pragma once

#include <span>
#include <string>
#include <vector>

namespace henn::approx {

struct Interval {
    double lo = -1.0;
    double hi = 1.0;

    double width() const { return hi - lo; }
    double midpoint() const { return 0.5 * (lo + hi); }
    // Maps x in [lo, hi] onto t in [-1, 1], and back.
    double to_unit(double x) const { return (2.0 * x - lo - hi) / (hi - lo); }
    double from_unit(double t) const { return 0.5 * (hi - lo) * t + 0.5 * (lo + hi); }
    // Throws henn::InvalidArgument unless lo < hi and both are finite.
    void validate() const;
};

// Symmetry about the interval's midpoint (for a symmetric interval [-l, l], parity in x).
enum class Parity { None, Even, Odd };
std::string parity_name(Parity parity);

class ChebyshevPolynomial {
  public:
    ChebyshevPolynomial() = default;
    // coefficients[k] multiplies T_k(t); at least one coefficient. Validates the interval and that
    // the coefficients are finite.
    ChebyshevPolynomial(std::vector<double> coefficients, Interval interval);

    const std::vector<double>& coefficients() const { return coefficients_; }
    const Interval& interval() const { return interval_; }
    // Nominal degree: number of coefficients - 1 (trailing zeros are kept: the caller asked for
    // this degree, and the encrypted evaluator's plan depends on it).
    int degree() const { return static_cast<int>(coefficients_.size()) - 1; }

    // Clenshaw recurrence in t. Valid for any x; outside [a, b] the polynomial grows fast.
    double evaluate(double x) const;
    std::vector<double> evaluate(std::span<const double> xs) const;

    // Ascending powers of x on the original interval: p(x) = sum_j a_j x^j. Computed in long
    // double, but high degree on wide or off-centre intervals still loses precision (the
    // coefficients grow like (2 / (b - a))^d 2^d); see power_basis_roundoff().
    std::vector<double> to_power_basis() const;
    // Ascending powers of t in [-1, 1] (the variable an encrypted evaluator sees after the
    // interval change).
    std::vector<double> to_unit_power_basis() const;
    // Largest |p_power(x) - p_chebyshev(x)| over a dense grid of [a, b], p_power evaluated from
    // to_power_basis() by Horner in double: the price of exporting to the power basis.
    double power_basis_roundoff() const;

    // Odd/even in t when the other coefficients are all <= tolerance * max |c_k|.
    Parity parity(double relative_tolerance = 1e-9) const;
    // Same, ignoring c_0: a constant costs only a plaintext addition under encryption, so an
    // odd polynomial plus a constant (sigmoid's approximations on [-l, l]) is evaluated as odd.
    Parity parity_except_constant(double relative_tolerance = 1e-9) const;
    // Copy with the coefficients that break `parity` set to exactly zero (c_0 is kept when
    // keep_constant is true).
    ChebyshevPolynomial with_parity(Parity parity, bool keep_constant = false) const;

    // d/dx and an antiderivative in x (constant chosen so that it vanishes at x = a), same
    // interval.
    ChebyshevPolynomial derivative() const;
    ChebyshevPolynomial antiderivative() const;

    // Chebyshev interpolant of degree `degree` at the Chebyshev points of the first kind.
    template <typename F>
    static ChebyshevPolynomial interpolate(F&& f, int degree, Interval interval);
    static ChebyshevPolynomial from_power_basis(std::span<const double> ascending_powers_of_x,
                                                Interval interval);

  private:
    static ChebyshevPolynomial interpolate_values(std::span<const double> values_at_nodes,
                                                  Interval interval);
    static std::vector<double> chebyshev_nodes(int count, Interval interval);

    std::vector<double> coefficients_{0.0};
    Interval interval_{};
};

template <typename F>
ChebyshevPolynomial ChebyshevPolynomial::interpolate(F&& f, int degree, Interval interval) {
    interval.validate();
    const std::vector<double> nodes = chebyshev_nodes(degree + 1, interval);
    std::vector<double> values(nodes.size());
    for (std::size_t i = 0; i < nodes.size(); ++i) values[i] = f(nodes[i]);
    return interpolate_values(values, interval);
}

}  // namespace henn::approx
