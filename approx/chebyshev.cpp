#include "henn/approx/chebyshev.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

#include "henn/error.hpp"

namespace henn::approx {

void Interval::validate() const {
    if (!std::isfinite(lo) || !std::isfinite(hi)) {
        throw InvalidArgument("interval bounds must be finite");
    }
    if (!(lo < hi)) {
        throw InvalidArgument("interval [" + std::to_string(lo) + ", " + std::to_string(hi) +
                              "] is empty: need lo < hi");
    }
}

std::string parity_name(Parity parity) {
    switch (parity) {
        case Parity::Even:
            return "even";
        case Parity::Odd:
            return "odd";
        case Parity::None:
            break;
    }
    return "none";
}

ChebyshevPolynomial::ChebyshevPolynomial(std::vector<double> coefficients, Interval interval)
    : coefficients_(std::move(coefficients)), interval_(interval) {
    interval_.validate();
    if (coefficients_.empty()) {
        throw InvalidArgument("a Chebyshev polynomial needs at least one coefficient");
    }
    for (double c : coefficients_) {
        if (!std::isfinite(c)) throw InvalidArgument("Chebyshev coefficient is not finite");
    }
}

double ChebyshevPolynomial::evaluate(double x) const {
    const double t = interval_.to_unit(x);
    // Clenshaw: b_k = c_k + 2 t b_{k+1} - b_{k+2}; p = c_0 + t b_1 - b_2.
    double b1 = 0.0, b2 = 0.0;
    for (std::size_t k = coefficients_.size() - 1; k >= 1; --k) {
        const double b0 = coefficients_[k] + 2.0 * t * b1 - b2;
        b2 = b1;
        b1 = b0;
    }
    return coefficients_[0] + t * b1 - b2;
}

std::vector<double> ChebyshevPolynomial::evaluate(std::span<const double> xs) const {
    std::vector<double> out(xs.size());
    for (std::size_t i = 0; i < xs.size(); ++i) out[i] = evaluate(xs[i]);
    return out;
}

namespace {

// Monomial coefficients of p(alpha x + beta) = sum_k c_k T_k(alpha x + beta), by the three-term
// recurrence on polynomials in x, in long double.
std::vector<double> chebyshev_to_monomials(const std::vector<double>& c, long double alpha,
                                           long double beta) {
    const std::size_t n = c.size();
    std::vector<long double> result(n, 0.0L);
    std::vector<long double> previous(n, 0.0L), current(n, 0.0L), next(n, 0.0L);
    previous[0] = 1.0L;  // T_0
    result[0] += c[0];
    if (n > 1) {
        current[0] = beta;  // T_1 = alpha x + beta
        current[1] = alpha;
        for (std::size_t j = 0; j < n; ++j) result[j] += c[1] * current[j];
    }
    for (std::size_t k = 2; k < n; ++k) {
        // T_k = 2 (alpha x + beta) T_{k-1} - T_{k-2}
        for (std::size_t j = 0; j < n; ++j) {
            long double v = 2.0L * beta * current[j] - previous[j];
            if (j > 0) v += 2.0L * alpha * current[j - 1];
            next[j] = v;
        }
        for (std::size_t j = 0; j < n; ++j) result[j] += c[k] * next[j];
        previous.swap(current);
        current.swap(next);
    }
    return std::vector<double>(result.begin(), result.end());
}

}  // namespace

std::vector<double> ChebyshevPolynomial::to_power_basis() const {
    const long double lo = interval_.lo, hi = interval_.hi;
    const long double alpha = 2.0L / (hi - lo);
    const long double beta = -(hi + lo) / (hi - lo);
    return chebyshev_to_monomials(coefficients_, alpha, beta);
}

std::vector<double> ChebyshevPolynomial::to_unit_power_basis() const {
    return chebyshev_to_monomials(coefficients_, 1.0L, 0.0L);
}

double ChebyshevPolynomial::power_basis_roundoff() const {
    const std::vector<double> power = to_power_basis();
    constexpr int kGrid = 2001;
    double worst = 0.0;
    for (int i = 0; i < kGrid; ++i) {
        const double x = interval_.lo + interval_.width() * i / (kGrid - 1);
        double horner = 0.0;
        for (std::size_t j = power.size(); j-- > 0;) horner = horner * x + power[j];
        worst = std::max(worst, std::abs(horner - evaluate(x)));
    }
    return worst;
}

Parity ChebyshevPolynomial::parity(double relative_tolerance) const {
    double largest = 0.0, largest_even = 0.0, largest_odd = 0.0;
    for (std::size_t k = 0; k < coefficients_.size(); ++k) {
        const double a = std::abs(coefficients_[k]);
        largest = std::max(largest, a);
        (k % 2 == 0 ? largest_even : largest_odd) =
            std::max(k % 2 == 0 ? largest_even : largest_odd, a);
    }
    if (largest == 0.0) return Parity::Even;  // the zero polynomial: even is the cheaper choice
    const double limit = relative_tolerance * largest;
    if (largest_odd <= limit) return Parity::Even;
    if (largest_even <= limit) return Parity::Odd;
    return Parity::None;
}

Parity ChebyshevPolynomial::parity_except_constant(double relative_tolerance) const {
    if (coefficients_.size() == 1) return Parity::Even;
    std::vector<double> rest = coefficients_;
    rest[0] = 0.0;
    return ChebyshevPolynomial(std::move(rest), interval_).parity(relative_tolerance);
}

ChebyshevPolynomial ChebyshevPolynomial::with_parity(Parity parity, bool keep_constant) const {
    std::vector<double> c = coefficients_;
    if (parity != Parity::None) {
        const std::size_t drop = parity == Parity::Even ? 1 : 0;  // index parity to zero
        for (std::size_t k = drop; k < c.size(); k += 2) {
            if (k > 0 || !keep_constant) c[k] = 0.0;
        }
    }
    return ChebyshevPolynomial(std::move(c), interval_);
}

ChebyshevPolynomial ChebyshevPolynomial::derivative() const {
    const std::size_t n = coefficients_.size();
    if (n == 1) return ChebyshevPolynomial({0.0}, interval_);
    // d/dt: d_{k-1} = d_{k+1} + 2 k c_k, halving d_0 at the end.
    std::vector<double> d(n + 1, 0.0);
    for (std::size_t k = n - 1; k >= 1; --k)
        d[k - 1] = d[k + 1] + 2.0 * static_cast<double>(k) * coefficients_[k];
    d[0] *= 0.5;
    d.resize(n - 1);
    const double scale = 2.0 / interval_.width();  // dt/dx
    for (double& v : d) v *= scale;
    return ChebyshevPolynomial(std::move(d), interval_);
}

ChebyshevPolynomial ChebyshevPolynomial::antiderivative() const {
    const std::size_t n = coefficients_.size();
    std::vector<double> c = coefficients_;
    c.resize(n + 2, 0.0);
    std::vector<double> integral(n + 1, 0.0);
    // int T_0 = T_1, int T_1 = T_2 / 4, int T_k = T_{k+1} / (2(k+1)) - T_{k-1} / (2(k-1)).
    integral[1] = c[0] - 0.5 * c[2];
    for (std::size_t k = 2; k <= n; ++k)
        integral[k] = (c[k - 1] - c[k + 1]) / (2.0 * static_cast<double>(k));
    const double scale = 0.5 * interval_.width();  // dx/dt
    double at_lo = 0.0;                            // value at t = -1 before the constant
    for (std::size_t k = 1; k <= n; ++k) {
        integral[k] *= scale;
        at_lo += (k % 2 == 0 ? 1.0 : -1.0) * integral[k];
    }
    integral[0] = -at_lo;
    return ChebyshevPolynomial(std::move(integral), interval_);
}

std::vector<double> ChebyshevPolynomial::chebyshev_nodes(int count, Interval interval) {
    if (count < 1) throw InvalidArgument("Chebyshev interpolation needs degree >= 0");
    std::vector<double> nodes(static_cast<std::size_t>(count));
    for (int j = 0; j < count; ++j) {
        nodes[static_cast<std::size_t>(j)] =
            interval.from_unit(std::cos(std::numbers::pi * (j + 0.5) / count));
    }
    return nodes;
}

ChebyshevPolynomial ChebyshevPolynomial::interpolate_values(std::span<const double> values,
                                                            Interval interval) {
    const std::size_t n = values.size();
    std::vector<double> c(n, 0.0);
    for (std::size_t k = 0; k < n; ++k) {
        double sum = 0.0;
        for (std::size_t j = 0; j < n; ++j) {
            sum += values[j] * std::cos(std::numbers::pi * static_cast<double>(k) *
                                        (static_cast<double>(j) + 0.5) / static_cast<double>(n));
        }
        c[k] = (k == 0 ? 1.0 : 2.0) * sum / static_cast<double>(n);
    }
    return ChebyshevPolynomial(std::move(c), interval);
}

ChebyshevPolynomial ChebyshevPolynomial::from_power_basis(std::span<const double> powers,
                                                          Interval interval) {
    if (powers.empty()) throw InvalidArgument("a polynomial needs at least one coefficient");
    // Interpolation at degree + 1 nodes is exact for a polynomial of that degree.
    return interpolate(
        [&](double x) {
            long double v = 0.0L;
            for (std::size_t j = powers.size(); j-- > 0;) v = v * x + powers[j];
            return static_cast<double>(v);
        },
        static_cast<int>(powers.size()) - 1, interval);
}

}  // namespace henn::approx
