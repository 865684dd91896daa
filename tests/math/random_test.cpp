#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <vector>

#include "henn/math/primes.hpp"
#include "henn/math/random.hpp"

using namespace henn::math;

TEST(Random, SameSeedSameStreamDifferentSeedDifferentStream) {
    Prng a(test_only_seed(1)), b(test_only_seed(1)), c(test_only_seed(2));
    for (int i = 0; i < 2000; ++i) {  // crosses several buffer refills
        u64 x = a.next_u64();
        ASSERT_EQ(x, b.next_u64());
        (void)c;
    }
    Prng d(test_only_seed(1)), e(test_only_seed(2));
    int equal = 0;
    for (int i = 0; i < 100; ++i) equal += d.next_u64() == e.next_u64();
    EXPECT_EQ(equal, 0);
}

TEST(Random, AesCtrKnownAnswer) {
    // AES-256-CTR of zeros with an all-zero key and IV is the AES-256 encryption of the
    // counter blocks; first block = AES-256_0(0^128) = dc95c078a2408989ad48a21492842087.
    Seed zero{};
    Prng prng(zero);
    std::array<std::uint8_t, 16> block;
    prng.fill(block.data(), block.size());
    const std::array<std::uint8_t, 16> expected = {0xdc, 0x95, 0xc0, 0x78, 0xa2, 0x40, 0x89, 0x89,
                                                   0xad, 0x48, 0xa2, 0x14, 0x92, 0x84, 0x20, 0x87};
    EXPECT_EQ(block, expected);
}

TEST(Random, TheStreamDoesNotDependOnHowItIsDrawn) {
    // Large fills go straight into the caller's memory; small ones through the buffer.
    Prng reference(test_only_seed(3), 5);
    std::vector<std::uint8_t> expected(100000);
    for (auto& b : expected) {
        reference.fill(&b, 1);
    }
    for (std::size_t first : {0, 1, 15, 16, 4095, 4096, 5000}) {
        Prng prng(test_only_seed(3), 5);
        std::vector<std::uint8_t> got(expected.size());
        prng.fill(got.data(), first);
        prng.fill(got.data() + first, 9000);      // crosses refills, maybe direct
        prng.fill(got.data() + first + 9000, 7);  // a partial block after a direct run
        prng.fill(got.data() + first + 9007, got.size() - first - 9007);
        ASSERT_EQ(got, expected) << "first draw of " << first << " bytes";
    }
}

// Rejection sampling one word at a time: the definition of what a seed expands to.
void sample_uniform_reference(Prng& prng, const Modulus& q, u64* out, std::size_t n) {
    const u64 mask = (q.bits() == 64) ? ~u64{0} : ((u64{1} << q.bits()) - 1);
    prng.fill(reinterpret_cast<std::uint8_t*>(out), n * sizeof(u64));
    for (std::size_t i = 0; i < n; ++i) {
        u64 candidate = out[i] & mask;
        while (candidate >= q.value()) candidate = prng.next_u64() & mask;
        out[i] = candidate;
    }
}

TEST(Random, SampleUniformReadsTheStreamAsOneWordAtATime) {
    // Primes just above a power of two reject about half of their words; below, almost none.
    std::vector<u64> primes = generate_ntt_primes(40, 4, 1 << 12);
    primes.push_back((u64{1} << 20) + 7 * (1 << 13) + 1);  // not prime: the sampler needs none
    for (const u64 p : primes) {
        const Modulus q(p);
        for (std::size_t n : {1, 7, 4096, 5000}) {
            Prng a(test_only_seed(9), 3), b(test_only_seed(9), 3);
            std::vector<u64> got(n), want(n);
            sample_uniform(a, q, got.data(), n);
            sample_uniform_reference(b, q, want.data(), n);
            ASSERT_EQ(got, want) << "q = " << p << ", n = " << n;
            EXPECT_EQ(a.next_u64(), b.next_u64()) << "the stream continues at the same word";
        }
    }
}

TEST(Random, UniformPrefixMatchesWhatSampleUniformDraws) {
    const auto q = Modulus(generate_ntt_primes(40, 1, 1 << 12)[0]);
    std::vector<u64> values(4096);
    Prng prng(test_only_seed(4), 2);
    sample_uniform(prng, q, values.data(), values.size());
    Prng again(test_only_seed(4), 2);
    EXPECT_TRUE(uniform_prefix_matches(again, q, values.data(), 32));
    values[7] = (values[7] + 1) % q.value();
    Prng third(test_only_seed(4), 2);
    EXPECT_FALSE(uniform_prefix_matches(third, q, values.data(), 32));
}

TEST(Random, OsSeedsDiffer) {
    EXPECT_NE(os_random_seed(), os_random_seed());
}

TEST(Random, UniformModQIsInRangeAndBalanced) {
    Prng prng(test_only_seed(3));
    Modulus q(generate_ntt_primes(40, 1, 1024)[0]);
    std::vector<u64> v(1 << 16);
    sample_uniform(prng, q, v.data(), v.size());
    double mean = 0;
    for (u64 x : v) {
        ASSERT_LT(x, q.value());
        mean += static_cast<double>(x) / q.value();
    }
    mean /= v.size();
    EXPECT_NEAR(mean, 0.5, 0.01);  // std error ~ 0.29/256
}

TEST(Random, TernaryIsUniformOverMinusOneZeroOne) {
    Prng prng(test_only_seed(4));
    std::vector<std::int8_t> v(90000);
    sample_ternary(prng, v.data(), v.size());
    std::array<int, 3> counts{};
    for (auto x : v) {
        ASSERT_GE(x, -1);
        ASSERT_LE(x, 1);
        counts[x + 1]++;
    }
    for (int c : counts) EXPECT_NEAR(c, 30000, 600);  // > 4 standard deviations
}

TEST(Random, GaussianHasTheRightSpreadAndBound) {
    Prng prng(test_only_seed(5));
    std::vector<std::int8_t> v(200000);
    sample_gaussian(prng, v.data(), v.size());
    double sum = 0, sum_sq = 0;
    int max_abs = 0;
    for (auto x : v) {
        sum += x;
        sum_sq += static_cast<double>(x) * x;
        max_abs = std::max(max_abs, std::abs(static_cast<int>(x)));
    }
    const double mean = sum / v.size();
    const double sd = std::sqrt(sum_sq / v.size() - mean * mean);
    EXPECT_NEAR(mean, 0.0, 0.05);
    EXPECT_NEAR(sd, kDefaultErrorStdDev, 0.03);
    EXPECT_LE(max_abs, kDefaultErrorBound);
    EXPECT_GE(max_abs, 12);  // the tails are really sampled
}
