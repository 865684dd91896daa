// S2, the helper server: holds the decryption key and answers S1's blinded requests.
// Every request is validated (shapes, sizes, parameter ranges, ciphertexts in range) before any
// decryption; a bad request throws SmlpError and leaves the helper usable.
#pragma once

#include <mutex>

#include "henn/paillier/paillier.hpp"
#include "henn/smlp/protocol.hpp"

namespace henn::smlp {

struct HelperLimits {
    std::size_t max_ciphertexts_per_request = 1u << 20;
};

class Helper {
  public:
    explicit Helper(paillier::SecretKey key, HelperLimits limits = {});

    const paillier::PublicKey& public_key() const { return key_.public_key(); }
    MultiplyResponse multiply(const MultiplyRequest& request) const;
    ReluResponse relu(const ReluRequest& request) const;
    RescaleResponse rescale(const RescaleRequest& request) const;

  private:
    void check_count(std::size_t count) const;
    void check_ciphertexts(const std::vector<Ciphertext>& cts) const;
    paillier::SecretKey key_;
    HelperLimits limits_;
};

// In-process link: S1 calls S2 directly. Traffic counts the ciphertexts that a wire format with
// fixed-width ciphertexts would carry.
class LocalHelperLink : public HelperLink {
  public:
    explicit LocalHelperLink(const Helper& helper) : helper_(helper) {}
    MultiplyResponse multiply(const MultiplyRequest& request) override;
    ReluResponse relu(const ReluRequest& request) override;
    RescaleResponse rescale(const RescaleRequest& request) override;
    paillier::PublicKey public_key() override { return helper_.public_key(); }
    Traffic traffic() const override;

  private:
    void count(std::size_t sent, std::size_t received);
    const Helper& helper_;
    mutable std::mutex mutex_;
    Traffic traffic_;
};

}  // namespace henn::smlp
