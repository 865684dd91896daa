#include <openssl/crypto.h>

#include <mutex>

#include "henn/paillier/noise.hpp"
#include "henn/paillier/paillier.hpp"
#include "henn/paillier/random.hpp"

namespace henn::paillier {

// Built lazily: the table costs a few tens of milliseconds and is only needed to encrypt.
class NoiseHolder {
  public:
    std::once_flag once;
    std::unique_ptr<NoiseSource> source;
};

void wipe(mpz_class& value) {
    mpz_ptr raw = value.get_mpz_t();
    if (raw->_mp_alloc > 0 && raw->_mp_d != nullptr)
        OPENSSL_cleanse(raw->_mp_d, static_cast<std::size_t>(raw->_mp_alloc) * sizeof(mp_limb_t));
    raw->_mp_size = 0;
}

bool is_accepted_modulus_size(unsigned modulus_bits, bool allow_test_only_sizes) {
    if (modulus_bits == 2048 || modulus_bits == 3072) return true;
    return allow_test_only_sizes && modulus_bits == kTestOnlyModulusBits;
}

namespace {
unsigned bit_length(const mpz_class& v) {
    return v == 0 ? 0 : static_cast<unsigned>(mpz_sizeinbase(v.get_mpz_t(), 2));
}
}  // namespace

PublicKey::PublicKey(mpz_class n, unsigned modulus_bits)
    : n_(std::move(n)), modulus_bits_(modulus_bits), noise_(std::make_shared<NoiseHolder>()) {
    if (modulus_bits_ < kTestOnlyModulusBits || modulus_bits_ % 8 != 0 || modulus_bits_ > 8192)
        throw PaillierError("paillier: unsupported modulus size " + std::to_string(modulus_bits_),
                            ErrorCategory::parameters);
    if (bit_length(n_) != modulus_bits_)
        throw PaillierError("paillier: modulus has " + std::to_string(bit_length(n_)) +
                            " bits, expected " + std::to_string(modulus_bits_));
    if (mpz_even_p(n_.get_mpz_t())) throw PaillierError("paillier: modulus is even");
    n_squared_ = n_ * n_;
    half_n_ = n_ / 2;
    ciphertext_bytes_ = (bit_length(n_squared_) + 7) / 8;
}

NoiseSource& PublicKey::noise() const {
    std::call_once(noise_->once, [this] {
        noise_->source = std::make_unique<NoiseSource>(n_, n_squared_, modulus_bits_);
    });
    return *noise_->source;
}

mpz_class PublicKey::to_residue(const mpz_class& m) const {
    mpz_class r;
    mpz_mod(r.get_mpz_t(), m.get_mpz_t(), n_.get_mpz_t());
    return r;
}

mpz_class PublicKey::to_signed(const mpz_class& residue) const {
    return residue > half_n_ ? mpz_class(residue - n_) : residue;
}

void PublicKey::check_ciphertext(const Ciphertext& c) const {
    if (c.value <= 0 || c.value >= n_squared_)
        throw PaillierError("paillier: ciphertext out of range (must be in (0, n^2))");
    mpz_class g;
    mpz_gcd(g.get_mpz_t(), c.value.get_mpz_t(), n_.get_mpz_t());
    if (g != 1) throw PaillierError("paillier: ciphertext is not a unit modulo n^2");
}

SecretKey::SecretKey(mpz_class p, mpz_class q, unsigned modulus_bits)
    : p_(std::move(p)), q_(std::move(q)), public_key_(p_ * q_, modulus_bits) {
    const unsigned half = modulus_bits / 2;
    if (bit_length(p_) != half || bit_length(q_) != half)
        throw PaillierError("paillier: secret primes must have " + std::to_string(half) + " bits");
    if (p_ == q_) throw PaillierError("paillier: secret primes are equal");
    if (mpz_probab_prime_p(p_.get_mpz_t(), 30) == 0 || mpz_probab_prime_p(q_.get_mpz_t(), 30) == 0)
        throw PaillierError("paillier: secret factor is not prime");
    p_squared_ = p_ * p_;
    q_squared_ = q_ * q_;
    p_minus_1_ = p_ - 1;
    q_minus_1_ = q_ - 1;
    // With g = n + 1: L_p(g^(p-1) mod p^2) = (p-1) q mod p, so h_p is its inverse mod p.
    auto h_for = [&](const mpz_class& prime, const mpz_class& other) {
        mpz_class l = (prime - 1) * other % prime, h;
        if (mpz_invert(h.get_mpz_t(), l.get_mpz_t(), prime.get_mpz_t()) == 0)
            throw PaillierError("paillier: invalid secret key (no CRT inverse)");
        return h;
    };
    hp_ = h_for(p_, q_);
    hq_ = h_for(q_, p_);
    if (mpz_invert(p_inverse_mod_q_.get_mpz_t(), p_.get_mpz_t(), q_.get_mpz_t()) == 0)
        throw PaillierError("paillier: invalid secret key (p not invertible mod q)");
}

SecretKey::SecretKey(const SecretKey& other)
    : p_(other.p_),
      q_(other.q_),
      p_squared_(other.p_squared_),
      q_squared_(other.q_squared_),
      p_minus_1_(other.p_minus_1_),
      q_minus_1_(other.q_minus_1_),
      hp_(other.hp_),
      hq_(other.hq_),
      p_inverse_mod_q_(other.p_inverse_mod_q_),
      public_key_(other.public_key_) {}

SecretKey::~SecretKey() {
    for (mpz_class* secret : {&p_, &q_, &p_squared_, &q_squared_, &p_minus_1_, &q_minus_1_, &hp_,
                              &hq_, &p_inverse_mod_q_})
        wipe(*secret);
}

mpz_class SecretKey::decrypt_half(const mpz_class& c, const mpz_class& prime,
                                  const mpz_class& prime_sq, const mpz_class& prime_minus_1,
                                  const mpz_class& h) const {
    mpz_class reduced, power;
    mpz_mod(reduced.get_mpz_t(), c.get_mpz_t(), prime_sq.get_mpz_t());
    mpz_powm_sec(power.get_mpz_t(), reduced.get_mpz_t(), prime_minus_1.get_mpz_t(),
                 prime_sq.get_mpz_t());
    mpz_class l = (power - 1) / prime;
    mpz_class m = l * h % prime;
    wipe(reduced);
    wipe(power);
    wipe(l);
    return m;
}

mpz_class SecretKey::decrypt(const Ciphertext& c) const {
    public_key_.check_ciphertext(c);
    mpz_class mp = decrypt_half(c.value, p_, p_squared_, p_minus_1_, hp_);
    mpz_class mq = decrypt_half(c.value, q_, q_squared_, q_minus_1_, hq_);
    // CRT: m = mp + p * ((mq - mp) p^-1 mod q)
    mpz_class t = (mq - mp) * p_inverse_mod_q_;
    mpz_mod(t.get_mpz_t(), t.get_mpz_t(), q_.get_mpz_t());
    mpz_class m = mp + p_ * t;
    wipe(mp);
    wipe(mq);
    wipe(t);
    return m;
}

mpz_class SecretKey::decrypt_bounded(const Ciphertext& c, unsigned bits) const {
    if (std::uint64_t{bits} + 1 >= public_key_.modulus_bits() / 2)  // 64 bits: no wrap at 2^32 - 1
        throw PaillierError("paillier: bounded decryption needs a bound below p");
    public_key_.check_ciphertext(c);
    mpz_class m = decrypt_half(c.value, p_, p_squared_, p_minus_1_, hp_);
    if (mpz_sizeinbase(m.get_mpz_t(), 2) > bits && m != 0) {
        wipe(m);
        throw PaillierError("paillier: plaintext exceeds the announced bound of 2^" +
                            std::to_string(bits));
    }
    return m;
}

mpz_class SecretKey::decrypt_signed(const Ciphertext& c) const {
    return public_key_.to_signed(decrypt(c));
}

namespace {
mpz_class random_prime(unsigned bits) {
    for (;;) {
        mpz_class candidate = random_bits(bits);
        // Top two bits set, so the product of two such primes has exactly 2*bits bits; odd.
        mpz_setbit(candidate.get_mpz_t(), bits - 1);
        mpz_setbit(candidate.get_mpz_t(), bits - 2);
        mpz_setbit(candidate.get_mpz_t(), 0);
        if (mpz_probab_prime_p(candidate.get_mpz_t(), 30) != 0) return candidate;
        wipe(candidate);
    }
}
}  // namespace

KeyPair generate_keypair(const KeyGenOptions& options) {
    if (!is_accepted_modulus_size(options.modulus_bits, options.allow_test_only_sizes))
        throw PaillierError("paillier: modulus size " + std::to_string(options.modulus_bits) +
                                " refused (use 2048 or 3072; 1024 only for tests, explicitly)",
                            ErrorCategory::parameters);
    const unsigned half = options.modulus_bits / 2;
    for (;;) {
        mpz_class p = random_prime(half);
        mpz_class q = random_prime(half);
        if (p == q) continue;
        // Equal-size primes make gcd(pq, (p-1)(q-1)) = 1 automatically; check anyway.
        mpz_class n = p * q, phi = (p - 1) * (q - 1), g;
        mpz_gcd(g.get_mpz_t(), n.get_mpz_t(), phi.get_mpz_t());
        wipe(phi);
        if (g != 1) continue;
        SecretKey secret(p, q, options.modulus_bits);
        wipe(p);
        wipe(q);
        PublicKey pub = secret.public_key();
        return KeyPair{std::move(pub), std::move(secret)};
    }
}

}  // namespace henn::paillier
