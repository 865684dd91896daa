#include "henn/paillier/encoding.hpp"

#include <cmath>

namespace henn::paillier {

FixedPointEncoder::FixedPointEncoder(const PublicKey& key, unsigned scale_bits,
                                     unsigned max_magnitude_bits)
    : key_(key), scale_bits_(scale_bits) {
    const mpz_class largest = (key.n() - 1) / 2;
    if (max_magnitude_bits == 0) {
        max_integer_ = largest;
    } else {
        mpz_ui_pow_ui(max_integer_.get_mpz_t(), 2, max_magnitude_bits);
        max_integer_ -= 1;
        if (max_integer_ > largest)
            throw PaillierError("paillier: encoder bound 2^" + std::to_string(max_magnitude_bits) +
                                " exceeds the key's plaintext range");
    }
    if (scale_bits_ > 1024) throw PaillierError("paillier: fixed-point scale too large");
}

mpz_class FixedPointEncoder::to_integer(double x) const {
    if (!std::isfinite(x)) throw PaillierError("paillier: cannot encode NaN or infinity");
    const double scaled = std::ldexp(x, static_cast<int>(scale_bits_));
    if (!std::isfinite(scaled)) throw PaillierError("paillier: fixed-point overflow");
    mpz_class v(std::nearbyint(scaled));  // exact: a double that is an integer converts exactly
    if (abs(v) > max_integer_)
        throw PaillierError("paillier: fixed-point overflow: " + std::to_string(x) +
                            " does not fit the encoder's range");
    return v;
}

mpz_class FixedPointEncoder::encode(double x) const {
    return key_.to_residue(to_integer(x));
}

mpz_class FixedPointEncoder::encode_integer(const mpz_class& v) const {
    if (abs(v) > max_integer_) throw PaillierError("paillier: integer overflow in encoding");
    return key_.to_residue(v);
}

double FixedPointEncoder::decode(const mpz_class& residue, unsigned scale_multiple) const {
    if (residue < 0 || residue >= key_.n())
        throw PaillierError("paillier: decode expects a residue in [0, n)");
    return scaled_to_double(key_.to_signed(residue), scale_bits_ * scale_multiple);
}

double scaled_to_double(const mpz_class& v, unsigned bits) {
    // mpz_get_d_2exp keeps 53 significant bits and the exponent separately, so huge values work.
    long exponent = 0;
    const double mantissa = mpz_get_d_2exp(&exponent, v.get_mpz_t());
    return std::ldexp(mantissa, static_cast<int>(exponent - static_cast<long>(bits)));
}

}  // namespace henn::paillier
