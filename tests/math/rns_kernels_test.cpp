// BaseConverter on every vector kernel against naive scalar references of its arithmetic (the
// words the scalar code gave before the kernels, which hoisted and fused key switching depend
// on): random primes of 30 to 61 bits, one source prime (centered lifts with q_0 below and above
// 2 p_j, e.g. a 60-bit special prime to 40-bit primes) and several, n from 8 to 2^15 with vector
// tails, edge values 0, q - 1, q / 2, q / 2 + 1 of each source prime and of their product.
#include <gmp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "henn/math/primes.hpp"
#include "henn/math/rns.hpp"
#include "henn/math/vector_ops.hpp"

using namespace henn::math;

namespace {

constexpr std::size_t kLengths[] = {8, 13, 1000, 32768};

// A random prime of exactly `bits` bits, not in `taken` (which it joins).
u64 random_prime(int bits, std::mt19937_64& rng, std::vector<u64>& taken) {
    const u64 low = u64{1} << (bits - 1);
    for (;;) {
        const u64 candidate = (low + rng() % low) | 1;
        if (is_prime(candidate) &&
            std::find(taken.begin(), taken.end(), candidate) == taken.end()) {
            taken.push_back(candidate);
            return candidate;
        }
    }
}

std::vector<Modulus> random_primes(const std::vector<int>& bits, std::mt19937_64& rng,
                                   std::vector<u64>& taken) {
    std::vector<Modulus> primes;
    for (int b : bits) primes.emplace_back(random_prime(b, rng, taken));
    return primes;
}

u64 mpz_mod_u64(const mpz_t x, u64 m) {
    mpz_t r;
    mpz_init(r);
    mpz_fdiv_r_ui(r, x, m);
    const u64 v = mpz_get_ui(r);
    mpz_clear(r);
    return v;
}

// Residues (limb-major) of n values of Z_Q: the edge values 0, 1, Q - 1, Q / 2, Q / 2 + 1,
// Q / 2 - 1 first, then per limb the edge residues 0, q_i - 1, q_i / 2, q_i / 2 + 1 (other limbs
// random), then random residues.
std::vector<u64> test_input(const std::vector<Modulus>& from, std::size_t n, std::mt19937_64& rng) {
    const std::size_t k = from.size();
    std::vector<u64> input(k * n);
    for (std::size_t i = 0; i < k; ++i) {
        for (std::size_t c = 0; c < n; ++c) input[i * n + c] = rng() % from[i].value();
    }
    mpz_t product, value;
    mpz_inits(product, value, nullptr);
    mpz_set_ui(product, 1);
    for (const Modulus& q : from) mpz_mul_ui(product, product, q.value());
    std::size_t c = 0;
    auto set_value = [&](auto&& set) {
        if (c >= n) return;
        set();
        for (std::size_t i = 0; i < k; ++i) input[i * n + c] = mpz_mod_u64(value, from[i].value());
        ++c;
    };
    set_value([&] { mpz_set_ui(value, 0); });
    set_value([&] { mpz_set_ui(value, 1); });
    set_value([&] { mpz_sub_ui(value, product, 1); });
    set_value([&] { mpz_fdiv_q_2exp(value, product, 1); });
    set_value([&] {
        mpz_fdiv_q_2exp(value, product, 1);
        mpz_add_ui(value, value, 1);
    });
    set_value([&] {
        mpz_fdiv_q_2exp(value, product, 1);
        mpz_sub_ui(value, value, 1);
    });
    mpz_clears(product, value, nullptr);
    for (std::size_t i = 0; i < k; ++i) {
        const u64 q = from[i].value();
        for (u64 edge : {u64{0}, q - 1, q / 2, q / 2 + 1}) {
            if (c < n) input[i * n + c++] = edge;
        }
    }
    return input;
}

// The naive arithmetic of BaseConverter, coefficient by coefficient with 128-bit remainders.
struct NaiveConverter {
    std::vector<Modulus> from, to;

    u64 punctured_mod(std::size_t i, u64 m) const {  // (Q / q_i) mod m
        u128 product = 1;
        for (std::size_t j = 0; j < from.size(); ++j) {
            if (j != i) product = product * (from[j].value() % m) % m;
        }
        return static_cast<u64>(product);
    }
    u64 product_mod(u64 m) const {  // Q mod m
        u128 product = 1;
        for (const Modulus& q : from) product = product * (q.value() % m) % m;
        return static_cast<u64>(product);
    }
    // y_i = x_i (Q / q_i)^-1 mod q_i.
    std::vector<u64> prepared(const std::vector<u64>& input, std::size_t n) const {
        if (from.size() == 1) return input;
        std::vector<u64> y(input.size());
        for (std::size_t i = 0; i < from.size(); ++i) {
            const u64 q = from[i].value();
            const u64 inverse = inverse_mod(punctured_mod(i, q), q);
            for (std::size_t c = 0; c < n; ++c)
                y[i * n + c] = static_cast<u64>(static_cast<u128>(input[i * n + c]) * inverse % q);
        }
        return y;
    }
    // Limb `target` of convert(): sum_i y_i (Q / q_i) mod p.
    std::vector<u64> converted(const std::vector<u64>& y, std::size_t target, std::size_t n) const {
        const u64 p = to[target].value();
        std::vector<u64> out(n);
        for (std::size_t c = 0; c < n; ++c) {
            u128 sum = 0;
            for (std::size_t i = 0; i < from.size(); ++i)
                sum += static_cast<u128>(y[i * n + c]) * punctured_mod(i, p);
            out[c] = static_cast<u64>(sum % p);
        }
        return out;
    }
    // Limb `target` of convert_centered(): one source prime, the centered residue mod p;
    // several, the sum minus v Q with v = llround(sum_i y_i / q_i) in double precision.
    std::vector<u64> centered(const std::vector<u64>& input, std::size_t target,
                              std::size_t n) const {
        const u64 p = to[target].value();
        std::vector<u64> out(n);
        if (from.size() == 1) {
            const u64 q0 = from[0].value();
            for (std::size_t c = 0; c < n; ++c) {
                const u64 x = input[c];
                out[c] = x > q0 / 2 ? (p - (q0 - x) % p) % p : x % p;
            }
            return out;
        }
        const std::vector<u64> y = prepared(input, n);
        const std::vector<u64> sums = converted(y, target, n);
        const u64 negated_product = (p - product_mod(p)) % p;
        for (std::size_t c = 0; c < n; ++c) {
            double fraction = 0;
            for (std::size_t i = 0; i < from.size(); ++i)
                fraction += static_cast<double>(y[i * n + c]) * (1.0 / from[i].value());
            const u64 overflow = static_cast<u64>(std::llround(fraction));
            out[c] = static_cast<u64>(
                (static_cast<u128>(sums[c]) + static_cast<u128>(overflow) * negated_product) % p);
        }
        return out;
    }
};

class RnsKernels : public testing::TestWithParam<VectorKernel> {
  protected:
    void SetUp() override {
        if (!vector_kernel_available(GetParam())) {
            GTEST_SKIP() << "this CPU lacks the " << vector_kernel_name(GetParam()) << " kernel";
        }
    }

    // Every conversion of BaseConverter with the kernel, and with the selected one, against the
    // naive reference.
    void check(const std::vector<Modulus>& from, const std::vector<Modulus>& to, std::size_t n,
               std::mt19937_64& rng) {
        const VectorKernel kernel = GetParam();
        const BaseConverter converter(from, to);
        const NaiveConverter naive{from, to};
        std::ostringstream where_stream;  // (std::string's operator+ trips GCC 12's -Wrestrict)
        where_stream << vector_kernel_name(kernel) << " n=" << n << " from";
        for (const Modulus& q : from) where_stream << ' ' << q.value();
        where_stream << " to";
        for (const Modulus& p : to) where_stream << ' ' << p.value();
        const std::string where = where_stream.str();
        const std::vector<u64> input = test_input(from, n, rng);
        const std::vector<u64> y = naive.prepared(input, n);

        std::vector<u64> centered(to.size() * n), centered_default(to.size() * n);
        std::vector<u64> converted(to.size() * n);
        converter.convert_centered(input.data(), centered.data(), n, kernel);
        converter.convert_centered(input.data(), centered_default.data(), n);
        converter.convert(input.data(), converted.data(), n, kernel);
        std::vector<u64> scratch(from.size() * n), limb(n);
        const u64* prepared = converter.prepare(input.data(), scratch.data(), n, kernel);
        ASSERT_TRUE(std::equal(y.begin(), y.end(), prepared)) << "prepare " << where;
        for (std::size_t j = 0; j < to.size(); ++j) {
            const std::vector<u64> expected_centered = naive.centered(input, j, n);
            ASSERT_TRUE(std::equal(expected_centered.begin(), expected_centered.end(),
                                   centered.begin() + j * n))
                << "convert_centered limb " << j << " " << where;
            ASSERT_TRUE(std::equal(expected_centered.begin(), expected_centered.end(),
                                   centered_default.begin() + j * n))
                << "convert_centered (selected kernel) limb " << j << " " << where;
            const std::vector<u64> expected = naive.converted(y, j, n);
            ASSERT_TRUE(std::equal(expected.begin(), expected.end(), converted.begin() + j * n))
                << "convert limb " << j << " " << where;
            converter.convert_prepared(prepared, j, limb.data(), n, kernel);
            ASSERT_EQ(limb, expected) << "convert_prepared limb " << j << " " << where;
        }
    }
};

TEST_P(RnsKernels, OneSourcePrimeMatchesNaiveReference) {
    std::mt19937_64 rng(101);
    // Targets smaller and larger than the source, q_0 <= 2 p_j and q_0 > 2 p_j (60 bits to 40 is
    // ModDown from the special prime of `henn bench lintrans`).
    const std::vector<int> target_bits = {30, 40, 41, 49, 50, 59, 60, 61};
    for (int source_bits : {30, 31, 40, 45, 50, 55, 60, 61}) {
        for (std::size_t n : kLengths) {
            std::vector<u64> taken;
            const std::vector<Modulus> from = random_primes({source_bits}, rng, taken);
            check(from, random_primes(target_bits, rng, taken), n, rng);
            // Targets of the same size as the source: q_0 just below or just above 2 p_j.
            check(from, random_primes({source_bits, source_bits, source_bits}, rng, taken), n, rng);
        }
    }
}

TEST_P(RnsKernels, SeveralSourcePrimesMatchNaiveReference) {
    std::mt19937_64 rng(102);
    const std::vector<std::vector<int>> sources = {{30, 31},
                                                   {40, 40, 40},
                                                   {50, 49, 50},
                                                   {55, 55, 55},
                                                   {60, 60, 60},
                                                   {61, 61},
                                                   {30, 45, 61},
                                                   {40, 42, 44, 46, 48, 50},
                                                   {60, 59, 60, 61, 60, 58}};
    for (const std::vector<int>& source_bits : sources) {
        for (std::size_t n : kLengths) {
            std::vector<u64> taken;
            const std::vector<Modulus> from = random_primes(source_bits, rng, taken);
            check(from, random_primes({30, 40, 50, 56, 57, 60, 61}, rng, taken), n, rng);
        }
    }
}

TEST_P(RnsKernels, NttPrimesOfTheBenchmarksMatchNaiveReference) {
    // The chains of henn_ckks_bench (one special prime) and a 60-bit one to 40-bit primes.
    std::mt19937_64 rng(103);
    for (auto [p_bits, q_bits] : {std::pair{45, 42}, {49, 48}, {55, 55}, {60, 40}}) {
        const u64 p = generate_ntt_primes(p_bits, 1, 1 << 14)[0];
        std::vector<Modulus> to;
        for (u64 q : generate_ntt_primes(q_bits, 4, 1 << 14, {p})) to.emplace_back(q);
        check({Modulus(p)}, to, 1 << 14, rng);
        // ModUp from two primes of the chain to the rest and the special prime.
        std::vector<Modulus> rest(to.begin() + 2, to.end());
        rest.emplace_back(p);
        check({to[0], to[1]}, rest, 1 << 14, rng);
    }
}

INSTANTIATE_TEST_SUITE_P(AllKernels, RnsKernels,
                         testing::Values(VectorKernel::portable, VectorKernel::avx2,
                                         VectorKernel::avx512, VectorKernel::avx512ifma),
                         [](const testing::TestParamInfo<VectorKernel>& info) {
                             return std::string(vector_kernel_name(info.param));
                         });

}  // namespace
