// Polynomial approximation of activation functions for homomorphic evaluation (CryptoDL's
// toolkit and better): seven methods, all computing in the Chebyshev basis of [a, b].
//
// Typical use:
//   henn::approx::ApproxRequest request;
//   request.function = henn::approx::builtin_function("relu");
//   request.method = henn::approx::Method::Minimax;
//   request.degree = 3;
//   request.interval = {-6.0, 6.0};
//   henn::approx::Approximation result = henn::approx::approximate(request);
//   double y = result.polynomial.evaluate(x);
#pragma once

#include <complex>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "henn/approx/chebyshev.hpp"

namespace henn::approx {

// A function to approximate. Only `value` is required; the rest makes some methods possible or
// more accurate.
struct TargetFunction {
    std::string name;
    std::function<double(double)> value;
    // f'(x): used by the `derivative` method (relu's derivative is handled specially).
    std::function<double(double)> derivative;
    // f on complex arguments, analytic near the real axis: Taylor coefficients by Cauchy's integral
    // (accurate to high order). Without it Taylor falls back to real interpolation (low order).
    std::function<std::complex<double>(std::complex<double>)> complex_value;
    // Singularities of complex_value nearest the real axis (conjugates implied; none for an
    // entire function): they bound the Taylor series' radius of convergence.
    std::vector<std::complex<double>> singularities;
    // Points where f is not smooth (relu: 0): quadrature and extremum searches break there.
    std::vector<double> kinks;
};

// relu, sigmoid, tanh, silu, gelu (exact, with erf), softplus. Throws henn::InvalidArgument
// naming the known functions otherwise.
TargetFunction builtin_function(std::string_view name);
std::vector<std::string> builtin_function_names();
// Any C++ callable.
TargetFunction custom_function(std::string name, std::function<double(double)> value);

enum class Method {
    LeastSquares,
    Taylor,
    Chebyshev,
    ModifiedWeight,
    Derivative,
    Minimax,
    Empirical
};
// Command-line names: least-squares, taylor, chebyshev, modified-weight, derivative, minimax,
// empirical.
std::string method_name(Method method);
Method parse_method(std::string_view name);  // throws henn::InvalidArgument listing the names
std::vector<Method> all_methods();

struct ApproxRequest {
    TargetFunction function = builtin_function("relu");
    Method method = Method::Minimax;
    int degree = 3;  // 0..63 (higher is refused: nothing stays stable or cheap under encryption)
    Interval interval{-1.0, 1.0};

    // Pre-activation values seen by a trained network. Required by `empirical` (its fitting
    // measure); for every method, the errors on them are reported too.
    std::vector<double> samples;

    // least-squares: number of equispaced sample points on [a, b]; 0 = max(1000, 20 (d + 1)).
    int least_squares_points = 0;
    // taylor: expansion point; unset = the interval's midpoint.
    std::optional<double> taylor_center;
    // modified-weight: weight w(x) on [a, b] (original units, w >= 0). Unset = CryptoDL's choice:
    // exp(-(l/x)^2) with l = max(|a|, |b|) for sigmoid and tanh, exp(-1/(1e-5 + x^2)) otherwise.
    std::function<double(double)> weight;
    // derivative: relu's step is replaced by sigmoid(k x); unset = the k that minimizes the
    // resulting max error on [a, b] (searched), else this k.
    std::optional<double> derivative_steepness;
    // empirical: fraction of the fitting measure spread uniformly over [a, b] so the polynomial
    // stays bounded where the sample is sparse (0 = pure sample least squares).
    double empirical_uniform_mix = 0.01;
};

struct ErrorStats {
    double max_error = 0.0;  // max |f - p|
    double l2_error = 0.0;   // root mean square of f - p (uniform measure on [a, b], or the sample)
};

struct Approximation {
    std::string function;
    Method method = Method::Minimax;
    int degree = 0;
    Interval interval{};
    ChebyshevPolynomial polynomial;          // the result, Chebyshev basis of [a, b]
    std::vector<double> power_coefficients;  // ascending powers of x (export only)
    double power_basis_roundoff = 0.0;       // see ChebyshevPolynomial::power_basis_roundoff
    ErrorStats interval_error;               // on [a, b]
    std::optional<ErrorStats> sample_error;  // on request.samples, when given
    // Numerics the encrypted evaluator relies on (its cost: henn::circuits::plan_polynomial on
    // `polynomial`): the parity of `polynomial` ignoring its constant (coefficients breaking it
    // are exactly zero), and its degree once rounding-noise top coefficients are set to zero.
    Parity parity = Parity::None;
    int effective_degree = 0;
    // Method-specific facts worth showing (e.g. "steepness=3.2", "remez_iterations=7",
    // "taylor_center=0").
    std::vector<std::pair<std::string, double>> details;
    // Honest caveats (e.g. power-basis precision loss, samples outside the interval).
    std::vector<std::string> warnings;
};

// Throws henn::InvalidArgument for a bad request (degree out of range, bad interval, empirical
// without samples, non-finite function values, ...) and when a method cannot apply (e.g. Taylor
// of relu at its kink).
Approximation approximate(const ApproxRequest& request);

// Errors of `p` against `f` on the polynomial's interval (dense grid plus local refinement of the
// maxima; RMS by composite Gauss-Legendre split at the kinks).
ErrorStats interval_error(const TargetFunction& f, const ChebyshevPolynomial& p);
ErrorStats sample_error(const TargetFunction& f, const ChebyshevPolynomial& p,
                        const std::vector<double>& samples);

}  // namespace henn::approx
