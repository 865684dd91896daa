// ChebyshevPolynomial arithmetic and the encrypted-evaluation cost model, against direct formulas.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <random>

#include "henn/approx/chebyshev.hpp"

namespace henn::approx {
namespace {

// T_k(t) = cos(k arccos t): the definition, independent of any recurrence.
double chebyshev_by_definition(const std::vector<double>& c, double t) {
    double sum = 0.0;
    for (std::size_t k = 0; k < c.size(); ++k) sum += c[k] * std::cos(static_cast<double>(k) * std::acos(t));
    return sum;
}

std::vector<double> random_coefficients(std::mt19937_64& rng, int degree) {
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    std::vector<double> c(static_cast<std::size_t>(degree + 1));
    for (double& v : c) v = u(rng);
    return c;
}

TEST(ChebyshevPolynomial, ClenshawMatchesDefinitionUpToDegree63) {
    std::mt19937_64 rng(1);
    const Interval interval{-3.0, 5.0};
    std::uniform_real_distribution<double> u(interval.lo, interval.hi);
    for (int degree : {0, 1, 2, 7, 31, 63}) {
        const ChebyshevPolynomial p(random_coefficients(rng, degree), interval);
        for (int i = 0; i < 50; ++i) {
            const double x = u(rng);
            EXPECT_NEAR(p.evaluate(x), chebyshev_by_definition(p.coefficients(), interval.to_unit(x)), 1e-12)
                << "degree " << degree << " x " << x;
        }
    }
}

TEST(ChebyshevPolynomial, PowerBasisOfKnownPolynomials) {
    // T_3(t) = 4 t^3 - 3 t on [-1, 1].
    const ChebyshevPolynomial t3({0.0, 0.0, 0.0, 1.0}, {-1.0, 1.0});
    const std::vector<double> expected{0.0, -3.0, 0.0, 4.0};
    const std::vector<double> got = t3.to_power_basis();
    ASSERT_EQ(got.size(), expected.size());
    for (std::size_t j = 0; j < expected.size(); ++j) EXPECT_DOUBLE_EQ(got[j], expected[j]);
    // On [0, 2], t = x - 1: T_2(t) = 2 (x - 1)^2 - 1 = 2 x^2 - 4 x + 1.
    const ChebyshevPolynomial t2({0.0, 0.0, 1.0}, {0.0, 2.0});
    const std::vector<double> shifted = t2.to_power_basis();
    EXPECT_NEAR(shifted[0], 1.0, 1e-15);
    EXPECT_NEAR(shifted[1], -4.0, 1e-15);
    EXPECT_NEAR(shifted[2], 2.0, 1e-15);
}

TEST(ChebyshevPolynomial, PowerBasisRoundTripAtLowDegree) {
    std::mt19937_64 rng(2);
    const Interval interval{-2.0, 3.0};
    const ChebyshevPolynomial p(random_coefficients(rng, 7), interval);
    const std::vector<double> power = p.to_power_basis();
    const ChebyshevPolynomial back = ChebyshevPolynomial::from_power_basis(power, interval);
    for (std::size_t k = 0; k < p.coefficients().size(); ++k) {
        EXPECT_NEAR(back.coefficients()[k], p.coefficients()[k], 1e-12);
    }
    EXPECT_LT(p.power_basis_roundoff(), 1e-12);
}

TEST(ChebyshevPolynomial, PowerBasisRoundoffIsReportedForHighDegreeOnWideIntervals) {
    std::mt19937_64 rng(3);
    const ChebyshevPolynomial p(random_coefficients(rng, 63), {-8.0, 8.0});
    // Not hidden: the export loses many digits, and the measured loss says so.
    EXPECT_GT(p.power_basis_roundoff(), 1e-6);
}

TEST(ChebyshevPolynomial, DerivativeAndAntiderivative) {
    std::mt19937_64 rng(4);
    const Interval interval{-1.5, 4.0};
    const ChebyshevPolynomial p(random_coefficients(rng, 20), interval);
    const ChebyshevPolynomial dp = p.derivative();
    const ChebyshevPolynomial ip = p.antiderivative();
    EXPECT_EQ(dp.degree(), 19);
    EXPECT_EQ(ip.degree(), 21);
    EXPECT_NEAR(ip.evaluate(interval.lo), 0.0, 1e-13);
    for (double x : {-1.2, 0.0, 0.7, 2.5, 3.9}) {
        const double h = 1e-5;
        EXPECT_NEAR(dp.evaluate(x), (p.evaluate(x + h) - p.evaluate(x - h)) / (2 * h), 1e-5);
        EXPECT_NEAR(ip.derivative().evaluate(x), p.evaluate(x), 1e-11);
    }
}

TEST(ChebyshevPolynomial, InterpolationIsExactForPolynomials) {
    const Interval interval{-1.0, 2.0};
    const auto cubic = [](double x) { return 1.0 - 2.0 * x + 0.5 * x * x * x; };
    const ChebyshevPolynomial p = ChebyshevPolynomial::interpolate(cubic, 5, interval);
    for (double x : {-1.0, -0.3, 0.4, 1.9}) EXPECT_NEAR(p.evaluate(x), cubic(x), 1e-13);
    EXPECT_NEAR(p.coefficients()[4], 0.0, 1e-14);
    EXPECT_NEAR(p.coefficients()[5], 0.0, 1e-14);
}

TEST(ChebyshevPolynomial, ParityDetection) {
    EXPECT_EQ(ChebyshevPolynomial({0.0, 1.0, 0.0, -0.2}, {-2, 2}).parity(), Parity::Odd);
    EXPECT_EQ(ChebyshevPolynomial({1.0, 0.0, 0.3}, {-2, 2}).parity(), Parity::Even);
    EXPECT_EQ(ChebyshevPolynomial({1.0, 1e-13, 0.3}, {-2, 2}).parity(1e-9), Parity::Even);
    EXPECT_EQ(ChebyshevPolynomial({1.0, 1e-3, 0.3}, {-2, 2}).parity(1e-9), Parity::None);
    const ChebyshevPolynomial shifted_odd({0.5, 1.0, 1e-15, -0.2}, {-2, 2});
    EXPECT_EQ(shifted_odd.parity(), Parity::None);
    EXPECT_EQ(shifted_odd.parity_except_constant(), Parity::Odd);
    EXPECT_EQ(shifted_odd.with_parity(Parity::Odd, true).coefficients()[0], 0.5);
    EXPECT_EQ(shifted_odd.with_parity(Parity::Odd, true).coefficients()[2], 0.0);
    const ChebyshevPolynomial cleaned = ChebyshevPolynomial({1e-14, 1.0, 1e-14, 2.0}, {-1, 1}).with_parity(Parity::Odd);
    EXPECT_EQ(cleaned.coefficients()[0], 0.0);
    EXPECT_EQ(cleaned.coefficients()[2], 0.0);
    EXPECT_EQ(cleaned.coefficients()[3], 2.0);
}

TEST(ChebyshevPolynomial, RejectsInvalidInput) {
    EXPECT_THROW(ChebyshevPolynomial({1.0}, {1.0, 1.0}), std::invalid_argument);
    EXPECT_THROW(ChebyshevPolynomial({1.0}, {2.0, 1.0}), std::invalid_argument);
    EXPECT_THROW(ChebyshevPolynomial({1.0}, {0.0, INFINITY}), std::invalid_argument);
    EXPECT_THROW(ChebyshevPolynomial({NAN}, {0.0, 1.0}), std::invalid_argument);
    EXPECT_THROW(ChebyshevPolynomial({}, {0.0, 1.0}), std::invalid_argument);
}

TEST(EvaluationCost, DepthIsCeilLog2OfDegreePlusOne) {
    const std::vector<std::pair<int, int>> expected{{0, 0}, {1, 1}, {2, 2}, {3, 2}, {4, 3}, {7, 3},
                                                    {8, 4}, {15, 4}, {16, 5}, {31, 5}, {63, 6}, {64, 7}};
    for (auto [degree, depth] : expected) EXPECT_EQ(multiplicative_depth(degree), depth) << degree;
}

TEST(EvaluationCost, CountsWorkedOutByHand) {
    // d=2: T_2 (1). d=3 (2 levels): T_2, and q = 2 c_3 T_1 + c_2 times T_2 (2).
    // d=7 (l=1, 3 levels): T_2, T_4; 7 = q T_4 + r, q (degree 3, 2 levels) and r (degree 3) split
    // at T_2 (3 splits): 5.
    // d=63 (l=3): T_2..T_7, T_8, T_16, T_32 (9). Splits: the top-degree chain 63 -> 31 -> 15 -> 7
    // has one level less at each step, so its degree-7 piece (3 levels) cannot be a sum of baby
    // steps (T_7 alone takes 3) and splits again at T_4 and T_2 (5 splits); the remainders 31 (two
    // more splits below it, at 16 and 8 twice) and 15 (one split at 8): 5 + 3 + 1 = 9.
    EXPECT_EQ(plan_evaluation(1).ct_multiplications, 0);
    EXPECT_EQ(plan_evaluation(2).ct_multiplications, 1);
    EXPECT_EQ(plan_evaluation(3).ct_multiplications, 2);
    EXPECT_EQ(plan_evaluation(7).ct_multiplications, 5);
    const EvaluationPlan p63 = plan_evaluation(63);
    EXPECT_EQ(p63.baby_step_log2, 3);
    EXPECT_EQ(p63.split_multiplications, 9);
    EXPECT_EQ(p63.ct_multiplications, 18);
    EXPECT_EQ(p63.giant_steps, (std::vector<int>{2, 4, 8, 16, 32}));
    // Odd: only T_1, T_3, T_5, T_7 as leaves (plus T_2, T_4 to build them).
    EXPECT_EQ(plan_evaluation(63, Parity::Odd).ct_multiplications, 17);
}

TEST(EvaluationCost, LeafLevelsCountTheScalarProduct) {
    EXPECT_EQ(leaf_levels(0), 0);
    EXPECT_EQ(leaf_levels(1), 1);
    EXPECT_EQ(leaf_levels(2), 2);
    EXPECT_EQ(leaf_levels(3), 3);
    EXPECT_EQ(leaf_levels(4), 3);
    EXPECT_EQ(leaf_levels(7), 4);
    EXPECT_EQ(leaf_levels(8), 4);
}

TEST(EvaluationCost, SplitAtGiantStepReconstructsThePolynomial) {
    // p = q T_g + r as polynomials: check at a few points with Clenshaw on each part.
    std::mt19937_64 rng(11);
    const Interval unit{-1.0, 1.0};
    for (int degree : {4, 7, 12}) {
        const ChebyshevPolynomial p(random_coefficients(rng, degree), unit);
        const int giant = static_cast<int>(std::bit_floor(static_cast<unsigned>(degree)));
        const ChebyshevSplit split = split_at_giant_step(p.coefficients(), giant, Parity::None);
        const ChebyshevPolynomial q(split.quotient, unit), r(split.remainder, unit);
        for (double t : {-0.9, -0.2, 0.4, 0.95}) {
            const double tg = std::cos(giant * std::acos(t));
            EXPECT_NEAR(q.evaluate(t) * tg + r.evaluate(t), p.evaluate(t), 1e-12) << degree;
        }
    }
}

TEST(EvaluationCost, PlansAreRealizableAtTheStatedDepthAndCount) {
    // Walk every plan on plaintext values: it must reproduce Clenshaw, use exactly the counted
    // products and stay within ceil(log2(d + 1)) levels of ciphertext products.
    std::mt19937_64 rng(5);
    const Interval interval{-4.0, 6.0};
    for (int degree = 1; degree <= 63; ++degree) {
        for (Parity parity : {Parity::None, Parity::Odd, Parity::Even}) {
            if (parity == Parity::Odd && degree % 2 == 0) continue;
            if (parity == Parity::Even && degree % 2 == 1) continue;
            ChebyshevPolynomial p(random_coefficients(rng, degree), interval);
            p = p.with_parity(parity, /*keep_constant=*/true);  // a constant is free for any plan
            const EvaluationPlan plan = plan_evaluation(degree, parity);
            EXPECT_EQ(plan.depth, multiplicative_depth(degree));
            for (double x : {-3.9, -0.5, 1.3, 5.7}) {
                const PlanTrace trace = trace_plan(p, plan, x);
                EXPECT_NEAR(trace.value, p.evaluate(x), 1e-9 * (1.0 + std::abs(p.evaluate(x))))
                    << "degree " << degree << " parity " << parity_name(parity);
                EXPECT_EQ(trace.ct_multiplications, plan.ct_multiplications) << degree;
                EXPECT_LE(trace.depth, plan.depth) << degree;
                // The top coefficient is nonzero, so the plan needs its whole depth.
                EXPECT_EQ(trace.depth, plan.depth) << degree;
            }
        }
    }
}

TEST(EvaluationCost, ChosenBabyStepIsTheCheapest) {
    for (int degree : {5, 15, 31, 47, 63}) {
        const EvaluationPlan best = plan_evaluation(degree);
        for (int l = 1; l <= multiplicative_depth(degree); ++l) {
            EXPECT_LE(best.ct_multiplications, plan_evaluation_with_baby_steps(degree, Parity::None, l).ct_multiplications);
        }
        // Near the Paterson-Stockmeyer scale sqrt(2d) + log2(d), far below d - 1.
        EXPECT_LE(best.ct_multiplications, 2.0 * std::sqrt(2.0 * degree) + std::log2(degree) + 1);
    }
}

TEST(EvaluationCost, TracingRejectsUncoveredCoefficients) {
    const ChebyshevPolynomial p({0.0, 1.0, 0.5, 1.0}, {-1, 1});
    EXPECT_THROW(trace_plan(p, plan_evaluation(3, Parity::Odd), 0.3), std::invalid_argument);
}

}  // namespace
}  // namespace henn::approx
