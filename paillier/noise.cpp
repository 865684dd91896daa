#include "henn/paillier/noise.hpp"

#include <algorithm>

#include "henn/paillier/paillier.hpp"
#include "henn/paillier/random.hpp"

namespace henn::paillier {

namespace {
// Copies a value < n^2 into a fixed-width limb array (zero-padded).
void store_limbs(const mpz_class& value, mp_limb_t* out, mp_size_t limbs) {
    std::fill(out, out + limbs, mp_limb_t{0});
    const mp_size_t used = static_cast<mp_size_t>(mpz_size(value.get_mpz_t()));
    for (mp_size_t i = 0; i < used; ++i) out[i] = mpz_getlimbn(value.get_mpz_t(), i);
}
}  // namespace

NoiseSource::NoiseSource(const mpz_class& n, const mpz_class& n_squared, unsigned exponent_bits)
    : n_squared_(n_squared),
      exponent_bits_(exponent_bits),
      limbs_(static_cast<mp_size_t>(mpz_size(n_squared.get_mpz_t()))) {
    if (exponent_bits_ == 0) throw PaillierError("paillier: noise exponent size must be positive");
    const unsigned windows = (exponent_bits_ + kWindowBits - 1) / kWindowBits;
    table_.assign(static_cast<std::size_t>(windows) * kEntries * limbs_, 0);

    // h = y^n: an n-th residue, so every power of it is an encryption of zero.
    mpz_class base;
    mpz_powm(base.get_mpz_t(), random_unit(n).get_mpz_t(), n.get_mpz_t(), n_squared.get_mpz_t());
    for (unsigned w = 0; w < windows; ++w) {
        mpz_class power = 1;
        for (unsigned j = 0; j < kEntries; ++j) {
            store_limbs(power, &table_[(static_cast<std::size_t>(w) * kEntries + j) * limbs_],
                        limbs_);
            power = power * base % n_squared_;
        }
        base = power;  // h^(16^(w+1)) = (h^(16^w))^16
    }
}

mpz_class NoiseSource::next() const {
    const unsigned windows = (exponent_bits_ + kWindowBits - 1) / kWindowBits;
    const mpz_class exponent = random_bits(exponent_bits_);
    std::vector<mp_limb_t> selected(limbs_);
    mpz_class accumulator = 1, entry;
    for (unsigned w = 0; w < windows; ++w) {
        mp_size_t digit = 0;
        for (unsigned b = 0; b < kWindowBits; ++b)
            digit |= static_cast<mp_size_t>(mpz_tstbit(exponent.get_mpz_t(), w * kWindowBits + b))
                     << b;
        // Constant-time read of entry `digit`: every entry of the window is touched.
        mpn_sec_tabselect(selected.data(), &table_[static_cast<std::size_t>(w) * kEntries * limbs_],
                          limbs_, kEntries, digit);
        mpz_import(entry.get_mpz_t(), static_cast<std::size_t>(limbs_), -1, sizeof(mp_limb_t), 0, 0,
                   selected.data());
        accumulator = accumulator * entry % n_squared_;
    }
    return accumulator;
}

}  // namespace henn::paillier
