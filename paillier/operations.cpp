#include "henn/paillier/noise.hpp"
#include "henn/paillier/paillier.hpp"

namespace henn::paillier {

namespace {
// (1 + m n) mod n^2 for a residue m in [0, n): the noiseless encoding of m under g = n + 1.
mpz_class plain_factor(const mpz_class& m, const PublicKey& key) {
    mpz_class f = m * key.n() + 1;
    mpz_mod(f.get_mpz_t(), f.get_mpz_t(), key.n_squared().get_mpz_t());
    return f;
}
}  // namespace

Ciphertext PublicKey::encrypt(const mpz_class& m) const {
    if (m < 0 || m >= n_) throw PaillierError("paillier: plaintext residue outside [0, n)");
    return Ciphertext{plain_factor(m, *this) * noise().next() % n_squared_};
}

Ciphertext PublicKey::encrypt_signed(const mpz_class& m) const {
    if (abs(m) > half_n_) throw PaillierError("paillier: signed plaintext exceeds n/2");
    return encrypt(to_residue(m));
}

Ciphertext PublicKey::trivial(const mpz_class& m) const {
    return Ciphertext{plain_factor(to_residue(m), *this)};
}

Ciphertext PublicKey::add(const Ciphertext& a, const Ciphertext& b) const {
    return Ciphertext{a.value * b.value % n_squared_};
}

Ciphertext PublicKey::negate(const Ciphertext& a) const {
    Ciphertext r;
    if (mpz_invert(r.value.get_mpz_t(), a.value.get_mpz_t(), n_squared_.get_mpz_t()) == 0)
        throw PaillierError("paillier: ciphertext is not invertible modulo n^2");
    return r;
}

Ciphertext PublicKey::sub(const Ciphertext& a, const Ciphertext& b) const {
    return add(a, negate(b));
}

Ciphertext PublicKey::add_plain(const Ciphertext& a, const mpz_class& m) const {
    return Ciphertext{a.value * plain_factor(to_residue(m), *this) % n_squared_};
}

Ciphertext PublicKey::mul_plain(const Ciphertext& a, const mpz_class& k) const {
    if (k == 0) return trivial(0);
    // Small negative multipliers: exponentiate by |k| and invert, far cheaper than by n - |k|.
    Ciphertext r;
    mpz_class magnitude = abs(k);
    mpz_powm(r.value.get_mpz_t(), a.value.get_mpz_t(), magnitude.get_mpz_t(),
             n_squared_.get_mpz_t());
    return k < 0 ? negate(r) : r;
}

Ciphertext PublicKey::rerandomize(const Ciphertext& a) const {
    return Ciphertext{a.value * noise().next() % n_squared_};
}

Ciphertext PublicKey::linear_combination(std::span<const Ciphertext> terms,
                                         std::span<const mpz_class> coefficients) const {
    if (terms.size() != coefficients.size())
        throw PaillierError("paillier: linear combination needs one coefficient per term");
    mpz_class positive = 1, negative = 1, power, magnitude;
    for (std::size_t i = 0; i < terms.size(); ++i) {
        const mpz_class& k = coefficients[i];
        if (k == 0) continue;
        magnitude = abs(k);
        mpz_powm(power.get_mpz_t(), terms[i].value.get_mpz_t(), magnitude.get_mpz_t(),
                 n_squared_.get_mpz_t());
        mpz_class& target = k > 0 ? positive : negative;
        target = target * power % n_squared_;
    }
    if (negative == 1) return Ciphertext{positive};
    return add(Ciphertext{positive}, negate(Ciphertext{negative}));
}

}  // namespace henn::paillier
