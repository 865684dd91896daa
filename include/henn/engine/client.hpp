// The client of encrypted inference: it owns the secret key of one compiled model, encrypts
// batches of inputs and decrypts the outputs. The secret key never leaves this object except
// through save_secret_key(), for the client's own storage.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "henn/ckks/encoder.hpp"
#include "henn/ckks/encryptor.hpp"
#include "henn/ckks/keys.hpp"
#include "henn/engine/compiled_model.hpp"

namespace henn::engine {

// Ciphertexts of one batch: one per input feature (or output), `samples` samples in the slots.
struct EncryptedBatch {
    std::uint64_t model_hash = 0;
    std::int64_t samples = 0;
    std::vector<ckks::Ciphertext> ciphertexts;
};

enum class BundleKind : std::uint8_t { inputs = 1, outputs = 2 };

// Versioned container of batches (magic, model hash, kind, counts, then ckks blobs). The loader
// checks everything against the compiled model: model hash, parameter hash, counts, levels,
// scales and slot counts, and throws FormatError or KeyMismatchError with what is wrong.
std::vector<std::uint8_t> save_batches(const CompiledModel& model,
                                       std::span<const EncryptedBatch> batches, BundleKind kind);
std::vector<EncryptedBatch> load_batches(const CompiledModel& model,
                                         std::span<const std::uint8_t> bytes, BundleKind kind);
// save_batches(...).size(), computed one ciphertext at a time without building the bundle (a
// client measuring its upload need not hold the serialized batch beside the ciphertexts).
std::uint64_t saved_batches_bytes(const CompiledModel& model,
                                  std::span<const EncryptedBatch> batches);

// Evaluation keys of a compiled model, as a server receives them.
struct EvaluationKeyBundle {
    std::uint64_t model_hash = 0;
    std::shared_ptr<const ckks::EvaluationKeys> keys;
};
std::vector<std::uint8_t> save_evaluation_keys(const CompiledModel& model,
                                               const EvaluationKeyBundle& keys);
EvaluationKeyBundle load_evaluation_keys(const CompiledModel& model,
                                         std::span<const std::uint8_t> bytes);

class Client {
  public:
    // Fresh keys from OS randomness.
    explicit Client(CompiledModelPtr model);
    // Keys from a saved secret key (save_secret_key()); KeyMismatchError for another model.
    Client(CompiledModelPtr model, std::span<const std::uint8_t> secret_key);
    // Deterministic keys and encryption randomness: tests and reproducible benchmarks only.
    static Client with_test_only_seed(CompiledModelPtr model, std::uint64_t seed);

    const CompiledModel& model() const { return *model_; }

    // What the server needs, generated once per client.
    EvaluationKeyBundle evaluation_keys() const;
    // The secret key, tagged with the model's hash, for the client's own storage (mode 0600).
    std::vector<std::uint8_t> save_secret_key() const;
    // A fresh public key (an encryption of zero): a server re-randomizes outputs with it
    // (model_privacy.hpp). Defined in model_privacy.cpp.
    ckks::PublicKey public_key() const;

    // `count` samples of model().input_size() values each, sample after sample; split into
    // batches of model().batch_size(), the last one padded with zeros.
    std::vector<EncryptedBatch> encrypt(std::span<const double> inputs, std::int64_t count) const;
    // Outputs, sample after sample (count x model().output_size()), padding dropped.
    std::vector<double> decrypt(std::span<const EncryptedBatch> outputs) const;
    // Any intermediate ciphertexts of one batch: values[i][sample] (for tracing and tests).
    std::vector<std::vector<double>> decrypt_values(std::span<const ckks::Ciphertext> ciphertexts,
                                                    std::int64_t samples) const;
    // The values of stage `stage` of one batch from the ciphertexts a session traced for it:
    // values[i][sample] for the stage's i-th value (decrypt_values in batch packing; latency
    // packing reads the slots the layout gives them).
    std::vector<std::vector<double>> decrypt_stage(std::size_t stage,
                                                   std::span<const ckks::Ciphertext> ciphertexts,
                                                   std::int64_t samples) const;

  private:
    Client(CompiledModelPtr model, std::unique_ptr<ckks::KeyGenerator> keygen, bool test_seeded,
           std::uint64_t seed);
    // Latency packing (engine/latency_client.cpp): one ciphertext per batch of samples.
    std::vector<EncryptedBatch> encrypt_latency(std::span<const double> inputs,
                                                std::int64_t count) const;
    std::vector<double> decrypt_latency(std::span<const EncryptedBatch> outputs) const;
    CompiledModelPtr model_;
    std::unique_ptr<ckks::KeyGenerator> keygen_;
    ckks::Encoder encoder_;
    std::unique_ptr<ckks::Encryptor> encryptor_;
    std::unique_ptr<ckks::Decryptor> decryptor_;
    mutable std::shared_ptr<const ckks::EvaluationKeys> eval_keys_;
};

}  // namespace henn::engine
