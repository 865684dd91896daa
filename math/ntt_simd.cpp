// AVX2 and AVX-512 negacyclic NTT kernels.
//
// They run the same Harvey lazy butterflies as the portable kernels (forward: Cooley-Tukey
// with values in [0, 4q); inverse: Gentleman-Sande with values in [0, 2q)), so the fully
// reduced outputs are identical. What changes is how x * w mod q is computed per lane:
//  - AVX2 has no 64x64 multiply: the Shoup quotient (high word of x * w_shoup) is built exactly
//    from four 32x32 products, the low words x * w - quotient * q from six more.
//  - AVX-512 builds the quotient the same way and takes the low words from AVX512DQ.
//  - IFMA (q < 2^50) multiplies 52-bit limbs natively with w_shoup52 = floor(w * 2^52 / q),
//    which is w_shoup >> 12, so no extra tables are needed.
// Layers whose butterfly span t is at least a vector run lane-parallel over j with a
// broadcast twiddle; the last (forward) or first (inverse) layers, where t is smaller than a
// vector, gather the x and y halves of several butterflies from two vectors with shuffles.
// AVX-512 does the long layers two at a time (radix-4 passes) to halve the memory traffic.
//
// This file is compiled for baseline x86-64: each function carries a target attribute and is
// only called after the CPU check, so one binary runs on any x86-64.

// GCC 12's AVX-512 intrinsics start from _mm512_undefined_epi32(), a self-initialized
// variable that -Wmaybe-uninitialized flags once inlined into target-attributed code (GCC bug
// 105593, fixed in GCC 13); silence it for this file, before the intrinsic headers are read.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "ntt_simd.hpp"

#include <cstddef>

#if defined(__x86_64__) && defined(__GNUC__)
#define HENN_NTT_X86 1
#include <immintrin.h>
#endif

namespace henn::math::simd {

#if HENN_NTT_X86

bool cpu_supports_avx2() {
    static const bool supported = __builtin_cpu_supports("avx2");
    return supported;
}

bool cpu_supports_avx512() {
    static const bool supported =
        __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
    return supported;
}

bool cpu_supports_avx512ifma() {
    static const bool supported = cpu_supports_avx512() && __builtin_cpu_supports("avx512ifma");
    return supported;
}

namespace {

// The twiddle loads read (value, shoup) pairs of consecutive roots as vectors.
static_assert(sizeof(ShoupConstant) == 2 * sizeof(u64) &&
              offsetof(ShoupConstant, shoup) == sizeof(u64));

// ---------------------------------------------------------------------------------------------
// AVX2: 4 lanes.

#define HENN_AVX2 __attribute__((target("avx2")))
#define HENN_AVX2_INLINE __attribute__((target("avx2"), always_inline)) inline

struct Avx2Modulus {
    __m256i q;
    __m256i q_hi;  // q >> 32
    __m256i two_q;
    __m256i low32;  // 0xffffffff in each lane
};

// Moduli below 2^30 keep every lazy value (< 4q) in 32 bits: their products take the narrow path.
constexpr u64 kAvx2NarrowModulus = u64{1} << 30;

// x * w mod q in [0, 2q) for any x < 2^64 (Shoup), all lanes; w_hi and w_shoup_hi are the
// constants shifted right by 32. kNarrow (q < 2^30, x < 2^32): w_shoup_hi = floor(w 2^32 / q) is
// Shoup's constant for 2^32, so the quotient is one 32x32 product and the result two more, instead
// of eight products.
template <bool kNarrow = false>
HENN_AVX2_INLINE __m256i avx2_mul_shoup_lazy(__m256i x, __m256i w, __m256i w_hi, __m256i w_shoup,
                                             __m256i w_shoup_hi, const Avx2Modulus& mod) {
    if constexpr (kNarrow) {
        const __m256i quotient = _mm256_srli_epi64(_mm256_mul_epu32(x, w_shoup_hi), 32);
        return _mm256_sub_epi64(_mm256_mul_epu32(x, w), _mm256_mul_epu32(quotient, mod.q));
    }
    const __m256i x_hi = _mm256_srli_epi64(x, 32);
    // High word of x * w_shoup from its four 32x32 partial products; each sum below fits in 64
    // bits ((2^32-1)^2 + 2^32-1 < 2^64), so the carries into the high word are exact.
    const __m256i lo_lo = _mm256_mul_epu32(x, w_shoup);
    const __m256i lo_hi = _mm256_mul_epu32(x, w_shoup_hi);
    const __m256i hi_lo = _mm256_mul_epu32(x_hi, w_shoup);
    const __m256i hi_hi = _mm256_mul_epu32(x_hi, w_shoup_hi);
    const __m256i middle = _mm256_add_epi64(lo_hi, _mm256_srli_epi64(lo_lo, 32));
    const __m256i middle2 = _mm256_add_epi64(hi_lo, _mm256_and_si256(middle, mod.low32));
    const __m256i quotient = _mm256_add_epi64(
        _mm256_add_epi64(hi_hi, _mm256_srli_epi64(middle, 32)), _mm256_srli_epi64(middle2, 32));
    // x * w - quotient * q is below 2q, so its low word is the answer; the low words of both
    // products only need the lo*lo products and the low halves of the cross terms.
    const __m256i quotient_hi = _mm256_srli_epi64(quotient, 32);
    const __m256i low = _mm256_sub_epi64(_mm256_mul_epu32(x, w), _mm256_mul_epu32(quotient, mod.q));
    const __m256i cross =
        _mm256_sub_epi64(_mm256_add_epi64(_mm256_mul_epu32(x, w_hi), _mm256_mul_epu32(x_hi, w)),
                         _mm256_add_epi64(_mm256_mul_epu32(quotient, mod.q_hi),
                                          _mm256_mul_epu32(quotient_hi, mod.q)));
    return _mm256_add_epi64(low, _mm256_slli_epi64(cross, 32));
}

// x - bound when x >= bound; x and bound below 2^63, so the signed compare is exact.
HENN_AVX2_INLINE __m256i avx2_subtract_if_at_least(__m256i x, __m256i bound) {
    const __m256i below = _mm256_cmpgt_epi64(bound, x);
    return _mm256_sub_epi64(x, _mm256_andnot_si256(below, bound));
}

// Twiddles (value, shoup) for lanes holding butterflies of consecutive blocks.
struct Avx2Twiddles {
    __m256i w, w_hi, w_shoup, w_shoup_hi;
};

HENN_AVX2_INLINE Avx2Twiddles avx2_twiddles(__m256i w, __m256i w_shoup) {
    return {w, _mm256_srli_epi64(w, 32), w_shoup, _mm256_srli_epi64(w_shoup, 32)};
}

HENN_AVX2_INLINE Avx2Twiddles avx2_broadcast_twiddle(const ShoupConstant& root) {
    return avx2_twiddles(_mm256_set1_epi64x(static_cast<long long>(root.value)),
                         _mm256_set1_epi64x(static_cast<long long>(root.shoup)));
}

// Two vectors A, B of consecutive values hold 8 / (2t) blocks of butterflies with span t.
// split gathers their x halves into X and y halves into Y (lanes in block order, as the
// twiddles are loaded); merge puts them back.
template <int kSpan>
HENN_AVX2_INLINE void avx2_split(__m256i a, __m256i b, __m256i& x, __m256i& y) {
    if constexpr (kSpan == 2) {  // a = [x0 x1 y0 y1], b = [x2 x3 y2 y3] (two blocks)
        x = _mm256_permute2x128_si256(a, b, 0x20);
        y = _mm256_permute2x128_si256(a, b, 0x31);
    } else {  // a = [x0 y0 x1 y1], b = [x2 y2 x3 y3]: x = [x0 x2 x1 x3]
        x = _mm256_unpacklo_epi64(a, b);
        y = _mm256_unpackhi_epi64(a, b);
    }
}

template <int kSpan>
HENN_AVX2_INLINE void avx2_merge(__m256i x, __m256i y, __m256i& a, __m256i& b) {
    if constexpr (kSpan == 2) {
        a = _mm256_permute2x128_si256(x, y, 0x20);
        b = _mm256_permute2x128_si256(x, y, 0x31);
    } else {
        a = _mm256_unpacklo_epi64(x, y);
        b = _mm256_unpackhi_epi64(x, y);
    }
}

// The twiddles of the blocks in one split pair, starting at roots[0], in split's lane order.
template <int kSpan>
HENN_AVX2_INLINE Avx2Twiddles avx2_load_twiddles(const ShoupConstant* roots) {
    if constexpr (kSpan == 2) {  // two roots, each for two lanes
        const __m256i pair = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(roots));
        return avx2_twiddles(_mm256_unpacklo_epi64(pair, pair), _mm256_unpackhi_epi64(pair, pair));
    } else {  // four roots in the order 0 2 1 3, matching split's unpack
        const __m256i r01 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(roots));
        const __m256i r23 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(roots + 2));
        return avx2_twiddles(_mm256_unpacklo_epi64(r01, r23), _mm256_unpackhi_epi64(r01, r23));
    }
}

// Forward butterfly: x in [0, 4q) -> [0, 2q); y <- x - y w + 2q, x <- x + y w.
template <bool kNarrow>
HENN_AVX2_INLINE void avx2_forward_butterfly(__m256i& x, __m256i& y, const Avx2Twiddles& tw,
                                             const Avx2Modulus& mod) {
    const __m256i u = avx2_subtract_if_at_least(x, mod.two_q);
    const __m256i v =
        avx2_mul_shoup_lazy<kNarrow>(y, tw.w, tw.w_hi, tw.w_shoup, tw.w_shoup_hi, mod);
    x = _mm256_add_epi64(u, v);
    y = _mm256_sub_epi64(_mm256_add_epi64(u, mod.two_q), v);
}

// Inverse butterfly on [0, 2q): x <- x + y (reduced to [0, 2q)), y <- (x - y + 2q) w.
template <bool kNarrow>
HENN_AVX2_INLINE void avx2_inverse_butterfly(__m256i& x, __m256i& y, const Avx2Twiddles& tw,
                                             const Avx2Modulus& mod) {
    const __m256i sum = avx2_subtract_if_at_least(_mm256_add_epi64(x, y), mod.two_q);
    const __m256i difference = _mm256_sub_epi64(_mm256_add_epi64(x, mod.two_q), y);
    x = sum;
    y = avx2_mul_shoup_lazy<kNarrow>(difference, tw.w, tw.w_hi, tw.w_shoup, tw.w_shoup_hi, mod);
}

HENN_AVX2_INLINE Avx2Modulus avx2_modulus(u64 q) {
    return {_mm256_set1_epi64x(static_cast<long long>(q)),
            _mm256_set1_epi64x(static_cast<long long>(q >> 32)),
            _mm256_set1_epi64x(static_cast<long long>(2 * q)), _mm256_set1_epi64x(0xffffffffLL)};
}

HENN_AVX2_INLINE __m256i avx2_load(const u64* p) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

HENN_AVX2_INLINE void avx2_store(u64* p, __m256i v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v);
}

// One forward layer with span t < 4 (block size 2t, m = n / (2t) blocks) on the 8 values at
// a + k held in (lo, hi).
template <int kSpan, bool kFinal, bool kNarrow>
HENN_AVX2_INLINE void avx2_forward_short_step(__m256i& lo, __m256i& hi, std::size_t n,
                                              std::size_t k, const ShoupConstant* roots,
                                              const Avx2Modulus& mod) {
    const std::size_t m = n / (2 * kSpan);
    __m256i x, y;
    avx2_split<kSpan>(lo, hi, x, y);
    avx2_forward_butterfly<kNarrow>(x, y, avx2_load_twiddles<kSpan>(roots + m + k / (2 * kSpan)),
                                    mod);
    if constexpr (kFinal) {  // [0, 4q) -> [0, q)
        x = avx2_subtract_if_at_least(avx2_subtract_if_at_least(x, mod.two_q), mod.q);
        y = avx2_subtract_if_at_least(avx2_subtract_if_at_least(y, mod.two_q), mod.q);
    }
    avx2_merge<kSpan>(x, y, lo, hi);
}

template <int kSpan, bool kNarrow>
HENN_AVX2_INLINE void avx2_inverse_short_step(__m256i& lo, __m256i& hi, std::size_t n,
                                              std::size_t k, const ShoupConstant* roots,
                                              const Avx2Modulus& mod) {
    const std::size_t m = n / (2 * kSpan);
    __m256i x, y;
    avx2_split<kSpan>(lo, hi, x, y);
    avx2_inverse_butterfly<kNarrow>(x, y, avx2_load_twiddles<kSpan>(roots + m + k / (2 * kSpan)),
                                    mod);
    avx2_merge<kSpan>(x, y, lo, hi);
}

// ---------------------------------------------------------------------------------------------
// AVX-512: 8 lanes. kIfma selects IFMA's 52-bit products (q < 2^50). Both variants are compiled
// with IFMA enabled (a target attribute cannot depend on a template parameter); the 64-bit
// variant uses no IFMA instruction, so it runs on AVX-512 CPUs without IFMA.

#define HENN_AVX512 __attribute__((target("avx512f,avx512dq,avx512ifma")))
#define HENN_AVX512_INLINE \
    __attribute__((target("avx512f,avx512dq,avx512ifma"), always_inline)) inline

struct Avx512Modulus {
    __m512i q;
    __m512i two_q;
    __m512i q_negated52;  // 2^52 - q: adding x * (2^52 - q) subtracts x * q mod 2^52
    __m512i low52;        // 2^52 - 1
};

// w_shoup is the 64-bit companion for kIfma = false and w_shoup >> 12 for kIfma = true.
template <bool kIfma>
HENN_AVX512_INLINE __m512i avx512_mul_shoup_lazy(__m512i x, __m512i w, __m512i w_shoup,
                                                 const Avx512Modulus& mod) {
    if constexpr (kIfma) {
        // quotient = floor(x * w_shoup52 / 2^52) is floor(x w / q) or one less since x < 2^52;
        // the result x w - quotient q < 2q < 2^51 is then exact modulo 2^52.
        const __m512i zero = _mm512_setzero_si512();
        const __m512i quotient = _mm512_madd52hi_epu64(zero, x, w_shoup);
        const __m512i product_low = _mm512_madd52lo_epu64(zero, x, w);
        return _mm512_and_si512(_mm512_madd52lo_epu64(product_low, quotient, mod.q_negated52),
                                mod.low52);
    } else {
        const __m512i x_hi = _mm512_srli_epi64(x, 32);
        const __m512i w_shoup_hi = _mm512_srli_epi64(w_shoup, 32);
        // High word of x * w_shoup from four 32x32 products with exact carries (as in AVX2).
        const __m512i lo_lo = _mm512_mul_epu32(x, w_shoup);
        const __m512i lo_hi = _mm512_mul_epu32(x, w_shoup_hi);
        const __m512i hi_lo = _mm512_mul_epu32(x_hi, w_shoup);
        const __m512i hi_hi = _mm512_mul_epu32(x_hi, w_shoup_hi);
        const __m512i middle = _mm512_add_epi64(lo_hi, _mm512_srli_epi64(lo_lo, 32));
        const __m512i middle2 = _mm512_add_epi64(hi_lo, _mm512_maskz_mov_epi32(0x5555, middle));
        const __m512i quotient = _mm512_add_epi64(
            _mm512_add_epi64(hi_hi, _mm512_srli_epi64(middle, 32)), _mm512_srli_epi64(middle2, 32));
        return _mm512_sub_epi64(_mm512_mullo_epi64(x, w), _mm512_mullo_epi64(quotient, mod.q));
    }
}

// x - bound when x >= bound (unsigned min: x - bound wraps above x when x < bound).
HENN_AVX512_INLINE __m512i avx512_subtract_if_at_least(__m512i x, __m512i bound) {
    return _mm512_min_epu64(x, _mm512_sub_epi64(x, bound));
}

struct Avx512Twiddles {
    __m512i w, w_shoup;
};

template <bool kIfma>
HENN_AVX512_INLINE Avx512Twiddles avx512_twiddles(__m512i w, __m512i w_shoup) {
    if constexpr (kIfma) w_shoup = _mm512_srli_epi64(w_shoup, 12);
    return {w, w_shoup};
}

template <bool kIfma>
HENN_AVX512_INLINE Avx512Twiddles avx512_broadcast_twiddle(const ShoupConstant& root) {
    return avx512_twiddles<kIfma>(_mm512_set1_epi64(static_cast<long long>(root.value)),
                                  _mm512_set1_epi64(static_cast<long long>(root.shoup)));
}

// As for AVX2: two vectors hold 16 / (2t) blocks of span t; split gathers x and y halves.
template <int kSpan>
HENN_AVX512_INLINE void avx512_split(__m512i a, __m512i b, __m512i& x, __m512i& y) {
    if constexpr (kSpan == 4) {  // a = [x(4) y(4)] of one block, b the next
        x = _mm512_shuffle_i64x2(a, b, 0x44);
        y = _mm512_shuffle_i64x2(a, b, 0xee);
    } else if constexpr (kSpan == 2) {  // 128-bit pieces: a = [x0 y0 x1 y1], b = [x2 y2 x3 y3]
        x = _mm512_permutex2var_epi64(a, _mm512_setr_epi64(0, 1, 4, 5, 8, 9, 12, 13), b);
        y = _mm512_permutex2var_epi64(a, _mm512_setr_epi64(2, 3, 6, 7, 10, 11, 14, 15), b);
    } else {  // a = [x0 y0 .. x3 y3], b = [x4 y4 .. x7 y7]: x = [x0 x4 x1 x5 x2 x6 x3 x7]
        x = _mm512_unpacklo_epi64(a, b);
        y = _mm512_unpackhi_epi64(a, b);
    }
}

template <int kSpan>
HENN_AVX512_INLINE void avx512_merge(__m512i x, __m512i y, __m512i& a, __m512i& b) {
    if constexpr (kSpan == 4) {
        a = _mm512_shuffle_i64x2(x, y, 0x44);
        b = _mm512_shuffle_i64x2(x, y, 0xee);
    } else if constexpr (kSpan == 2) {
        a = _mm512_permutex2var_epi64(x, _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11), y);
        b = _mm512_permutex2var_epi64(x, _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15), y);
    } else {
        a = _mm512_unpacklo_epi64(x, y);
        b = _mm512_unpackhi_epi64(x, y);
    }
}

template <int kSpan, bool kIfma>
HENN_AVX512_INLINE Avx512Twiddles avx512_load_twiddles(const ShoupConstant* roots) {
    if constexpr (kSpan == 4) {  // two roots, each for four lanes
        const __m512i pair =
            _mm512_zextsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(roots)));
        return avx512_twiddles<kIfma>(
            _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 0, 0, 0, 2, 2, 2, 2), pair),
            _mm512_permutexvar_epi64(_mm512_setr_epi64(1, 1, 1, 1, 3, 3, 3, 3), pair));
    } else if constexpr (kSpan == 2) {  // four roots, each for two lanes
        const __m512i quad = _mm512_loadu_si512(roots);
        return avx512_twiddles<kIfma>(_mm512_unpacklo_epi64(quad, quad),
                                      _mm512_unpackhi_epi64(quad, quad));
    } else {  // eight roots in the order 0 4 1 5 2 6 3 7, matching split's unpack
        const __m512i r0123 = _mm512_loadu_si512(roots);
        const __m512i r4567 = _mm512_loadu_si512(roots + 4);
        return avx512_twiddles<kIfma>(_mm512_unpacklo_epi64(r0123, r4567),
                                      _mm512_unpackhi_epi64(r0123, r4567));
    }
}

template <bool kIfma>
HENN_AVX512_INLINE void avx512_forward_butterfly(__m512i& x, __m512i& y, const Avx512Twiddles& tw,
                                                 const Avx512Modulus& mod) {
    const __m512i u = avx512_subtract_if_at_least(x, mod.two_q);
    const __m512i v = avx512_mul_shoup_lazy<kIfma>(y, tw.w, tw.w_shoup, mod);
    x = _mm512_add_epi64(u, v);
    y = _mm512_sub_epi64(_mm512_add_epi64(u, mod.two_q), v);
}

template <bool kIfma>
HENN_AVX512_INLINE void avx512_inverse_butterfly(__m512i& x, __m512i& y, const Avx512Twiddles& tw,
                                                 const Avx512Modulus& mod) {
    const __m512i sum = avx512_subtract_if_at_least(_mm512_add_epi64(x, y), mod.two_q);
    const __m512i difference = _mm512_sub_epi64(_mm512_add_epi64(x, mod.two_q), y);
    x = sum;
    y = avx512_mul_shoup_lazy<kIfma>(difference, tw.w, tw.w_shoup, mod);
}

HENN_AVX512_INLINE Avx512Modulus avx512_modulus(u64 q) {
    return {_mm512_set1_epi64(static_cast<long long>(q)),
            _mm512_set1_epi64(static_cast<long long>(2 * q)),
            _mm512_set1_epi64(static_cast<long long>((u64{1} << 52) - q)),
            _mm512_set1_epi64(static_cast<long long>((u64{1} << 52) - 1))};
}

HENN_AVX512_INLINE __m512i avx512_load(const u64* p) {
    return _mm512_loadu_si512(p);
}

HENN_AVX512_INLINE void avx512_store(u64* p, __m512i v) {
    _mm512_storeu_si512(p, v);
}

// One forward layer with span t < 8 on the 16 values at a + k held in (lo, hi).
template <int kSpan, bool kIfma, bool kFinal>
HENN_AVX512_INLINE void avx512_forward_short_step(__m512i& lo, __m512i& hi, std::size_t n,
                                                  std::size_t k, const ShoupConstant* roots,
                                                  const Avx512Modulus& mod) {
    const std::size_t m = n / (2 * kSpan);
    __m512i x, y;
    avx512_split<kSpan>(lo, hi, x, y);
    avx512_forward_butterfly<kIfma>(
        x, y, avx512_load_twiddles<kSpan, kIfma>(roots + m + k / (2 * kSpan)), mod);
    if constexpr (kFinal) {
        x = avx512_subtract_if_at_least(avx512_subtract_if_at_least(x, mod.two_q), mod.q);
        y = avx512_subtract_if_at_least(avx512_subtract_if_at_least(y, mod.two_q), mod.q);
    }
    avx512_merge<kSpan>(x, y, lo, hi);
}

template <int kSpan, bool kIfma>
HENN_AVX512_INLINE void avx512_inverse_short_step(__m512i& lo, __m512i& hi, std::size_t n,
                                                  std::size_t k, const ShoupConstant* roots,
                                                  const Avx512Modulus& mod) {
    const std::size_t m = n / (2 * kSpan);
    __m512i x, y;
    avx512_split<kSpan>(lo, hi, x, y);
    avx512_inverse_butterfly<kIfma>(
        x, y, avx512_load_twiddles<kSpan, kIfma>(roots + m + k / (2 * kSpan)), mod);
    avx512_merge<kSpan>(x, y, lo, hi);
}

// One forward layer with span t >= 8 (m blocks, lanes over j).
template <bool kIfma>
HENN_AVX512_INLINE void avx512_forward_layer(u64* a, std::size_t m, std::size_t t,
                                             const ShoupConstant* roots, const Avx512Modulus& mod) {
    for (std::size_t i = 0; i < m; ++i) {
        const Avx512Twiddles tw = avx512_broadcast_twiddle<kIfma>(roots[m + i]);
        u64* xs = a + 2 * i * t;
        u64* ys = xs + t;
        for (std::size_t j = 0; j < t; j += 8) {
            __m512i x = avx512_load(xs + j), y = avx512_load(ys + j);
            avx512_forward_butterfly<kIfma>(x, y, tw, mod);
            avx512_store(xs + j, x);
            avx512_store(ys + j, y);
        }
    }
}

// Forward layers m (span t) and 2m (span t/2 >= 8) in one pass over memory: each block of
// layer m is split in quarters q0..q3; layer m pairs (q0, q2) and (q1, q3), layer 2m pairs
// (q0, q1) and (q2, q3). Same butterflies as two separate layers, half the memory traffic.
template <bool kIfma>
HENN_AVX512_INLINE void avx512_forward_layer_pair(u64* a, std::size_t m, std::size_t t,
                                                  const ShoupConstant* roots,
                                                  const Avx512Modulus& mod) {
    const std::size_t h = t / 2;
    for (std::size_t i = 0; i < m; ++i) {
        const Avx512Twiddles outer = avx512_broadcast_twiddle<kIfma>(roots[m + i]);
        const Avx512Twiddles left = avx512_broadcast_twiddle<kIfma>(roots[2 * m + 2 * i]);
        const Avx512Twiddles right = avx512_broadcast_twiddle<kIfma>(roots[2 * m + 2 * i + 1]);
        u64* block = a + 2 * i * t;
        for (std::size_t j = 0; j < h; j += 8) {
            __m512i q0 = avx512_load(block + j), q1 = avx512_load(block + h + j);
            __m512i q2 = avx512_load(block + 2 * h + j), q3 = avx512_load(block + 3 * h + j);
            avx512_forward_butterfly<kIfma>(q0, q2, outer, mod);
            avx512_forward_butterfly<kIfma>(q1, q3, outer, mod);
            avx512_forward_butterfly<kIfma>(q0, q1, left, mod);
            avx512_forward_butterfly<kIfma>(q2, q3, right, mod);
            avx512_store(block + j, q0);
            avx512_store(block + h + j, q1);
            avx512_store(block + 2 * h + j, q2);
            avx512_store(block + 3 * h + j, q3);
        }
    }
}

template <bool kIfma>
HENN_AVX512_INLINE void avx512_forward(u64* a, const NttTables& tables) {
    const std::size_t n = tables.size();
    const Avx512Modulus mod = avx512_modulus(tables.modulus().value());
    const ShoupConstant* roots = tables.forward_roots().data();
    // Layers with span t >= 8, two at a time while both spans are at least 8.
    std::size_t m = 1, t = n / 2;
    for (; t >= 16; m <<= 2, t >>= 2) avx512_forward_layer_pair<kIfma>(a, m, t, roots, mod);
    if (t == 8) avx512_forward_layer<kIfma>(a, m, t, roots, mod);
    // The last three layers (spans 4, 2, 1). IFMA's butterflies are cheap enough that memory
    // traffic dominates, so it does them in registers in one pass; the 64-bit kernel measured
    // faster with one pass per layer.
    if constexpr (kIfma) {
        for (std::size_t k = 0; k < n; k += 16) {
            __m512i lo = avx512_load(a + k), hi = avx512_load(a + k + 8);
            avx512_forward_short_step<4, kIfma, false>(lo, hi, n, k, roots, mod);
            avx512_forward_short_step<2, kIfma, false>(lo, hi, n, k, roots, mod);
            avx512_forward_short_step<1, kIfma, true>(lo, hi, n, k, roots, mod);
            avx512_store(a + k, lo);
            avx512_store(a + k + 8, hi);
        }
    } else {
        for (std::size_t k = 0; k < n; k += 16) {
            __m512i lo = avx512_load(a + k), hi = avx512_load(a + k + 8);
            avx512_forward_short_step<4, kIfma, false>(lo, hi, n, k, roots, mod);
            avx512_store(a + k, lo);
            avx512_store(a + k + 8, hi);
        }
        for (std::size_t k = 0; k < n; k += 16) {
            __m512i lo = avx512_load(a + k), hi = avx512_load(a + k + 8);
            avx512_forward_short_step<2, kIfma, false>(lo, hi, n, k, roots, mod);
            avx512_store(a + k, lo);
            avx512_store(a + k + 8, hi);
        }
        for (std::size_t k = 0; k < n; k += 16) {
            __m512i lo = avx512_load(a + k), hi = avx512_load(a + k + 8);
            avx512_forward_short_step<1, kIfma, true>(lo, hi, n, k, roots, mod);
            avx512_store(a + k, lo);
            avx512_store(a + k + 8, hi);
        }
    }
}

// One inverse layer with span t >= 8.
template <bool kIfma>
HENN_AVX512_INLINE void avx512_inverse_layer(u64* a, std::size_t m, std::size_t t,
                                             const ShoupConstant* roots, const Avx512Modulus& mod) {
    for (std::size_t i = 0; i < m; ++i) {
        const Avx512Twiddles tw = avx512_broadcast_twiddle<kIfma>(roots[m + i]);
        u64* xs = a + 2 * i * t;
        u64* ys = xs + t;
        for (std::size_t j = 0; j < t; j += 8) {
            __m512i x = avx512_load(xs + j), y = avx512_load(ys + j);
            avx512_inverse_butterfly<kIfma>(x, y, tw, mod);
            avx512_store(xs + j, x);
            avx512_store(ys + j, y);
        }
    }
}

// Inverse layers m (span t >= 8) and m/2 (span 2t) in one pass: blocks 2i and 2i+1 of layer m
// are the halves (q0 q1) and (q2 q3) of block i of layer m/2.
template <bool kIfma>
HENN_AVX512_INLINE void avx512_inverse_layer_pair(u64* a, std::size_t m, std::size_t t,
                                                  const ShoupConstant* roots,
                                                  const Avx512Modulus& mod) {
    for (std::size_t i = 0; i < m / 2; ++i) {
        const Avx512Twiddles left = avx512_broadcast_twiddle<kIfma>(roots[m + 2 * i]);
        const Avx512Twiddles right = avx512_broadcast_twiddle<kIfma>(roots[m + 2 * i + 1]);
        const Avx512Twiddles outer = avx512_broadcast_twiddle<kIfma>(roots[m / 2 + i]);
        u64* block = a + 4 * i * t;
        for (std::size_t j = 0; j < t; j += 8) {
            __m512i q0 = avx512_load(block + j), q1 = avx512_load(block + t + j);
            __m512i q2 = avx512_load(block + 2 * t + j), q3 = avx512_load(block + 3 * t + j);
            avx512_inverse_butterfly<kIfma>(q0, q1, left, mod);
            avx512_inverse_butterfly<kIfma>(q2, q3, right, mod);
            avx512_inverse_butterfly<kIfma>(q0, q2, outer, mod);
            avx512_inverse_butterfly<kIfma>(q1, q3, outer, mod);
            avx512_store(block + j, q0);
            avx512_store(block + t + j, q1);
            avx512_store(block + 2 * t + j, q2);
            avx512_store(block + 3 * t + j, q3);
        }
    }
}

template <bool kIfma>
HENN_AVX512_INLINE void avx512_inverse(u64* a, const NttTables& tables) {
    const std::size_t n = tables.size();
    const Avx512Modulus mod = avx512_modulus(tables.modulus().value());
    const ShoupConstant* roots = tables.inverse_roots().data();
    // The first three layers (spans 1, 2, 4), after bringing the inputs from [0, 4q) to
    // [0, 2q); in one pass for IFMA, one pass per layer otherwise (as in the forward kernel).
    if constexpr (kIfma) {
        for (std::size_t k = 0; k < n; k += 16) {
            __m512i lo = avx512_subtract_if_at_least(avx512_load(a + k), mod.two_q);
            __m512i hi = avx512_subtract_if_at_least(avx512_load(a + k + 8), mod.two_q);
            avx512_inverse_short_step<1, kIfma>(lo, hi, n, k, roots, mod);
            avx512_inverse_short_step<2, kIfma>(lo, hi, n, k, roots, mod);
            avx512_inverse_short_step<4, kIfma>(lo, hi, n, k, roots, mod);
            avx512_store(a + k, lo);
            avx512_store(a + k + 8, hi);
        }
    } else {
        for (std::size_t k = 0; k < n; k += 16) {
            __m512i lo = avx512_subtract_if_at_least(avx512_load(a + k), mod.two_q);
            __m512i hi = avx512_subtract_if_at_least(avx512_load(a + k + 8), mod.two_q);
            avx512_inverse_short_step<1, kIfma>(lo, hi, n, k, roots, mod);
            avx512_store(a + k, lo);
            avx512_store(a + k + 8, hi);
        }
        for (std::size_t k = 0; k < n; k += 16) {
            __m512i lo = avx512_load(a + k), hi = avx512_load(a + k + 8);
            avx512_inverse_short_step<2, kIfma>(lo, hi, n, k, roots, mod);
            avx512_store(a + k, lo);
            avx512_store(a + k + 8, hi);
        }
        for (std::size_t k = 0; k < n; k += 16) {
            __m512i lo = avx512_load(a + k), hi = avx512_load(a + k + 8);
            avx512_inverse_short_step<4, kIfma>(lo, hi, n, k, roots, mod);
            avx512_store(a + k, lo);
            avx512_store(a + k + 8, hi);
        }
    }
    // Layers with span t >= 8 before the last, two at a time while both have m > 1.
    std::size_t m = n / 16, t = 8;
    for (; m >= 4; m >>= 2, t <<= 2) avx512_inverse_layer_pair<kIfma>(a, m, t, roots, mod);
    if (m == 2) {
        avx512_inverse_layer<kIfma>(a, m, t, roots, mod);
        t <<= 1;
    }
    // Last layer (t = n/2) with n^-1 folded in, outputs fully reduced.
    const Avx512Twiddles n_inv = avx512_broadcast_twiddle<kIfma>(tables.inverse_degree());
    const Avx512Twiddles w = avx512_broadcast_twiddle<kIfma>(tables.inverse_last_root_scaled());
    for (std::size_t j = 0; j < t; j += 8) {
        const __m512i x = avx512_load(a + j), y = avx512_load(a + t + j);
        const __m512i sum = _mm512_add_epi64(x, y);
        const __m512i difference = _mm512_sub_epi64(_mm512_add_epi64(x, mod.two_q), y);
        const __m512i s = avx512_mul_shoup_lazy<kIfma>(sum, n_inv.w, n_inv.w_shoup, mod);
        const __m512i d = avx512_mul_shoup_lazy<kIfma>(difference, w.w, w.w_shoup, mod);
        avx512_store(a + j, avx512_subtract_if_at_least(s, mod.q));
        avx512_store(a + t + j, avx512_subtract_if_at_least(d, mod.q));
    }
}

}  // namespace

namespace {

template <bool kNarrow>
HENN_AVX2 void avx2_forward(u64* a, const NttTables& tables) {
    const std::size_t n = tables.size();
    const Avx2Modulus mod = avx2_modulus(tables.modulus().value());
    const ShoupConstant* roots = tables.forward_roots().data();
    std::size_t t = n;
    for (std::size_t m = 1; m < n / 4; m <<= 1) {  // spans t >= 4
        t >>= 1;
        for (std::size_t i = 0; i < m; ++i) {
            const Avx2Twiddles tw = avx2_broadcast_twiddle(roots[m + i]);
            u64* xs = a + 2 * i * t;
            u64* ys = xs + t;
            for (std::size_t j = 0; j < t; j += 4) {
                __m256i x = avx2_load(xs + j), y = avx2_load(ys + j);
                avx2_forward_butterfly<kNarrow>(x, y, tw, mod);
                avx2_store(xs + j, x);
                avx2_store(ys + j, y);
            }
        }
    }
    // The last two layers (spans 2, 1), one pass each (measured faster than one fused pass:
    // these butterflies are compute-bound).
    for (std::size_t k = 0; k < n; k += 8) {
        __m256i lo = avx2_load(a + k), hi = avx2_load(a + k + 4);
        avx2_forward_short_step<2, false, kNarrow>(lo, hi, n, k, roots, mod);
        avx2_store(a + k, lo);
        avx2_store(a + k + 4, hi);
    }
    for (std::size_t k = 0; k < n; k += 8) {
        __m256i lo = avx2_load(a + k), hi = avx2_load(a + k + 4);
        avx2_forward_short_step<1, true, kNarrow>(lo, hi, n, k, roots, mod);
        avx2_store(a + k, lo);
        avx2_store(a + k + 4, hi);
    }
}

template <bool kNarrow>
HENN_AVX2 void avx2_inverse(u64* a, const NttTables& tables) {
    const std::size_t n = tables.size();
    const Avx2Modulus mod = avx2_modulus(tables.modulus().value());
    const ShoupConstant* roots = tables.inverse_roots().data();
    // The first two layers (spans 1, 2), one pass each, after bringing the inputs from
    // [0, 4q) to [0, 2q).
    for (std::size_t k = 0; k < n; k += 8) {
        __m256i lo = avx2_subtract_if_at_least(avx2_load(a + k), mod.two_q);
        __m256i hi = avx2_subtract_if_at_least(avx2_load(a + k + 4), mod.two_q);
        avx2_inverse_short_step<1, kNarrow>(lo, hi, n, k, roots, mod);
        avx2_store(a + k, lo);
        avx2_store(a + k + 4, hi);
    }
    for (std::size_t k = 0; k < n; k += 8) {
        __m256i lo = avx2_load(a + k), hi = avx2_load(a + k + 4);
        avx2_inverse_short_step<2, kNarrow>(lo, hi, n, k, roots, mod);
        avx2_store(a + k, lo);
        avx2_store(a + k + 4, hi);
    }
    std::size_t t = 4;
    for (std::size_t m = n / 8; m > 1; m >>= 1) {
        for (std::size_t i = 0; i < m; ++i) {
            const Avx2Twiddles tw = avx2_broadcast_twiddle(roots[m + i]);
            u64* xs = a + 2 * i * t;
            u64* ys = xs + t;
            for (std::size_t j = 0; j < t; j += 4) {
                __m256i x = avx2_load(xs + j), y = avx2_load(ys + j);
                avx2_inverse_butterfly<kNarrow>(x, y, tw, mod);
                avx2_store(xs + j, x);
                avx2_store(ys + j, y);
            }
        }
        t <<= 1;
    }
    const Avx2Twiddles n_inv = avx2_broadcast_twiddle(tables.inverse_degree());
    const Avx2Twiddles w = avx2_broadcast_twiddle(tables.inverse_last_root_scaled());
    for (std::size_t j = 0; j < t; j += 4) {
        const __m256i x = avx2_load(a + j), y = avx2_load(a + t + j);
        const __m256i sum = _mm256_add_epi64(x, y);
        const __m256i difference = _mm256_sub_epi64(_mm256_add_epi64(x, mod.two_q), y);
        const __m256i s = avx2_mul_shoup_lazy<kNarrow>(sum, n_inv.w, n_inv.w_hi, n_inv.w_shoup,
                                                       n_inv.w_shoup_hi, mod);
        const __m256i d =
            avx2_mul_shoup_lazy<kNarrow>(difference, w.w, w.w_hi, w.w_shoup, w.w_shoup_hi, mod);
        avx2_store(a + j, avx2_subtract_if_at_least(s, mod.q));
        avx2_store(a + t + j, avx2_subtract_if_at_least(d, mod.q));
    }
}

}  // namespace

HENN_AVX2 void ntt_forward_avx2(u64* a, const NttTables& tables) {
    if (tables.size() < 8) return ntt_forward_portable(a, tables);  // fewer than two vectors
    if (tables.modulus().value() < kAvx2NarrowModulus) return avx2_forward<true>(a, tables);
    avx2_forward<false>(a, tables);
}

HENN_AVX2 void ntt_inverse_avx2(u64* a, const NttTables& tables) {
    if (tables.size() < 8) return ntt_inverse_portable(a, tables);
    if (tables.modulus().value() < kAvx2NarrowModulus) return avx2_inverse<true>(a, tables);
    avx2_inverse<false>(a, tables);
}

HENN_AVX512 void ntt_forward_avx512(u64* a, const NttTables& tables) {
    if (tables.size() < 16) return ntt_forward_portable(a, tables);
    avx512_forward<false>(a, tables);
}

HENN_AVX512 void ntt_inverse_avx512(u64* a, const NttTables& tables) {
    if (tables.size() < 16) return ntt_inverse_portable(a, tables);
    avx512_inverse<false>(a, tables);
}

HENN_AVX512 void ntt_forward_avx512ifma(u64* a, const NttTables& tables) {
    if (tables.size() < 16) return ntt_forward_portable(a, tables);
    if (tables.modulus().value() < kIfmaModulusBound) return avx512_forward<true>(a, tables);
    avx512_forward<false>(a, tables);
}

HENN_AVX512 void ntt_inverse_avx512ifma(u64* a, const NttTables& tables) {
    if (tables.size() < 16) return ntt_inverse_portable(a, tables);
    if (tables.modulus().value() < kIfmaModulusBound) return avx512_inverse<true>(a, tables);
    avx512_inverse<false>(a, tables);
}

#else  // not x86-64 with GCC/Clang: no vector kernels

bool cpu_supports_avx2() {
    return false;
}
bool cpu_supports_avx512() {
    return false;
}
bool cpu_supports_avx512ifma() {
    return false;
}
void ntt_forward_avx2(u64* a, const NttTables& tables) {
    ntt_forward_portable(a, tables);
}
void ntt_inverse_avx2(u64* a, const NttTables& tables) {
    ntt_inverse_portable(a, tables);
}
void ntt_forward_avx512(u64* a, const NttTables& tables) {
    ntt_forward_portable(a, tables);
}
void ntt_inverse_avx512(u64* a, const NttTables& tables) {
    ntt_inverse_portable(a, tables);
}
void ntt_forward_avx512ifma(u64* a, const NttTables& tables) {
    ntt_forward_portable(a, tables);
}
void ntt_inverse_avx512ifma(u64* a, const NttTables& tables) {
    ntt_inverse_portable(a, tables);
}

#endif

}  // namespace henn::math::simd
