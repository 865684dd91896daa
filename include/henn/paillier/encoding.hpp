// Signed fixed-point encoding of reals into Paillier plaintexts: x -> round(x * 2^scale_bits),
// negatives as n - |v|. Encoding refuses values whose integer would not fit a caller-chosen bound
// (by default |v| < n/2, the whole centered range), so overflow is detected, never wrapped.
#pragma once

#include <gmpxx.h>

#include "henn/paillier/paillier.hpp"

namespace henn::paillier {

class FixedPointEncoder {
  public:
    // max_magnitude_bits: encoded integers must satisfy |v| < 2^max_magnitude_bits; 0 means the
    // largest the key allows, |v| <= (n-1)/2.
    FixedPointEncoder(const PublicKey& key, unsigned scale_bits, unsigned max_magnitude_bits = 0);

    unsigned scale_bits() const { return scale_bits_; }
    // Largest encodable integer magnitude.
    const mpz_class& max_integer() const { return max_integer_; }

    // Signed integer round(x * 2^scale_bits); throws PaillierError on NaN, infinity or overflow.
    mpz_class to_integer(double x) const;
    // Residue mod n of to_integer(x).
    mpz_class encode(double x) const;
    // Encodes an integer that is already scaled; throws on overflow.
    mpz_class encode_integer(const mpz_class& v) const;
    // Residue -> real, for a value at 2^(scale_bits * scale_multiple) (products carry multiples).
    double decode(const mpz_class& residue, unsigned scale_multiple = 1) const;

  private:
    const PublicKey& key_;
    unsigned scale_bits_;
    mpz_class max_integer_;
};

// Signed integer / 2^bits as a double (exact for |v| < 2^53, correctly rounded otherwise).
double scaled_to_double(const mpz_class& v, unsigned bits);

}  // namespace henn::paillier
