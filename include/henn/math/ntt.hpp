// Negacyclic number-theoretic transform over Z_q[X]/(X^n + 1).
//
// forward() maps coefficients to evaluations: output index i holds a(psi^(2*bitrev(i)+1)), where
// psi is the table's primitive 2n-th root of unity and bitrev reverses log2(n) bits. inverse()
// undoes it. Both work in place with Harvey's lazy butterflies; inputs may be in [0, 4q) and
// outputs are fully reduced to [0, q).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "henn/math/modarith.hpp"

namespace henn::math {

class NttTables {
  public:
    // Throws henn::InvalidArgument unless n is a power of two >= 2 and q = 1 mod 2n is prime.
    NttTables(std::size_t n, const Modulus& q);

    std::size_t size() const { return n_; }
    int log_size() const { return log_n_; }
    const Modulus& modulus() const { return q_; }
    u64 root() const { return psi_; }

    // psi^bitrev(k) and psi^-bitrev(k), k in [0, n), with Shoup companions.
    const std::vector<ShoupConstant>& forward_roots() const { return roots_; }
    const std::vector<ShoupConstant>& inverse_roots() const { return inv_roots_; }
    const ShoupConstant& inverse_degree() const { return n_inv_; }
    // psi^-bitrev(1) * n^-1, the last inverse layer's twiddle with the 1/n folded in.
    const ShoupConstant& inverse_last_root_scaled() const { return last_root_scaled_; }

  private:
    std::size_t n_;
    int log_n_;
    Modulus q_;
    u64 psi_;
    std::vector<ShoupConstant> roots_;
    std::vector<ShoupConstant> inv_roots_;
    ShoupConstant n_inv_;
    ShoupConstant last_root_scaled_;
};

// Kernels for the transforms. All give identical outputs; they differ in speed and in the
// instructions they need (checked at run time, so one binary runs on any x86-64).
enum class NttKernel {
    portable,    // plain C++, always available
    avx2,        // AVX2
    avx512,      // AVX-512 F and DQ
    avx512ifma,  // AVX-512 IFMA for moduli below 2^50, the avx512 kernel above
};

// Whether this CPU can run the kernel.
bool ntt_kernel_available(NttKernel kernel);
// "portable", "avx2", "avx512", "avx512ifma".
const char* ntt_kernel_name(NttKernel kernel);
// The kernel with that name; throws henn::InvalidArgument for an unknown name.
NttKernel ntt_kernel_from_name(const char* name);
// The kernel ntt_forward/ntt_inverse use: the environment variable HENN_NTT_KERNEL when set
// (read once; henn::InvalidArgument if it names an unknown kernel or one this CPU lacks),
// otherwise the fastest available one.
NttKernel ntt_selected_kernel();
// The name of ntt_selected_kernel().
const char* ntt_kernel_name();

// In-place transforms with the selected kernel.
void ntt_forward(u64* values, const NttTables& tables);
void ntt_inverse(u64* values, const NttTables& tables);

// In-place transforms with a given kernel; henn::InvalidArgument if this CPU lacks it.
void ntt_forward(u64* values, const NttTables& tables, NttKernel kernel);
void ntt_inverse(u64* values, const NttTables& tables, NttKernel kernel);

// The portable kernels, always available (and the reference for the vector ones).
void ntt_forward_portable(u64* values, const NttTables& tables);
void ntt_inverse_portable(u64* values, const NttTables& tables);

// Naive O(n^2) negacyclic product c = a * b mod (X^n + 1, q): the reference for tests.
std::vector<u64> negacyclic_multiply_naive(const std::vector<u64>& a, const std::vector<u64>& b,
                                           const Modulus& q);

inline std::size_t reverse_bits(std::size_t x, int bit_count) {
    std::size_t r = 0;
    for (int i = 0; i < bit_count; ++i) {
        r = (r << 1) | (x & 1);
        x >>= 1;
    }
    return r;
}

}  // namespace henn::math
