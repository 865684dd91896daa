// Latency packing on the server: every linear stage one LinearTransform (and a rotate-and-sum
// when folded), every activation one polynomial evaluation on all slots.
#include <cmath>

#include "henn/engine/errors.hpp"
#include "henn/engine/latency.hpp"
#include "henn/engine/session.hpp"
#include "latency.hpp"

namespace henn::engine {
namespace {
bool same_scale(double a, double b) {
    return std::abs(a - b) <= 1e-9 * std::max(std::abs(a), std::abs(b));
}
}  // namespace

EncryptedBatch Session::run_latency(EncryptedBatch inputs, const RunOptions& options) const {
    const CompiledModel& m = *model_;
    const ckks::Context& ctx = *m.context();
    const LatencyProgram& program = *m.latency_program();
    if (inputs.model_hash != m.hash())
        throw KeyMismatchError("the input ciphertexts were made for another compiled model");
    if (inputs.ciphertexts.size() != 1) {
        throw FormatError("run: " + std::to_string(inputs.ciphertexts.size()) +
                          " input ciphertexts, latency packing takes one per batch");
    }
    if (inputs.samples <= 0 || inputs.samples > m.batch_size())
        throw FormatError("run: bad sample count");
    // Keys that stop below the level they are used at are refused before any work, naming the
    // key (the evaluator would refuse them too, mid-run).
    if (keys_) {
        const std::size_t p_count = ctx.p_count();
        for (const auto& [step, level] : m.keys().rotation_levels) {
            const auto it = keys_->galois.keys.find(ctx.galois_element_for_rotation(step));
            if (it == keys_->galois.keys.end()) continue;  // missing: the constructor refuses
            const int key_level = it->second.max_level(p_count);
            if (key_level < level) {
                throw KeyMismatchError("the rotation key for step " + std::to_string(step) +
                                       " stops at level " + std::to_string(key_level) +
                                       "; this model uses it at level " + std::to_string(level));
            }
        }
        if (keys_->relinearization) {
            const int key_level = keys_->relinearization->key.max_level(p_count);
            for (const StagePlan& s : m.stages()) {
                if (std::holds_alternative<ActivationStage>(s.op) && key_level < s.level_in) {
                    throw KeyMismatchError("the relinearization key stops at level " +
                                           std::to_string(key_level) + "; stage '" + s.name +
                                           "' uses it at level " + std::to_string(s.level_in));
                }
            }
        }
    }
    ckks::Ciphertext current = std::move(inputs.ciphertexts[0]);
    if (current.parameter_hash != ctx.parameter_hash())
        throw KeyMismatchError("run: the input was encrypted under other parameters");
    if (current.size() != 2 || current.level != m.input_level() ||
        current.slots != ctx.max_slots() || !same_scale(current.scale, m.input_scale())) {
        throw FormatError(
            "run: the input ciphertext is not at the level, scale and slot count of a fresh input "
            "of this model");
    }
    const auto& stages = m.stages();
    for (std::size_t k = 0; k < stages.size(); ++k) {
        if (options.cancel && options.cancel->load()) throw EngineError("cancelled");
        const LatencyProgram::Stage& st = program.stages[k];
        if (st.transform) {
            current = st.transform->evaluate(evaluator_, current);
            if (st.fold_blocks > 1) {
                current = circuits::inner_sum(evaluator_, current,
                                              static_cast<std::size_t>(st.fold_blocks),
                                              static_cast<std::size_t>(st.fold_stride));
            }
            if (st.bias) evaluator_.add_plain_inplace(current, *st.bias);
        } else {
            std::vector<ckks::Ciphertext> one;
            one.push_back(std::move(current));
            current = std::move(activate(k, std::move(one))[0]);
        }
        const StagePlan& done = stages[k];
        if (current.level != done.level_out || !same_scale(current.scale, done.scale_out)) {
            throw EngineError("internal: stage '" + done.name + "' produced level " +
                              std::to_string(current.level) + ", scale 2^" +
                              std::to_string(std::log2(current.scale)) + "; the plan says level " +
                              std::to_string(done.level_out) + ", scale 2^" +
                              std::to_string(std::log2(done.scale_out)));
        }
        if (options.progress) options.progress(k, 1, 1);
        if (options.trace) options.trace(k, std::vector<ckks::Ciphertext>{current});
    }
    EncryptedBatch out;
    out.model_hash = m.hash();
    out.samples = inputs.samples;
    out.ciphertexts.push_back(std::move(current));
    return out;
}

}  // namespace henn::engine
