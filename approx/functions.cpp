// The built-in activation functions, on real and (where analytic) complex arguments.
#include <cmath>
#include <complex>
#include <numbers>
#include <stdexcept>

#include "henn/approx/approximate.hpp"
#include "henn/error.hpp"

namespace henn::approx {

namespace {

using complex = std::complex<double>;

double sigmoid(double x) {
    // Never exponentiates a large positive number.
    if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
    const double e = std::exp(x);
    return e / (1.0 + e);
}

complex sigmoid(complex z) {
    if (z.real() >= 0) return 1.0 / (1.0 + std::exp(-z));
    const complex e = std::exp(z);
    return e / (1.0 + e);
}

double softplus(double x) {
    return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

complex softplus(complex z) {
    // Principal log is continuous off the lines Im z = (2n+1) pi, i.e. inside the Taylor disc.
    if (z.real() > 0) return z + std::log(1.0 + std::exp(-z));
    return std::log(1.0 + std::exp(z));
}

// erf on complex arguments: Maclaurin series (entire function) for |z| <= 5, the asymptotic
// expansion of erfc beyond (only needed for Taylor centres far out, where gelu is x or 0).
complex erf_complex(complex z) {
    if (std::abs(z) <= 5.0) {
        complex sum = 0.0, power = z;  // power = z^(2n+1) / n!
        const complex z2 = z * z;
        for (int n = 0; n < 400; ++n) {
            const complex term = power / (2.0 * n + 1.0);
            sum += (n % 2 == 0 ? 1.0 : -1.0) * term;
            if (n > std::norm(z) && std::abs(term) < 1e-17 * std::abs(sum)) break;
            power *= z2 / (n + 1.0);
        }
        return 2.0 / std::sqrt(std::numbers::pi) * sum;
    }
    const bool flip = z.real() < 0;
    const complex w = flip ? -z : z;
    complex series = 1.0, term = 1.0;
    const complex inverse_2w2 = 1.0 / (2.0 * w * w);
    for (int n = 1; n < 30; ++n) {
        term *= -(2.0 * n - 1.0) * inverse_2w2;
        series += term;
    }
    const complex erfc = std::exp(-w * w) / (w * std::sqrt(std::numbers::pi)) * series;
    return flip ? -(1.0 - erfc) : 1.0 - erfc;
}

double standard_normal_cdf(double x) {
    return 0.5 * std::erfc(-x / std::numbers::sqrt2);
}
double standard_normal_pdf(double x) {
    return std::exp(-0.5 * x * x) / std::sqrt(2.0 * std::numbers::pi);
}

}  // namespace

std::vector<std::string> builtin_function_names() {
    return {"relu", "sigmoid", "tanh", "silu", "gelu", "softplus"};
}

TargetFunction builtin_function(std::string_view name) {
    TargetFunction f;
    f.name = std::string(name);
    const complex i_pi{0.0, std::numbers::pi};
    if (name == "relu") {
        f.value = [](double x) { return x > 0 ? x : 0.0; };
        f.derivative = [](double x) { return x > 0 ? 1.0 : (x < 0 ? 0.0 : 0.5); };
        f.kinks = {0.0};
    } else if (name == "sigmoid") {
        f.value = [](double x) { return sigmoid(x); };
        f.derivative = [](double x) {
            const double s = sigmoid(x);
            return s * (1.0 - s);
        };
        f.complex_value = [](complex z) { return sigmoid(z); };
        f.singularities = {i_pi};
    } else if (name == "tanh") {
        f.value = [](double x) { return std::tanh(x); };
        f.derivative = [](double x) {
            const double t = std::tanh(x);
            return 1.0 - t * t;
        };
        f.complex_value = [](complex z) { return std::tanh(z); };
        f.singularities = {0.5 * i_pi};
    } else if (name == "silu") {
        f.value = [](double x) { return x * sigmoid(x); };
        f.derivative = [](double x) {
            const double s = sigmoid(x);
            return s + x * s * (1.0 - s);
        };
        f.complex_value = [](complex z) { return z * sigmoid(z); };
        f.singularities = {i_pi};
    } else if (name == "gelu") {
        f.value = [](double x) { return x * standard_normal_cdf(x); };
        f.derivative = [](double x) { return standard_normal_cdf(x) + x * standard_normal_pdf(x); };
        f.complex_value = [](complex z) {
            return 0.5 * z * (1.0 + erf_complex(z / std::numbers::sqrt2));
        };
    } else if (name == "softplus") {
        f.value = [](double x) { return softplus(x); };
        f.derivative = [](double x) { return sigmoid(x); };
        f.complex_value = [](complex z) { return softplus(z); };
        f.singularities = {i_pi};
    } else {
        std::string known;
        for (const auto& n : builtin_function_names()) known += (known.empty() ? "" : ", ") + n;
        throw InvalidArgument("unknown function '" + std::string(name) + "' (known: " + known +
                              ")");
    }
    return f;
}

TargetFunction custom_function(std::string name, std::function<double(double)> value) {
    if (!value) throw InvalidArgument("custom function '" + name + "' has no callable");
    TargetFunction f;
    f.name = std::move(name);
    f.value = std::move(value);
    return f;
}

}  // namespace henn::approx
