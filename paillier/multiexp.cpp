#include "henn/paillier/multiexp.hpp"

namespace henn::paillier {

PowerTable::PowerTable(const PublicKey& key, const Ciphertext& base) {
    powers_.resize(1u << kWindowBits);
    powers_[0] = 1;
    powers_[1] = base.value;
    for (std::size_t d = 2; d < powers_.size(); ++d)
        powers_[d] = powers_[d - 1] * base.value % key.n_squared();
}

Ciphertext multi_exponentiate(const PublicKey& key, std::span<const PowerTable* const> tables,
                              std::span<const mpz_class* const> exponents, unsigned max_bits) {
    if (tables.size() != exponents.size())
        throw PaillierError("paillier: multi-exponentiation needs one exponent per base");
    for (const mpz_class* e : exponents)
        if (*e < 0 || mpz_sizeinbase(e->get_mpz_t(), 2) > max_bits)
            throw PaillierError("paillier: multi-exponentiation exponent out of range");
    constexpr unsigned w = PowerTable::kWindowBits;
    const unsigned windows = (max_bits + w - 1) / w;
    const mpz_class& modulus = key.n_squared();
    mpz_class accumulator = 1;
    bool started = false;  // skip squaring 1
    for (unsigned window = windows; window-- > 0;) {
        if (started)
            for (unsigned s = 0; s < w; ++s) {
                mpz_mul(accumulator.get_mpz_t(), accumulator.get_mpz_t(), accumulator.get_mpz_t());
                mpz_mod(accumulator.get_mpz_t(), accumulator.get_mpz_t(), modulus.get_mpz_t());
            }
        for (std::size_t i = 0; i < tables.size(); ++i) {
            unsigned digit = 0;
            for (unsigned b = 0; b < w; ++b)
                digit |=
                    static_cast<unsigned>(mpz_tstbit(exponents[i]->get_mpz_t(), window * w + b))
                    << b;
            if (digit == 0) continue;
            mpz_mul(accumulator.get_mpz_t(), accumulator.get_mpz_t(),
                    tables[i]->power(digit).get_mpz_t());
            mpz_mod(accumulator.get_mpz_t(), accumulator.get_mpz_t(), modulus.get_mpz_t());
            started = true;
        }
    }
    return Ciphertext{accumulator};
}

}  // namespace henn::paillier
