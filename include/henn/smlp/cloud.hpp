// S1, the cloud server: stores the owner's encrypted training set and encrypted model, trains and
// classifies with homomorphic linear algebra, and asks S2 (through a HelperLink) for the steps
// Paillier cannot do: products of two ciphertexts, ReLU and rescaling. It never holds a secret key.
#pragma once

#include <functional>
#include <optional>

#include "henn/paillier/paillier.hpp"
#include "henn/smlp/protocol.hpp"

namespace henn::smlp {

struct EncryptedModel {
    ModelShape shape;
    std::vector<std::vector<Ciphertext>> weights, biases;  // per layer, as in PlainModel
    void validate() const;
};

struct EncryptedDataset {
    std::size_t features = 0, outputs = 0;
    std::vector<Ciphertext> x, y;  // rows x features, rows x outputs
    std::size_t rows() const { return features == 0 ? 0 : x.size() / features; }
};

struct EpochReport {
    std::size_t epoch = 0;
    std::size_t samples = 0;
    double seconds = 0;  // wall clock
    double s1_cpu_seconds = 0;
    double s2_cpu_seconds = -1;  // negative when S2 runs in-process (then inside S1's figure)
    Traffic traffic;             // with S2, during this epoch
};

struct TrainingReport {
    std::vector<EpochReport> epochs;
};

class Cloud {
  public:
    // Checks that S2 decrypts under `key` and that the fixed-point layout fits it.
    Cloud(paillier::PublicKey key, FixedPointConfig config, HelperLink& helper);

    const paillier::PublicKey& public_key() const { return key_; }
    const FixedPointConfig& config() const { return config_; }

    void set_model(EncryptedModel model);
    const EncryptedModel& model() const;
    bool has_model() const { return model_.has_value(); }
    // Appends rows (the owner may upload in pieces).
    void add_data(const EncryptedDataset& data);
    std::size_t rows() const { return data_.rows(); }
    void clear_data();

    using EpochCallback = std::function<void(const EpochReport&)>;
    TrainingReport train(const TrainSchedule& schedule, const EpochCallback& on_epoch = {});
    // Encrypted scores (rows x outputs, scale f) for encrypted features (rows x inputs).
    std::vector<Ciphertext> classify(const std::vector<Ciphertext>& features, std::size_t rows);

  private:
    struct Matrix;  // encrypted row-major matrix
    struct ForwardState;
    Matrix product(const Matrix& left, const Matrix& right);
    std::vector<Matrix> products(
        const std::vector<std::pair<const Matrix*, const Matrix*>>& pairs,
        const std::vector<std::pair<const Matrix*, const Matrix*>>& elementwise);
    void relu(const Matrix& wide, Matrix& activation, Matrix& step);
    std::vector<Ciphertext> rescale(const std::vector<Ciphertext>& values,
                                    const std::vector<unsigned>& shifts);
    ForwardState forward(const Matrix& input, bool keep_for_training);
    void train_batch(const std::vector<std::size_t>& rows, const TrainSchedule& schedule);

    paillier::PublicKey key_;
    FixedPointConfig config_;
    HelperLink& helper_;
    std::optional<EncryptedModel> model_;
    EncryptedDataset data_;
};

}  // namespace henn::smlp
