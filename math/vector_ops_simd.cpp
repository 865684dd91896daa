// AVX2, AVX-512 and AVX-512 IFMA element-wise kernels.
//
// Products a * b mod q of reduced inputs, per lane:
//  - IFMA (odd q < 2^50, L = bit length of q): the 100-bit product as 52-bit limbs (madd52lo/hi),
//    then Barrett: t = floor(p / 2^(L-1)), mu = floor(2^(L+51) / q), qhat = floor(t mu / 2^52).
//    Bounds: p < q^2 < 2^(2L), so t < 2^(L+1) <= 2^51; q > 2^(L-1) (odd, not a power of two),
//    so mu < 2^52: both fit IFMA's 52-bit operands. qhat <= p / q, and since t > p/2^(L-1) - 1 and
//    mu > 2^(L+51)/q - 1, t mu / 2^52 > p/q - p/2^(L+51) - 2^(L-1)/q > p/q - 1/2 - 1, so
//    qhat >= floor(p/q) - 2 and r = p - qhat q lies in [0, 3q), below 2^52: its low 52 bits
//    (computed modulo 2^52) are exact, and two conditional subtractions finish.
//  - AVX-512 F+DQ and AVX2 (any q < 2^61): the 128-bit product from four 32x32 products, then
//    the same Barrett with 64-bit words: t = floor(p / 2^(L-1)) < 2^(L+1), mu = floor(2^(L+63)/q)
//    < 2^64, qhat = high word of t mu; the error terms are p/2^(L+63) < 1/4 and 2^(L-1)/q < 1,
//    so again r in [0, 3q) (below 2^63) and two conditional subtractions.
// The IFMA inner products sum the 52-bit limbs of up to 64 products of values below 2^50 in two
// 64-bit accumulators (see ifma_reduce_sum for the bounds) and reduce once.
//
// This file is compiled for baseline x86-64; each instruction set's code sits in a region with
// its own target (so one binary runs on any x86-64) and is only called after the CPU check.

// GCC 12's AVX-512 intrinsics trip -Wmaybe-uninitialized once inlined (GCC bug 105593); see
// ntt_simd.cpp.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "vector_ops_simd.hpp"

#include <algorithm>
#include <cstddef>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#define HENN_VECTOR_X86 1
#include <immintrin.h>
#endif

#if HENN_VECTOR_X86
#if defined(__clang__)
#define HENN_TARGET_REGION_BEGIN(targets) \
    _Pragma(HENN_STRINGIFY(               \
        clang attribute push(__attribute__((target(targets))), apply_to = function)))
#define HENN_TARGET_REGION_END _Pragma("clang attribute pop")
#else
#define HENN_TARGET_REGION_BEGIN(targets) \
    _Pragma("GCC push_options") _Pragma(HENN_STRINGIFY(GCC target(targets)))
#define HENN_TARGET_REGION_END _Pragma("GCC pop_options")
#endif
#define HENN_STRINGIFY(x) #x
#define HENN_ALWAYS_INLINE __attribute__((always_inline)) inline
#endif

namespace henn::math::simd {

#if HENN_VECTOR_X86

namespace {

// Shift counts and Barrett constant of the 64-bit-word Barrett reduction above.
struct Barrett64 {
    u64 mu;
    int shift_left;   // 65 - L: t = (high << (65 - L)) | (low >> (L - 1)) = floor(p / 2^(L-1))
    int shift_right;  // L - 1
};

Barrett64 barrett64(const Modulus& q) {
    const int bits = q.bits();
    return {static_cast<u64>((static_cast<u128>(1) << (63 + bits)) / q.value()), 65 - bits,
            bits - 1};
}

// Vector products need q odd (q a power of two would make mu overflow); CKKS primes are odd.
bool vector_multiplication_ok(const Modulus& q) {
    return (q.value() & 1) != 0;
}

// The rows x[t][permutation[k]], copied into a per-thread buffer (valid until the thread's next
// call): the permuted inner products of key switching then run on the vector path of the plain
// ones. A scalar copy per term is cheaper than gathers (AVX2, or 64-bit emulated products on
// AVX-512) or than the portable sums.
const u64* const* permuted_rows(const u64* const* x, const std::uint32_t* permutation,
                                std::size_t count, std::size_t n) {
    thread_local std::vector<u64> buffer;
    thread_local std::vector<const u64*> rows;
    buffer.resize(count * n);
    rows.resize(count);
    for (std::size_t t = 0; t < count; ++t) {
        u64* row = buffer.data() + t * n;
        const u64* source = x[t];
        for (std::size_t k = 0; k < n; ++k) row[k] = source[permutation[k]];
        rows[t] = row;
    }
    return rows.data();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// AVX2: 4 lanes.

HENN_TARGET_REGION_BEGIN("avx2")
namespace avx2_kernels {

struct Policy {
    using V = __m256i;
    static constexpr std::size_t kLanes = 4;

    struct Ctx {
        V q, q_hi, mu, low32;
        __m128i shift_left, shift_right;
    };
    struct Scalar {
        V w, w_hi, w_shoup, w_shoup_hi;
    };

    static HENN_ALWAYS_INLINE V load(const u64* p) {
        return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    }
    static HENN_ALWAYS_INLINE void store(u64* p, V v) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v);
    }
    static HENN_ALWAYS_INLINE V broadcast(u64 x) {
        return _mm256_set1_epi64x(static_cast<long long>(x));
    }
    static HENN_ALWAYS_INLINE V add_words(V a, V b) { return _mm256_add_epi64(a, b); }
    static HENN_ALWAYS_INLINE V mul_low32(V a, V b) { return _mm256_mul_epu32(a, b); }
    static HENN_ALWAYS_INLINE V high32(V a) { return _mm256_srli_epi64(a, 32); }
    static HENN_ALWAYS_INLINE V mul_signed32(V a, V b) { return _mm256_mul_epi32(a, b); }
    // x in every 32-bit half (a broadcast straight from memory, no shuffle port).
    static HENN_ALWAYS_INLINE V broadcast32(std::int32_t x) { return _mm256_set1_epi32(x); }
    static HENN_ALWAYS_INLINE V and_words(V a, V b) { return _mm256_and_si256(a, b); }
    static HENN_ALWAYS_INLINE V shift_right31(V a) { return _mm256_srli_epi64(a, 31); }
    static HENN_ALWAYS_INLINE V sub_words(V a, V b) { return _mm256_sub_epi64(a, b); }
    static HENN_ALWAYS_INLINE V shift_right(V a, __m128i count) {
        return _mm256_srl_epi64(a, count);
    }
    static HENN_ALWAYS_INLINE V shift_left32(V a) { return _mm256_slli_epi64(a, 32); }
    // above where x > threshold, otherwise elsewhere (both below 2^63: the signed compare is
    // exact).
    static HENN_ALWAYS_INLINE V select_above(V x, V threshold, V above, V otherwise) {
        return _mm256_blendv_epi8(otherwise, above, _mm256_cmpgt_epi64(x, threshold));
    }

    // x - q when x >= q; x and q below 2^63, so the signed compare is exact.
    static HENN_ALWAYS_INLINE V reduce_once(V x, V q) {
        return _mm256_sub_epi64(x, _mm256_andnot_si256(_mm256_cmpgt_epi64(q, x), q));
    }
    static HENN_ALWAYS_INLINE V add(V a, V b, V q) {
        return reduce_once(_mm256_add_epi64(a, b), q);
    }
    static HENN_ALWAYS_INLINE V sub(V a, V b, V q) {
        return _mm256_add_epi64(_mm256_sub_epi64(a, b),
                                _mm256_and_si256(_mm256_cmpgt_epi64(b, a), q));
    }
    static HENN_ALWAYS_INLINE V negate(V a, V q) {
        return _mm256_andnot_si256(_mm256_cmpeq_epi64(a, _mm256_setzero_si256()),
                                   _mm256_sub_epi64(q, a));
    }

    // The high word of x * y, exact (each partial sum below fits 64 bits).
    static HENN_ALWAYS_INLINE V mul_high(V x, V y, V low32) {
        const V x_hi = _mm256_srli_epi64(x, 32), y_hi = _mm256_srli_epi64(y, 32);
        const V lo_lo = _mm256_mul_epu32(x, y);
        const V middle = _mm256_add_epi64(_mm256_mul_epu32(x, y_hi), _mm256_srli_epi64(lo_lo, 32));
        const V middle2 =
            _mm256_add_epi64(_mm256_mul_epu32(x_hi, y), _mm256_and_si256(middle, low32));
        return _mm256_add_epi64(
            _mm256_add_epi64(_mm256_mul_epu32(x_hi, y_hi), _mm256_srli_epi64(middle, 32)),
            _mm256_srli_epi64(middle2, 32));
    }
    // The low word of x * y.
    static HENN_ALWAYS_INLINE V mul_low(V x, V y, V y_hi) {
        const V cross = _mm256_add_epi64(_mm256_mul_epu32(x, y_hi),
                                         _mm256_mul_epu32(_mm256_srli_epi64(x, 32), y));
        return _mm256_add_epi64(_mm256_mul_epu32(x, y), _mm256_slli_epi64(cross, 32));
    }

    static Ctx context(const Modulus& q) {
        const Barrett64 b = barrett64(q);
        return {broadcast(q.value()),
                broadcast(q.value() >> 32),
                broadcast(b.mu),
                broadcast(0xffffffffULL),
                _mm_cvtsi64_si128(b.shift_left),
                _mm_cvtsi64_si128(b.shift_right)};
    }

    static HENN_ALWAYS_INLINE V mul(V a, V b, const Ctx& c) {
        const V a_hi = _mm256_srli_epi64(a, 32), b_hi = _mm256_srli_epi64(b, 32);
        const V lo_lo = _mm256_mul_epu32(a, b);
        const V middle = _mm256_add_epi64(_mm256_mul_epu32(a, b_hi), _mm256_srli_epi64(lo_lo, 32));
        const V middle2 =
            _mm256_add_epi64(_mm256_mul_epu32(a_hi, b), _mm256_and_si256(middle, c.low32));
        const V high = _mm256_add_epi64(
            _mm256_add_epi64(_mm256_mul_epu32(a_hi, b_hi), _mm256_srli_epi64(middle, 32)),
            _mm256_srli_epi64(middle2, 32));
        const V low = _mm256_blend_epi32(lo_lo, _mm256_slli_epi64(middle2, 32), 0xaa);
        const V t = _mm256_or_si256(_mm256_sll_epi64(high, c.shift_left),
                                    _mm256_srl_epi64(low, c.shift_right));
        const V quotient = mul_high(t, c.mu, c.low32);
        const V r = _mm256_sub_epi64(low, mul_low(quotient, c.q, c.q_hi));
        return reduce_once(reduce_once(r, c.q), c.q);
    }

    static Scalar shoup_scalar(const ShoupConstant& w) {
        return {broadcast(w.value), broadcast(w.value >> 32), broadcast(w.shoup),
                broadcast(w.shoup >> 32)};
    }
    // Shoup: quotient = high word of x * w_shoup, x w - quotient q in [0, 2q).
    static HENN_ALWAYS_INLINE V mul_scalar(V x, const Scalar& s, const Ctx& c) {
        const V quotient = mul_high(x, s.w_shoup, c.low32);
        const V r = _mm256_sub_epi64(mul_low(x, s.w, s.w_hi), mul_low(quotient, c.q, c.q_hi));
        return reduce_once(r, c.q);
    }
};

#include "vector_ops_loops.inc"

void add(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& q) {
    add_loop<Policy>(a, b, out, n, q);
}
void sub(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& q) {
    sub_loop<Policy>(a, b, out, n, q);
}
void negate(const u64* a, u64* out, std::size_t n, const Modulus& q) {
    negate_loop<Policy>(a, out, n, q);
}
void mul(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& q) {
    if (!vector_multiplication_ok(q)) return portable_vector_kernels().mul(a, b, out, n, q);
    mul_loop<Policy>(a, b, out, n, q);
}
void mul_add(const u64* a, const u64* b, u64* acc, std::size_t n, const Modulus& q) {
    if (!vector_multiplication_ok(q)) return portable_vector_kernels().mul_add(a, b, acc, n, q);
    mul_add_loop<Policy>(a, b, acc, n, q);
}
void mul_scalar(const u64* a, const ShoupConstant& w, u64* out, std::size_t n, const Modulus& q) {
    mul_scalar_loop<Policy>(a, w, out, n, q);
}
void karatsuba(const u64* a0, const u64* a1, const u64* b0, const u64* b1, u64* c0, u64* c1,
               u64* c2, std::size_t n, const Modulus& q) {
    if (!vector_multiplication_ok(q))
        return portable_vector_kernels().karatsuba(a0, a1, b0, b1, c0, c1, c2, n, q);
    karatsuba_loop<Policy>(a0, a1, b0, b1, c0, c1, c2, n, q);
}

// Inner products (dot, dot_pair, weighted_sum) without a 64x64 multiply. With x = xh 2^32 + xl and
// y = yh 2^32 + yl, x y = (xh yh) 2^64 + (xl yh + xh yl + (xl yl >> 32)) 2^32 + (xl yl mod 2^32):
// three 64-bit accumulators per lane (high, middle, low) take these parts exactly. For x, y below
// 2^56 and up to 64 terms: high < 64 * 2^48, middle < 64 * (2^57 + 2^32) < 2^64, low < 2^38.
// The sum S < 64 q^2 < 2^(2L + 6) (L = bit length of q <= 56) is then one 128-bit word pair,
// reduced by the Barrett step of Policy::mul: t = floor(S / 2^(L-1)) < 2^(L+7), qhat = high word
// of t mu, and qhat >= floor(S/q) - 2 because the error terms are S / 2^(L+63) <= 1/2 and
// 2^(L-1)/q < 1; so S - qhat q lies in [0, 3q) and two subtractions finish. Same words as the
// portable sums, which the other cases (larger q or x, more terms, permuted dot products) use.
constexpr int kSplitMaxBits = 56;
constexpr std::size_t kSplitMaxTerms = 64;

struct SplitSum {
    __m256i high, middle, low;
};

HENN_ALWAYS_INLINE void split_add(__m256i x, __m256i x_hi, __m256i y, SplitSum& sum,
                                  __m256i low32) {
    const __m256i y_hi = _mm256_srli_epi64(y, 32);
    const __m256i low_low = _mm256_mul_epu32(x, y);
    const __m256i cross = _mm256_add_epi64(_mm256_mul_epu32(x, y_hi), _mm256_mul_epu32(x_hi, y));
    sum.low = _mm256_add_epi64(sum.low, _mm256_and_si256(low_low, low32));
    sum.middle =
        _mm256_add_epi64(sum.middle, _mm256_add_epi64(cross, _mm256_srli_epi64(low_low, 32)));
    sum.high = _mm256_add_epi64(sum.high, _mm256_mul_epu32(x_hi, y_hi));
}

// Factors below 2^32 (q and x, kNarrow): each product is one 32x32 multiply, below 2^64; its
// high half goes to the middle accumulator and its low half to the low one (up to 64 terms, both
// stay below 2^38), which is the split sum above with a zero high part: the same S and the same
// reduction, a quarter of the multiplies.
HENN_ALWAYS_INLINE void split_add_narrow(__m256i x, __m256i y, SplitSum& sum, __m256i low32) {
    const __m256i product = _mm256_mul_epu32(x, y);
    sum.low = _mm256_add_epi64(sum.low, _mm256_and_si256(product, low32));
    sum.middle = _mm256_add_epi64(sum.middle, _mm256_srli_epi64(product, 32));
}

// The split sum as S = hi 2^64 + lo.
HENN_ALWAYS_INLINE void split_combine(const SplitSum& sum, __m256i& lo, __m256i& hi) {
    const __m256i shifted_middle = _mm256_slli_epi64(sum.middle, 32);
    lo = _mm256_add_epi64(sum.low, shifted_middle);
    // Carry out of lo: lo < shifted_middle as unsigned words (signed compare after flipping the
    // sign bits); the mask is -1 where it carried.
    const __m256i sign = _mm256_set1_epi64x(static_cast<long long>(0x8000000000000000ULL));
    const __m256i carried =
        _mm256_cmpgt_epi64(_mm256_xor_si256(shifted_middle, sign), _mm256_xor_si256(lo, sign));
    hi = _mm256_sub_epi64(_mm256_add_epi64(sum.high, _mm256_srli_epi64(sum.middle, 32)), carried);
}

HENN_ALWAYS_INLINE __m256i split_reduce(const SplitSum& sum, const Policy::Ctx& c) {
    __m256i lo, hi;
    split_combine(sum, lo, hi);
    const __m256i t =
        _mm256_or_si256(_mm256_sll_epi64(hi, c.shift_left), _mm256_srl_epi64(lo, c.shift_right));
    const __m256i quotient = Policy::mul_high(t, c.mu, c.low32);
    const __m256i r = _mm256_sub_epi64(lo, Policy::mul_low(quotient, c.q, c.q_hi));
    return Policy::reduce_once(Policy::reduce_once(r, c.q), c.q);
}

// Factors of up to 61 bits (q or x above kSplitMaxBits, kWide): each term's middle part (its cross
// products, below 2^62, plus the carry of its low product, below 2^32) would overflow the middle
// accumulator after 3 terms, so its high bits move to the high accumulator every 3 terms (middle
// then stays below 2^32 + 3 (2^62 + 2^32) < 2^64; high stays below 2^64 because it never exceeds
// the sum's high word, and the sum of 64 products below 2^122 is below 2^128). The sum S = hi 2^64
// + lo is then too large for the Barrett step above (t would exceed 64 bits) and is reduced as
// Shoup(hi, 2^64 mod q) + lo - floor(lo floor(2^64/q) / 2^64) q: each part in [0, 2q), the total
// below 4q < 2^63, two subtractions finish (as sum64_reduce on AVX-512).
constexpr int kWideMaxBits = 61;

HENN_ALWAYS_INLINE void split_fold(SplitSum& sum, __m256i low32) {
    sum.high = _mm256_add_epi64(sum.high, _mm256_srli_epi64(sum.middle, 32));
    sum.middle = _mm256_and_si256(sum.middle, low32);
}

struct WideReduceContext {
    __m256i two_q, r64, r64_hi, r64_shoup, inverse64;
};

WideReduceContext wide_reduce_context(const Modulus& q) {
    const u64 r64 = q.reduce(static_cast<u128>(1) << 64);
    return {Policy::broadcast(2 * q.value()), Policy::broadcast(r64), Policy::broadcast(r64 >> 32),
            Policy::broadcast(shoup_precompute(r64, q.value())), Policy::broadcast(q.barrett_hi())};
}

HENN_ALWAYS_INLINE __m256i split_reduce_wide(const SplitSum& sum, const Policy::Ctx& c,
                                             const WideReduceContext& w) {
    __m256i lo, hi;
    split_combine(sum, lo, hi);
    const __m256i high_quotient = Policy::mul_high(hi, w.r64_shoup, c.low32);
    const __m256i h = _mm256_sub_epi64(Policy::mul_low(hi, w.r64, w.r64_hi),
                                       Policy::mul_low(high_quotient, c.q, c.q_hi));
    const __m256i low_quotient = Policy::mul_high(lo, w.inverse64, c.low32);
    const __m256i l = _mm256_sub_epi64(lo, Policy::mul_low(low_quotient, c.q, c.q_hi));
    const __m256i s = _mm256_add_epi64(h, l);
    return Policy::reduce_once(Policy::reduce_once(s, w.two_q), c.q);
}

// kOutputs sums sharing the left factors: out_j[k] = sum_t x[t][k] y_j(t, k). Right(j, t, k) gives
// the right factors (a loaded vector or a broadcast weight). Blocks of coefficients keep their
// accumulators in L1 and take the terms one after the other, so every input is read in long
// sequential runs.
template <int kOutputs, bool kWide, class Right, bool kNarrow = false>
void split_sums(const u64* const* x, const Right& right, std::size_t count, u64* const* out,
                std::size_t n, const Modulus& q) {
    constexpr std::size_t kBlock = 256;
    const Policy::Ctx c = Policy::context(q);
    const WideReduceContext wide = wide_reduce_context(q);
    alignas(32) SplitSum sums[kOutputs][kBlock / 4];
    const std::size_t vector_end = n & ~std::size_t{3};
    for (std::size_t begin = 0; begin < vector_end; begin += kBlock) {
        const std::size_t vectors = std::min(kBlock, vector_end - begin) / 4;
        const __m256i zero = _mm256_setzero_si256();
        for (int j = 0; j < kOutputs; ++j) {
            for (std::size_t v = 0; v < vectors; ++v) sums[j][v] = {zero, zero, zero};
        }
        for (std::size_t t = 0; t < count; ++t) {
            const u64* xt = x[t] + begin;
            for (std::size_t v = 0; v < vectors; ++v) {
                const __m256i xv = Policy::load(xt + 4 * v);
                if constexpr (kNarrow) {
                    for (int j = 0; j < kOutputs; ++j)
                        split_add_narrow(xv, right(j, t, begin + 4 * v), sums[j][v], c.low32);
                } else {
                    const __m256i x_hi = _mm256_srli_epi64(xv, 32);
                    for (int j = 0; j < kOutputs; ++j)
                        split_add(xv, x_hi, right(j, t, begin + 4 * v), sums[j][v], c.low32);
                }
            }
            if (kWide && t % 3 == 2) {
                for (int j = 0; j < kOutputs; ++j) {
                    for (std::size_t v = 0; v < vectors; ++v) split_fold(sums[j][v], c.low32);
                }
            }
        }
        for (int j = 0; j < kOutputs; ++j) {
            for (std::size_t v = 0; v < vectors; ++v) {
                Policy::store(out[j] + begin + 4 * v, kWide ? split_reduce_wide(sums[j][v], c, wide)
                                                            : split_reduce(sums[j][v], c));
            }
        }
    }
    for (std::size_t k = vector_end; k < n; ++k) {
        for (int j = 0; j < kOutputs; ++j) {
            u128 sum = 0;
            for (std::size_t t = 0; t < count; ++t)
                sum += static_cast<u128>(x[t][k]) * right.scalar(j, t, k);
            out[j][k] = q.reduce(sum);
        }
    }
}

struct LoadedRight {
    const u64* const* y[2];
    HENN_ALWAYS_INLINE __m256i operator()(int j, std::size_t t, std::size_t k) const {
        return Policy::load(y[j][t] + k);
    }
    u64 scalar(int j, std::size_t t, std::size_t k) const { return y[j][t][k]; }
};

struct WeightRight {
    const u64* w;
    HENN_ALWAYS_INLINE __m256i operator()(int, std::size_t t, std::size_t) const {
        return Policy::broadcast(w[t]);
    }
    u64 scalar(int, std::size_t t, std::size_t) const { return w[t]; }
};

// Whether the split sums apply (q odd, at most kSplitMaxTerms terms) and, when they do, whether
// they need the wide path: factors (q, and the x of weighted sums) above kSplitMaxBits.
bool split_ok(const Modulus& q, std::size_t count) {
    return vector_multiplication_ok(q) && q.bits() <= kWideMaxBits && count <= kSplitMaxTerms;
}
bool split_wide(const Modulus& q, u64 x_bound) {
    return q.bits() > kSplitMaxBits || x_bound > (u64{1} << kSplitMaxBits);
}
bool split_narrow(const Modulus& q, u64 x_bound) {
    return q.bits() <= 32 && x_bound <= (u64{1} << 32);
}

template <int kOutputs, class Right>
void split_sums_any(const u64* const* x, const Right& right, std::size_t count, u64* const* out,
                    std::size_t n, const Modulus& q, u64 x_bound) {
    if (split_wide(q, x_bound)) return split_sums<kOutputs, true>(x, right, count, out, n, q);
    if (split_narrow(q, x_bound)) {
        return split_sums<kOutputs, false, Right, true>(x, right, count, out, n, q);
    }
    split_sums<kOutputs, false>(x, right, count, out, n, q);
}

void dot(const u64* const* x, const u64* const* y, std::size_t count, u64* out, std::size_t n,
         const Modulus& q) {
    if (!split_ok(q, count)) return portable_vector_kernels().dot(x, y, count, out, n, q);
    u64* outs[1] = {out};
    split_sums_any<1>(x, LoadedRight{{y, y}}, count, outs, n, q, q.value());
}

void dot_pair(const u64* const* x, const std::uint32_t* permutation, const u64* const* y0,
              const u64* const* y1, std::size_t count, u64* out0, u64* out1, std::size_t n,
              const Modulus& q) {
    if (!split_ok(q, count)) {
        return portable_vector_kernels().dot_pair(x, permutation, y0, y1, count, out0, out1, n, q);
    }
    // Permuted: the rows copied in their permuted order first (AVX2 gathers are slow).
    if (permutation != nullptr) x = permuted_rows(x, permutation, count, n);
    u64* outs[2] = {out0, out1};
    split_sums_any<2>(x, LoadedRight{{y0, y1}}, count, outs, n, q, q.value());
}

void weighted_sum(const u64* const* x, const u64* w, std::size_t count, u64 x_bound, u64* out,
                  std::size_t n, const Modulus& q) {
    if (!split_ok(q, count) || x_bound > (u64{1} << kWideMaxBits)) {
        return portable_vector_kernels().weighted_sum(x, w, count, x_bound, out, n, q);
    }
    u64* outs[1] = {out};
    split_sums_any<1>(x, WeightRight{w}, count, outs, n, q, x_bound);
}

void matrix_rows_small(const u64* const* x, const std::size_t* row_begin,
                       const std::uint32_t* column, const std::int32_t* w, std::size_t rows,
                       u64* const* out, std::size_t n, const Modulus& q) {
    small_rows_any<Policy>(x, row_begin, column, w, rows, out, n, q);  // vector_ops_loops.inc
}

void reduce(const u64* x, u64 x_bound, u64* out, std::size_t n, const Modulus& q) {
    if (!reduce_any<Policy>(x, x_bound, out, n, q))
        portable_vector_kernels().reduce(x, x_bound, out, n, q);
}
void lift_centered(const u64* x, u64 source, u64* out, std::size_t n, const Modulus& q) {
    if (!lift_centered_any<Policy>(x, source, out, n, q))
        portable_vector_kernels().lift_centered(x, source, out, n, q);
}

// u64 to double without AVX-512DQ, correctly rounded as the scalar conversion: the halves as the
// exact doubles 2^84 + hi 2^32 and 2^52 + lo (their bits under those exponents), the constants
// subtracted exactly, and one rounding in the final addition.
HENN_ALWAYS_INLINE __m256d to_double(__m256i y) {
    const __m256i low_bits = _mm256_set1_epi64x(0x4330000000000000);   // 2^52
    const __m256i high_bits = _mm256_set1_epi64x(0x4530000000000000);  // 2^84
    const __m256d low = _mm256_castsi256_pd(
        _mm256_or_si256(_mm256_and_si256(y, _mm256_set1_epi64x(0xffffffff)), low_bits));
    const __m256d high = _mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64(y, 32), high_bits));
    return _mm256_add_pd(_mm256_sub_pd(high, _mm256_set1_pd(0x1p84 + 0x1p52)), low);
}

// llround of f in [0, 2^52): the truncation plus one where the (exact) fraction is at least 1/2,
// as an integer through the bits of f + 2^52.
HENN_ALWAYS_INLINE __m256i round_half_up(__m256d f) {
    const __m256d truncated = _mm256_round_pd(f, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256d up = _mm256_cmp_pd(_mm256_sub_pd(f, truncated), _mm256_set1_pd(0.5), _CMP_GE_OQ);
    const __m256d rounded = _mm256_add_pd(truncated, _mm256_and_pd(up, _mm256_set1_pd(1.0)));
    const __m256d two52 = _mm256_set1_pd(0x1p52);
    return _mm256_sub_epi64(_mm256_castpd_si256(_mm256_add_pd(rounded, two52)),
                            _mm256_castpd_si256(two52));
}

// This region has no FMA, so the products and sums are rounded one by one as in the scalar loop.
void overflow_count(const u64* const* y, const double* inverse, std::size_t count, u64* out,
                    std::size_t n) {
    std::size_t k = 0;
    for (; k + 4 <= n; k += 4) {
        __m256d f = _mm256_mul_pd(to_double(Policy::load(y[0] + k)), _mm256_set1_pd(inverse[0]));
        for (std::size_t i = 1; i < count; ++i) {
            f = _mm256_add_pd(
                f, _mm256_mul_pd(to_double(Policy::load(y[i] + k)), _mm256_set1_pd(inverse[i])));
        }
        Policy::store(out + k, round_half_up(f));
    }
    if (k < n) {
        const u64* tails[kMaxWeightedTerms];
        for (std::size_t i = 0; i < count; ++i) tails[i] = y[i] + k;
        portable_vector_kernels().overflow_count(tails, inverse, count, out + k, n - k);
    }
}

// 16 registers: 4 rows x 2 vectors of sums below 2^31 (4 x 1, twice the sums, above).
void matrix_group(const u64* const* x, const std::uint32_t* column, std::size_t count,
                  const std::int32_t* w, std::size_t rows, u64* const* out, std::size_t n,
                  const Modulus& q, int weight_bits) {
    group_rows_any<Policy, ScalarGroupReduce, 4, 2>(x, column, count, w, rows, out, n, q,
                                                    weight_bits);
}

}  // namespace avx2_kernels
HENN_TARGET_REGION_END

// ---------------------------------------------------------------------------------------------
// AVX-512: 8 lanes. The IFMA policy's code is only reached on CPUs with IFMA; the 64-bit policy
// uses no IFMA instruction, so the avx512 table runs on AVX-512 CPUs without it.

HENN_TARGET_REGION_BEGIN("avx512f,avx512dq,avx512ifma")
namespace avx512_kernels {

struct Common {
    using V = __m512i;
    static constexpr std::size_t kLanes = 8;

    static HENN_ALWAYS_INLINE V load(const u64* p) { return _mm512_loadu_si512(p); }
    static HENN_ALWAYS_INLINE void store(u64* p, V v) { _mm512_storeu_si512(p, v); }
    static HENN_ALWAYS_INLINE V broadcast(u64 x) {
        return _mm512_set1_epi64(static_cast<long long>(x));
    }
    static HENN_ALWAYS_INLINE V add_words(V a, V b) { return _mm512_add_epi64(a, b); }
    static HENN_ALWAYS_INLINE V mul_low32(V a, V b) { return _mm512_mul_epu32(a, b); }
    static HENN_ALWAYS_INLINE V high32(V a) { return _mm512_srli_epi64(a, 32); }
    static HENN_ALWAYS_INLINE V mul_signed32(V a, V b) { return _mm512_mul_epi32(a, b); }
    // x in every 32-bit half (a broadcast straight from memory, no shuffle port).
    static HENN_ALWAYS_INLINE V broadcast32(std::int32_t x) { return _mm512_set1_epi32(x); }
    static HENN_ALWAYS_INLINE V and_words(V a, V b) { return _mm512_and_si512(a, b); }
    static HENN_ALWAYS_INLINE V shift_right31(V a) { return _mm512_srli_epi64(a, 31); }
    static HENN_ALWAYS_INLINE V sub_words(V a, V b) { return _mm512_sub_epi64(a, b); }
    static HENN_ALWAYS_INLINE V shift_right(V a, __m128i count) {
        return _mm512_srl_epi64(a, count);
    }
    static HENN_ALWAYS_INLINE V shift_left32(V a) { return _mm512_slli_epi64(a, 32); }
    static HENN_ALWAYS_INLINE V select_above(V x, V threshold, V above, V otherwise) {
        return _mm512_mask_mov_epi64(otherwise, _mm512_cmpgt_epu64_mask(x, threshold), above);
    }

    // x - q when x >= q (unsigned min: x - q wraps above x when x < q).
    static HENN_ALWAYS_INLINE V reduce_once(V x, V q) {
        return _mm512_min_epu64(x, _mm512_sub_epi64(x, q));
    }
    static HENN_ALWAYS_INLINE V add(V a, V b, V q) {
        return reduce_once(_mm512_add_epi64(a, b), q);
    }
    // a - b, plus q when that wrapped (a - b + q is then the smaller word).
    static HENN_ALWAYS_INLINE V sub(V a, V b, V q) {
        const V d = _mm512_sub_epi64(a, b);
        return _mm512_min_epu64(d, _mm512_add_epi64(d, q));
    }
    static HENN_ALWAYS_INLINE V negate(V a, V q) {
        return _mm512_maskz_sub_epi64(_mm512_test_epi64_mask(a, a), q, a);
    }
};

// 64-bit words, any odd q < 2^61.
struct Policy64 : Common {
    struct Ctx {
        V q, mu;
        __m128i shift_left, shift_right;
    };
    struct Scalar {
        V w, w_shoup;
    };

    static HENN_ALWAYS_INLINE V mul_high(V x, V y) {
        const V x_hi = _mm512_srli_epi64(x, 32), y_hi = _mm512_srli_epi64(y, 32);
        const V lo_lo = _mm512_mul_epu32(x, y);
        const V middle = _mm512_add_epi64(_mm512_mul_epu32(x, y_hi), _mm512_srli_epi64(lo_lo, 32));
        const V middle2 =
            _mm512_add_epi64(_mm512_mul_epu32(x_hi, y), _mm512_maskz_mov_epi32(0x5555, middle));
        return _mm512_add_epi64(
            _mm512_add_epi64(_mm512_mul_epu32(x_hi, y_hi), _mm512_srli_epi64(middle, 32)),
            _mm512_srli_epi64(middle2, 32));
    }

    static Ctx context(const Modulus& q) {
        const Barrett64 b = barrett64(q);
        return {broadcast(q.value()), broadcast(b.mu), _mm_cvtsi64_si128(b.shift_left),
                _mm_cvtsi64_si128(b.shift_right)};
    }

    // The 128-bit product a b as two words.
    static HENN_ALWAYS_INLINE void product(V a, V b, V& high, V& low) {
        const V a_hi = _mm512_srli_epi64(a, 32), b_hi = _mm512_srli_epi64(b, 32);
        const V lo_lo = _mm512_mul_epu32(a, b);
        const V middle = _mm512_add_epi64(_mm512_mul_epu32(a, b_hi), _mm512_srli_epi64(lo_lo, 32));
        const V middle2 =
            _mm512_add_epi64(_mm512_mul_epu32(a_hi, b), _mm512_maskz_mov_epi32(0x5555, middle));
        high = _mm512_add_epi64(
            _mm512_add_epi64(_mm512_mul_epu32(a_hi, b_hi), _mm512_srli_epi64(middle, 32)),
            _mm512_srli_epi64(middle2, 32));
        low = _mm512_mask_blend_epi32(0xaaaa, lo_lo, _mm512_slli_epi64(middle2, 32));
    }

    static HENN_ALWAYS_INLINE V mul(V a, V b, const Ctx& c) {
        V high, low;
        product(a, b, high, low);
        const V t = _mm512_or_si512(_mm512_sll_epi64(high, c.shift_left),
                                    _mm512_srl_epi64(low, c.shift_right));
        const V quotient = mul_high(t, c.mu);
        const V r = _mm512_sub_epi64(low, _mm512_mullo_epi64(quotient, c.q));
        return reduce_once(reduce_once(r, c.q), c.q);
    }

    static Scalar shoup_scalar(const ShoupConstant& w) {
        return {broadcast(w.value), broadcast(w.shoup)};
    }
    static HENN_ALWAYS_INLINE V mul_scalar(V x, const Scalar& s, const Ctx& c) {
        const V quotient = mul_high(x, s.w_shoup);
        return reduce_once(
            _mm512_sub_epi64(_mm512_mullo_epi64(x, s.w), _mm512_mullo_epi64(quotient, c.q)), c.q);
    }
};

// 52-bit limbs with IFMA, odd q < 2^50.
constexpr u64 kIfmaModulusBound = u64{1} << 50;
constexpr u64 kLow52 = (u64{1} << 52) - 1;

bool ifma_ok(const Modulus& q) {
    return q.value() < kIfmaModulusBound && (q.value() & 1) != 0;
}

struct PolicyIfma : Common {
    struct Ctx {
        V q, q_negated52, low52,
            mu;  // q_negated52 = 2^52 - q: adding x (2^52 - q) subtracts x q mod 2^52
        __m128i shift_left, shift_right;
    };
    struct Scalar {
        V w, w_shoup52;
    };

    static Ctx context(const Modulus& q) {
        const int bits = q.bits();
        const u64 mu = static_cast<u64>((static_cast<u128>(1) << (51 + bits)) / q.value());
        return {broadcast(q.value()),
                broadcast((u64{1} << 52) - q.value()),
                broadcast(kLow52),
                broadcast(mu),
                _mm_cvtsi64_si128(53 - bits),
                _mm_cvtsi64_si128(bits - 1)};
    }

    static HENN_ALWAYS_INLINE V mul(V a, V b, const Ctx& c) {
        const V zero = _mm512_setzero_si512();
        const V low = _mm512_madd52lo_epu64(zero, a, b);   // p mod 2^52
        const V high = _mm512_madd52hi_epu64(zero, a, b);  // floor(p / 2^52) < 2^48
        // floor(p / 2^(L-1)): the two shifted pieces do not overlap.
        const V t = _mm512_or_si512(_mm512_sll_epi64(high, c.shift_left),
                                    _mm512_srl_epi64(low, c.shift_right));
        const V quotient = _mm512_madd52hi_epu64(zero, t, c.mu);
        const V r = _mm512_and_si512(_mm512_madd52lo_epu64(low, quotient, c.q_negated52), c.low52);
        return reduce_once(reduce_once(r, c.q), c.q);
    }

    // w_shoup52 = floor(w 2^52 / q) = w_shoup >> 12; for x < 2^52 the quotient
    // floor(x w_shoup52 / 2^52) is floor(x w / q) or one less, so x w - quotient q is in [0, 2q).
    static Scalar shoup_scalar(const ShoupConstant& w) {
        return {broadcast(w.value), broadcast(w.shoup >> 12)};
    }
    static HENN_ALWAYS_INLINE V mul_scalar(V x, const Scalar& s, const Ctx& c) {
        const V zero = _mm512_setzero_si512();
        const V quotient = _mm512_madd52hi_epu64(zero, x, s.w_shoup52);
        const V product = _mm512_madd52lo_epu64(zero, x, s.w);
        const V r =
            _mm512_and_si512(_mm512_madd52lo_epu64(product, quotient, c.q_negated52), c.low52);
        return reduce_once(r, c.q);
    }
};

#include "vector_ops_loops.inc"

// Constants of the inner product's final reduction (Montgomery steps with R = 2^52).
struct IfmaSumContext {
    PolicyIfma::Ctx base;
    __m512i q_inverse_negated;  // -q^-1 mod 2^52
    __m512i r2;                 // 2^104 mod q
    __m512i r2_shoup52;         // floor(r2 2^52 / q)
};

IfmaSumContext ifma_sum_context(const Modulus& q) {
    const u64 qv = q.value();
    u64 inverse = qv;  // q q = 1 mod 8: three correct bits, doubled by each Newton step
    for (int i = 0; i < 5; ++i) inverse *= 2 - qv * inverse;
    const u64 r2 = q.reduce(static_cast<u128>(1) << 104);
    return {PolicyIfma::context(q), PolicyIfma::broadcast((0 - inverse) & kLow52),
            PolicyIfma::broadcast(r2),
            PolicyIfma::broadcast(static_cast<u64>((static_cast<u128>(r2) << 52) / qv))};
}

// One Montgomery step: for v = high 2^52 + low (low < 2^52), returns (v + m q) / 2^52 with
// m = low (-q^-1) mod 2^52, which is v 2^-52 mod q and below high + q + 1. low + (m q mod 2^52)
// is 0 when low = 0 (then m = 0) and 2^52 otherwise: that carry is added separately.
HENN_ALWAYS_INLINE __m512i ifma_montgomery_step(__m512i high, __m512i low,
                                                const IfmaSumContext& c) {
    const __m512i m = _mm512_madd52lo_epu64(_mm512_setzero_si512(), low, c.q_inverse_negated);
    const __m512i v = _mm512_madd52hi_epu64(high, m, c.base.q);
    return _mm512_mask_add_epi64(v, _mm512_test_epi64_mask(low, low), v, _mm512_set1_epi64(1));
}

// The sum S = acc_high 2^52 + acc_low mod q, for sums of up to 64 products of values below
// 2^50 (q < 2^50 too): each product is below 2^100, so acc_high < 64 * 2^48 = 2^54 and
// acc_low < 64 * 2^52 = 2^58. Folding acc_low's carries gives S = h 2^52 + l with h < 2^54 + 2^6; a
// first Montgomery step gives v1 = S 2^-52 < 2^55, a second (on v1's limbs, high part < 8) v2 = S
// 2^-104 <= q + 7; Shoup's product v2 (2^104 mod q) lands in [0, 2q), and one subtraction finishes.
HENN_ALWAYS_INLINE __m512i ifma_reduce_sum(__m512i acc_high, __m512i acc_low,
                                           const IfmaSumContext& c) {
    const __m512i h = _mm512_add_epi64(acc_high, _mm512_srli_epi64(acc_low, 52));
    const __m512i v1 = ifma_montgomery_step(h, _mm512_and_si512(acc_low, c.base.low52), c);
    const __m512i v2 =
        ifma_montgomery_step(_mm512_srli_epi64(v1, 52), _mm512_and_si512(v1, c.base.low52), c);
    const __m512i zero = _mm512_setzero_si512();
    const __m512i quotient = _mm512_madd52hi_epu64(zero, v2, c.r2_shoup52);
    const __m512i product = _mm512_madd52lo_epu64(zero, v2, c.r2);
    const __m512i r = _mm512_and_si512(_mm512_madd52lo_epu64(product, quotient, c.base.q_negated52),
                                       c.base.low52);
    return Common::reduce_once(r, c.base.q);
}

// Inner products with 64-bit words: exact 128-bit sums (two words with carries) of up to 60
// products below 2^122, then sum = high 2^64 + low reduced as Shoup(high, 2^64 mod q), in
// [0, 2q) for any word, plus low - floor(low floor(2^64/q) / 2^64) q, in [0, 2q) (the quotient
// is off by at most one): a value in [0, 4q), below 2^63, brought to [0, q) by two subtractions.
struct Sum64Context {
    __m512i q, two_q, r64, r64_shoup, inverse64, one;
};

Sum64Context sum64_context(const Modulus& q) {
    const u64 r64 = q.reduce(static_cast<u128>(1) << 64);
    return {Common::broadcast(q.value()),
            Common::broadcast(2 * q.value()),
            Common::broadcast(r64),
            Common::broadcast(shoup_precompute(r64, q.value())),
            Common::broadcast(q.barrett_hi()),
            Common::broadcast(1)};
}

HENN_ALWAYS_INLINE void sum64_add_product(__m512i a, __m512i b, __m512i& high, __m512i& low,
                                          const Sum64Context& c) {
    __m512i product_high, product_low;
    Policy64::product(a, b, product_high, product_low);
    low = _mm512_add_epi64(low, product_low);
    high = _mm512_add_epi64(high, product_high);
    high = _mm512_mask_add_epi64(high, _mm512_cmplt_epu64_mask(low, product_low), high,
                                 c.one);  // carry
}

HENN_ALWAYS_INLINE __m512i sum64_reduce(__m512i high, __m512i low, const Sum64Context& c) {
    const __m512i high_quotient = Policy64::mul_high(high, c.r64_shoup);
    const __m512i h =
        _mm512_sub_epi64(_mm512_mullo_epi64(high, c.r64), _mm512_mullo_epi64(high_quotient, c.q));
    const __m512i low_quotient = Policy64::mul_high(low, c.inverse64);
    const __m512i l = _mm512_sub_epi64(low, _mm512_mullo_epi64(low_quotient, c.q));
    const __m512i s = _mm512_add_epi64(h, l);
    return Common::reduce_once(Common::reduce_once(s, c.two_q), c.q);
}

// Multiply-accumulate policies of the sums: IFMA limbs, or exact 128-bit words.
struct IfmaMac {
    using Ctx = IfmaSumContext;
    static Ctx context(const Modulus& q) { return ifma_sum_context(q); }
    static HENN_ALWAYS_INLINE void add(__m512i a, __m512i b, __m512i& high, __m512i& low,
                                       const Ctx&) {
        low = _mm512_madd52lo_epu64(low, a, b);
        high = _mm512_madd52hi_epu64(high, a, b);
    }
    static HENN_ALWAYS_INLINE __m512i reduce(__m512i high, __m512i low, const Ctx& c) {
        return ifma_reduce_sum(high, low, c);
    }
};

struct Mac64 {
    using Ctx = Sum64Context;
    static Ctx context(const Modulus& q) { return sum64_context(q); }
    static HENN_ALWAYS_INLINE void add(__m512i a, __m512i b, __m512i& high, __m512i& low,
                                       const Ctx& c) {
        sum64_add_product(a, b, high, low, c);
    }
    static HENN_ALWAYS_INLINE __m512i reduce(__m512i high, __m512i low, const Ctx& c) {
        return sum64_reduce(high, low, c);
    }
};

// The terms of the three kinds of sums: x[t][k] y[t][k], x[t][permutation[k]] y[t][k], x[t][k]
// w[t].
struct DotTerms {
    const u64* const* x;
    const u64* const* y;
    HENN_ALWAYS_INLINE __m512i left(std::size_t t, std::size_t k) const {
        return _mm512_loadu_si512(x[t] + k);
    }
    HENN_ALWAYS_INLINE __m512i right(std::size_t t, std::size_t k) const {
        return _mm512_loadu_si512(y[t] + k);
    }
    u128 scalar(std::size_t t, std::size_t k) const { return static_cast<u128>(x[t][k]) * y[t][k]; }
};

struct PermutedTerms {
    const u64* const* x;
    const std::uint32_t* permutation;
    const u64* const* y;
    HENN_ALWAYS_INLINE __m512i left(std::size_t t, std::size_t k) const {
        const __m256i index = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(permutation + k));
        return _mm512_i32gather_epi64(index, x[t], 8);
    }
    HENN_ALWAYS_INLINE __m512i right(std::size_t t, std::size_t k) const {
        return _mm512_loadu_si512(y[t] + k);
    }
    u128 scalar(std::size_t t, std::size_t k) const {
        return static_cast<u128>(x[t][permutation[k]]) * y[t][k];
    }
};

struct WeightedTerms {
    const u64* const* x;
    const u64* w;
    HENN_ALWAYS_INLINE __m512i left(std::size_t t, std::size_t k) const {
        return _mm512_loadu_si512(x[t] + k);
    }
    HENN_ALWAYS_INLINE __m512i right(std::size_t t, std::size_t) const {
        return _mm512_set1_epi64(static_cast<long long>(w[t]));
    }
    u128 scalar(std::size_t t, std::size_t k) const { return static_cast<u128>(x[t][k]) * w[t]; }
};

// Sums of count terms per coefficient, one reduction each. Blocks of coefficients keep their
// accumulators in a small buffer and take the terms one after the other, so every input is read
// in long sequential runs (all terms of 8 coefficients at a time would touch count arrays per
// step, which the hardware prefetchers do not follow for large counts). The output is written
// after the block's last term, so it may alias a y array.
// Up to kRegisterTerms terms (2 kRegisterTerms streams) the accumulators stay in registers,
// which measured faster there.
template <class Mac, class Terms>
void blocked_sum(const Terms& terms, std::size_t count, u64* out, std::size_t n, const Modulus& q) {
    constexpr std::size_t kBlock = 512;
    constexpr std::size_t kRegisterTerms = 8;
    const typename Mac::Ctx c = Mac::context(q);
    alignas(64) u64 highs[kBlock], lows[kBlock];
    const std::size_t vector_end = n & ~std::size_t{7};
    if (count <= kRegisterTerms) {
        for (std::size_t k = 0; k < vector_end; k += 8) {
            __m512i high = _mm512_setzero_si512(), low = _mm512_setzero_si512();
            for (std::size_t t = 0; t < count; ++t)
                Mac::add(terms.left(t, k), terms.right(t, k), high, low, c);
            _mm512_storeu_si512(out + k, Mac::reduce(high, low, c));
        }
    }
    for (std::size_t begin = count <= kRegisterTerms ? vector_end : 0; begin < vector_end;
         begin += kBlock) {
        const std::size_t length = std::min(kBlock, vector_end - begin);
        for (std::size_t j = 0; j < length; j += 8) {
            _mm512_store_si512(highs + j, _mm512_setzero_si512());
            _mm512_store_si512(lows + j, _mm512_setzero_si512());
        }
        for (std::size_t t = 0; t < count; ++t) {
            for (std::size_t j = 0; j < length; j += 8) {
                __m512i high = _mm512_load_si512(highs + j), low = _mm512_load_si512(lows + j);
                Mac::add(terms.left(t, begin + j), terms.right(t, begin + j), high, low, c);
                _mm512_store_si512(highs + j, high);
                _mm512_store_si512(lows + j, low);
            }
        }
        for (std::size_t j = 0; j < length; j += 8) {
            _mm512_storeu_si512(out + begin + j, Mac::reduce(_mm512_load_si512(highs + j),
                                                             _mm512_load_si512(lows + j), c));
        }
    }
    for (std::size_t k = vector_end; k < n; ++k) {
        u128 sum = 0;
        for (std::size_t t = 0; t < count; ++t) sum += terms.scalar(t, k);
        out[k] = q.reduce(sum);
    }
}

// Two sums sharing their left factors x[t][s(k)] (s the permutation or the identity), which are
// loaded or gathered once for both; same blocking as blocked_sum.
template <class Mac, bool kPermuted>
void blocked_sum_pair(const u64* const* x, const std::uint32_t* permutation, const u64* const* y0,
                      const u64* const* y1, std::size_t count, u64* out0, u64* out1, std::size_t n,
                      const Modulus& q) {
    // Gathered x values of neighbouring coefficients share cache lines across all terms: short
    // blocks keep those lines in L1 (measured with the hoisted rotations at N = 2^15).
    constexpr std::size_t kBlock = kPermuted ? 32 : 512;
    const typename Mac::Ctx c = Mac::context(q);
    alignas(64) u64 highs0[kBlock], lows0[kBlock], highs1[kBlock], lows1[kBlock];
    const std::size_t vector_end = n & ~std::size_t{7};
    for (std::size_t begin = 0; begin < vector_end; begin += kBlock) {
        const std::size_t length = std::min(kBlock, vector_end - begin);
        for (std::size_t j = 0; j < length; j += 8) {
            _mm512_store_si512(highs0 + j, _mm512_setzero_si512());
            _mm512_store_si512(lows0 + j, _mm512_setzero_si512());
            _mm512_store_si512(highs1 + j, _mm512_setzero_si512());
            _mm512_store_si512(lows1 + j, _mm512_setzero_si512());
        }
        for (std::size_t t = 0; t < count; ++t) {
            for (std::size_t j = 0; j < length; j += 8) {
                const std::size_t k = begin + j;
                __m512i v;
                if constexpr (kPermuted) {
                    v = _mm512_i32gather_epi64(
                        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(permutation + k)), x[t],
                        8);
                } else {
                    v = _mm512_loadu_si512(x[t] + k);
                }
                __m512i high = _mm512_load_si512(highs0 + j), low = _mm512_load_si512(lows0 + j);
                Mac::add(v, _mm512_loadu_si512(y0[t] + k), high, low, c);
                _mm512_store_si512(highs0 + j, high);
                _mm512_store_si512(lows0 + j, low);
                high = _mm512_load_si512(highs1 + j);
                low = _mm512_load_si512(lows1 + j);
                Mac::add(v, _mm512_loadu_si512(y1[t] + k), high, low, c);
                _mm512_store_si512(highs1 + j, high);
                _mm512_store_si512(lows1 + j, low);
            }
        }
        for (std::size_t j = 0; j < length; j += 8) {
            _mm512_storeu_si512(out0 + begin + j, Mac::reduce(_mm512_load_si512(highs0 + j),
                                                              _mm512_load_si512(lows0 + j), c));
            _mm512_storeu_si512(out1 + begin + j, Mac::reduce(_mm512_load_si512(highs1 + j),
                                                              _mm512_load_si512(lows1 + j), c));
        }
    }
    for (std::size_t k = vector_end; k < n; ++k) {
        u128 sum0 = 0, sum1 = 0;
        for (std::size_t t = 0; t < count; ++t) {
            const u64 v = x[t][kPermuted ? permutation[k] : k];
            sum0 += static_cast<u128>(v) * y0[t][k];
            sum1 += static_cast<u128>(v) * y1[t][k];
        }
        out0[k] = q.reduce(sum0);
        out1[k] = q.reduce(sum1);
    }
}

void dot_pair64(const u64* const* x, const std::uint32_t* permutation, const u64* const* y0,
                const u64* const* y1, std::size_t count, u64* out0, u64* out1, std::size_t n,
                const Modulus& q) {
    // Permuted 64-bit sums with gathers measured no faster than the portable loop at N = 2^15
    // (hoisted rotations): the rows are copied in their permuted order first instead.
    if (!vector_multiplication_ok(q)) {
        return portable_vector_kernels().dot_pair(x, permutation, y0, y1, count, out0, out1, n, q);
    }
    if (permutation != nullptr) x = permuted_rows(x, permutation, count, n);
    blocked_sum_pair<Mac64, false>(x, nullptr, y0, y1, count, out0, out1, n, q);
}

void dot_pair_ifma(const u64* const* x, const std::uint32_t* permutation, const u64* const* y0,
                   const u64* const* y1, std::size_t count, u64* out0, u64* out1, std::size_t n,
                   const Modulus& q) {
    if (!ifma_ok(q)) return dot_pair64(x, permutation, y0, y1, count, out0, out1, n, q);
    if (permutation != nullptr) {
        return blocked_sum_pair<IfmaMac, true>(x, permutation, y0, y1, count, out0, out1, n, q);
    }
    blocked_sum_pair<IfmaMac, false>(x, permutation, y0, y1, count, out0, out1, n, q);
}

void dot64_impl(const u64* const* x, const u64* const* y, std::size_t count, u64* out,
                std::size_t n, const Modulus& q) {
    blocked_sum<Mac64>(DotTerms{x, y}, count, out, n, q);
}
void weighted_sum64_impl(const u64* const* x, const u64* w, std::size_t count, u64* out,
                         std::size_t n, const Modulus& q) {
    blocked_sum<Mac64>(WeightedTerms{x, w}, count, out, n, q);
}
void dot_permuted64_impl(const u64* const* x, const std::uint32_t* permutation, const u64* const* y,
                         std::size_t count, u64* out, std::size_t n, const Modulus& q) {
    blocked_sum<Mac64>(PermutedTerms{x, permutation, y}, count, out, n, q);
}
void ifma_dot(const u64* const* x, const u64* const* y, std::size_t count, u64* out, std::size_t n,
              const Modulus& q) {
    blocked_sum<IfmaMac>(DotTerms{x, y}, count, out, n, q);
}
void ifma_weighted_sum(const u64* const* x, const u64* w, std::size_t count, u64* out,
                       std::size_t n, const Modulus& q) {
    blocked_sum<IfmaMac>(WeightedTerms{x, w}, count, out, n, q);
}
void ifma_dot_permuted(const u64* const* x, const std::uint32_t* permutation, const u64* const* y,
                       std::size_t count, u64* out, std::size_t n, const Modulus& q) {
    blocked_sum<IfmaMac>(PermutedTerms{x, permutation, y}, count, out, n, q);
}

// The avx512 table: 64-bit words for every odd modulus.
void add(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& q) {
    add_loop<Policy64>(a, b, out, n, q);
}
void sub(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& q) {
    sub_loop<Policy64>(a, b, out, n, q);
}
void negate(const u64* a, u64* out, std::size_t n, const Modulus& q) {
    negate_loop<Policy64>(a, out, n, q);
}
void mul64(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& q) {
    if (!vector_multiplication_ok(q)) return portable_vector_kernels().mul(a, b, out, n, q);
    mul_loop<Policy64>(a, b, out, n, q);
}
void mul_add64(const u64* a, const u64* b, u64* acc, std::size_t n, const Modulus& q) {
    if (!vector_multiplication_ok(q)) return portable_vector_kernels().mul_add(a, b, acc, n, q);
    mul_add_loop<Policy64>(a, b, acc, n, q);
}
void mul_scalar64(const u64* a, const ShoupConstant& w, u64* out, std::size_t n, const Modulus& q) {
    mul_scalar_loop<Policy64>(a, w, out, n, q);
}
void karatsuba64(const u64* a0, const u64* a1, const u64* b0, const u64* b1, u64* c0, u64* c1,
                 u64* c2, std::size_t n, const Modulus& q) {
    if (!vector_multiplication_ok(q))
        return portable_vector_kernels().karatsuba(a0, a1, b0, b1, c0, c1, c2, n, q);
    karatsuba_loop<Policy64>(a0, a1, b0, b1, c0, c1, c2, n, q);
}

void dot64(const u64* const* x, const u64* const* y, std::size_t count, u64* out, std::size_t n,
           const Modulus& q) {
    if (!vector_multiplication_ok(q)) return portable_vector_kernels().dot(x, y, count, out, n, q);
    dot64_impl(x, y, count, out, n, q);
}
void dot_permuted64(const u64* const* x, const std::uint32_t* permutation, const u64* const* y,
                    std::size_t count, u64* out, std::size_t n, const Modulus& q) {
    if (!vector_multiplication_ok(q)) {
        return portable_vector_kernels().dot_permuted(x, permutation, y, count, out, n, q);
    }
    dot_permuted64_impl(x, permutation, y, count, out, n, q);
}

void weighted_sum64(const u64* const* x, const u64* w, std::size_t count, u64 x_bound, u64* out,
                    std::size_t n, const Modulus& q) {
    if (!vector_multiplication_ok(q))
        return portable_vector_kernels().weighted_sum(x, w, count, x_bound, out, n, q);
    weighted_sum64_impl(x, w, count, out, n, q);
}

// Rows of a constant matrix with the sums in registers: per row, 32 coefficients at a time
// (four vectors, their 52-bit low and high halves), each column's 32 values loaded once per row,
// reduced every 64 entries (ifma_reduce_sum's bound) into a running sum mod q.
void ifma_matrix_rows(const u64* const* x, const std::size_t* row_begin,
                      const std::uint32_t* column, const u64* w, std::size_t rows, u64* const* out,
                      std::size_t n, const Modulus& q) {
    const IfmaSumContext c = ifma_sum_context(q);
    const std::size_t wide_end = n & ~std::size_t{31}, vector_end = n & ~std::size_t{7};
    for (std::size_t r = 0; r < rows; ++r) {
        const std::size_t begin = row_begin[r], end = row_begin[r + 1];
        u64* o = out[r];
        for (std::size_t k = 0; k < wide_end; k += 32) {
            __m512i total[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(),
                                _mm512_setzero_si512(), _mm512_setzero_si512()};
            for (std::size_t chunk = begin; chunk < end; chunk += 64) {
                const std::size_t chunk_end = std::min(end, chunk + 64);
                __m512i high[4], low[4];
                for (int v = 0; v < 4; ++v) high[v] = low[v] = _mm512_setzero_si512();
                for (std::size_t e = chunk; e < chunk_end; ++e) {
                    const __m512i weight = _mm512_set1_epi64(static_cast<long long>(w[e]));
                    const u64* p = x[column[e]] + k;
                    for (int v = 0; v < 4; ++v) {
                        const __m512i a = _mm512_loadu_si512(p + 8 * v);
                        low[v] = _mm512_madd52lo_epu64(low[v], a, weight);
                        high[v] = _mm512_madd52hi_epu64(high[v], a, weight);
                    }
                }
                for (int v = 0; v < 4; ++v)
                    total[v] = Common::add(total[v], ifma_reduce_sum(high[v], low[v], c), c.base.q);
            }
            for (int v = 0; v < 4; ++v) _mm512_storeu_si512(o + k + 8 * v, total[v]);
        }
        for (std::size_t k = wide_end; k < vector_end; k += 8) {
            __m512i total = _mm512_setzero_si512();
            for (std::size_t chunk = begin; chunk < end; chunk += 64) {
                const std::size_t chunk_end = std::min(end, chunk + 64);
                __m512i high = _mm512_setzero_si512(), low = _mm512_setzero_si512();
                for (std::size_t e = chunk; e < chunk_end; ++e) {
                    const __m512i weight = _mm512_set1_epi64(static_cast<long long>(w[e]));
                    const __m512i a = _mm512_loadu_si512(x[column[e]] + k);
                    low = _mm512_madd52lo_epu64(low, a, weight);
                    high = _mm512_madd52hi_epu64(high, a, weight);
                }
                total = Common::add(total, ifma_reduce_sum(high, low, c), c.base.q);
            }
            _mm512_storeu_si512(o + k, total);
        }
        for (std::size_t k = vector_end; k < n; ++k) {
            u64 total = 0;
            for (std::size_t chunk = begin; chunk < end; chunk += 64) {
                u128 sum = 0;
                for (std::size_t e = chunk; e < std::min(end, chunk + 64); ++e)
                    sum += static_cast<u128>(x[column[e]][k]) * w[e];
                total = add_mod(total, q.reduce(sum), q.value());
            }
            o[k] = total;
        }
    }
}

void matrix_rows_ifma(const u64* const* x, const std::size_t* row_begin,
                      const std::uint32_t* column, const u64* w, std::size_t rows, u64* const* out,
                      std::size_t n, const Modulus& q) {
    // Above IFMA's range: the 64-bit weighted sums of the avx512 table.
    if (!ifma_ok(q))
        return matrix_rows_generic(avx512_vector_kernels(), x, row_begin, column, w, rows, out, n,
                                   q);
    ifma_matrix_rows(x, row_begin, column, w, rows, out, n, q);
}

// The avx512ifma table: IFMA below 2^50, the 64-bit kernels above.
void mul_ifma(const u64* a, const u64* b, u64* out, std::size_t n, const Modulus& q) {
    if (!ifma_ok(q)) return mul64(a, b, out, n, q);
    mul_loop<PolicyIfma>(a, b, out, n, q);
}
void mul_add_ifma(const u64* a, const u64* b, u64* acc, std::size_t n, const Modulus& q) {
    if (!ifma_ok(q)) return mul_add64(a, b, acc, n, q);
    mul_add_loop<PolicyIfma>(a, b, acc, n, q);
}
void mul_scalar_ifma(const u64* a, const ShoupConstant& w, u64* out, std::size_t n,
                     const Modulus& q) {
    if (!ifma_ok(q)) return mul_scalar64(a, w, out, n, q);
    mul_scalar_loop<PolicyIfma>(a, w, out, n, q);
}
void karatsuba_ifma(const u64* a0, const u64* a1, const u64* b0, const u64* b1, u64* c0, u64* c1,
                    u64* c2, std::size_t n, const Modulus& q) {
    if (!ifma_ok(q)) return karatsuba64(a0, a1, b0, b1, c0, c1, c2, n, q);
    karatsuba_loop<PolicyIfma>(a0, a1, b0, b1, c0, c1, c2, n, q);
}
void dot_ifma(const u64* const* x, const u64* const* y, std::size_t count, u64* out, std::size_t n,
              const Modulus& q) {
    if (!ifma_ok(q)) return dot64(x, y, count, out, n, q);
    ifma_dot(x, y, count, out, n, q);
}
void weighted_sum_ifma(const u64* const* x, const u64* w, std::size_t count, u64 x_bound, u64* out,
                       std::size_t n, const Modulus& q) {
    if (!ifma_ok(q) || x_bound > kIfmaModulusBound)
        return weighted_sum64(x, w, count, x_bound, out, n, q);
    ifma_weighted_sum(x, w, count, out, n, q);
}
void dot_permuted_ifma(const u64* const* x, const std::uint32_t* permutation, const u64* const* y,
                       std::size_t count, u64* out, std::size_t n, const Modulus& q) {
    if (!ifma_ok(q)) return dot_permuted64(x, permutation, y, count, out, n, q);
    ifma_dot_permuted(x, permutation, y, count, out, n, q);
}

// matrix_rows_small_mod_vec on 8 lanes (small_rows_loop in vector_ops_loops.inc). AVX-512F only
// (no IFMA instruction), for the avx512 table: about twice its 64-bit residue path. The IFMA table
// keeps residues: its 52-bit products are as fast as this below 2^32 and faster above
// (henn_math_bench --benchmark_filter=MatrixRows).
void matrix_rows_small512(const u64* const* x, const std::size_t* row_begin,
                          const std::uint32_t* column, const std::int32_t* w, std::size_t rows,
                          u64* const* out, std::size_t n, const Modulus& q) {
    small_rows_any<Common>(x, row_begin, column, w, rows, out, n, q);
}

// The runs' sums of matrix_group512 reduced eight at a time: s + offset (below 2^63) by
// sum64_reduce, a wide pair as high (2^31 mod q) + low with Shoup's product.
struct GroupReduce512 {
    static constexpr bool kVector = true;
    Sum64Context c;
    Policy64::Ctx pc;
    Policy64::Scalar two31;
    __m512i offset, q;
    explicit GroupReduce512(const GroupReduce& g)
        : c(sum64_context(*g.q)),
          pc(Policy64::context(*g.q)),
          two31(Policy64::shoup_scalar(ShoupConstant(g.two31, g.q->value()))),
          offset(Common::broadcast(g.offset)),
          q(Common::broadcast(g.q->value())) {}
    HENN_ALWAYS_INLINE __m512i narrow(__m512i s) const {
        return sum64_reduce(_mm512_setzero_si512(), _mm512_add_epi64(s, offset), c);
    }
    HENN_ALWAYS_INLINE __m512i wide(__m512i high, __m512i low) const {
        return Common::add(Policy64::mul_scalar(narrow(high), two31, pc), narrow(low), q);
    }
    HENN_ALWAYS_INLINE __m512i add(__m512i a, __m512i b) const { return Common::add(a, b, q); }
};

// 32 registers: 4 rows x 4 vectors of sums below 2^31 (4 x 2, twice the sums, above). AVX-512F
// only, shared by the avx512 and avx512ifma tables (signed 32-bit products keep up with IFMA's
// 52-bit ones and need no reduction of the weights).
void matrix_group512(const u64* const* x, const std::uint32_t* column, std::size_t count,
                     const std::int32_t* w, std::size_t rows, u64* const* out, std::size_t n,
                     const Modulus& q, int weight_bits) {
    group_rows_any<Common, GroupReduce512, 4, 4>(x, column, count, w, rows, out, n, q, weight_bits);
}

// AVX-512F and DQ: conversions both ways; the products and sums with explicit rounding, which the
// compiler does not fuse (AVX-512F enables FMA, and a fused step would change the roundings).
void overflow_count512(const u64* const* y, const double* inverse, std::size_t count, u64* out,
                       std::size_t n) {
    constexpr int kNearest = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
    std::size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        __m512d f = _mm512_mul_round_pd(_mm512_cvtepu64_pd(Common::load(y[0] + k)),
                                        _mm512_set1_pd(inverse[0]), kNearest);
        for (std::size_t i = 1; i < count; ++i) {
            const __m512d term = _mm512_mul_round_pd(_mm512_cvtepu64_pd(Common::load(y[i] + k)),
                                                     _mm512_set1_pd(inverse[i]), kNearest);
            f = _mm512_add_round_pd(f, term, kNearest);
        }
        // llround for f >= 0: the truncation, plus one where the exact fraction is at least 1/2.
        const __m512d truncated = _mm512_roundscale_pd(f, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        const __mmask8 up = _mm512_cmp_pd_mask(_mm512_sub_round_pd(f, truncated, kNearest),
                                               _mm512_set1_pd(0.5), _CMP_GE_OQ);
        const __m512i rounded = _mm512_cvttpd_epu64(truncated);
        Common::store(out + k, _mm512_mask_add_epi64(rounded, up, rounded, _mm512_set1_epi64(1)));
    }
    if (k < n) {
        const u64* tails[kMaxWeightedTerms];
        for (std::size_t i = 0; i < count; ++i) tails[i] = y[i] + k;
        portable_vector_kernels().overflow_count(tails, inverse, count, out + k, n - k);
    }
}

// AVX-512F only (no IFMA instruction): shared by the avx512 and avx512ifma tables.
void reduce512(const u64* x, u64 x_bound, u64* out, std::size_t n, const Modulus& q) {
    if (!reduce_any<Common>(x, x_bound, out, n, q))
        portable_vector_kernels().reduce(x, x_bound, out, n, q);
}
void lift_centered512(const u64* x, u64 source, u64* out, std::size_t n, const Modulus& q) {
    if (!lift_centered_any<Common>(x, source, out, n, q))
        portable_vector_kernels().lift_centered(x, source, out, n, q);
}

}  // namespace avx512_kernels
HENN_TARGET_REGION_END

const VectorKernelTable& avx2_vector_kernels() {
    using namespace avx2_kernels;
    static const VectorKernelTable table = {add,
                                            sub,
                                            negate,
                                            mul,
                                            mul_add,
                                            mul_scalar,
                                            dot,
                                            portable_vector_kernels().dot_permuted,
                                            dot_pair,
                                            weighted_sum,
                                            karatsuba,
                                            nullptr,
                                            matrix_rows_small,
                                            matrix_group,
                                            reduce,
                                            lift_centered,
                                            overflow_count};
    return table;
}

const VectorKernelTable& avx512_vector_kernels() {
    using namespace avx512_kernels;
    static const VectorKernelTable table = {add,
                                            sub,
                                            negate,
                                            mul64,
                                            mul_add64,
                                            mul_scalar64,
                                            dot64,
                                            dot_permuted64,
                                            dot_pair64,
                                            weighted_sum64,
                                            karatsuba64,
                                            nullptr,
                                            matrix_rows_small512,
                                            matrix_group512,
                                            reduce512,
                                            lift_centered512,
                                            overflow_count512};
    return table;
}

const VectorKernelTable& avx512ifma_vector_kernels() {
    using namespace avx512_kernels;
    static const VectorKernelTable table = {add,
                                            sub,
                                            negate,
                                            mul_ifma,
                                            mul_add_ifma,
                                            mul_scalar_ifma,
                                            dot_ifma,
                                            dot_permuted_ifma,
                                            dot_pair_ifma,
                                            weighted_sum_ifma,
                                            karatsuba_ifma,
                                            matrix_rows_ifma,
                                            nullptr,
                                            matrix_group512,
                                            reduce512,
                                            lift_centered512,
                                            overflow_count512};
    return table;
}

#else  // not x86-64 with GCC/Clang: the portable kernels everywhere

const VectorKernelTable& avx2_vector_kernels() {
    return portable_vector_kernels();
}
const VectorKernelTable& avx512_vector_kernels() {
    return portable_vector_kernels();
}
const VectorKernelTable& avx512ifma_vector_kernels() {
    return portable_vector_kernels();
}

#endif

}  // namespace henn::math::simd
