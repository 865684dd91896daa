#include "henn/math/rns.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "henn/error.hpp"
#include "henn/math/vector_ops.hpp"
#include "vector_ops_simd.hpp"

namespace henn::math {

BaseConverter::BaseConverter(std::vector<Modulus> from, std::vector<Modulus> to)
    : from_(std::move(from)), to_(std::move(to)) {
    if (from_.empty() || to_.empty()) throw InvalidArgument("empty RNS base");
    // Lazy 128-bit accumulation adds k products below 2^122 each.
    if (from_.size() > 60) throw InvalidArgument("RNS base too large for base conversion");
    const std::size_t k = from_.size();
    punctured_inverse_.resize(k);
    for (std::size_t i = 0; i < k; ++i) {
        const Modulus& qi = from_[i];
        u64 product = 1;
        for (std::size_t m = 0; m < k; ++m) {
            if (m != i) product = mul_mod(product, qi.reduce(from_[m].value()), qi);
        }
        punctured_inverse_[i] = ShoupConstant(inverse_mod(product, qi.value()), qi.value());
    }
    inverse_moduli_.resize(k);
    for (std::size_t i = 0; i < k; ++i)
        inverse_moduli_[i] = 1.0 / static_cast<double>(from_[i].value());
    product_mod_to_.resize(to_.size());
    for (std::size_t j = 0; j < to_.size(); ++j) {
        u64 product = 1;
        for (std::size_t m = 0; m < k; ++m)
            product = mul_mod(product, to_[j].reduce(from_[m].value()), to_[j]);
        product_mod_to_[j] = product;
    }
    punctured_mod_to_.resize(to_.size() * k);
    for (std::size_t j = 0; j < to_.size(); ++j) {
        const Modulus& pj = to_[j];
        for (std::size_t i = 0; i < k; ++i) {
            u64 product = 1;
            for (std::size_t m = 0; m < k; ++m) {
                if (m != i) product = mul_mod(product, pj.reduce(from_[m].value()), pj);
            }
            punctured_mod_to_[j * k + i] = product;
        }
    }
}

void BaseConverter::convert(const u64* input, u64* output, std::size_t n) const {
    convert(input, output, n, vector_selected_kernel());
}

void BaseConverter::convert_centered(const u64* input, u64* output, std::size_t n) const {
    convert_centered(input, output, n, vector_selected_kernel());
}

void BaseConverter::convert(const u64* input, u64* output, std::size_t n,
                            VectorKernel kernel) const {
    const std::size_t k = from_.size();
    if (k == 1) {
        // One source prime: Q/q_0 = 1, so the conversion is a plain reduction (and exact).
        const simd::VectorKernelTable& kernels = simd::vector_kernels(kernel);
        for (std::size_t j = 0; j < to_.size(); ++j)
            kernels.reduce(input, from_[0].value(), output + j * n, n, to_[j]);
        return;
    }
    // y_i = x_i * (Q/q_i)^-1 mod q_i, then for each target prime sum_i y_i (Q/q_i mod p_j),
    // reduced once (k <= 60 terms; the y_i are below max q_i, not necessarily below p_j).
    thread_local std::vector<u64> y;  // per thread, as in convert_centered
    y.resize(k * n);
    std::vector<const u64*> terms(k);
    u64 y_bound = 0;
    for (std::size_t i = 0; i < k; ++i) {
        mul_scalar_mod_vec(input + i * n, punctured_inverse_[i], y.data() + i * n, n, from_[i],
                           kernel);
        terms[i] = y.data() + i * n;
        y_bound = std::max(y_bound, from_[i].value());
    }
    for (std::size_t j = 0; j < to_.size(); ++j) {
        weighted_sum_mod_vec(terms.data(), punctured_mod_to_.data() + j * k, k, y_bound,
                             output + j * n, n, to_[j], kernel);
    }
}

void BaseConverter::convert_centered(const u64* input, u64* output, std::size_t n,
                                     VectorKernel kernel) const {
    const std::size_t k = from_.size();
    const simd::VectorKernelTable& kernels = simd::vector_kernels(kernel);
    if (k == 1) {
        // The centered lift of one residue: x - q_0 when x > q_0 / 2.
        for (std::size_t j = 0; j < to_.size(); ++j)
            kernels.lift_centered(input, from_[0].value(), output + j * n, n, to_[j]);
        return;
    }
    // Per-thread buffers: fresh ones of this size would be mapped (and faulted in) on each call.
    thread_local std::vector<u64> y, overflow;
    y.resize(k * n);
    overflow.resize(n);
    // The k terms y_i and, last, the overflow count v (below k + 1).
    std::vector<const u64*> terms(k + 1);
    u64 y_bound = 0;
    for (std::size_t i = 0; i < k; ++i) {
        u64* out = y.data() + i * n;
        mul_scalar_mod_vec(input + i * n, punctured_inverse_[i], out, n, from_[i], kernel);
        terms[i] = out;
        y_bound = std::max(y_bound, from_[i].value());
    }
    // sum_i y_i (Q/q_i) = x + v Q with v = round(sum_i y_i / q_i) for the centered x.
    kernels.overflow_count(terms.data(), inverse_moduli_.data(), k, overflow.data(), n);
    terms[k] = overflow.data();
    std::vector<u64> weights(k + 1);
    for (std::size_t j = 0; j < to_.size(); ++j) {
        const Modulus& pj = to_[j];
        std::copy(punctured_mod_to_.begin() + j * k, punctured_mod_to_.begin() + (j + 1) * k,
                  weights.begin());
        // Subtract v * Q by adding v * (p_j - Q mod p_j).
        weights[k] = (pj.value() - product_mod_to_[j]) % pj.value();
        // k + 1 <= 61 terms (the constructor caps k at 60), within kMaxWeightedTerms.
        weighted_sum_mod_vec(terms.data(), weights.data(), k + 1, std::max(y_bound, u64{k + 1}),
                             output + j * n, n, pj, kernel);
    }
}

}  // namespace henn::math
