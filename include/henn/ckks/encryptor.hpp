// Encryption (public or secret key) and decryption.
#pragma once

#include <memory>
#include <mutex>
#include <optional>

#include "henn/ckks/keys.hpp"
#include "henn/ckks/objects.hpp"

namespace henn::ckks {

class Encryptor {
  public:
    // Public-key encryption: anyone holding the public key can encrypt.
    Encryptor(ContextPtr context, PublicKey public_key);
    // Secret-key encryption: smaller noise, and c_1 can be stored as a 32-byte seed.
    Encryptor(ContextPtr context, const SecretKey& secret_key);

    // Encrypts at the plaintext's level, scale and slot count. Thread-safe.
    Ciphertext encrypt(const Plaintext& plaintext) const;

    // Draws the encryption randomness from a fixed seed instead of the OS: tests only.
    void use_test_only_seed(const math::Seed& seed);

  private:
    math::Seed fresh_seed() const;
    ContextPtr context_;
    std::optional<PublicKey> public_key_;
    std::optional<SecretKey> secret_key_;
    mutable std::mutex test_mutex_;
    mutable std::unique_ptr<math::Prng> test_prng_;
};

class Decryptor {
  public:
    Decryptor(ContextPtr context, SecretKey secret_key);
    // Works on ciphertexts of size 2 or 3 (before relinearization).
    Plaintext decrypt(const Ciphertext& ciphertext) const;

  private:
    ContextPtr context_;
    SecretKey secret_key_;
};

}  // namespace henn::ckks
