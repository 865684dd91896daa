// Dispatch of the element-wise kernels and the portable (reference) implementations.
#include "henn/math/vector_ops.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "henn/error.hpp"
#include "ntt_simd.hpp"
#include "vector_ops_simd.hpp"

namespace henn::math {

namespace simd {
namespace {

void portable_add(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& q) {
    const u64 qv = q.value();
    for (std::size_t k = 0; k < n; ++k) out[k] = add_mod(a[k], b[k], qv);
}

void portable_sub(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& q) {
    const u64 qv = q.value();
    for (std::size_t k = 0; k < n; ++k) out[k] = sub_mod(a[k], b[k], qv);
}

void portable_negate(const u64* a, u64* out, std::size_t n, const Modulus& q) {
    const u64 qv = q.value();
    for (std::size_t k = 0; k < n; ++k) out[k] = negate_mod(a[k], qv);
}

void portable_mul(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& q) {
    for (std::size_t k = 0; k < n; ++k) out[k] = mul_mod(a[k], b[k], q);
}

void portable_mul_add(const u64* a, const u64* b, u64* acc, std::size_t n, const Modulus& q) {
    const u64 qv = q.value();
    for (std::size_t k = 0; k < n; ++k) acc[k] = add_mod(acc[k], mul_mod(a[k], b[k], q), qv);
}

void portable_mul_scalar(const u64* a, const ShoupConstant& w, u64* out, std::size_t n,
                         const Modulus& q) {
    const u64 qv = q.value();
    for (std::size_t k = 0; k < n; ++k) out[k] = mul_shoup(a[k], w.value, w.shoup, qv);
}

// Lazy 128-bit sums: count <= 60 products below 2^122 each stay below 2^128. Blocks of
// coefficients keep their sums in a small array and take the terms one after the other, so each
// input is read sequentially (summing all terms per coefficient would stride across count
// arrays).
constexpr std::size_t kDotBlock = 512;

void portable_dot(const u64* const* x, const u64* const* y, std::size_t count, u64* out,
                  std::size_t n, const Modulus& q) {
    for (std::size_t begin = 0; begin < n; begin += kDotBlock) {
        const std::size_t length = std::min(kDotBlock, n - begin);
        u128 sums[kDotBlock] = {};
        for (std::size_t t = 0; t < count; ++t) {
            const u64* xt = x[t] + begin;
            const u64* yt = y[t] + begin;
            for (std::size_t k = 0; k < length; ++k) sums[k] += static_cast<u128>(xt[k]) * yt[k];
        }
        for (std::size_t k = 0; k < length; ++k) out[begin + k] = q.reduce(sums[k]);
    }
}

void portable_dot_permuted(const u64* const* x, const std::uint32_t* permutation,
                           const u64* const* y, std::size_t count, u64* out, std::size_t n,
                           const Modulus& q) {
    for (std::size_t begin = 0; begin < n; begin += kDotBlock) {
        const std::size_t length = std::min(kDotBlock, n - begin);
        const std::uint32_t* source = permutation + begin;
        u128 sums[kDotBlock] = {};
        for (std::size_t t = 0; t < count; ++t) {
            const u64* xt = x[t];
            const u64* yt = y[t] + begin;
            for (std::size_t k = 0; k < length; ++k)
                sums[k] += static_cast<u128>(xt[source[k]]) * yt[k];
        }
        for (std::size_t k = 0; k < length; ++k) out[begin + k] = q.reduce(sums[k]);
    }
}

void portable_dot_pair(const u64* const* x, const std::uint32_t* permutation, const u64* const* y0,
                       const u64* const* y1, std::size_t count, u64* out0, u64* out1, std::size_t n,
                       const Modulus& q) {
    if (permutation != nullptr) {
        // Coefficient by coefficient: the gathered x[t][permutation[k]] of neighbouring k share
        // cache lines across all terms (measured faster than blocks with hoisted rotations).
        for (std::size_t k = 0; k < n; ++k) {
            const std::size_t source = permutation[k];
            u128 sum0 = 0, sum1 = 0;
            for (std::size_t t = 0; t < count; ++t) {
                const u64 v = x[t][source];
                sum0 += static_cast<u128>(v) * y0[t][k];
                sum1 += static_cast<u128>(v) * y1[t][k];
            }
            out0[k] = q.reduce(sum0);
            out1[k] = q.reduce(sum1);
        }
        return;
    }
    for (std::size_t begin = 0; begin < n; begin += kDotBlock) {
        const std::size_t length = std::min(kDotBlock, n - begin);
        u128 sums0[kDotBlock], sums1[kDotBlock];
        std::fill(sums0, sums0 + length, u128{0});
        std::fill(sums1, sums1 + length, u128{0});
        for (std::size_t t = 0; t < count; ++t) {
            const u64* xt = x[t];
            const u64* y0t = y0[t] + begin;
            const u64* y1t = y1[t] + begin;
            for (std::size_t k = 0; k < length; ++k) {
                const u64 v = xt[begin + k];
                sums0[k] += static_cast<u128>(v) * y0t[k];
                sums1[k] += static_cast<u128>(v) * y1t[k];
            }
        }
        for (std::size_t k = 0; k < length; ++k) {
            out0[begin + k] = q.reduce(sums0[k]);
            out1[begin + k] = q.reduce(sums1[k]);
        }
    }
}

void portable_weighted_sum(const u64* const* x, const u64* w, std::size_t count, u64 /*x_bound*/,
                           u64* out, std::size_t n, const Modulus& q) {
    for (std::size_t begin = 0; begin < n; begin += kDotBlock) {
        const std::size_t length = std::min(kDotBlock, n - begin);
        u128 sums[kDotBlock] = {};
        for (std::size_t t = 0; t < count; ++t) {
            const u64* xt = x[t] + begin;
            const u64 wt = w[t];
            for (std::size_t k = 0; k < length; ++k) sums[k] += static_cast<u128>(xt[k]) * wt;
        }
        for (std::size_t k = 0; k < length; ++k) out[begin + k] = q.reduce(sums[k]);
    }
}

void portable_karatsuba(const u64* a0, const u64* a1, const u64* b0, const u64* b1, u64* c0,
                        u64* c1, u64* c2, std::size_t n, const Modulus& q) {
    const u64 qv = q.value();
    for (std::size_t k = 0; k < n; ++k) {
        const u64 p0 = mul_mod(a0[k], b0[k], q);
        const u64 p2 = mul_mod(a1[k], b1[k], q);
        const u64 s = mul_mod(add_mod(a0[k], a1[k], qv), add_mod(b0[k], b1[k], qv), q);
        c0[k] = p0;
        c1[k] = sub_mod(sub_mod(s, p0, qv), p2, qv);
        c2[k] = p2;
    }
}

// The scalar loops of BaseConverter from one source prime, as they were before the vector kernels
// (the reference those are tested and measured against).
void portable_reduce(const u64* x, u64 x_bound, u64* out, std::size_t n, const Modulus& q) {
    const u64 qv = q.value();
    if (x_bound <= 2 * qv) {
        // One conditional subtraction, branch-free.
        for (std::size_t k = 0; k < n; ++k) out[k] = x[k] >= qv ? x[k] - qv : x[k];
        return;
    }
    for (std::size_t k = 0; k < n; ++k) out[k] = q.reduce(x[k]);
}

void portable_lift_centered(const u64* x, u64 source, u64* out, std::size_t n, const Modulus& q) {
    const u64 p = q.value(), half = source >> 1;
    const u64 source_mod = q.reduce(source);
    if (source <= 2 * p) {
        for (std::size_t k = 0; k < n; ++k) {
            const u64 r = x[k] >= p ? x[k] - p : x[k];
            const u64 lifted = r >= source_mod ? r - source_mod : r + p - source_mod;
            out[k] = x[k] > half ? lifted : r;
        }
        return;
    }
    for (std::size_t k = 0; k < n; ++k) {
        const u64 r = q.reduce(x[k]);
        out[k] = x[k] > half ? sub_mod(r, source_mod, p) : r;
    }
}

void portable_overflow_count(const u64* const* y, const double* inverse, std::size_t count,
                             u64* out, std::size_t n) {
    thread_local std::vector<double> fraction;
    fraction.assign(n, 0.0);
    for (std::size_t i = 0; i < count; ++i) {
        const double inv = inverse[i];
        for (std::size_t k = 0; k < n; ++k) fraction[k] += static_cast<double>(y[i][k]) * inv;
    }
    for (std::size_t k = 0; k < n; ++k) out[k] = static_cast<u64>(std::llround(fraction[k]));
}

}  // namespace

const VectorKernelTable& portable_vector_kernels() {
    static constexpr VectorKernelTable table = {portable_add,
                                                portable_sub,
                                                portable_negate,
                                                portable_mul,
                                                portable_mul_add,
                                                portable_mul_scalar,
                                                portable_dot,
                                                portable_dot_permuted,
                                                portable_dot_pair,
                                                portable_weighted_sum,
                                                portable_karatsuba,
                                                nullptr,
                                                nullptr,
                                                nullptr,
                                                portable_reduce,
                                                portable_lift_centered,
                                                portable_overflow_count};
    return table;
}

}  // namespace simd

namespace {

constexpr VectorKernel kAllVectorKernels[] = {VectorKernel::portable, VectorKernel::avx2,
                                              VectorKernel::avx512, VectorKernel::avx512ifma};

VectorKernel vector_kernel_from_environment() {
    const char* requested = std::getenv("HENN_VECTOR_KERNEL");
    if (requested == nullptr || *requested == '\0') {
        for (VectorKernel kernel :
             {VectorKernel::avx512ifma, VectorKernel::avx512, VectorKernel::avx2}) {
            if (vector_kernel_available(kernel)) return kernel;
        }
        return VectorKernel::portable;
    }
    VectorKernel kernel;
    try {
        kernel = vector_kernel_from_name(requested);
    } catch (const InvalidArgument& e) {
        throw InvalidArgument(std::string("HENN_VECTOR_KERNEL: ") + e.what());
    }
    if (!vector_kernel_available(kernel)) {
        throw InvalidArgument(std::string("HENN_VECTOR_KERNEL=") + requested +
                              ": this CPU lacks the instructions of that kernel");
    }
    return kernel;
}

const simd::VectorKernelTable& table_of(VectorKernel kernel) {
    switch (kernel) {
        case VectorKernel::portable:
            return simd::portable_vector_kernels();
        case VectorKernel::avx2:
            return simd::avx2_vector_kernels();
        case VectorKernel::avx512:
            return simd::avx512_vector_kernels();
        case VectorKernel::avx512ifma:
            return simd::avx512ifma_vector_kernels();
    }
    return simd::portable_vector_kernels();
}

// The selected kernel's table, looked up once.
const simd::VectorKernelTable& selected_table() {
    static const simd::VectorKernelTable& table = table_of(vector_selected_kernel());
    return table;
}

const simd::VectorKernelTable& checked_table(VectorKernel kernel) {
    if (!vector_kernel_available(kernel)) {
        throw InvalidArgument(std::string("vector kernel ") + vector_kernel_name(kernel) +
                              " is not supported by this CPU");
    }
    return table_of(kernel);
}

void check_count(std::size_t count) {
    if (count > kMaxDotTerms) {
        throw InvalidArgument("dot_mod_vec: " + std::to_string(count) + " terms, at most " +
                              std::to_string(kMaxDotTerms) + " per reduction");
    }
}

void check_weighted(std::size_t count, u64 x_bound) {
    if (count > kMaxWeightedTerms) {
        throw InvalidArgument("weighted_sum_mod_vec: " + std::to_string(count) +
                              " terms, at most " + std::to_string(kMaxWeightedTerms));
    }
    if (x_bound > (u64{1} << kMaxModulusBits)) {
        throw InvalidArgument("weighted_sum_mod_vec: inputs must be below 2^61");
    }
}

}  // namespace

bool vector_kernel_available(VectorKernel kernel) {
    switch (kernel) {
        case VectorKernel::portable:
            return true;
        case VectorKernel::avx2:
            return simd::cpu_supports_avx2();
        case VectorKernel::avx512:
            return simd::cpu_supports_avx512();
        case VectorKernel::avx512ifma:
            return simd::cpu_supports_avx512ifma();
    }
    return false;
}

const char* vector_kernel_name(VectorKernel kernel) {
    switch (kernel) {
        case VectorKernel::portable:
            return "portable";
        case VectorKernel::avx2:
            return "avx2";
        case VectorKernel::avx512:
            return "avx512";
        case VectorKernel::avx512ifma:
            return "avx512ifma";
    }
    return "unknown";
}

VectorKernel vector_kernel_from_name(const char* name) {
    for (VectorKernel kernel : kAllVectorKernels) {
        if (std::strcmp(name, vector_kernel_name(kernel)) == 0) return kernel;
    }
    throw InvalidArgument(std::string("unknown vector kernel '") + name +
                          "' (expected portable, avx2, avx512 or avx512ifma)");
}

VectorKernel vector_selected_kernel() {
    static const VectorKernel selected = vector_kernel_from_environment();
    return selected;
}

const char* vector_kernel_name() {
    return vector_kernel_name(vector_selected_kernel());
}

void add_mod_vec(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& q) {
    selected_table().add(a, b, out, n, q);
}
void sub_mod_vec(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& q) {
    selected_table().sub(a, b, out, n, q);
}
void negate_mod_vec(const u64* a, u64* out, std::size_t n, const Modulus& q) {
    selected_table().negate(a, out, n, q);
}
void mul_mod_vec(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& q) {
    selected_table().mul(a, b, out, n, q);
}
void mul_add_mod_vec(const u64* a, const u64* b, u64* acc, std::size_t n, const Modulus& q) {
    selected_table().mul_add(a, b, acc, n, q);
}
void mul_scalar_mod_vec(const u64* a, const ShoupConstant& w, u64* out, std::size_t n,
                        const Modulus& q) {
    selected_table().mul_scalar(a, w, out, n, q);
}
void dot_mod_vec(const u64* const* x, const u64* const* y, std::size_t count, u64* out,
                 std::size_t n, const Modulus& q) {
    check_count(count);
    selected_table().dot(x, y, count, out, n, q);
}
void dot_mod_vec_permuted(const u64* const* x, const std::uint32_t* permutation,
                          const u64* const* y, std::size_t count, u64* out, std::size_t n,
                          const Modulus& q) {
    check_count(count);
    selected_table().dot_permuted(x, permutation, y, count, out, n, q);
}
void dot_pair_mod_vec(const u64* const* x, const std::uint32_t* permutation, const u64* const* y0,
                      const u64* const* y1, std::size_t count, u64* out0, u64* out1, std::size_t n,
                      const Modulus& q) {
    check_count(count);
    selected_table().dot_pair(x, permutation, y0, y1, count, out0, out1, n, q);
}
void weighted_sum_mod_vec(const u64* const* x, const u64* w, std::size_t count, u64 x_bound,
                          u64* out, std::size_t n, const Modulus& q) {
    check_weighted(count, x_bound);
    selected_table().weighted_sum(x, w, count, x_bound, out, n, q);
}
namespace simd {
const VectorKernelTable& selected_vector_kernels() {
    return selected_table();
}
const VectorKernelTable& vector_kernels(VectorKernel kernel) {
    return checked_table(kernel);
}

void matrix_rows_generic(const VectorKernelTable& table, const u64* const* x,
                         const std::size_t* row_begin, const std::uint32_t* column, const u64* w,
                         std::size_t rows, u64* const* out, std::size_t n, const Modulus& q) {
    std::vector<const u64*> terms;
    std::vector<u64> partial(n);
    for (std::size_t r = 0; r < rows; ++r) {
        const std::size_t begin = row_begin[r], end = row_begin[r + 1];
        if (begin == end) {
            std::fill(out[r], out[r] + n, u64{0});
            continue;
        }
        terms.resize(end - begin);
        for (std::size_t e = begin; e < end; ++e) terms[e - begin] = x[column[e]];
        for (std::size_t chunk = 0; chunk < terms.size(); chunk += kMaxWeightedTerms) {
            const std::size_t count = std::min(kMaxWeightedTerms, terms.size() - chunk);
            u64* target = chunk == 0 ? out[r] : partial.data();
            table.weighted_sum(terms.data() + chunk, w + begin + chunk, count, q.value(), target, n,
                               q);
            if (chunk != 0) table.add(out[r], partial.data(), out[r], n, q);
        }
    }
}
}  // namespace simd

namespace {
void matrix_rows_through(const simd::VectorKernelTable& table, const u64* const* x,
                         const std::size_t* row_begin, const std::uint32_t* column, const u64* w,
                         std::size_t rows, u64* const* out, std::size_t n, const Modulus& q) {
    if (table.matrix_rows) return table.matrix_rows(x, row_begin, column, w, rows, out, n, q);
    simd::matrix_rows_generic(table, x, row_begin, column, w, rows, out, n, q);
}
}  // namespace

void matrix_rows_mod_vec(const u64* const* x, const std::size_t* row_begin,
                         const std::uint32_t* column, const u64* w, std::size_t rows,
                         u64* const* out, std::size_t n, const Modulus& q) {
    matrix_rows_through(selected_table(), x, row_begin, column, w, rows, out, n, q);
}
void matrix_rows_mod_vec(const u64* const* x, const std::size_t* row_begin,
                         const std::uint32_t* column, const u64* w, std::size_t rows,
                         u64* const* out, std::size_t n, const Modulus& q, VectorKernel kernel) {
    matrix_rows_through(checked_table(kernel), x, row_begin, column, w, rows, out, n, q);
}

namespace {
void check_small_weights(const std::int32_t* w, std::size_t entries) {
    constexpr std::int32_t bound = std::int32_t{1} << kMaxSmallWeightBits;
    for (std::size_t e = 0; e < entries; ++e) {
        if (w[e] <= -bound || w[e] >= bound) {
            throw InvalidArgument("matrix_rows_small_mod_vec: weight " + std::to_string(w[e]) +
                                  " is not below 2^" + std::to_string(kMaxSmallWeightBits) +
                                  " in magnitude");
        }
    }
}

// Tables without a small-weight kernel: the weights as residues mod q, then their matrix_rows.
void matrix_rows_small_through(const simd::VectorKernelTable& table, const u64* const* x,
                               const std::size_t* row_begin, const std::uint32_t* column,
                               const std::int32_t* w, std::size_t rows, u64* const* out,
                               std::size_t n, const Modulus& q) {
    check_small_weights(w + row_begin[0], row_begin[rows] - row_begin[0]);
    if (table.matrix_rows_small)
        return table.matrix_rows_small(x, row_begin, column, w, rows, out, n, q);
    const u64 qv = q.value();
    std::vector<u64> residues(row_begin[rows]);
    for (std::size_t e = row_begin[0]; e < row_begin[rows]; ++e) {
        const u64 magnitude = static_cast<u64>(w[e] >= 0 ? w[e] : -w[e]) % qv;
        residues[e] = w[e] >= 0 ? magnitude : negate_mod(magnitude, qv);
    }
    matrix_rows_through(table, x, row_begin, column, residues.data(), rows, out, n, q);
}
}  // namespace

bool vector_kernel_has_small_weights() {
    return selected_table().matrix_rows_small != nullptr;
}

void matrix_rows_small_mod_vec(const u64* const* x, const std::size_t* row_begin,
                               const std::uint32_t* column, const std::int32_t* w, std::size_t rows,
                               u64* const* out, std::size_t n, const Modulus& q) {
    matrix_rows_small_through(selected_table(), x, row_begin, column, w, rows, out, n, q);
}
void matrix_rows_small_mod_vec(const u64* const* x, const std::size_t* row_begin,
                               const std::uint32_t* column, const std::int32_t* w, std::size_t rows,
                               u64* const* out, std::size_t n, const Modulus& q,
                               VectorKernel kernel) {
    matrix_rows_small_through(checked_table(kernel), x, row_begin, column, w, rows, out, n, q);
}

namespace {
// Bits of the largest |w| (at least 1); henn::InvalidArgument at or above kMaxSmallWeightBits.
int group_weight_bits(const std::int32_t* w, std::size_t entries) {
    std::uint32_t largest = 0;
    for (std::size_t e = 0; e < entries; ++e) {
        const std::int32_t v = w[e];
        largest = std::max(largest,
                           static_cast<std::uint32_t>(v < 0 ? -static_cast<std::int64_t>(v) : v));
    }
    if (largest >= (std::uint32_t{1} << kMaxSmallWeightBits)) {
        throw InvalidArgument("matrix_group_mod_vec: a weight is not below 2^" +
                              std::to_string(kMaxSmallWeightBits) + " in magnitude");
    }
    int bits = 1;
    while ((std::uint32_t{1} << bits) <= largest) ++bits;
    return bits;
}

void matrix_group_through(const simd::VectorKernelTable& table, const u64* const* x,
                          const std::uint32_t* column, std::size_t count, const std::int32_t* w,
                          std::size_t rows, u64* const* out, std::size_t n, const Modulus& q,
                          int bits) {
    if (table.matrix_group) return table.matrix_group(x, column, count, w, rows, out, n, q, bits);
    // Tables without: each row as a row of matrix_rows_small_mod_vec.
    std::vector<std::size_t> row_begin(rows + 1);
    std::vector<std::uint32_t> columns(rows * count);
    for (std::size_t r = 0; r <= rows; ++r) row_begin[r] = r * count;
    for (std::size_t r = 0; r < rows; ++r)
        std::copy(column, column + count, columns.begin() + static_cast<std::ptrdiff_t>(r * count));
    matrix_rows_small_through(table, x, row_begin.data(), columns.data(), w, rows, out, n, q);
}
}  // namespace

bool vector_kernel_has_matrix_group() {
    return selected_table().matrix_group != nullptr;
}
void matrix_group_mod_vec(const u64* const* x, const std::uint32_t* column, std::size_t count,
                          const std::int32_t* w, std::size_t rows, u64* const* out, std::size_t n,
                          const Modulus& q) {
    matrix_group_through(selected_table(), x, column, count, w, rows, out, n, q,
                         group_weight_bits(w, rows * count));
}
void matrix_group_mod_vec(const u64* const* x, const std::uint32_t* column, std::size_t count,
                          const std::int32_t* w, std::size_t rows, u64* const* out, std::size_t n,
                          const Modulus& q, int weight_bits) {
    if (weight_bits < 1 || weight_bits > kMaxSmallWeightBits) {
        throw InvalidArgument("matrix_group_mod_vec: weight_bits must be in 1.." +
                              std::to_string(kMaxSmallWeightBits));
    }
    matrix_group_through(selected_table(), x, column, count, w, rows, out, n, q, weight_bits);
}
void matrix_group_mod_vec(const u64* const* x, const std::uint32_t* column, std::size_t count,
                          const std::int32_t* w, std::size_t rows, u64* const* out, std::size_t n,
                          const Modulus& q, VectorKernel kernel) {
    matrix_group_through(checked_table(kernel), x, column, count, w, rows, out, n, q,
                         group_weight_bits(w, rows * count));
}

void karatsuba_tensor_vec(const u64* a0, const u64* a1, const u64* b0, const u64* b1, u64* c0,
                          u64* c1, u64* c2, std::size_t n, const Modulus& q) {
    selected_table().karatsuba(a0, a1, b0, b1, c0, c1, c2, n, q);
}

void add_mod_vec(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& q,
                 VectorKernel kernel) {
    checked_table(kernel).add(a, b, out, n, q);
}
void sub_mod_vec(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& q,
                 VectorKernel kernel) {
    checked_table(kernel).sub(a, b, out, n, q);
}
void negate_mod_vec(const u64* a, u64* out, std::size_t n, const Modulus& q, VectorKernel kernel) {
    checked_table(kernel).negate(a, out, n, q);
}
void mul_mod_vec(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& q,
                 VectorKernel kernel) {
    checked_table(kernel).mul(a, b, out, n, q);
}
void mul_add_mod_vec(const u64* a, const u64* b, u64* acc, std::size_t n, const Modulus& q,
                     VectorKernel kernel) {
    checked_table(kernel).mul_add(a, b, acc, n, q);
}
void mul_scalar_mod_vec(const u64* a, const ShoupConstant& w, u64* out, std::size_t n,
                        const Modulus& q, VectorKernel kernel) {
    checked_table(kernel).mul_scalar(a, w, out, n, q);
}
void dot_mod_vec(const u64* const* x, const u64* const* y, std::size_t count, u64* out,
                 std::size_t n, const Modulus& q, VectorKernel kernel) {
    check_count(count);
    checked_table(kernel).dot(x, y, count, out, n, q);
}
void dot_mod_vec_permuted(const u64* const* x, const std::uint32_t* permutation,
                          const u64* const* y, std::size_t count, u64* out, std::size_t n,
                          const Modulus& q, VectorKernel kernel) {
    check_count(count);
    checked_table(kernel).dot_permuted(x, permutation, y, count, out, n, q);
}
void dot_pair_mod_vec(const u64* const* x, const std::uint32_t* permutation, const u64* const* y0,
                      const u64* const* y1, std::size_t count, u64* out0, u64* out1, std::size_t n,
                      const Modulus& q, VectorKernel kernel) {
    check_count(count);
    checked_table(kernel).dot_pair(x, permutation, y0, y1, count, out0, out1, n, q);
}
void weighted_sum_mod_vec(const u64* const* x, const u64* w, std::size_t count, u64 x_bound,
                          u64* out, std::size_t n, const Modulus& q, VectorKernel kernel) {
    check_weighted(count, x_bound);
    checked_table(kernel).weighted_sum(x, w, count, x_bound, out, n, q);
}
void karatsuba_tensor_vec(const u64* a0, const u64* a1, const u64* b0, const u64* b1, u64* c0,
                          u64* c1, u64* c2, std::size_t n, const Modulus& q, VectorKernel kernel) {
    checked_table(kernel).karatsuba(a0, a1, b0, b1, c0, c1, c2, n, q);
}

}  // namespace henn::math
