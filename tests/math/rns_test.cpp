#include <gmp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "henn/math/primes.hpp"
#include "henn/math/rns.hpp"

using namespace henn::math;

namespace {
u64 mpz_mod_u64(const mpz_t x, u64 m) {
    mpz_t r;
    mpz_init(r);
    mpz_fdiv_r_ui(r, x, m);  // m < 2^62 fits an unsigned long on LP64
    u64 v = mpz_get_ui(r);
    mpz_clear(r);
    return v;
}
}  // namespace

TEST(Rns, FastBaseConversionIsExactUpToSmallMultipleOfQ) {
    std::mt19937_64 rng(21);
    const std::size_t n = 64;
    for (int k : {1, 2, 3, 7}) {
        auto q_primes = generate_ntt_primes(50, k, 1024);
        auto p_primes = generate_ntt_primes(60, 3, 1024);
        std::vector<Modulus> from, to;
        for (u64 q : q_primes) from.emplace_back(q);
        for (u64 p : p_primes) to.emplace_back(p);
        BaseConverter conv(from, to);
        mpz_t big_q, x, t;
        mpz_inits(big_q, x, t, nullptr);
        mpz_set_ui(big_q, 1);
        for (u64 q : q_primes) mpz_mul_ui(big_q, big_q, q);
        std::vector<u64> input(k * n), output(3 * n);
        std::vector<std::vector<u64>> expected_x(n);
        gmp_randstate_t state;
        gmp_randinit_default(state);
        gmp_randseed_ui(state, 22 + k);
        std::vector<mpz_t> values(n);
        for (std::size_t c = 0; c < n; ++c) {
            mpz_init(values[c]);
            mpz_urandomm(values[c], state, big_q);
            for (int i = 0; i < k; ++i) input[i * n + c] = mpz_mod_u64(values[c], q_primes[i]);
        }
        conv.convert(input.data(), output.data(), n);
        for (std::size_t c = 0; c < n; ++c) {
            bool matched = false;
            for (int u = 0; u < k && !matched; ++u) {
                mpz_set(t, big_q);
                mpz_mul_ui(t, t, u);
                mpz_add(t, t, values[c]);
                bool all = true;
                for (int j = 0; j < 3; ++j) all &= output[j * n + c] == mpz_mod_u64(t, p_primes[j]);
                matched = all;
            }
            EXPECT_TRUE(matched) << "k=" << k << " coefficient " << c;
            mpz_clear(values[c]);
        }
        gmp_randclear(state);
        mpz_clears(big_q, x, t, nullptr);
    }
}

TEST(Rns, CenteredConversionIsExact) {
    const std::size_t n = 256;
    // Targets smaller than, as large as and larger than the sources (one source prime takes a
    // shortcut when it is below twice the target).
    for (int to_bits : {45, 55, 56})
        for (int k : {1, 2, 4}) {
            auto q_primes = generate_ntt_primes(55, k, 1024);
            std::vector<u64> p_primes;
            for (u64 p : generate_ntt_primes(to_bits, k + 2, 1024)) {
                if (std::find(q_primes.begin(), q_primes.end(), p) == q_primes.end() &&
                    p_primes.size() < 2)
                    p_primes.push_back(p);
            }
            std::vector<Modulus> from, to;
            for (u64 q : q_primes) from.emplace_back(q);
            for (u64 p : p_primes) to.emplace_back(p);
            BaseConverter conv(from, to);
            mpz_t big_q, half, centered;
            mpz_inits(big_q, half, centered, nullptr);
            mpz_set_ui(big_q, 1);
            for (u64 q : q_primes) mpz_mul_ui(big_q, big_q, q);
            mpz_fdiv_q_2exp(half, big_q, 1);
            gmp_randstate_t state;
            gmp_randinit_default(state);
            gmp_randseed_ui(state, 40 + k);
            std::vector<u64> input(k * n), output(2 * n);
            std::vector<mpz_t> values(n);
            for (std::size_t c = 0; c < n; ++c) {
                mpz_init(values[c]);
                mpz_urandomm(values[c], state, big_q);
                if (c < 4) mpz_set_ui(values[c], c);  // small positive
                if (c >= 4 && c < 8) {
                    mpz_sub_ui(values[c], big_q, c);
                }  // small negative
                for (int i = 0; i < k; ++i) input[i * n + c] = mpz_mod_u64(values[c], q_primes[i]);
            }
            conv.convert_centered(input.data(), output.data(), n);
            for (std::size_t c = 0; c < n; ++c) {
                mpz_set(centered, values[c]);
                if (mpz_cmp(centered, half) >= 0) mpz_sub(centered, centered, big_q);
                for (int j = 0; j < 2; ++j) {
                    mpz_t r;
                    mpz_init(r);
                    mpz_fdiv_r_ui(r, centered, p_primes[j]);  // floor remainder: non-negative
                    ASSERT_EQ(output[j * n + c], mpz_get_ui(r))
                        << "k=" << k << " to_bits=" << to_bits << " c=" << c;
                    mpz_clear(r);
                }
                mpz_clear(values[c]);
            }
            gmp_randclear(state);
            mpz_clears(big_q, half, centered, nullptr);
        }
}
