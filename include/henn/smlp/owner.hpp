// The data owner: encrypts the training set, the initial model and queries under its key, and
// decrypts the trained model and the scores. Only this role (and S2) ever sees the secret key.
#pragma once

#include "henn/paillier/encoding.hpp"
#include "henn/smlp/cloud.hpp"
#include "henn/smlp/plain.hpp"

namespace henn::smlp {

class Owner {
  public:
    Owner(paillier::SecretKey key, FixedPointConfig config);

    const paillier::PublicKey& public_key() const { return key_.public_key(); }
    const paillier::SecretKey& secret_key() const { return key_; }
    const FixedPointConfig& config() const { return config_; }

    EncryptedDataset encrypt(const Dataset& data) const;
    // Features only (for classification queries).
    std::vector<Ciphertext> encrypt_features(const Dataset& data) const;
    EncryptedModel encrypt(const PlainModel& model) const;
    PlainModel decrypt(const EncryptedModel& model) const;
    std::vector<double> decrypt_scores(const std::vector<Ciphertext>& scores) const;

  private:
    std::vector<Ciphertext> encrypt_values(const std::vector<double>& values) const;
    paillier::SecretKey key_;
    FixedPointConfig config_;
    paillier::FixedPointEncoder operand_encoder_;  // refuses values beyond operand_bits
};

}  // namespace henn::smlp
