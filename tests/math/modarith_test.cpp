#include <gtest/gtest.h>

#include <random>

#include "henn/error.hpp"
#include "henn/math/modarith.hpp"
#include "henn/math/primes.hpp"

using namespace henn::math;

TEST(Modarith, BarrettMatchesNaiveFor64And128BitInputs) {
    std::mt19937_64 rng(1);
    for (int bits : {2, 17, 30, 40, 50, 59, 60, 61}) {
        for (int trial = 0; trial < 20; ++trial) {
            u64 qv = (rng() >> (64 - bits)) | (u64{1} << (bits - 1)) | 1;
            Modulus q(qv);
            for (int i = 0; i < 500; ++i) {
                u64 x = rng();
                ASSERT_EQ(q.reduce(x), x % qv);
                u128 y = (static_cast<u128>(rng()) << 64) | rng();
                ASSERT_EQ(q.reduce(y), static_cast<u64>(y % qv));
            }
            ASSERT_EQ(q.reduce(~u64{0}), (~u64{0}) % qv);
            ASSERT_EQ(q.reduce(~u128{0}), static_cast<u64>((~u128{0}) % qv));
        }
    }
}

TEST(Modarith, ShoupMultiplicationMatchesNaive) {
    std::mt19937_64 rng(2);
    for (int bits : {20, 45, 60, 61}) {
        u64 qv = generate_ntt_primes(bits, 1, 1024)[0];
        for (int i = 0; i < 2000; ++i) {
            u64 w = rng() % qv;
            u64 x = rng();  // any word, not only reduced values
            ShoupConstant c(w, qv);
            u64 lazy = mul_shoup_lazy(x, c.value, c.shoup, qv);
            ASSERT_LT(lazy, 2 * qv);
            ASSERT_EQ(lazy % qv, static_cast<u64>(static_cast<u128>(x) * w % qv));
            ASSERT_EQ(mul_shoup(x, c.value, c.shoup, qv), lazy % qv);
        }
    }
}

TEST(Modarith, InverseAndPower) {
    Modulus q(generate_ntt_primes(50, 1, 4096)[0]);
    std::mt19937_64 rng(3);
    for (int i = 0; i < 200; ++i) {
        u64 a = rng() % (q.value() - 1) + 1;
        u64 inv = inverse_mod(a, q.value());
        EXPECT_EQ(mul_mod(a, inv, q), 1u);
        EXPECT_EQ(pow_mod(a, q.value() - 1, q), 1u);  // Fermat
    }
    EXPECT_THROW(inverse_mod(6, 9), henn::InvalidArgument);
}

TEST(Modarith, SignedConversions) {
    const u64 q = 97;
    EXPECT_EQ(from_signed(-1, q), 96u);
    EXPECT_EQ(from_signed(-97, q), 0u);
    EXPECT_EQ(from_signed(INT64_MIN, q),
              static_cast<u64>((static_cast<__int128>(INT64_MIN) % 97 + 97) % 97));
    EXPECT_EQ(to_centered(96, q), -1);
    EXPECT_EQ(to_centered(48, q), 48);
    EXPECT_EQ(to_centered(49, q), -48);
}

TEST(Primes, MillerRabinAgreesWithTrialDivision) {
    auto naive = [](u64 n) {
        if (n < 2) return false;
        for (u64 d = 2; d * d <= n; ++d)
            if (n % d == 0) return false;
        return true;
    };
    for (u64 n = 0; n < 20000; ++n) ASSERT_EQ(is_prime(n), naive(n)) << n;
    EXPECT_TRUE(is_prime(2305843009213693951ULL));   // 2^61 - 1
    EXPECT_FALSE(is_prime(3825123056546413051ULL));  // strong pseudoprime to bases 2..23
}

TEST(Primes, NttPrimesAreDistinctCongruentAndNearTarget) {
    for (u64 n : {4096u, 16384u, 65536u}) {
        for (int bits : {30, 40, 50, 60, 61}) {
            auto primes = generate_ntt_primes(bits, 8, n);
            ASSERT_EQ(primes.size(), 8u);
            double excess = 0;
            for (std::size_t i = 0; i < primes.size(); ++i) {
                EXPECT_TRUE(is_prime(primes[i]));
                EXPECT_EQ(primes[i] % (2 * n), 1u);
                // 30-bit primes 1 mod 2^17 are sparse; larger ones sit within 2^-10 of 2^bits.
                EXPECT_NEAR(std::log2(static_cast<double>(primes[i])), bits,
                            bits <= 30 ? 0.05 : 1e-3);
                EXPECT_LT(primes[i], u64{1} << 61);
                for (std::size_t j = 0; j < i; ++j) EXPECT_NE(primes[i], primes[j]);
                excess += std::log2(static_cast<double>(primes[i])) - bits;
            }
            if (bits < 61) {  // balanced around 2^bits
                EXPECT_LT(std::abs(excess), bits <= 30 ? 0.05 : 1e-3);
            }
        }
    }
    auto first = generate_ntt_primes(40, 3, 8192);
    auto more = generate_ntt_primes(40, 3, 8192, first);
    for (u64 p : more) EXPECT_EQ(std::count(first.begin(), first.end(), p), 0);
    EXPECT_THROW(generate_ntt_primes(62, 1, 8192), henn::InvalidArgument);
    EXPECT_THROW(generate_ntt_primes(20, 1000, 65536), henn::InvalidArgument);
}
