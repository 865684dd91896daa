// Vector NTT kernels (private to henn_math). ntt.cpp dispatches to them after checking the CPU.
//
// math/ntt_simd.cpp is compiled for baseline x86-64; each kernel carries its own target
// attribute, so calling one on a CPU without its instructions is undefined: ask the
// cpu_supports_* functions first. On other architectures they all report false.
#pragma once

#include "henn/math/ntt.hpp"

namespace henn::math::simd {

bool cpu_supports_avx2();
// AVX-512 F and DQ (DQ for the 64-bit low products).
bool cpu_supports_avx512();
// The above plus IFMA (52-bit multiply-add).
bool cpu_supports_avx512ifma();

// Same contract as ntt_forward_portable / ntt_inverse_portable: inputs in [0, 4q), outputs in
// [0, q), any n >= 2 (sizes too small for a full vector step use the portable kernel).
void ntt_forward_avx2(u64* values, const NttTables& tables);
void ntt_inverse_avx2(u64* values, const NttTables& tables);

// 64-bit products emulated from 32-bit ones plus AVX512DQ's low products; any modulus < 2^61.
void ntt_forward_avx512(u64* values, const NttTables& tables);
void ntt_inverse_avx512(u64* values, const NttTables& tables);

// IFMA's 52-bit products for moduli below 2^50 (so lazy values < 4q fit 52 bits); larger
// moduli fall through to the 64-bit AVX-512 kernels.
void ntt_forward_avx512ifma(u64* values, const NttTables& tables);
void ntt_inverse_avx512ifma(u64* values, const NttTables& tables);

// The largest modulus the IFMA kernels handle themselves.
inline constexpr u64 kIfmaModulusBound = u64{1} << 50;

}  // namespace henn::math::simd
