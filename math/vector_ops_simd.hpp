// The element-wise kernels of each instruction set as tables of functions (private to
// henn_math); math/vector_ops.cpp checks the CPU and dispatches through them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "henn/math/modarith.hpp"
#include "henn/math/vector_ops.hpp"

namespace henn::math::simd {

// One kernel family. Each function has the contract of the public function of the same name in
// henn/math/vector_ops.hpp (count already checked against kMaxDotTerms).
struct VectorKernelTable {
    void (*add)(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& q);
    void (*sub)(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& q);
    void (*negate)(const u64* a, u64* out, std::size_t n, const Modulus& q);
    void (*mul)(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& q);
    void (*mul_add)(const u64* a, const u64* b, u64* acc, std::size_t n, const Modulus& q);
    void (*mul_scalar)(const u64* a, const ShoupConstant& w, u64* out, std::size_t n,
                       const Modulus& q);
    void (*dot)(const u64* const* x, const u64* const* y, std::size_t count, u64* out,
                std::size_t n, const Modulus& q);
    void (*dot_permuted)(const u64* const* x, const std::uint32_t* permutation, const u64* const* y,
                         std::size_t count, u64* out, std::size_t n, const Modulus& q);
    void (*dot_pair)(const u64* const* x, const std::uint32_t* permutation, const u64* const* y0,
                     const u64* const* y1, std::size_t count, u64* out0, u64* out1, std::size_t n,
                     const Modulus& q);
    void (*weighted_sum)(const u64* const* x, const u64* w, std::size_t count, u64 x_bound,
                         u64* out, std::size_t n, const Modulus& q);
    void (*karatsuba)(const u64* a0, const u64* a1, const u64* b0, const u64* b1, u64* c0, u64* c1,
                      u64* c2, std::size_t n, const Modulus& q);
    // Null: rows summed through weighted_sum, 64 terms at a time (vector_ops.cpp).
    void (*matrix_rows)(const u64* const* x, const std::size_t* row_begin,
                        const std::uint32_t* column, const u64* w, std::size_t rows,
                        u64* const* out, std::size_t n, const Modulus& q);
    // Null: the weights become residues mod q and go through matrix_rows (vector_ops.cpp).
    void (*matrix_rows_small)(const u64* const* x, const std::size_t* row_begin,
                              const std::uint32_t* column, const std::int32_t* w, std::size_t rows,
                              u64* const* out, std::size_t n, const Modulus& q);
    // Null: the group's rows go through matrix_rows_small (vector_ops.cpp). weight_bits: every
    // |w| < 2^weight_bits <= kMaxSmallWeightBits.
    void (*matrix_group)(const u64* const* x, const std::uint32_t* column, std::size_t count,
                         const std::int32_t* w, std::size_t rows, u64* const* out, std::size_t n,
                         const Modulus& q, int weight_bits);
    // RNS base conversion from one source prime (math/rns.cpp): out[k] = x[k] mod q for
    // x[k] < x_bound <= 2^61, and the centered lift out[k] = (x[k] > source / 2 ? x[k] - source :
    // x[k]) mod q for x[k] < source <= 2^61.
    void (*reduce)(const u64* x, u64 x_bound, u64* out, std::size_t n, const Modulus& q);
    void (*lift_centered)(const u64* x, u64 source, u64* out, std::size_t n, const Modulus& q);
    // The overflow count of BaseConverter::convert_centered: out[k] = llround(sum_{i < count}
    // double(y[i][k]) * inverse[i]) in double precision, the terms added in order i = 0, 1, ...
    // (the scalar loop's roundings: no fused multiply-add); count >= 1, y[i][k] < 2^61.
    void (*overflow_count)(const u64* const* y, const double* inverse, std::size_t count, u64* out,
                           std::size_t n);
};

// matrix_rows through a table's weighted_sum and add, 64 terms at a time (math/vector_ops.cpp):
// what tables without a matrix_rows kernel use.
void matrix_rows_generic(const VectorKernelTable& table, const u64* const* x,
                         const std::size_t* row_begin, const std::uint32_t* column, const u64* w,
                         std::size_t rows, u64* const* out, std::size_t n, const Modulus& q);

// The table of the selected kernel (vector_selected_kernel()), and that of a given kernel
// (henn::InvalidArgument if this CPU lacks it), for callers inside henn_math (math/vector_ops.cpp).
const VectorKernelTable& selected_vector_kernels();
const VectorKernelTable& vector_kernels(VectorKernel kernel);

// Plain C++ (math/vector_ops.cpp): the reference and the fallback of the others.
const VectorKernelTable& portable_vector_kernels();
// Call only after the matching cpu_supports_* check of ntt_simd.hpp (AVX2; AVX-512 F+DQ;
// AVX-512 F+DQ+IFMA). On other architectures they return the portable table.
const VectorKernelTable& avx2_vector_kernels();
const VectorKernelTable& avx512_vector_kernels();
const VectorKernelTable& avx512ifma_vector_kernels();

}  // namespace henn::math::simd
