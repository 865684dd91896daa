// BaseConverter::prepare / convert_prepared: convert() split into its shared first step and one
// target limb (henn/math/rns.hpp). Same arithmetic as convert(), so the same words.
#include <algorithm>

#include "henn/math/rns.hpp"
#include "henn/math/vector_ops.hpp"
#include "vector_ops_simd.hpp"

namespace henn::math {

const u64* BaseConverter::prepare(const u64* input, u64* scratch, std::size_t n) const {
    return prepare(input, scratch, n, vector_selected_kernel());
}

void BaseConverter::convert_prepared(const u64* prepared, std::size_t target, u64* output,
                                     std::size_t n) const {
    convert_prepared(prepared, target, output, n, vector_selected_kernel());
}

const u64* BaseConverter::prepare(const u64* input, u64* scratch, std::size_t n,
                                  VectorKernel kernel) const {
    const std::size_t k = from_.size();
    if (k == 1) return input;  // Q/q_0 = 1: nothing to scale
    for (std::size_t i = 0; i < k; ++i) {
        mul_scalar_mod_vec(input + i * n, punctured_inverse_[i], scratch + i * n, n, from_[i],
                           kernel);
    }
    return scratch;
}

void BaseConverter::convert_prepared(const u64* prepared, std::size_t target, u64* output,
                                     std::size_t n, VectorKernel kernel) const {
    const std::size_t k = from_.size();
    const Modulus& pj = to_.at(target);
    if (k == 1) {
        // A plain reduction (one conditional subtraction when q_0 <= 2 p_j).
        simd::vector_kernels(kernel).reduce(prepared, from_[0].value(), output, n, pj);
        return;
    }
    const u64* terms[64];
    u64 y_bound = 0;
    for (std::size_t i = 0; i < k; ++i) {
        terms[i] = prepared + i * n;
        y_bound = std::max(y_bound, from_[i].value());
    }
    weighted_sum_mod_vec(terms, punctured_mod_to_.data() + target * k, k, y_bound, output, n, pj,
                         kernel);
}

}  // namespace henn::math
