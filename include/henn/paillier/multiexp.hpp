// Products of many ciphertext powers, prod_i c_i^(e_i) mod n^2, with small non-negative exponents.
//
// The two-server protocol needs, for every output of an encrypted matrix product, a sum of
// ciphertexts weighted by mask values (tens of bits). Each ciphertext takes part in many such
// sums, so we tabulate its powers c^0..c^(2^w - 1) once (PowerTable) and evaluate every sum with
// Straus' interleaved method: one shared chain of squarings plus one product per window and term.
#pragma once

#include <gmpxx.h>

#include <span>
#include <vector>

#include "henn/paillier/paillier.hpp"

namespace henn::paillier {

class PowerTable {
  public:
    static constexpr unsigned kWindowBits = 5;
    PowerTable(const PublicKey& key, const Ciphertext& base);
    const mpz_class& power(unsigned digit) const { return powers_[digit]; }

  private:
    std::vector<mpz_class> powers_;
};

// prod_i table_i^(exponent_i) mod n^2; exponents must be >= 0 and have at most max_bits bits.
Ciphertext multi_exponentiate(const PublicKey& key, std::span<const PowerTable* const> tables,
                              std::span<const mpz_class* const> exponents, unsigned max_bits);

}  // namespace henn::paillier
