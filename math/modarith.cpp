#include "henn/math/modarith.hpp"

#include <stdexcept>
#include <string>

#include "henn/error.hpp"

namespace henn::math {

Modulus::Modulus(u64 value) : value_(value) {
    if (value < 2) throw InvalidArgument("modulus must be at least 2");
    if (value >> kMaxModulusBits != 0) {
        throw InvalidArgument("modulus " + std::to_string(value) + " exceeds " +
                              std::to_string(kMaxModulusBits) + " bits");
    }
    bits_ = 64 - __builtin_clzll(value);
    // floor(2^128 / q) by long division of (2^128 - 1), correct because q is not a power of 2
    // or, if it is, the result is only used where an off-by-one quotient is tolerated.
    u128 all_ones = ~static_cast<u128>(0);
    u128 r = all_ones / value;
    // (2^128-1)/q equals floor(2^128/q) unless q divides 2^128, i.e. q is a power of two.
    if ((value & (value - 1)) == 0) r += 1;
    barrett_hi_ = static_cast<u64>(r >> 64);
    barrett_lo_ = static_cast<u64>(r);
}

u64 pow_mod(u64 base, u64 exponent, const Modulus& q) {
    u64 result = 1 % q.value();
    base = q.reduce(base);
    while (exponent != 0) {
        if (exponent & 1) result = mul_mod(result, base, q);
        base = mul_mod(base, base, q);
        exponent >>= 1;
    }
    return result;
}

u64 inverse_mod(u64 a, u64 q) {
    // Extended Euclid on signed 128-bit integers.
    __int128 t = 0, new_t = 1;
    __int128 r = q, new_r = a % q;
    while (new_r != 0) {
        __int128 quotient = r / new_r;
        __int128 tmp = t - quotient * new_t;
        t = new_t;
        new_t = tmp;
        tmp = r - quotient * new_r;
        r = new_r;
        new_r = tmp;
    }
    if (r != 1) throw InvalidArgument("value has no inverse modulo " + std::to_string(q));
    if (t < 0) t += q;
    return static_cast<u64>(t);
}

}  // namespace henn::math
