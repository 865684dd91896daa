#include "henn/smlp/owner.hpp"

namespace henn::smlp {

Owner::Owner(paillier::SecretKey key, FixedPointConfig config)
    : key_(std::move(key)),
      config_(config),
      operand_encoder_(key_.public_key(), config.scale_bits, config.operand_bits) {
    config_.validate(key_.public_key());
}

std::vector<Ciphertext> Owner::encrypt_values(const std::vector<double>& values) const {
    std::vector<Ciphertext> out;
    out.reserve(values.size());
    for (double v : values) out.push_back(public_key().encrypt(operand_encoder_.encode(v)));
    return out;
}

EncryptedDataset Owner::encrypt(const Dataset& data) const {
    EncryptedDataset out;
    out.features = data.features;
    out.outputs = data.outputs;
    out.x = encrypt_values(data.x);
    out.y = encrypt_values(data.y);
    return out;
}

std::vector<Ciphertext> Owner::encrypt_features(const Dataset& data) const {
    return encrypt_values(data.x);
}

EncryptedModel Owner::encrypt(const PlainModel& model) const {
    model.shape.validate();
    EncryptedModel out;
    out.shape = model.shape;
    for (const auto& w : model.weights) out.weights.push_back(encrypt_values(w));
    for (const auto& b : model.biases) out.biases.push_back(encrypt_values(b));
    out.validate();
    return out;
}

PlainModel Owner::decrypt(const EncryptedModel& model) const {
    model.validate();
    const paillier::FixedPointEncoder decoder(public_key(), config_.scale_bits);
    PlainModel out;
    out.shape = model.shape;
    auto decrypt_layer = [&](const std::vector<Ciphertext>& cts) {
        std::vector<double> values;
        for (const auto& c : cts) values.push_back(decoder.decode(key_.decrypt(c)));
        return values;
    };
    for (const auto& w : model.weights) out.weights.push_back(decrypt_layer(w));
    for (const auto& b : model.biases) out.biases.push_back(decrypt_layer(b));
    return out;
}

std::vector<double> Owner::decrypt_scores(const std::vector<Ciphertext>& scores) const {
    const paillier::FixedPointEncoder decoder(public_key(), config_.scale_bits);
    std::vector<double> out;
    for (const auto& c : scores) out.push_back(decoder.decode(key_.decrypt(c)));
    return out;
}

}  // namespace henn::smlp
