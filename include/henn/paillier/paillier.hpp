// Paillier cryptosystem on GMP: keys, encryption, CRT decryption, homomorphic operations.
//
// Plaintexts are residues modulo n; the generator is g = n + 1, so encryption is
// c = (1 + m n) * r^n mod n^2. The random factor r^n comes from a NoiseSource, which precomputes a
// fixed-base table so that a fresh factor costs a few hundred modular products instead of a full
// exponentiation. Decryption uses the CRT over p^2 and q^2 with GMP's side-channel-resistant
// mpz_powm_sec, and secret key material is wiped from memory when freed.
#pragma once

#include <gmpxx.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "henn/error.hpp"

namespace henn::paillier {

// Every failure of this layer throws this: category crypto, parameters for bad parameters, data
// for invalid bytes, io for unreadable files.
struct PaillierError : ::henn::Error {
    explicit PaillierError(const std::string& message,
                           ErrorCategory category = ErrorCategory::crypto)
        : ::henn::Error(category, message) {}
};

// Modulus sizes: 2048 (default, ~112-bit security per NIST SP 800-57) and 3072 (~128-bit).
inline constexpr unsigned kDefaultModulusBits = 2048;
// 1024-bit keys are insecure; only tests may ask for them, explicitly.
inline constexpr unsigned kTestOnlyModulusBits = 1024;

struct Ciphertext {
    mpz_class value;
};

class NoiseSource;

class PublicKey {
  public:
    // Validates n: odd, exactly `modulus_bits` bits, an accepted size.
    PublicKey(mpz_class n, unsigned modulus_bits);

    const mpz_class& n() const { return n_; }
    const mpz_class& n_squared() const { return n_squared_; }
    unsigned modulus_bits() const { return modulus_bits_; }
    // Bytes of a residue modulo n^2 (fixed width of a serialized ciphertext).
    std::size_t ciphertext_bytes() const { return ciphertext_bytes_; }
    bool operator==(const PublicKey& other) const { return n_ == other.n_; }

    // The shared precomputed noise table for this key (built on first use, thread-safe).
    NoiseSource& noise() const;

    // Encrypts a residue m in [0, n) with fresh randomness.
    Ciphertext encrypt(const mpz_class& m) const;
    // Encrypts a signed integer |m| < n/2 (negative values become n - |m|).
    Ciphertext encrypt_signed(const mpz_class& m) const;
    // Deterministic "encryption" with randomness 1: only for constants that are public anyway.
    Ciphertext trivial(const mpz_class& m) const;

    // Homomorphic operations.
    Ciphertext add(const Ciphertext& a, const Ciphertext& b) const;
    Ciphertext sub(const Ciphertext& a, const Ciphertext& b) const;
    Ciphertext negate(const Ciphertext& a) const;
    Ciphertext add_plain(const Ciphertext& a, const mpz_class& m) const;  // m signed
    Ciphertext mul_plain(const Ciphertext& a, const mpz_class& k) const;  // k signed
    // Multiplies by a fresh encryption of zero, so the result is unlinkable to the input.
    Ciphertext rerandomize(const Ciphertext& a) const;
    // sum_i k_i * a_i (k_i signed), sharing one modular inversion for the negative terms.
    Ciphertext linear_combination(std::span<const Ciphertext> terms,
                                  std::span<const mpz_class> coefficients) const;

    // Reduces a signed integer to its residue in [0, n).
    mpz_class to_residue(const mpz_class& m) const;
    // Lifts a residue in [0, n) to the centered range (-n/2, n/2].
    mpz_class to_signed(const mpz_class& residue) const;
    // Throws unless 0 < c < n^2 and gcd(c, n) = 1 (a well-formed ciphertext).
    void check_ciphertext(const Ciphertext& c) const;

  private:
    mpz_class n_, n_squared_, half_n_;
    unsigned modulus_bits_;
    std::size_t ciphertext_bytes_;
    std::shared_ptr<class NoiseHolder> noise_;
};

class SecretKey {
  public:
    // Validates p and q: distinct probable primes of modulus_bits/2 bits whose product has
    // exactly modulus_bits bits.
    SecretKey(mpz_class p, mpz_class q, unsigned modulus_bits);
    ~SecretKey();
    SecretKey(const SecretKey&);
    SecretKey& operator=(const SecretKey&) = delete;

    const PublicKey& public_key() const { return public_key_; }
    const mpz_class& p() const { return p_; }
    const mpz_class& q() const { return q_; }

    // Residue in [0, n).
    mpz_class decrypt(const Ciphertext& c) const;
    // Centered in (-n/2, n/2].
    mpz_class decrypt_signed(const Ciphertext& c) const;
    // For plaintexts known to be in [0, 2^bits) with bits < modulus_bits/2 - 1: decrypts modulo p
    // only (half the cost of decrypt) and throws PaillierError if the result is not below 2^bits,
    // which is what a larger plaintext almost surely gives.
    mpz_class decrypt_bounded(const Ciphertext& c, unsigned bits) const;

  private:
    mpz_class decrypt_half(const mpz_class& c, const mpz_class& prime, const mpz_class& prime_sq,
                           const mpz_class& prime_minus_1, const mpz_class& h) const;
    mpz_class p_, q_, p_squared_, q_squared_, p_minus_1_, q_minus_1_, hp_, hq_, p_inverse_mod_q_;
    PublicKey public_key_;
};

struct KeyGenOptions {
    unsigned modulus_bits = kDefaultModulusBits;
    // Must be set to accept kTestOnlyModulusBits.
    bool allow_test_only_sizes = false;
};

struct KeyPair {
    PublicKey public_key;
    SecretKey secret_key;
};

KeyPair generate_keypair(const KeyGenOptions& options = {});

// True for 2048 and 3072, and for 1024 when test-only sizes are allowed.
bool is_accepted_modulus_size(unsigned modulus_bits, bool allow_test_only_sizes);

// Overwrites the limbs of a GMP integer before it is freed.
void wipe(mpz_class& value);

}  // namespace henn::paillier
