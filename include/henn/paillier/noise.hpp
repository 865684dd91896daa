// Precomputation for Paillier's random factor r^n mod n^2.
//
// A fresh r^n costs a full exponentiation modulo n^2 (~9 ms at 2048 bits). Following
// Damgard-Jurik-Nielsen, we fix h = y^n mod n^2 for one random unit y and draw factors h^a with a
// uniform exponent a of `exponent_bits` bits (default: the modulus size). h's powers h^(j 16^i) are
// tabulated once, so a factor is one product per 4-bit window, with each entry picked by GMP's
// constant-time mpn_sec_tabselect so the secret exponent does not drive memory accesses.
#pragma once

#include <gmp.h>
#include <gmpxx.h>

#include <cstddef>
#include <vector>

namespace henn::paillier {

class NoiseSource {
  public:
    NoiseSource(const mpz_class& n, const mpz_class& n_squared, unsigned exponent_bits);

    // A fresh random factor h^a mod n^2, an encryption of zero.
    mpz_class next() const;
    unsigned exponent_bits() const { return exponent_bits_; }

  private:
    static constexpr unsigned kWindowBits = 4;
    static constexpr unsigned kEntries = 1u << kWindowBits;
    mpz_class n_squared_;
    unsigned exponent_bits_;
    mp_size_t limbs_;               // limbs of n^2
    std::vector<mp_limb_t> table_;  // windows x kEntries x limbs_, entry 0 = 1
};

}  // namespace henn::paillier
