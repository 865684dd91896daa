#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <numbers>
#include <random>

#include "henn/error.hpp"
#include "henn/math/fft.hpp"

using namespace henn::math;
using cd = std::complex<double>;

namespace {
// Direct evaluation of the real polynomial with the documented coefficient layout at
// zeta^(5^j), zeta = exp(i*pi/N): the definition the fast transform must match.
std::vector<cd> naive_decode(const std::vector<double>& coeffs, std::size_t slots) {
    const std::size_t n = coeffs.size();
    std::vector<cd> out(slots);
    std::size_t power = 1;
    for (std::size_t j = 0; j < slots; ++j) {
        cd sum = 0;
        for (std::size_t k = 0; k < n; ++k) {
            const std::size_t e = (k * power) % (2 * n);
            const long double angle = std::numbers::pi_v<long double> * e / n;
            sum += coeffs[k] * cd(std::cos(angle), std::sin(angle));
        }
        out[j] = sum;
        power = power * 5 % (2 * n);
    }
    return out;
}
}  // namespace

TEST(CkksFft, MatchesNaiveCanonicalEmbeddingFullAndSparse) {
    std::mt19937_64 rng(31);
    std::uniform_real_distribution<double> dist(-1, 1);
    for (std::size_t n : {8u, 64u, 256u}) {
        for (std::size_t slots = 1; slots <= n / 2; slots *= 2) {
            CkksFft fft(n, slots);
            std::vector<cd> values(slots);
            for (auto& v : values) v = {dist(rng), dist(rng)};
            auto w = values;
            fft.embed_inverse(w);
            const std::size_t gap = n / (2 * slots);
            std::vector<double> coeffs(n, 0.0);
            for (std::size_t k = 0; k < slots; ++k) {
                coeffs[k * gap] = w[k].real();
                coeffs[k * gap + n / 2] = w[k].imag();
            }
            auto decoded = naive_decode(coeffs, slots);
            for (std::size_t j = 0; j < slots; ++j) {
                ASSERT_NEAR(std::abs(decoded[j] - values[j]), 0.0, 1e-12)
                    << "n=" << n << " slots=" << slots << " j=" << j;
            }
            auto back = w;
            fft.embed(back);
            for (std::size_t j = 0; j < slots; ++j)
                ASSERT_NEAR(std::abs(back[j] - values[j]), 0, 1e-12);
        }
    }
}

TEST(CkksFft, LargeRoundTripPrecision) {
    std::mt19937_64 rng(32);
    std::uniform_real_distribution<double> dist(-1, 1);
    CkksFft fft(1 << 16, 1 << 15);
    std::vector<cd> values(1 << 15);
    for (auto& v : values) v = {dist(rng), dist(rng)};
    auto w = values;
    fft.embed_inverse(w);
    fft.embed(w);
    double worst = 0;
    for (std::size_t j = 0; j < values.size(); ++j)
        worst = std::max(worst, std::abs(w[j] - values[j]));
    EXPECT_LT(worst, std::ldexp(1.0, -40));  // at least 40 bits of precision
}

TEST(CkksFft, RejectsBadSizes) {
    EXPECT_THROW(CkksFft(16, 16), henn::InvalidArgument);
    EXPECT_THROW(CkksFft(16, 3), henn::InvalidArgument);
    EXPECT_THROW(CkksFft(12, 2), henn::InvalidArgument);
}
