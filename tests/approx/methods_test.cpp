// The seven approximation methods, each against facts known independently of the code.
#include <gtest/gtest.h>

#include <Eigen/Dense>

#include <cmath>
#include <random>

#include "henn/approx/approximate.hpp"
#include "henn/error.hpp"

namespace henn::approx {
namespace {

ApproxRequest request(const std::string& function, Method method, int degree, Interval interval) {
    ApproxRequest r;
    r.function = builtin_function(function);
    r.method = method;
    r.degree = degree;
    r.interval = interval;
    return r;
}

// Naive least squares in the power basis by the normal equations: fine at low degree.
std::vector<double> normal_equations_fit(const std::vector<double>& xs,
                                         const std::vector<double>& ys, int degree) {
    Eigen::MatrixXd v(static_cast<Eigen::Index>(xs.size()), degree + 1);
    Eigen::VectorXd y(static_cast<Eigen::Index>(xs.size()));
    for (std::size_t i = 0; i < xs.size(); ++i) {
        for (int j = 0; j <= degree; ++j) v(static_cast<Eigen::Index>(i), j) = std::pow(xs[i], j);
        y(static_cast<Eigen::Index>(i)) = ys[i];
    }
    const Eigen::VectorXd a = (v.transpose() * v).ldlt().solve(v.transpose() * y);
    return std::vector<double>(a.data(), a.data() + a.size());
}

// ---- least squares ----

TEST(LeastSquares, MatchesNormalEquationsAtLowDegree) {
    ApproxRequest r = request("sigmoid", Method::LeastSquares, 3, {-4.0, 4.0});
    r.least_squares_points = 201;
    const Approximation a = approximate(r);
    std::vector<double> xs, ys;
    for (int i = 0; i < 201; ++i) {
        xs.push_back(-4.0 + 8.0 * i / 200);
        ys.push_back(1.0 / (1.0 + std::exp(-xs.back())));
    }
    const std::vector<double> naive = normal_equations_fit(xs, ys, 3);
    ASSERT_EQ(a.power_coefficients.size(), naive.size());
    for (std::size_t j = 0; j < naive.size(); ++j)
        EXPECT_NEAR(a.power_coefficients[j], naive[j], 1e-9) << j;
}

TEST(LeastSquares, RejectsTooFewPoints) {
    ApproxRequest r = request("tanh", Method::LeastSquares, 7, {-1.0, 1.0});
    r.least_squares_points = 5;
    EXPECT_THROW(approximate(r), henn::InvalidArgument);
}

// ---- Taylor ----

TEST(Taylor, SigmoidAndTanhCoefficientsAtZero) {
    const Approximation s = approximate(request("sigmoid", Method::Taylor, 9, {-1.0, 1.0}));
    const std::vector<double> sigmoid{0.5,       0.25, 0.0,           -1.0 / 48, 0.0,
                                      1.0 / 480, 0.0,  -17.0 / 80640, 0.0,       31.0 / 1451520};
    for (std::size_t j = 0; j < sigmoid.size(); ++j)
        EXPECT_NEAR(s.power_coefficients[j], sigmoid[j], 1e-12) << j;
    const Approximation t = approximate(request("tanh", Method::Taylor, 9, {-1.0, 1.0}));
    const std::vector<double> tanh{0.0,      1.0, 0.0,         -1.0 / 3, 0.0,
                                   2.0 / 15, 0.0, -17.0 / 315, 0.0,      62.0 / 2835};
    for (std::size_t j = 0; j < tanh.size(); ++j)
        EXPECT_NEAR(t.power_coefficients[j], tanh[j], 1e-12) << j;
    EXPECT_EQ(t.polynomial.parity(), Parity::Odd);
}

TEST(Taylor, HighOrderCoefficientsAreAccurate) {
    // gelu(x) = x/2 + (1/sqrt(2 pi)) sum_n (-1)^n x^(2n+2) / (2^n n! (2n+1)). On [-3, 3] the
    // x^20 term still contributes ~0.4, so the values test the high-order coefficients (reading
    // coefficients back through the power basis would mostly test that conversion's roundoff).
    const Approximation g = approximate(request("gelu", Method::Taylor, 20, {-3.0, 3.0}));
    for (double x : {-3.0, -1.7, 0.4, 2.2, 3.0}) {
        long double series = 0.5L * x, term_factor = 1.0L;  // (-1)^n / (2^n n!)
        for (int n = 0; 2 * n + 2 <= 20; ++n) {
            if (n > 0) term_factor *= -0.5L / n;
            series += term_factor / std::sqrt(2.0L * static_cast<long double>(M_PI)) *
                      std::pow(static_cast<long double>(x), 2 * n + 2) / (2 * n + 1);
        }
        EXPECT_NEAR(g.polynomial.evaluate(x), static_cast<double>(series),
                    1e-11 * (1.0 + std::abs(static_cast<double>(series))))
            << x;
    }
}

TEST(Taylor, ShiftedCentreAndRealFallback) {
    // A callable without a complex extension: exp at 0.5, coefficients e^0.5 / n!.
    ApproxRequest r;
    r.function = custom_function("exp", [](double x) { return std::exp(x); });
    r.method = Method::Taylor;
    r.degree = 4;
    r.interval = {0.0, 1.0};
    r.taylor_center = 0.5;
    const Approximation a = approximate(r);
    for (double x : {0.45, 0.5, 0.55}) {
        double expected = 0.0, term = std::exp(0.5);
        for (int n = 0; n <= 4; ++n) {
            expected += term;
            term *= (x - 0.5) / (n + 1);
        }
        EXPECT_NEAR(a.polynomial.evaluate(x), expected, 1e-9);
    }
    EXPECT_FALSE(a.warnings.empty());
}

TEST(Taylor, ReluHasNoSeriesAtItsKinkButIsExactElsewhere) {
    EXPECT_THROW(approximate(request("relu", Method::Taylor, 3, {-2.0, 2.0})), std::runtime_error);
    ApproxRequest r = request("relu", Method::Taylor, 3, {-2.0, 2.0});
    r.taylor_center = 1.0;
    const Approximation a = approximate(r);
    for (double x : {-1.0, 0.5, 2.0}) EXPECT_NEAR(a.polynomial.evaluate(x), x, 1e-9);
    // Beyond the interpolation order the fallback sets coefficients to zero instead of inventing
    // them.
    ApproxRequest high = request("relu", Method::Taylor, 63, {-8.0, 8.0});
    high.taylor_center = 1.0;
    const Approximation h = approximate(high);
    for (double x : {-8.0, 0.5, 8.0}) EXPECT_NEAR(h.polynomial.evaluate(x), x, 1e-8);
}

// ---- Chebyshev projection ----

TEST(Chebyshev, ProjectionOfAPolynomialIsExact) {
    ApproxRequest r;
    r.function = custom_function(
        "quintic", [](double x) { return 0.3 - x + 0.25 * x * x * x - 0.01 * std::pow(x, 5); });
    r.method = Method::Chebyshev;
    r.degree = 7;
    r.interval = {-2.0, 3.0};
    const Approximation a = approximate(r);
    EXPECT_LT(a.interval_error.max_error, 1e-12);
    EXPECT_NEAR(a.power_coefficients[5], -0.01, 1e-12);
    EXPECT_NEAR(a.polynomial.coefficients()[6], 0.0, 1e-13);
    EXPECT_NEAR(a.polynomial.coefficients()[7], 0.0, 1e-13);
}

TEST(Chebyshev, ExponentialCoefficientsAreBesselValues) {
    // exp(t) = I_0(1) + 2 sum_k I_k(1) T_k(t).
    ApproxRequest r;
    r.function = custom_function("exp", [](double x) { return std::exp(x); });
    r.method = Method::Chebyshev;
    r.degree = 15;
    const Approximation a = approximate(r);
    for (int k = 0; k <= 15; ++k) {
        const double expected =
            (k == 0 ? 1.0 : 2.0) * std::cyl_bessel_i(static_cast<double>(k), 1.0);
        EXPECT_NEAR(a.polynomial.coefficients()[static_cast<std::size_t>(k)], expected, 1e-14) << k;
    }
}

TEST(Chebyshev, ReluCoefficientsAcrossTheKink) {
    // relu(t) on [-1, 1]: c_0 = 1/pi, c_1 = 1/2, c_2 = 2/(3 pi), c_3 = 0, c_4 = -2/(15 pi).
    const Approximation a = approximate(request("relu", Method::Chebyshev, 4, {-1.0, 1.0}));
    const std::vector<double> expected{1 / M_PI, 0.5, 2 / (3 * M_PI), 0.0, -2 / (15 * M_PI)};
    for (std::size_t k = 0; k < expected.size(); ++k)
        EXPECT_NEAR(a.polynomial.coefficients()[k], expected[k], 1e-13) << k;
}

// ---- modified weight ----

// Residual of the weighted fit is orthogonal to every T_k under the weight, checked with an
// independent quadrature (a fine midpoint rule).
void expect_weighted_orthogonality(const Approximation& a, const TargetFunction& f,
                                   const std::function<double(double)>& weight, double tolerance) {
    const Interval in = a.interval;
    const int n = 400000;
    const int d = a.degree;
    std::vector<double> inner(static_cast<std::size_t>(d + 1), 0.0);
    double scale = 0.0;
    for (int i = 0; i < n; ++i) {
        const double x = in.lo + in.width() * (i + 0.5) / n;
        const double t = in.to_unit(x);
        const double w = weight(x) * in.width() / n;
        const double residual = f.value(x) - a.polynomial.evaluate(x);
        scale += w * std::abs(f.value(x));
        double tk_prev = 1.0, tk = t;
        for (int k = 0; k <= d; ++k) {
            const double basis = k == 0 ? 1.0 : (k == 1 ? t : 0.0);
            double value = basis;
            if (k >= 2) {
                value = 2.0 * t * tk - tk_prev;
                tk_prev = tk;
                tk = value;
            }
            inner[static_cast<std::size_t>(k)] += w * residual * value;
        }
    }
    for (int k = 0; k <= d; ++k)
        EXPECT_LT(std::abs(inner[static_cast<std::size_t>(k)]), tolerance * scale) << "T_" << k;
}

TEST(ModifiedWeight, CryptoDLWeightsGiveWeightedProjections) {
    const Approximation s = approximate(request("sigmoid", Method::ModifiedWeight, 5, {-6.0, 6.0}));
    expect_weighted_orthogonality(
        s, builtin_function("sigmoid"),
        [](double x) { return x == 0 ? 0.0 : std::exp(-(6.0 / x) * (6.0 / x)); }, 1e-7);
    const Approximation r = approximate(request("relu", Method::ModifiedWeight, 4, {-3.0, 3.0}));
    expect_weighted_orthogonality(
        r, builtin_function("relu"), [](double x) { return std::exp(-1.0 / (1e-5 + x * x)); },
        1e-7);
}

TEST(ModifiedWeight, UnitWeightIsTheLegendreProjection) {
    // With w = 1 and f a polynomial of degree <= d the projection reproduces f.
    ApproxRequest r;
    r.function = custom_function("cubic", [](double x) { return x * x * x - x; });
    r.method = Method::ModifiedWeight;
    r.degree = 5;
    r.interval = {-1.0, 2.0};
    r.weight = [](double) { return 1.0; };
    EXPECT_LT(approximate(r).interval_error.max_error, 1e-12);
}

TEST(ModifiedWeight, StableAtDegree63) {
    const Approximation a = approximate(request("tanh", Method::ModifiedWeight, 63, {-4.0, 4.0}));
    // tanh is analytic: at degree 63 the weighted projection is accurate where the weight lives.
    EXPECT_LT(a.interval_error.l2_error, 1e-3);
    EXPECT_EQ(a.polynomial.parity(), Parity::Odd);
}

TEST(ModifiedWeight, RejectsNegativeWeights) {
    ApproxRequest r = request("sigmoid", Method::ModifiedWeight, 3, {-1.0, 1.0});
    r.weight = [](double x) { return x; };
    EXPECT_THROW(approximate(r), henn::InvalidArgument);
}

// ---- derivative method ----

TEST(Derivative, ReluValueAtZeroAndSymmetry) {
    for (int degree : {2, 3, 7, 15}) {
        const Approximation a =
            approximate(request("relu", Method::Derivative, degree, {-5.0, 5.0}));
        EXPECT_NEAR(a.polynomial.evaluate(0.0), 0.0, 1e-12) << degree;
        // sigmoid(kx) - 1/2 is odd, so p(x) - x/2 is even: p(x) - p(-x) = x.
        for (double x : {0.5, 2.0, 4.5})
            EXPECT_NEAR(a.polynomial.evaluate(x) - a.polynomial.evaluate(-x), x, 1e-11);
    }
}

TEST(Derivative, SlopeIsTheProjectionOfTheSmoothStep) {
    ApproxRequest r = request("relu", Method::Derivative, 9, {-2.0, 2.0});
    r.derivative_steepness = 3.0;
    const Approximation a = approximate(r);
    ApproxRequest step;
    step.function =
        custom_function("step", [](double x) { return 1.0 / (1.0 + std::exp(-3.0 * x)); });
    step.method = Method::Chebyshev;
    step.degree = 8;
    step.interval = {-2.0, 2.0};
    const ChebyshevPolynomial slope = approximate(step).polynomial;
    const ChebyshevPolynomial dp = a.polynomial.derivative();
    for (std::size_t k = 0; k < slope.coefficients().size(); ++k)
        EXPECT_NEAR(dp.coefficients()[k], slope.coefficients()[k], 1e-12);
}

TEST(Derivative, AutomaticSteepnessBeatsFixedChoices) {
    const Approximation best = approximate(request("relu", Method::Derivative, 7, {-1.0, 1.0}));
    for (double k : {1.0, 5.0, 20.0}) {
        ApproxRequest r = request("relu", Method::Derivative, 7, {-1.0, 1.0});
        r.derivative_steepness = k;
        EXPECT_LE(best.interval_error.max_error,
                  approximate(r).interval_error.max_error * (1.0 + 1e-6))
            << k;
    }
}

TEST(Derivative, SmoothFunctionsIntegrateTheirDerivative) {
    const Approximation a = approximate(request("sigmoid", Method::Derivative, 31, {-4.0, 4.0}));
    EXPECT_NEAR(a.polynomial.evaluate(0.0), 0.5, 1e-14);
    EXPECT_LT(a.interval_error.max_error, 1e-8);
    ApproxRequest r;
    r.function = custom_function("no derivative", [](double x) { return x; });
    r.method = Method::Derivative;
    EXPECT_THROW(approximate(r), henn::InvalidArgument);
}

// ---- minimax ----

// Counts alternation points: d + 2 extrema of alternating sign at the max error (equioscillation).
int alternation_count(const Approximation& a, const TargetFunction& f, double relative_tolerance) {
    const int n = 200000;
    const double level = a.interval_error.max_error * (1.0 - relative_tolerance);
    int count = 0;
    double last_sign = 0.0;
    for (int i = 0; i <= n; ++i) {
        const double x = a.interval.lo + a.interval.width() * i / n;
        const double e = f.value(x) - a.polynomial.evaluate(x);
        if (std::abs(e) >= level) {
            const double sign = e > 0 ? 1.0 : -1.0;
            if (sign != last_sign) {
                ++count;
                last_sign = sign;
            }
        }
    }
    return count;
}

TEST(Minimax, EquioscillatesAtDegreePlusTwoPoints) {
    for (auto [name, degree, lo, hi] :
         std::vector<std::tuple<std::string, int, double, double>>{{"sigmoid", 7, -8.0, 8.0},
                                                                   {"relu", 4, -1.0, 1.0},
                                                                   {"relu", 15, -6.0, 6.0},
                                                                   {"tanh", 15, -3.0, 5.0},
                                                                   {"gelu", 6, -4.0, 4.0}}) {
        const Approximation a = approximate(request(name, Method::Minimax, degree, {lo, hi}));
        EXPECT_GE(alternation_count(a, builtin_function(name), 1e-3), degree + 2)
            << name << " degree " << degree;
    }
}

TEST(Minimax, KnownBestApproximationOfRelu) {
    // relu = x/2 + |x|/2 and the best quadratic for |x| on [-1, 1] is x^2 + 1/8 (error 1/8).
    const Approximation a = approximate(request("relu", Method::Minimax, 2, {-1.0, 1.0}));
    EXPECT_NEAR(a.interval_error.max_error, 1.0 / 16, 1e-10);
    EXPECT_NEAR(a.power_coefficients[0], 1.0 / 16, 1e-10);
    EXPECT_NEAR(a.power_coefficients[1], 0.5, 1e-10);
    EXPECT_NEAR(a.power_coefficients[2], 0.5, 1e-10);
}

TEST(Minimax, BeatsEveryOtherMethodInMaxError) {
    for (const std::string name : {"relu", "sigmoid", "tanh", "softplus"}) {
        for (int degree : {3, 7, 15}) {
            const double best = approximate(request(name, Method::Minimax, degree, {-6.0, 6.0}))
                                    .interval_error.max_error;
            for (Method m : {Method::LeastSquares, Method::Chebyshev, Method::ModifiedWeight,
                             Method::Derivative}) {
                const double other =
                    approximate(request(name, m, degree, {-6.0, 6.0})).interval_error.max_error;
                EXPECT_LE(best, other * (1.0 + 1e-6))
                    << name << " " << degree << " vs " << method_name(m);
            }
        }
    }
}

TEST(Minimax, ConvergesAtDegree63) {
    for (const std::string name : {"relu", "sigmoid", "tanh"}) {
        const Approximation a = approximate(request(name, Method::Minimax, 63, {-8.0, 8.0}));
        const Approximation c = approximate(request(name, Method::Chebyshev, 63, {-8.0, 8.0}));
        EXPECT_LE(a.interval_error.max_error, c.interval_error.max_error) << name;
        for (const auto& warning : a.warnings)
            EXPECT_EQ(warning.find("Remez stopped"), std::string::npos) << warning;
    }
}

// ---- empirical ----

std::vector<double> gaussian_samples(std::size_t count, double sigma, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(0.0, sigma);
    std::vector<double> s(count);
    for (double& v : s) v = std::clamp(normal(rng), -6.0, 6.0);
    return s;
}

TEST(Empirical, PureSampleFitMatchesNormalEquations) {
    ApproxRequest r = request("relu", Method::Empirical, 3, {-6.0, 6.0});
    r.samples = gaussian_samples(10000, 1.5, 6);  // several streaming blocks
    r.empirical_uniform_mix = 0.0;
    const Approximation a = approximate(r);
    std::vector<double> ys;
    for (double x : r.samples) ys.push_back(std::max(0.0, x));
    const std::vector<double> naive = normal_equations_fit(r.samples, ys, 3);
    for (std::size_t j = 0; j < naive.size(); ++j)
        EXPECT_NEAR(a.power_coefficients[j], naive[j], 1e-9) << j;
    ASSERT_TRUE(a.sample_error.has_value());
}

TEST(Empirical, BestOnTheSampleItWasFittedTo) {
    ApproxRequest r = request("relu", Method::Empirical, 4, {-6.0, 6.0});
    r.samples = gaussian_samples(3000, 1.0, 7);
    r.empirical_uniform_mix = 0.0;
    const double own = approximate(r).sample_error->l2_error;
    for (Method m : {Method::LeastSquares, Method::Chebyshev, Method::ModifiedWeight,
                     Method::Derivative, Method::Minimax}) {
        ApproxRequest other = r;
        other.method = m;
        EXPECT_LE(own, approximate(other).sample_error->l2_error * (1.0 + 1e-9)) << method_name(m);
    }
}

TEST(Empirical, ValidatesItsSample) {
    ApproxRequest r = request("relu", Method::Empirical, 3, {-2.0, 2.0});
    EXPECT_THROW(approximate(r), henn::InvalidArgument);  // no samples
    r.samples = {0.1, 0.2, 0.1, 0.2};
    r.empirical_uniform_mix = 0.0;
    EXPECT_THROW(approximate(r), henn::InvalidArgument);  // 2 distinct values, degree 3
    r.empirical_uniform_mix = 0.1;
    EXPECT_NO_THROW(approximate(r));  // the uniform part makes it well posed
    r.samples = {0.1, NAN, 0.3, 0.5};
    EXPECT_THROW(approximate(r), henn::InvalidArgument);
    r.samples = {-3.0, 0.1, 0.2, 0.4, 1.0};
    const Approximation a = approximate(r);
    ASSERT_FALSE(a.warnings.empty());
    EXPECT_NE(a.warnings.front().find("outside the interval"), std::string::npos);
}

// ---- errors, validation, cost ----

TEST(Errors, KnownValues) {
    // f(x) = x against p = 0 on [-1, 1]: max 1, root mean square 1/sqrt(3).
    const TargetFunction identity = custom_function("x", [](double x) { return x; });
    const ChebyshevPolynomial zero({0.0}, {-1.0, 1.0});
    const ErrorStats e = interval_error(identity, zero);
    EXPECT_NEAR(e.max_error, 1.0, 1e-15);
    EXPECT_NEAR(e.l2_error, 1.0 / std::sqrt(3.0), 1e-13);
    const ErrorStats s = sample_error(identity, zero, {0.5, -1.0});
    EXPECT_DOUBLE_EQ(s.max_error, 1.0);
    EXPECT_NEAR(s.l2_error, std::sqrt(1.25 / 2), 1e-15);
}

TEST(Errors, MaxErrorFindsAnInteriorPeak) {
    // p = 0 against a narrow bump the grid could miss: refinement must find its top.
    const TargetFunction bump = custom_function(
        "bump", [](double x) { return std::exp(-1e6 * (x - 0.1234567) * (x - 0.1234567)); });
    EXPECT_NEAR(interval_error(bump, ChebyshevPolynomial({0.0}, {-1.0, 1.0})).max_error, 1.0, 1e-9);
}

TEST(Approximate, ValidatesRequests) {
    EXPECT_THROW(approximate(request("relu", Method::Minimax, 64, {-1, 1})), henn::InvalidArgument);
    EXPECT_THROW(approximate(request("relu", Method::Minimax, -1, {-1, 1})), henn::InvalidArgument);
    EXPECT_THROW(approximate(request("relu", Method::Minimax, 3, {1, -1})), henn::InvalidArgument);
    EXPECT_THROW(approximate(request("relu", Method::Derivative, 0, {-1, 1})),
                 henn::InvalidArgument);
    ApproxRequest r;
    r.function = custom_function("log", [](double x) { return std::log(x); });
    r.interval = {-1.0, 1.0};
    try {
        approximate(r);
        FAIL() << "log on [-1, 1] must be refused";
    } catch (const henn::InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("not finite"), std::string::npos) << e.what();
    }
    EXPECT_THROW(builtin_function("swish2"), henn::InvalidArgument);
    EXPECT_THROW(parse_method("remez"), henn::InvalidArgument);
    for (Method m : all_methods()) EXPECT_EQ(parse_method(method_name(m)), m);
}

TEST(Approximate, AllFunctionsAndMethodsProduceConsistentResults) {
    std::vector<double> samples = gaussian_samples(500, 2.0, 8);
    for (const std::string& name : builtin_function_names()) {
        for (Method m : all_methods()) {
            ApproxRequest r = request(name, m, 7, {-5.0, 5.0});
            r.samples = samples;
            if (m == Method::Taylor && name == "relu") r.taylor_center = 1.0;
            const Approximation a = approximate(r);
            EXPECT_EQ(a.polynomial.degree(), 7);
            EXPECT_EQ(a.power_coefficients.size(), 8u);
            EXPECT_LE(a.effective_degree, 7);
            for (std::size_t k = static_cast<std::size_t>(a.effective_degree) + 1; k < 8; ++k) {
                EXPECT_EQ(a.polynomial.coefficients()[k], 0.0) << name << " " << method_name(m);
            }
            EXPECT_TRUE(std::isfinite(a.interval_error.max_error));
            EXPECT_GE(a.interval_error.max_error, a.interval_error.l2_error * 0.999)
                << name << " " << method_name(m);
            // The two bases describe the same polynomial.
            for (double x : {-4.0, 0.3, 4.9}) {
                double horner = 0.0;
                for (std::size_t j = a.power_coefficients.size(); j-- > 0;)
                    horner = horner * x + a.power_coefficients[j];
                EXPECT_NEAR(horner, a.polynomial.evaluate(x), 1e-9 * (1.0 + std::abs(horner)));
            }
        }
    }
}

TEST(Approximate, SigmoidIsOddUpToItsConstant) {
    const Approximation a = approximate(request("sigmoid", Method::Minimax, 15, {-6.0, 6.0}));
    EXPECT_EQ(a.parity, Parity::Odd);
    EXPECT_EQ(a.effective_degree, 15);
    EXPECT_NEAR(a.polynomial.coefficients()[0], 0.5, 1e-12);
    for (std::size_t k = 2; k < a.polynomial.coefficients().size(); k += 2)
        EXPECT_EQ(a.polynomial.coefficients()[k], 0.0);
}

TEST(Approximate, OddFunctionsAreExactlyOdd) {
    const Approximation a = approximate(request("tanh", Method::Minimax, 15, {-4.0, 4.0}));
    EXPECT_EQ(a.parity, Parity::Odd);
    for (std::size_t k = 0; k < a.polynomial.coefficients().size(); k += 2)
        EXPECT_EQ(a.polynomial.coefficients()[k], 0.0);
}

}  // namespace
}  // namespace henn::approx
