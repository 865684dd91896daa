// ChebyshevPolynomial arithmetic against direct formulas (the encrypted-evaluation cost model is
// tested in tests/circuits/chebyshev_plan_test.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "henn/approx/chebyshev.hpp"
#include "henn/error.hpp"

namespace henn::approx {
namespace {

// T_k(t) = cos(k arccos t): the definition, independent of any recurrence.
double chebyshev_by_definition(const std::vector<double>& c, double t) {
    double sum = 0.0;
    for (std::size_t k = 0; k < c.size(); ++k)
        sum += c[k] * std::cos(static_cast<double>(k) * std::acos(t));
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
            EXPECT_NEAR(p.evaluate(x),
                        chebyshev_by_definition(p.coefficients(), interval.to_unit(x)), 1e-12)
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
    const ChebyshevPolynomial cleaned =
        ChebyshevPolynomial({1e-14, 1.0, 1e-14, 2.0}, {-1, 1}).with_parity(Parity::Odd);
    EXPECT_EQ(cleaned.coefficients()[0], 0.0);
    EXPECT_EQ(cleaned.coefficients()[2], 0.0);
    EXPECT_EQ(cleaned.coefficients()[3], 2.0);
}

TEST(ChebyshevPolynomial, RejectsInvalidInput) {
    EXPECT_THROW(ChebyshevPolynomial({1.0}, {1.0, 1.0}), henn::InvalidArgument);
    EXPECT_THROW(ChebyshevPolynomial({1.0}, {2.0, 1.0}), henn::InvalidArgument);
    EXPECT_THROW(ChebyshevPolynomial({1.0}, {0.0, INFINITY}), henn::InvalidArgument);
    EXPECT_THROW(ChebyshevPolynomial({NAN}, {0.0, 1.0}), henn::InvalidArgument);
    EXPECT_THROW(ChebyshevPolynomial({}, {0.0, 1.0}), henn::InvalidArgument);
}

}  // namespace
}  // namespace henn::approx
