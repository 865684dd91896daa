// Latency packing: the program a compiled model prepares once (transforms with their encoded
// diagonals, biases, rotation keys).
#include <algorithm>
#include <sstream>

#include "henn/ckks/encoder.hpp"
#include "henn/engine/errors.hpp"
#include "latency.hpp"
#include "lowering.hpp"
#include "planning.hpp"

namespace henn::engine {
namespace {
// Limb-passes per byte of rotation key: a key of 1 MiB weighs about 100 limb-passes, so a split
// that needs fewer new keys wins unless it costs many more passes (CryptoNets at N = 2^13: 46
// keys of 45 MB instead of 48 of 56 MB, with fewer key switches and about the same time).
constexpr double kKeyByteWeight = 1e-4;
}  // namespace

void CompiledModel::finish_latency() {
    if (!latency_layout_) throw EngineError("internal: latency packing without a layout");
    const ckks::Context& ctx = *context_;
    const LatencyLayout& layout = *latency_layout_;
    const auto slots = static_cast<std::int64_t>(ctx.max_slots());
    const std::int64_t region = layout.region;
    ckks::Encoder encoder(context_);
    auto program = std::make_shared<LatencyProgram>();
    std::vector<circuits::RotationUse> uses;
    auto keyed_steps = [&uses] {
        std::vector<int> steps;
        for (const auto& u : uses) steps.insert(steps.end(), u.steps.begin(), u.steps.end());
        std::sort(steps.begin(), steps.end());
        steps.erase(std::unique(steps.begin(), steps.end()), steps.end());
        return steps;
    };
    for (std::size_t k = 0; k < stages_.size(); ++k) {
        StagePlan& s = stages_[k];
        LatencyProgram::Stage st;
        if (const auto* a = std::get_if<ActivationStage>(&s.op)) {
            // One ciphertext holds the whole stage.
            if (a->width > 0) {
                s.ct_multiplications /= a->width;
                s.key_switches /= a->width;
            }
            program->stages.push_back(std::move(st));
            continue;
        }
        const auto& l = std::get<LinearStage>(s.op);
        const auto& slot_layout = layout.stages[k];
        const double bytes_per_diagonal =
            static_cast<double>(s.level_in + 1 + static_cast<int>(ctx.p_count())) *
            static_cast<double>(ctx.n()) * 8.0;
        circuits::Diagonals d = detail::latency_diagonals(
            layout, l, k, slots,
            static_cast<std::size_t>(detail::kMaxPlaintextBytes / bytes_per_diagonal));
        if (d.diagonals.empty())
            d.diagonals[0].assign(static_cast<std::size_t>(slots), 0.0);  // an all-zero map
        circuits::LinearTransform::Options options;
        options.level = s.level_in;
        options.scale = detail::linear_constant_scale(
            static_cast<double>(ctx.q()[s.level_in].value()), input_scale_, s.scale_in);
        // Keys weigh in the BSGS split (their upload is paid once per client, their memory on
        // the server per client too); steps an earlier stage keyed already are free here, so
        // the stages converge on shared rotations.
        options.cost.key_byte_weight = kKeyByteWeight;
        options.cost.keyed_steps = keyed_steps();
        // Convolutions give runs of diagonals one image row apart: grid splits fit them.
        options.cost.grid_splits = true;
        options.method = layout.naive_diagonals ? circuits::LinearTransform::Method::Naive
                                                : circuits::LinearTransform::Method::Bsgs;
        st.transform = std::make_unique<circuits::LinearTransform>(encoder, d, options);
        d = circuits::Diagonals();
        uses.push_back({st.transform->rotation_steps(), s.level_in, false});
        st.key_switches = st.transform->key_switches();
        program->plaintext_bytes += st.transform->plaintext_bytes();
        std::ostringstream detail;
        detail << l.inputs << " -> " << l.outputs << ", " << st.transform->diagonal_count()
               << " diagonals, ";
        if (layout.naive_diagonals) {
            detail << "naive: " << st.transform->key_switches() << " rotations";
        } else {
            detail << st.transform->plan().describe();
        }
        if (slot_layout.fold) {
            st.fold_stride = slot_layout.fold;
            st.fold_blocks = detail::fold_blocks(layout, k);
            const auto steps = circuits::inner_sum_steps(static_cast<std::size_t>(st.fold_blocks),
                                                         static_cast<std::size_t>(st.fold_stride),
                                                         static_cast<std::size_t>(slots));
            uses.push_back({steps, s.level_out, false});
            st.key_switches += steps.size();
            detail << ", folded in blocks of " << slot_layout.fold << " (+" << steps.size()
                   << " rotations)";
        }
        bool has_bias = false;
        for (double b : l.bias) has_bias = has_bias || b != 0.0;
        if (has_bias) {
            // At the outputs' slots only (a folded stage's other slots hold partial sums).
            std::vector<double> v(static_cast<std::size_t>(slots), 0.0);
            for (std::int64_t i = 0; i < layout.samples; ++i) {
                for (std::int64_t r = 0; r < l.outputs; ++r)
                    v[static_cast<std::size_t>(slot_layout.output_slot[r] + i * region)] =
                        l.bias[r];
            }
            st.bias = encoder.encode(v, s.level_out, s.scale_out);
        }
        s.key_switches = static_cast<std::int64_t>(st.key_switches);
        s.detail = detail.str();
        program->stages.push_back(std::move(st));
    }
    program->keys = circuits::plan_rotation_keys(ctx, uses, static_cast<std::size_t>(slots));
    keys_.rotations = program->keys.steps();
    keys_.rotation_levels = program->keys.keys;
    latency_program_ = std::move(program);
}

}  // namespace henn::engine
