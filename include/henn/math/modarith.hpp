// Word-size modular arithmetic for NTT-friendly primes below 2^61.
//
// Values are uint64_t. "Lazy" variants return results in [0, 2q) or [0, 4q) where the caller
// knows a later step reduces them; with q < 2^61, 4q and the sum of two lazy values fit a word.
#pragma once

#include <cstdint>
#include <stdexcept>

namespace henn::math {

using u64 = std::uint64_t;
using u128 = unsigned __int128;

// The largest modulus henn supports: Harvey butterflies keep values in [0, 4q) and
// multiply-accumulate sums 2^6 products of two such values before reducing.
inline constexpr int kMaxModulusBits = 61;

// A modulus with its Barrett constant floor(2^128 / q), split in two words.
class Modulus {
  public:
    Modulus() = default;
    explicit Modulus(u64 value);

    u64 value() const { return value_; }
    int bits() const { return bits_; }
    u64 barrett_hi() const { return barrett_hi_; }
    u64 barrett_lo() const { return barrett_lo_; }

    // x mod q for any 64-bit x.
    u64 reduce(u64 x) const {
        // Quotient estimate from the high word of the Barrett constant; off by at most one.
        u64 quotient = static_cast<u64>((static_cast<u128>(x) * barrett_hi_) >> 64);
        u64 r = x - quotient * value_;
        return r >= value_ ? r - value_ : r;
    }

    // x mod q for any 128-bit x.
    u64 reduce(u128 x) const {
        const u64 x_lo = static_cast<u64>(x);
        const u64 x_hi = static_cast<u64>(x >> 64);
        // floor(x * floor(2^128/q) / 2^128), computed from the four partial products.
        u128 lo_lo = static_cast<u128>(x_lo) * barrett_lo_;
        u128 lo_hi = static_cast<u128>(x_lo) * barrett_hi_;
        u128 hi_lo = static_cast<u128>(x_hi) * barrett_lo_;
        u64 hi_hi = x_hi * barrett_hi_;  // only the low word matters
        u128 mid = (lo_lo >> 64) + static_cast<u64>(lo_hi) + static_cast<u64>(hi_lo);
        u64 quotient = hi_hi + static_cast<u64>(lo_hi >> 64) + static_cast<u64>(hi_lo >> 64) +
                       static_cast<u64>(mid >> 64);
        u64 r = x_lo - quotient * value_;
        return r >= value_ ? r - value_ : r;
    }

    bool operator==(const Modulus& other) const { return value_ == other.value_; }

  private:
    u64 value_ = 0;
    int bits_ = 0;
    u64 barrett_hi_ = 0;
    u64 barrett_lo_ = 0;
};

inline u64 add_mod(u64 a, u64 b, u64 q) {
    u64 s = a + b;
    return s >= q ? s - q : s;
}

inline u64 sub_mod(u64 a, u64 b, u64 q) {
    return a >= b ? a - b : a + q - b;
}

inline u64 negate_mod(u64 a, u64 q) {
    return a == 0 ? 0 : q - a;
}

inline u64 mul_mod(u64 a, u64 b, const Modulus& q) {
    return q.reduce(static_cast<u128>(a) * b);
}

// Shoup's precomputation for multiplying many values by the same constant w < q:
// w_shoup = floor(w * 2^64 / q).
inline u64 shoup_precompute(u64 w, u64 q) {
    return static_cast<u64>((static_cast<u128>(w) << 64) / q);
}

// x * w mod q in [0, 2q), for any 64-bit x, given w_shoup.
inline u64 mul_shoup_lazy(u64 x, u64 w, u64 w_shoup, u64 q) {
    u64 quotient = static_cast<u64>((static_cast<u128>(x) * w_shoup) >> 64);
    return x * w - quotient * q;
}

inline u64 mul_shoup(u64 x, u64 w, u64 w_shoup, u64 q) {
    u64 r = mul_shoup_lazy(x, w, w_shoup, q);
    return r >= q ? r - q : r;
}

// A constant with its Shoup companion.
struct ShoupConstant {
    u64 value = 0;
    u64 shoup = 0;
    ShoupConstant() = default;
    ShoupConstant(u64 w, u64 q) : value(w), shoup(shoup_precompute(w, q)) {}
};

u64 pow_mod(u64 base, u64 exponent, const Modulus& q);

// Inverse modulo q (q need not be prime); throws henn::InvalidArgument if none exists.
u64 inverse_mod(u64 a, u64 q);

// Signed integer to its residue mod q.
inline u64 from_signed(std::int64_t x, u64 q) {
    if (x >= 0) return static_cast<u64>(x) % q;
    u64 r = static_cast<u64>(-(x + 1)) % q;  // -(x+1) avoids overflow at INT64_MIN
    return q - 1 - r;
}

// Residue mod q to its centered representative in (-q/2, q/2].
inline std::int64_t to_centered(u64 x, u64 q) {
    return x > (q >> 1) ? -static_cast<std::int64_t>(q - x) : static_cast<std::int64_t>(x);
}

}  // namespace henn::math
