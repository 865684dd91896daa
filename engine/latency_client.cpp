// Latency packing on the client: samples placed in their regions of one ciphertext, outputs
// read from the slots the layout names.
#include <algorithm>

#include "henn/ckks/keys.hpp"
#include "henn/engine/client.hpp"
#include "henn/engine/errors.hpp"
#include "henn/engine/latency.hpp"

namespace henn::engine {

int highest_activation_level(const CompiledModel& model) {
    int level = -1;  // no activation: the top (make_switch_key's default)
    for (const StagePlan& s : model.stages()) {
        if (std::holds_alternative<ActivationStage>(s.op)) level = std::max(level, s.level_in);
    }
    return level;
}

std::shared_ptr<ckks::EvaluationKeys> make_evaluation_keys(const CompiledModel& model,
                                                           ckks::KeyGenerator& keygen) {
    const KeyRequirements& need = model.keys();
    auto keys = std::make_shared<ckks::EvaluationKeys>();
    const int activation_level = highest_activation_level(model);
    if (need.relinearization) keys->relinearization = keygen.relinearization_key(activation_level);
    if (model.packing() != Packing::latency) {
        // Batch packing conjugates only inside activations (complex-slot squares).
        keys->galois = keygen.galois_keys(need.rotations, false);
        if (need.conjugation)
            keygen.add_levelled_galois_keys(keys->galois, {}, true, activation_level);
        return keys;
    }
    ckks::StepLevels levels;
    for (int step : need.rotations) {
        const auto it = need.rotation_levels.find(step);
        levels[step] = it == need.rotation_levels.end() ? -1 : it->second;  // unknown: the top
    }
    keys->galois = keygen.levelled_galois_keys(levels, need.conjugation);
    return keys;
}

std::vector<EncryptedBatch> Client::encrypt_latency(std::span<const double> inputs,
                                                    std::int64_t count) const {
    const LatencyLayout& layout = *model_->latency_layout();
    const std::int64_t features = model_->input_size(), batch = layout.samples;
    if (count <= 0 || static_cast<std::int64_t>(inputs.size()) != count * features) {
        throw FormatError("encrypt: " + std::to_string(inputs.size()) + " values are not " +
                          std::to_string(count) + " samples of " + std::to_string(features));
    }
    const std::size_t slots = model_->context()->max_slots();
    std::vector<EncryptedBatch> out;
    for (std::int64_t first = 0; first < count; first += batch) {
        EncryptedBatch b;
        b.model_hash = model_->hash();
        b.samples = std::min(batch, count - first);
        std::vector<double> v(slots, 0.0);
        for (std::int64_t i = 0; i < b.samples; ++i) {
            for (std::int64_t copy : layout.input_copies) {
                for (std::int64_t f = 0; f < features; ++f) {
                    v[static_cast<std::size_t>(copy + layout.input_slot[f] + i * layout.region)] =
                        inputs[static_cast<std::size_t>((first + i) * features + f)];
                }
            }
        }
        b.ciphertexts.push_back(
            encryptor_->encrypt(encoder_.encode(v, model_->input_level(), model_->input_scale())));
        out.push_back(std::move(b));
    }
    return out;
}

std::vector<double> Client::decrypt_latency(std::span<const EncryptedBatch> outputs) const {
    const LatencyLayout& layout = *model_->latency_layout();
    const std::int64_t width = model_->output_size();
    const auto& slot = layout.output_slot();
    std::vector<double> out;
    for (const auto& b : outputs) {
        if (b.model_hash != model_->hash())
            throw KeyMismatchError("decrypt: these outputs belong to another compiled model");
        if (b.ciphertexts.size() != 1) {
            throw FormatError("decrypt: " + std::to_string(b.ciphertexts.size()) +
                              " ciphertexts in a batch, latency packing has one");
        }
        if (b.samples <= 0 || b.samples > layout.samples)
            throw FormatError("decrypt: bad sample count");
        std::vector<std::complex<double>> decoded;
        try {
            decoded = encoder_.decode(decryptor_->decrypt(b.ciphertexts[0]));
        } catch (const std::exception& e) {
            throw KeyMismatchError(std::string("decrypt: ") + e.what());
        }
        if (static_cast<std::int64_t>(decoded.size()) < layout.samples * layout.region) {
            throw FormatError("decrypt: the output ciphertext has too few slots");
        }
        for (std::int64_t i = 0; i < b.samples; ++i) {
            for (std::int64_t o = 0; o < width; ++o) {
                out.push_back(
                    decoded[static_cast<std::size_t>(slot[o] + i * layout.region)].real());
            }
        }
    }
    return out;
}

std::vector<std::vector<double>> Client::decrypt_stage(
    std::size_t stage, std::span<const ckks::Ciphertext> ciphertexts, std::int64_t samples) const {
    if (model_->packing() != Packing::latency) return decrypt_values(ciphertexts, samples);
    const LatencyLayout& layout = *model_->latency_layout();
    if (ciphertexts.size() != 1 || stage >= layout.stages.size() || samples <= 0 ||
        samples > layout.samples) {
        throw FormatError(
            "decrypt_stage: latency packing traces one ciphertext per stage of at most " +
            std::to_string(layout.samples) + " samples");
    }
    std::vector<std::complex<double>> decoded;
    try {
        decoded = encoder_.decode(decryptor_->decrypt(ciphertexts[0]));
    } catch (const std::exception& e) {
        throw KeyMismatchError(std::string("decrypt: ") + e.what());
    }
    const auto& slot = layout.slots_after(stage);
    std::vector<std::vector<double>> values(slot.size(),
                                            std::vector<double>(static_cast<std::size_t>(samples)));
    for (std::size_t i = 0; i < slot.size(); ++i) {
        for (std::int64_t j = 0; j < samples; ++j) {
            values[i][static_cast<std::size_t>(j)] =
                decoded[static_cast<std::size_t>(slot[i] + j * layout.region)].real();
        }
    }
    return values;
}

}  // namespace henn::engine
