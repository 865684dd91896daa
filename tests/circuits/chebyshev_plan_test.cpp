// The Chebyshev evaluation plan (depth, ct-ct products, splits) against hand counts and a plaintext
// walk-through; moved from tests/approx with the plan itself.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <random>

#include "henn/approx/approximate.hpp"
#include "henn/approx/chebyshev.hpp"
#include "henn/circuits/chebyshev_plan.hpp"
#include "henn/circuits/polynomial_plan.hpp"
#include "henn/error.hpp"

namespace henn::circuits {
namespace {

using approx::ChebyshevPolynomial;
using approx::Interval;
using approx::Parity;
using approx::parity_name;

std::vector<double> random_coefficients(std::mt19937_64& rng, int degree) {
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    std::vector<double> c(static_cast<std::size_t>(degree + 1));
    for (double& v : c) v = u(rng);
    return c;
}

TEST(EvaluationCost, DepthIsCeilLog2OfDegreePlusOne) {
    const std::vector<std::pair<int, int>> expected{{0, 0},  {1, 1},  {2, 2},  {3, 2},
                                                    {4, 3},  {7, 3},  {8, 4},  {15, 4},
                                                    {16, 5}, {31, 5}, {63, 6}, {64, 7}};
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
            EXPECT_LE(best.ct_multiplications,
                      plan_evaluation_with_baby_steps(degree, Parity::None, l).ct_multiplications);
        }
        // Near the Paterson-Stockmeyer scale sqrt(2d) + log2(d), far below d - 1.
        EXPECT_LE(best.ct_multiplications, 2.0 * std::sqrt(2.0 * degree) + std::log2(degree) + 1);
    }
}

TEST(EvaluationCost, TracingRejectsUncoveredCoefficients) {
    const ChebyshevPolynomial p({0.0, 1.0, 0.5, 1.0}, {-1, 1});
    EXPECT_THROW(trace_plan(p, plan_evaluation(3, Parity::Odd), 0.3), henn::InvalidArgument);
}

TEST(EvaluationCost, ApproximationsGetThePlanOfTheirParity) {
    // sigmoid = 1/2 + odd on a symmetric interval: the odd plan, traced exactly.
    approx::ApproxRequest request;
    request.function = approx::builtin_function("sigmoid");
    request.method = approx::Method::Minimax;
    request.degree = 15;
    request.interval = {-6.0, 6.0};
    const approx::Approximation sigmoid = approx::approximate(request);
    const PolynomialPlan plan = plan_polynomial(sigmoid.polynomial);
    EXPECT_EQ(plan.basis, PolynomialBasis::chebyshev);
    EXPECT_EQ(plan.chebyshev.parity, Parity::Odd);
    EXPECT_EQ(plan.chebyshev.ct_multiplications,
              plan_evaluation(15, Parity::Odd).ct_multiplications);
    EXPECT_EQ(plan.depth, multiplicative_depth(15) + 1);  // plus the interval change
    for (double x : {-5.0, 0.3, 5.5}) {
        EXPECT_NEAR(trace_plan(sigmoid.polynomial, plan.chebyshev, x).value,
                    sigmoid.polynomial.evaluate(x), 1e-12);
    }
    // tanh is odd: exactly the odd plan's products (8 at degree 15, as many as the unstructured
    // plan; 17 at degree 63, one fewer than its 18).
    request.function = approx::builtin_function("tanh");
    request.interval = {-4.0, 4.0};
    EXPECT_EQ(plan_polynomial(approx::approximate(request).polynomial).ct_multiplications,
              plan_evaluation(15, Parity::Odd).ct_multiplications);
    EXPECT_EQ(plan_evaluation(15, Parity::Odd).ct_multiplications, 8);
    request.degree = 63;
    EXPECT_EQ(plan_polynomial(approx::approximate(request).polynomial).ct_multiplications,
              plan_evaluation(63, Parity::Odd).ct_multiplications);
    EXPECT_EQ(plan_evaluation(63, Parity::Odd).ct_multiplications, 17);
    EXPECT_EQ(plan_evaluation(63).ct_multiplications, 18);
}

}  // namespace
}  // namespace henn::circuits
