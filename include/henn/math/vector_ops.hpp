// Element-wise modular kernels over arrays of n words, for one modulus q < 2^61: the inner loops
// of the CKKS evaluator (plaintext and ciphertext products, additions, key-switching inner
// products).
//
// Inputs must be reduced (< q) unless stated. Every kernel returns fully reduced results, so all
// kernels give identical outputs; they differ in speed and in the instructions they need
// (checked at run time, so one binary runs on any x86-64). Outputs may alias inputs wherever the
// element k of the output only depends on elements k of the inputs (every kernel except the
// permuted inner product, whose output must not alias x).
#pragma once

#include <cstddef>
#include <cstdint>

#include "henn/math/modarith.hpp"

namespace henn::math {

enum class VectorKernel {
    portable,    // plain C++, always available
    avx2,        // AVX2: additions and, where measured faster, emulated 64-bit products
    avx512,      // AVX-512 F and DQ, emulated 64-bit products, any modulus
    avx512ifma,  // AVX-512 IFMA 52-bit products for odd moduli below 2^50, avx512 above
};

// Whether this CPU can run the kernel.
bool vector_kernel_available(VectorKernel kernel);
// "portable", "avx2", "avx512", "avx512ifma".
const char* vector_kernel_name(VectorKernel kernel);
// The kernel with that name; henn::InvalidArgument for an unknown name.
VectorKernel vector_kernel_from_name(const char* name);
// The kernel the functions without a kernel argument use: HENN_VECTOR_KERNEL when set (read
// once; henn::InvalidArgument if it names an unknown kernel or one this CPU lacks), otherwise the
// fastest available.
VectorKernel vector_selected_kernel();
const char* vector_kernel_name();

// The largest number of terms dot_mod_vec sums before its single reduction.
inline constexpr std::size_t kMaxDotTerms = 60;
// The largest number of terms of weighted_sum_mod_vec (64 products below 2^122 fit 128 bits).
inline constexpr std::size_t kMaxWeightedTerms = 64;

// out = a + b, a - b, -a (mod q).
void add_mod_vec(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& q);
void sub_mod_vec(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& q);
void negate_mod_vec(const u64* a, u64* out, std::size_t n, const Modulus& q);
// out = a * b mod q.
void mul_mod_vec(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& q);
// acc = acc + a * b mod q.
void mul_add_mod_vec(const u64* a, const u64* b, u64* acc, std::size_t n, const Modulus& q);
// out = a * w mod q with Shoup's precomputation (w.value < q).
void mul_scalar_mod_vec(const u64* a, const ShoupConstant& w, u64* out, std::size_t n,
                        const Modulus& q);
// out[k] = sum_{t < count} x[t][k] * y[t][k] mod q, count <= kMaxDotTerms (henn::InvalidArgument
// otherwise); count = 0 gives zeros.
void dot_mod_vec(const u64* const* x, const u64* const* y, std::size_t count, u64* out,
                 std::size_t n, const Modulus& q);
// out[k] = sum_{t < count} x[t][permutation[k]] * y[t][k] mod q; permutation[k] < n.
void dot_mod_vec_permuted(const u64* const* x, const std::uint32_t* permutation,
                          const u64* const* y, std::size_t count, u64* out, std::size_t n,
                          const Modulus& q);
// Two inner products sharing x, reading it once (the key-switching inner product with both key
// polynomials): out0[k] = sum_t x[t][s(k)] * y0[t][k], out1[k] = sum_t x[t][s(k)] * y1[t][k] mod q,
// with s(k) = permutation[k], or k when permutation is null. The outputs must not alias x.
void dot_pair_mod_vec(const u64* const* x, const std::uint32_t* permutation, const u64* const* y0,
                      const u64* const* y1, std::size_t count, u64* out0, u64* out1, std::size_t n,
                      const Modulus& q);
// out[k] = sum_{t < count} x[t][k] * w[t] mod q (RNS base conversion): the weights are reduced
// (w[t] < q) but the x values need only be below x_bound <= 2^61 (they may be residues of
// another, larger modulus); count <= kMaxWeightedTerms. henn::InvalidArgument otherwise.
void weighted_sum_mod_vec(const u64* const* x, const u64* w, std::size_t count, u64 x_bound,
                          u64* out, std::size_t n, const Modulus& q);
// Rows of a sparse constant matrix times vectors (the linear layers of batch-packed networks):
// out[r][k] = sum_{e in [row_begin[r], row_begin[r+1])} x[column[e]][k] * w[e] mod q for r < rows
// and k < n, with reduced x and w (< q) and any number of entries per row. The outputs must not
// alias the inputs.
void matrix_rows_mod_vec(const u64* const* x, const std::size_t* row_begin,
                         const std::uint32_t* column, const u64* w, std::size_t rows,
                         u64* const* out, std::size_t n, const Modulus& q);
// The same product with small signed integer weights, one integer for every prime (the
// rounded weights of a layer, |w| < 2^kMaxSmallWeightBits), and reduced x (< q): AVX2 and
// AVX-512F multiply 32-bit halves, so a small weight needs one or two products per term instead
// of four (the IFMA kernel has no such path: its residue products are as fast). Runs of
// equal sign are summed apart and subtracted, so rows with their positive entries first and
// their negative ones after cost least. Same words as matrix_rows_mod_vec with w mod q.
inline constexpr int kMaxSmallWeightBits = 24;
// Whether the selected kernel has its own small-weight product (otherwise the call converts the
// weights to residues each time, and callers that keep residues should use matrix_rows_mod_vec).
bool vector_kernel_has_small_weights();
void matrix_rows_small_mod_vec(const u64* const* x, const std::size_t* row_begin,
                               const std::uint32_t* column, const std::int32_t* w, std::size_t rows,
                               u64* const* out, std::size_t n, const Modulus& q);
// Rows that share one list of columns (every row of a dense layer): out[r][k] = sum_{j < count}
// x[column[j]][k] * w[r * count + j] mod q for r < rows and k < n, small signed weights (|w| <
// 2^kMaxSmallWeightBits, henn::InvalidArgument otherwise; zeros allowed) row after row, reduced x.
// AVX2 and AVX-512 (also the avx512ifma table) sum four rows from each load of x with signed
// 32-bit products (two per term when q >= 2^31), exactly in 64-bit words, reduced once per run of
// 2^(31 - bits of the largest |w|) terms. Same words as matrix_rows_mod_vec with w mod q.
// Whether the selected kernel has its own (otherwise the rows go through
// matrix_rows_small_mod_vec).
bool vector_kernel_has_matrix_group();
void matrix_group_mod_vec(const u64* const* x, const std::uint32_t* column, std::size_t count,
                          const std::int32_t* w, std::size_t rows, u64* const* out, std::size_t n,
                          const Modulus& q);
// The same for callers that know a bound: every |w| < 2^weight_bits, 1 <= weight_bits <=
// kMaxSmallWeightBits (henn::InvalidArgument otherwise); the weights are not scanned, and a
// weight above the bound gives wrong sums.
void matrix_group_mod_vec(const u64* const* x, const std::uint32_t* column, std::size_t count,
                          const std::int32_t* w, std::size_t rows, u64* const* out, std::size_t n,
                          const Modulus& q, int weight_bits);
// The ciphertext tensor product with Karatsuba's three products:
// c0 = a0 b0, c2 = a1 b1, c1 = (a0 + a1)(b0 + b1) - c0 - c2 = a0 b1 + a1 b0 (mod q).
// The outputs must not alias the inputs.
void karatsuba_tensor_vec(const u64* a0, const u64* a1, const u64* b0, const u64* b1, u64* c0,
                          u64* c1, u64* c2, std::size_t n, const Modulus& q);

// The same with a given kernel; henn::InvalidArgument if this CPU lacks it.
void add_mod_vec(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& q,
                 VectorKernel kernel);
void sub_mod_vec(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& q,
                 VectorKernel kernel);
void negate_mod_vec(const u64* a, u64* out, std::size_t n, const Modulus& q, VectorKernel kernel);
void mul_mod_vec(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& q,
                 VectorKernel kernel);
void mul_add_mod_vec(const u64* a, const u64* b, u64* acc, std::size_t n, const Modulus& q,
                     VectorKernel kernel);
void mul_scalar_mod_vec(const u64* a, const ShoupConstant& w, u64* out, std::size_t n,
                        const Modulus& q, VectorKernel kernel);
void dot_mod_vec(const u64* const* x, const u64* const* y, std::size_t count, u64* out,
                 std::size_t n, const Modulus& q, VectorKernel kernel);
void dot_mod_vec_permuted(const u64* const* x, const std::uint32_t* permutation,
                          const u64* const* y, std::size_t count, u64* out, std::size_t n,
                          const Modulus& q, VectorKernel kernel);
void dot_pair_mod_vec(const u64* const* x, const std::uint32_t* permutation, const u64* const* y0,
                      const u64* const* y1, std::size_t count, u64* out0, u64* out1, std::size_t n,
                      const Modulus& q, VectorKernel kernel);
void weighted_sum_mod_vec(const u64* const* x, const u64* w, std::size_t count, u64 x_bound,
                          u64* out, std::size_t n, const Modulus& q, VectorKernel kernel);
void matrix_rows_mod_vec(const u64* const* x, const std::size_t* row_begin,
                         const std::uint32_t* column, const u64* w, std::size_t rows,
                         u64* const* out, std::size_t n, const Modulus& q, VectorKernel kernel);
void matrix_rows_small_mod_vec(const u64* const* x, const std::size_t* row_begin,
                               const std::uint32_t* column, const std::int32_t* w, std::size_t rows,
                               u64* const* out, std::size_t n, const Modulus& q,
                               VectorKernel kernel);
void matrix_group_mod_vec(const u64* const* x, const std::uint32_t* column, std::size_t count,
                          const std::int32_t* w, std::size_t rows, u64* const* out, std::size_t n,
                          const Modulus& q, VectorKernel kernel);
void karatsuba_tensor_vec(const u64* a0, const u64* a1, const u64* b0, const u64* b1, u64* c0,
                          u64* c1, u64* c2, std::size_t n, const Modulus& q, VectorKernel kernel);

}  // namespace henn::math
