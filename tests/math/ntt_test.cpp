#include <gtest/gtest.h>

#include <random>

#include "henn/error.hpp"
#include "henn/math/ntt.hpp"
#include "henn/math/primes.hpp"

using namespace henn::math;

namespace {
std::vector<u64> random_poly(std::size_t n, u64 q, std::mt19937_64& rng) {
    std::vector<u64> a(n);
    for (auto& x : a) x = rng() % q;
    return a;
}
}  // namespace

TEST(Ntt, KnownAnswerSmallPrime) {
    // n = 4, q = 17: psi = 9 is the smallest primitive 8th root found by the search; the
    // evaluations of 1 + 2x + 3x^2 + 4x^3 at psi, psi^5, psi^3, psi^7 were computed by hand.
    NttTables tables(4, Modulus(17));
    EXPECT_EQ(tables.root(), 9u);
    std::vector<u64> a = {1, 2, 3, 4};
    ntt_forward(a.data(), tables);
    EXPECT_EQ(a, (std::vector<u64>{16, 13, 11, 15}));
    ntt_inverse(a.data(), tables);
    EXPECT_EQ(a, (std::vector<u64>{1, 2, 3, 4}));
}

TEST(Ntt, KnownAnswerDeltaAndMonomial) {
    const std::size_t n = 1024;
    Modulus q(generate_ntt_primes(50, 1, n)[0]);
    NttTables tables(n, q);
    std::vector<u64> delta(n, 0);
    delta[0] = 1;
    ntt_forward(delta.data(), tables);
    for (u64 v : delta) ASSERT_EQ(v, 1u);  // the constant 1 evaluates to 1 everywhere
    std::vector<u64> x(n, 0);
    x[1] = 1;
    ntt_forward(x.data(), tables);
    for (std::size_t i = 0; i < n; ++i) {
        ASSERT_EQ(x[i], pow_mod(tables.root(), 2 * reverse_bits(i, tables.log_size()) + 1, q));
    }
}

TEST(Ntt, OutputsAreEvaluationsAtOddPowersOfPsi) {
    std::mt19937_64 rng(11);
    const std::size_t n = 64;
    Modulus q(generate_ntt_primes(40, 1, n)[0]);
    NttTables tables(n, q);
    auto a = random_poly(n, q.value(), rng);
    auto evals = a;
    ntt_forward(evals.data(), tables);
    for (std::size_t i = 0; i < n; ++i) {
        u64 point = pow_mod(tables.root(), 2 * reverse_bits(i, tables.log_size()) + 1, q);
        u64 value = 0;  // Horner
        for (std::size_t k = n; k-- > 0;)
            value = add_mod(mul_mod(value, point, q), a[k], q.value());
        ASSERT_EQ(evals[i], value) << i;
    }
}

TEST(Ntt, ProductMatchesNaiveNegacyclicProduct) {
    std::mt19937_64 rng(12);
    for (std::size_t n : {2u, 8u, 256u, 1024u}) {
        for (int bits : {30, 50, 61}) {
            Modulus q(generate_ntt_primes(bits, 1, n)[0]);
            NttTables tables(n, q);
            for (int trial = 0; trial < 3; ++trial) {
                auto a = random_poly(n, q.value(), rng);
                auto b = random_poly(n, q.value(), rng);
                auto expected = negacyclic_multiply_naive(a, b, q);
                ntt_forward(a.data(), tables);
                ntt_forward(b.data(), tables);
                for (std::size_t i = 0; i < n; ++i) a[i] = mul_mod(a[i], b[i], q);
                ntt_inverse(a.data(), tables);
                ASSERT_EQ(a, expected) << "n=" << n << " bits=" << bits;
            }
        }
    }
}

TEST(Ntt, RoundTripAtCkksSizesAndLazyInputs) {
    std::mt19937_64 rng(13);
    for (std::size_t n : {8192u, 16384u, 32768u}) {
        Modulus q(generate_ntt_primes(60, 1, n)[0]);
        NttTables tables(n, q);
        auto a = random_poly(n, q.value(), rng);
        auto lazy = a;
        for (std::size_t i = 0; i < n; i += 3)
            lazy[i] += (rng() & 1 ? 1 : 3) * q.value();  // [0, 4q)
        auto b = lazy;
        ntt_forward(b.data(), tables);
        auto c = a;
        ntt_forward(c.data(), tables);
        ASSERT_EQ(b, c);  // lazy inputs give the same, fully reduced output
        ntt_inverse(b.data(), tables);
        ASSERT_EQ(b, a);
    }
}

TEST(Ntt, DispatchedKernelsMatchPortable) {
    std::mt19937_64 rng(14);
    for (std::size_t n : {16u, 4096u, 32768u}) {
        for (int bits : {36, 55, 61}) {
            Modulus q(generate_ntt_primes(bits, 1, n)[0]);
            NttTables tables(n, q);
            auto a = random_poly(n, q.value(), rng);
            auto fast = a, slow = a;
            ntt_forward(fast.data(), tables);
            ntt_forward_portable(slow.data(), tables);
            ASSERT_EQ(fast, slow);
            ntt_inverse(fast.data(), tables);
            ntt_inverse_portable(slow.data(), tables);
            ASSERT_EQ(fast, slow);
            ASSERT_EQ(fast, a);
        }
    }
}

TEST(Ntt, RejectsBadParameters) {
    EXPECT_THROW(NttTables(12, Modulus(97)), henn::InvalidArgument);   // not a power of two
    EXPECT_THROW(NttTables(16, Modulus(113)), henn::InvalidArgument);  // 113 != 1 mod 32
    EXPECT_THROW(NttTables(4, Modulus(25)), henn::InvalidArgument);    // not prime
}
