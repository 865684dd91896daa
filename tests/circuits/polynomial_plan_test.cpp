// The one cost model: plan_polynomial's basis, depth and ct-ct products against what
// evaluate_polynomial actually consumes on real encryptions (levels, EvaluationReport's products),
// for every polynomial kind presets and imports use, with the result's precision in bits against
// the plaintext polynomial. tests/nn/analysis_test.cpp checks that nn::analyze reports the same.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "../ckks/ckks_fixture.hpp"
#include "henn/approx/approximate.hpp"
#include "henn/circuits/polynomial.hpp"
#include "henn/ckks/errors.hpp"
#include "henn/error.hpp"
#include "henn/math/parallel.hpp"

namespace henn::circuits {
namespace {

using approx::Interval;
using approx::Method;
using approx::Parity;
using test::Complex;

// log N = 13 with 7 levels of 40 bits: insecure at that ring size, fine for correctness (the
// same parameters as polynomial_test.cpp).
ckks::ParametersLiteral test_parameters() {
    ckks::ParametersLiteral lit;
    lit.log_n = 13;
    lit.log_q.push_back(60);
    for (int i = 0; i < 7; ++i) lit.log_q.push_back(40);
    lit.log_p = {61, 61};
    lit.log_default_scale = 40;
    lit.allow_insecure = true;
    return lit;
}

int ceil_log2_plus_one(int degree) {  // ceil(log2(d + 1)), computed without the library
    int depth = 0;
    while ((1 << depth) < degree + 1) ++depth;
    return depth;
}

// A polynomial as a model layer holds it, with the figures the cost model must give, derived
// here from the rules (power basis for degree <= 3; Chebyshev: ceil(log2(d + 1)) levels plus one
// for the interval change) rather than from the planner.
struct Kind {
    std::string name;
    std::vector<double> power;  // ascending
    double lo = 0, hi = 0;      // lo == hi: no interval recorded
    PolynomialBasis basis = PolynomialBasis::power;
    int depth = 0;
    int products =
        -1;  // -1: the Chebyshev plan's count (checked against a trace in chebyshev_plan_test)
    double min_bits = 0, mean_bits = 0;
};

approx::Approximation approximation(const std::string& function, Method method, int degree,
                                    Interval interval) {
    approx::ApproxRequest request;
    request.function = approx::builtin_function(function);
    request.method = method;
    request.degree = degree;
    request.interval = interval;
    return approx::approximate(request);
}

Kind chebyshev_kind(const std::string& function, Method method, int degree, Interval interval) {
    const approx::Approximation a = approximation(function, method, degree, interval);
    Kind k;
    char name[96];
    std::snprintf(name, sizeof name, "%s %s degree %d on [%g, %g]", function.c_str(),
                  approx::method_name(method).c_str(), degree, interval.lo, interval.hi);
    k.name = name;
    k.power = a.power_coefficients;
    k.lo = interval.lo;
    k.hi = interval.hi;
    const bool unit = interval.lo == -1.0 && interval.hi == 1.0;
    if (a.effective_degree <= 3) {
        k.basis = PolynomialBasis::power;
        k.depth = a.effective_degree <= 2 ? (a.effective_degree == 0 ? 0 : 1) : 2;
        k.products = a.effective_degree == 3 ? 2 : (a.effective_degree == 2 ? 1 : 0);
    } else {
        k.basis = PolynomialBasis::chebyshev;
        k.depth = ceil_log2_plus_one(a.effective_degree) + (unit ? 0 : 1);
    }
    // Values up to |hi| (relu) through up to 5 levels at 40-bit scales (measured: >= 21 / 25 bits).
    k.min_bits = 19.0;
    k.mean_bits = 23.0;
    return k;
}

std::vector<Kind> all_kinds() {
    std::vector<Kind> kinds;
    // CryptoNets' square (no interval recorded), the presets' least-squares quadratic of relu on
    // [-4, 4] (poly:least-squares:2:4), a quadratic with a negative leading coefficient.
    kinds.push_back({"square", {0.0, 0.0, 1.0}, 0, 0, PolynomialBasis::power, 1, 1, 24.0, 27.0});
    {
        const approx::Approximation a = approximation("relu", Method::LeastSquares, 2, {-4.0, 4.0});
        kinds.push_back({"relu least-squares quadratic", a.power_coefficients, -4, 4,
                         PolynomialBasis::power, 1, 1, 24.0, 27.0});
    }
    kinds.push_back({"negative quadratic",
                     {-0.25, 0.75, -0.125},
                     -2,
                     2,
                     PolynomialBasis::power,
                     1,
                     1,
                     24.0,
                     27.0});
    // Cubics: CryptoDL-style, sigmoid's minimax cubic (1/2 + odd), an imported one without
    // interval.
    kinds.push_back({"cryptodl cubic",
                     {0.375, 0.5, 0.117, -0.0007},
                     -4,
                     4,
                     PolynomialBasis::power,
                     2,
                     2,
                     19.0,
                     23.0});
    {
        const approx::Approximation a = approximation("sigmoid", Method::Minimax, 3, {-8.0, 8.0});
        kinds.push_back({"sigmoid minimax cubic", a.power_coefficients, -8, 8,
                         PolynomialBasis::power, 2, 2, 19.0, 23.0});
    }
    kinds.push_back(
        {"imported cubic", {0.1, 0.5, 0.2, -0.01}, 0, 0, PolynomialBasis::power, 2, 2, 19.0, 23.0});
    // Degrees 4..15: relu and sigmoid approximations on [-8, 8] (interval change), a few on
    // [-1, 1] (none) and on an off-centre interval.
    for (int degree = 4; degree <= 15; ++degree) {
        kinds.push_back(chebyshev_kind("relu", Method::Chebyshev, degree, {-8.0, 8.0}));
        kinds.push_back(chebyshev_kind("sigmoid", Method::Minimax, degree, {-8.0, 8.0}));
    }
    kinds.push_back(chebyshev_kind("relu", Method::LeastSquares, 7, {-1.0, 1.0}));
    kinds.push_back(chebyshev_kind("tanh", Method::Minimax, 9, {-1.0, 1.0}));
    kinds.push_back(chebyshev_kind("sigmoid", Method::Chebyshev, 6, {-3.0, 5.0}));
    // An imported degree-5 polynomial without interval: Chebyshev basis of [-1, 1], no change.
    kinds.push_back({"imported quintic",
                     {0.0, 0.9, 0.0, -0.2, 0.0, 0.05},
                     0,
                     0,
                     PolynomialBasis::chebyshev,
                     3,
                     -1,
                     22.0,
                     25.0});
    return kinds;
}

class PolynomialPlanEvaluation : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        math::set_thread_count(1);
        setup_ =
            new test::CkksSetup(test_parameters(), {}, false, 11, /*secret_key_encryption=*/true);
    }
    static void TearDownTestSuite() {
        delete setup_;
        setup_ = nullptr;
    }

    static std::vector<double> inputs(double lo, double hi, std::uint64_t seed) {
        std::mt19937_64 rng(seed);
        std::uniform_real_distribution<double> dist(lo, hi);
        std::vector<double> v(setup_->context->max_slots());
        for (auto& x : v) x = dist(rng);
        return v;
    }
    static ckks::Ciphertext encrypt(const std::vector<double>& v, int level) {
        return setup_->encrypt(std::vector<Complex>(v.begin(), v.end()), level);
    }
    // The plaintext polynomial, Horner in long double on the power coefficients.
    static std::vector<Complex> reference(const std::vector<double>& power,
                                          const std::vector<double>& xs) {
        std::vector<Complex> out;
        out.reserve(xs.size());
        for (double x : xs) {
            long double y = 0.0L;
            for (std::size_t j = power.size(); j-- > 0;) y = y * x + power[j];
            out.emplace_back(static_cast<double>(y), 0.0);
        }
        return out;
    }

    static test::CkksSetup* setup_;
};
test::CkksSetup* PolynomialPlanEvaluation::setup_ = nullptr;

TEST_F(PolynomialPlanEvaluation, PlanIsExactlyWhatEvaluationConsumesForEveryKind) {
    std::uint64_t seed = 100;
    for (const Kind& kind : all_kinds()) {
        SCOPED_TRACE(kind.name);
        const PolynomialPlan plan = plan_polynomial(kind.power, kind.lo, kind.hi);
        // The rules, independently of the planner.
        EXPECT_EQ(plan.basis, kind.basis);
        EXPECT_EQ(plan.depth, kind.depth);
        if (kind.products >= 0) {
            EXPECT_EQ(plan.ct_multiplications, kind.products);
        } else {
            EXPECT_EQ(plan.ct_multiplications,
                      plan_evaluation(plan.degree, plan.chebyshev.parity).ct_multiplications);
        }
        // Encrypted at exactly the planned number of levels: the result must land at level 0.
        const double lo = kind.lo < kind.hi ? kind.lo : -1.0,
                     hi = kind.lo < kind.hi ? kind.hi : 1.0;
        const std::vector<double> xs = inputs(lo, hi, ++seed);
        const ckks::Ciphertext x = encrypt(xs, plan.depth);
        EvaluationReport report;
        const ckks::Ciphertext y =
            evaluate_polynomial(*setup_->evaluator, x, kind.power, kind.lo, kind.hi, 0, &report);
        EXPECT_EQ(report.levels_consumed, plan.depth);
        EXPECT_EQ(x.level - y.level, plan.depth);
        EXPECT_EQ(y.level, 0);
        EXPECT_EQ(report.ct_multiplications, plan.ct_multiplications);
        if (plan.basis == PolynomialBasis::chebyshev || plan.degree != 2) {
            EXPECT_EQ(y.scale, x.scale);
        }
        const std::vector<Complex> actual = setup_->decrypt(y);
        const std::vector<Complex> expected = reference(kind.power, xs);
        const auto stats =
            ckks::precision(std::span<const Complex>(actual), std::span<const Complex>(expected));
        std::printf("[ info ] %-45s %s: precision min %.1f / mean %.1f bits\n", kind.name.c_str(),
                    plan.describe().c_str(), stats.min_bits, stats.mean_bits);
        HENN_EXPECT_PRECISION(actual, expected, kind.min_bits, kind.mean_bits);
        // One level fewer is refused before any work.
        if (plan.depth > 0) {
            EXPECT_THROW(evaluate_polynomial(*setup_->evaluator, encrypt(xs, plan.depth - 1),
                                             kind.power, kind.lo, kind.hi),
                         ckks::LevelError);
        }
    }
}

TEST_F(PolynomialPlanEvaluation, ChebyshevFormPlansAndEvaluatesLikeItsPowerCoefficients) {
    // `henn approx` plans the Chebyshev form, `henn inspect` the power coefficients of a layer.
    std::uint64_t seed = 7;
    for (int degree : {2, 3, 5, 8, 13}) {
        for (const char* function : {"relu", "sigmoid"}) {
            const approx::Approximation a =
                approximation(function, Method::Minimax, degree, {-6.0, 6.0});
            SCOPED_TRACE(std::string(function) + " degree " + std::to_string(degree));
            const PolynomialPlan from_chebyshev = plan_polynomial(a.polynomial);
            const PolynomialPlan from_power = plan_polynomial(a.power_coefficients, -6.0, 6.0);
            EXPECT_EQ(from_chebyshev.basis, from_power.basis);
            EXPECT_EQ(from_chebyshev.degree, from_power.degree);
            EXPECT_EQ(from_chebyshev.degree, a.effective_degree);
            EXPECT_EQ(from_chebyshev.depth, from_power.depth);
            EXPECT_EQ(from_chebyshev.ct_multiplications, from_power.ct_multiplications);
            EXPECT_EQ(from_chebyshev.describe(), from_power.describe());

            const std::vector<double> xs = inputs(-6.0, 6.0, ++seed);
            EvaluationReport report;
            const ckks::Ciphertext x = encrypt(xs, from_chebyshev.depth);
            const ckks::Ciphertext y =
                evaluate_polynomial(*setup_->evaluator, x, a.polynomial, 0, &report);
            EXPECT_EQ(report.levels_consumed, from_chebyshev.depth);
            EXPECT_EQ(report.ct_multiplications, from_chebyshev.ct_multiplications);
            std::vector<Complex> expected;
            for (double v : xs) expected.emplace_back(a.polynomial.evaluate(v), 0.0);
            HENN_EXPECT_PRECISION(setup_->decrypt(y), expected, 17.0, 20.0);
        }
    }
}

TEST_F(PolynomialPlanEvaluation, ConstantsAndLinesCostNoProduct) {
    const std::vector<double> xs = inputs(-5.0, 3.0, 3);
    const ckks::Ciphertext x = encrypt(xs, 3);
    for (const std::vector<double>& a : {std::vector<double>{0.75}, std::vector<double>{0.25, -1.5},
                                         std::vector<double>{0.25, -1.5, 0.0, 0.0, 0.0}}) {
        const PolynomialPlan plan = plan_polynomial(a, -5.0, 3.0);
        const int degree = a.size() == 1 ? 0 : 1;
        EXPECT_EQ(plan.basis, PolynomialBasis::power);
        EXPECT_EQ(plan.degree, degree);
        EXPECT_EQ(plan.depth, degree);
        EXPECT_EQ(plan.ct_multiplications, 0);
        EvaluationReport report;
        const ckks::Ciphertext y =
            evaluate_polynomial(*setup_->evaluator, x, a, -5.0, 3.0, 0, &report);
        EXPECT_EQ(report.levels_consumed, plan.depth);
        EXPECT_EQ(report.ct_multiplications, 0);
        EXPECT_EQ(y.scale, x.scale);
        HENN_EXPECT_PRECISION(setup_->decrypt(y), reference(a, xs), 20.0, 23.0);
    }
}

TEST_F(PolynomialPlanEvaluation, TargetScales) {
    const std::vector<double> xs = inputs(-4.0, 4.0, 5);
    const ckks::Ciphertext x = encrypt(xs, 6);
    const double q = static_cast<double>(setup_->context->q()[6].value());
    // The quadratic folds a_2 into its scale: it lands there, and only there.
    const std::vector<double> quadratic{0.5, 0.5, 0.125};
    const double landing = x.scale * x.scale / 0.125 / q;
    const ckks::Ciphertext y = evaluate_polynomial(*setup_->evaluator, x, quadratic, -4.0, 4.0);
    EXPECT_DOUBLE_EQ(y.scale, landing);
    const ckks::Ciphertext z =
        evaluate_polynomial(*setup_->evaluator, x, quadratic, -4.0, 4.0, landing);
    EXPECT_EQ(z.scale, landing);
    HENN_EXPECT_PRECISION(setup_->decrypt(z), reference(quadratic, xs), 19.0, 22.0);
    EXPECT_THROW(
        evaluate_polynomial(*setup_->evaluator, x, quadratic, -4.0, 4.0, std::ldexp(1.0, 40)),
        henn::InvalidArgument);
    // The cubic and the Chebyshev path land at any target scale exactly.
    const std::vector<double> cubic{0.375, 0.5, 0.117, -0.0007};
    const approx::Approximation a = approximation("relu", Method::Minimax, 7, {-4.0, 4.0});
    for (double target : {std::ldexp(1.0, 38), std::ldexp(1.0, 41) * 1.37}) {
        const ckks::Ciphertext c =
            evaluate_polynomial(*setup_->evaluator, x, cubic, -4.0, 4.0, target);
        EXPECT_EQ(c.scale, target);
        HENN_EXPECT_PRECISION(setup_->decrypt(c), reference(cubic, xs), 15.0, 18.0);
        const ckks::Ciphertext r =
            evaluate_polynomial(*setup_->evaluator, x, a.power_coefficients, -4.0, 4.0, target);
        EXPECT_EQ(r.scale, target);
        HENN_EXPECT_PRECISION(setup_->decrypt(r), reference(a.power_coefficients, xs), 15.0, 18.0);
    }
}

TEST(PolynomialPlan, DescribesItselfAndRejectsBadInput) {
    const std::vector<double> square{0.0, 0.0, 1.0};
    EXPECT_EQ(plan_polynomial(square, 0, 0).describe(),
              "degree 2, power basis, depth 1, 1 product");
    const std::vector<double> line{1.0, 2.0};
    EXPECT_EQ(plan_polynomial(line, -1, 1).describe(),
              "degree 1, power basis, depth 1, 0 products");
    const std::vector<double> quartic{0.1, 0.2, 0.3, 0.4, 0.5};
    const PolynomialPlan on_interval = plan_polynomial(quartic, -8, 8);
    EXPECT_EQ(on_interval.basis, PolynomialBasis::chebyshev);
    EXPECT_EQ(on_interval.describe(), "degree 4, chebyshev basis on [-8,8], depth 4, " +
                                          std::to_string(on_interval.ct_multiplications) +
                                          " products");
    // No interval recorded: [-1, 1], no interval change.
    const PolynomialPlan without = plan_polynomial(quartic, 0, 0);
    EXPECT_EQ(without.interval_lo, -1.0);
    EXPECT_EQ(without.interval_hi, 1.0);
    EXPECT_EQ(without.depth, 3);
    EXPECT_THROW(plan_polynomial(std::vector<double>{}, -1, 1), henn::InvalidArgument);
    EXPECT_THROW(plan_polynomial(std::vector<double>{1.0, NAN}, -1, 1), henn::InvalidArgument);
    EXPECT_THROW(plan_polynomial(square, 2, 1), henn::InvalidArgument);
    EXPECT_THROW(plan_polynomial(square, -INFINITY, 1), henn::InvalidArgument);
}

}  // namespace
}  // namespace henn::circuits
