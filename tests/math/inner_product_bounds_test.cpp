// The inner-product kernels (dot, dot_pair, weighted_sum) at the edges of their vector paths:
// primes just below and above 2^56 (the AVX2 split-product sums take q < 2^56 and fall back to
// the portable loop above), the most terms each function accepts, every operand at its maximum,
// and random operands against the portable kernel, on every kernel this CPU has.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "henn/math/primes.hpp"
#include "henn/math/vector_ops.hpp"

using namespace henn::math;

namespace {

std::vector<VectorKernel> available_kernels() {
    std::vector<VectorKernel> kernels;
    for (VectorKernel kernel : {VectorKernel::portable, VectorKernel::avx2, VectorKernel::avx512,
                                VectorKernel::avx512ifma}) {
        if (vector_kernel_available(kernel)) kernels.push_back(kernel);
    }
    return kernels;
}

// The largest NTT-friendly primes below 2^55, 2^56 and 2^57, and the smallest prime above 2^55.
std::vector<Modulus> edge_moduli() {
    std::vector<Modulus> moduli;
    for (int bits : {55, 56, 57}) moduli.emplace_back(generate_ntt_primes(bits, 1, 1024)[0]);
    for (u64 q = (u64{1} << 55) + 1;; q += 2) {
        if (is_prime(q)) {
            moduli.emplace_back(q);
            break;
        }
    }
    return moduli;
}

std::string where(VectorKernel kernel, const Modulus& q, std::size_t n, std::size_t count) {
    return std::string(vector_kernel_name(kernel)) + " q=" + std::to_string(q.value()) +
           " n=" + std::to_string(n) + " count=" + std::to_string(count);
}

TEST(InnerProductBounds, MaximalOperandsAndMostTerms) {
    const std::size_t n = 1029;  // several blocks of 256 and a scalar tail
    for (const Modulus& q : edge_moduli()) {
        const u64 top = q.value() - 1;
        const std::vector<u64> x(n, top);
        const std::vector<const u64*> xs(kMaxWeightedTerms, x.data());
        const u64 square = mul_mod(top, top, q);
        const u64 dot_expected = q.reduce(static_cast<u128>(square) * kMaxDotTerms);
        // Weighted sums take inputs up to 2^61 whatever q is: the largest below 2^56 (the split
        // sums' bound) and below 2^61.
        const std::vector<u64> weights(kMaxWeightedTerms, top);
        for (VectorKernel kernel : available_kernels()) {
            std::vector<u64> out(n), out1(n);
            dot_mod_vec(xs.data(), xs.data(), kMaxDotTerms, out.data(), n, q, kernel);
            ASSERT_EQ(out, std::vector<u64>(n, dot_expected))
                << "dot " << where(kernel, q, n, kMaxDotTerms);
            dot_pair_mod_vec(xs.data(), nullptr, xs.data(), xs.data(), kMaxDotTerms, out.data(),
                             out1.data(), n, q, kernel);
            ASSERT_EQ(out, std::vector<u64>(n, dot_expected))
                << "dot pair " << where(kernel, q, n, kMaxDotTerms);
            ASSERT_EQ(out1, std::vector<u64>(n, dot_expected))
                << "dot pair " << where(kernel, q, n, kMaxDotTerms);
            for (int input_bits : {56, 61}) {
                const u64 big = (u64{1} << input_bits) - 1;
                const std::vector<u64> big_x(n, big);
                const std::vector<const u64*> big_xs(kMaxWeightedTerms, big_x.data());
                const u64 expected =
                    q.reduce(static_cast<u128>(mul_mod(q.reduce(big), top, q)) * kMaxWeightedTerms);
                weighted_sum_mod_vec(big_xs.data(), weights.data(), kMaxWeightedTerms, big + 1,
                                     out.data(), n, q, kernel);
                ASSERT_EQ(out, std::vector<u64>(n, expected))
                    << "weighted sum, inputs below 2^" << input_bits << " "
                    << where(kernel, q, n, kMaxWeightedTerms);
            }
        }
    }
}

TEST(InnerProductBounds, RandomOperandsMatchPortableKernel) {
    std::mt19937_64 rng(56);
    for (const Modulus& q : edge_moduli()) {
        for (std::size_t n : {std::size_t{4}, std::size_t{255}, std::size_t{1030}}) {
            for (std::size_t count : {std::size_t{1}, std::size_t{15}, std::size_t{60}}) {
                std::vector<std::vector<u64>> xs(count, std::vector<u64>(n)),
                    y0s(count, std::vector<u64>(n)), y1s(count, std::vector<u64>(n));
                std::vector<const u64*> x(count), y0(count), y1(count);
                std::vector<u64> w(count);
                for (std::size_t t = 0; t < count; ++t) {
                    for (std::size_t k = 0; k < n; ++k) {
                        xs[t][k] = rng() % q.value();
                        y0s[t][k] = rng() % q.value();
                        y1s[t][k] = rng() % q.value();
                    }
                    x[t] = xs[t].data();
                    y0[t] = y0s[t].data();
                    y1[t] = y1s[t].data();
                    w[t] = rng() % q.value();
                }
                std::vector<u64> dot_ref(n), pair_ref0(n), pair_ref1(n), weighted_ref(n);
                dot_mod_vec(x.data(), y0.data(), count, dot_ref.data(), n, q,
                            VectorKernel::portable);
                dot_pair_mod_vec(x.data(), nullptr, y0.data(), y1.data(), count, pair_ref0.data(),
                                 pair_ref1.data(), n, q, VectorKernel::portable);
                weighted_sum_mod_vec(x.data(), w.data(), count, q.value(), weighted_ref.data(), n,
                                     q, VectorKernel::portable);
                for (VectorKernel kernel : available_kernels()) {
                    std::vector<u64> out(n), out1(n);
                    dot_mod_vec(x.data(), y0.data(), count, out.data(), n, q, kernel);
                    ASSERT_EQ(out, dot_ref) << "dot " << where(kernel, q, n, count);
                    dot_pair_mod_vec(x.data(), nullptr, y0.data(), y1.data(), count, out.data(),
                                     out1.data(), n, q, kernel);
                    ASSERT_EQ(out, pair_ref0) << "dot pair " << where(kernel, q, n, count);
                    ASSERT_EQ(out1, pair_ref1) << "dot pair " << where(kernel, q, n, count);
                    weighted_sum_mod_vec(x.data(), w.data(), count, q.value(), out.data(), n, q,
                                         kernel);
                    ASSERT_EQ(out, weighted_ref) << "weighted sum " << where(kernel, q, n, count);
                }
            }
        }
    }
}

}  // namespace
