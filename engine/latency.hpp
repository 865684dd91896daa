// Private to henn_engine: the latency packing's planner, its prepared program and its wire form.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "henn/circuits/linear_transform.hpp"
#include "henn/ckks/objects.hpp"
#include "henn/engine/compiled_model.hpp"
#include "henn/engine/latency.hpp"
#include "henn/nn/model.hpp"
#include "wire.hpp"

namespace henn::engine {

// What a session evaluates, prepared once per compiled model (at compile or load).
class LatencyProgram {
  public:
    struct Stage {
        std::unique_ptr<circuits::LinearTransform> transform;  // null for activations
        std::int64_t fold_blocks = 0, fold_stride = 0;         // rotate-and-sum after it (0: none)
        std::optional<ckks::Plaintext> bias;                   // added after (at the output level)
        std::size_t key_switches = 0;                          // per evaluation of the stage
    };
    std::vector<Stage> stages;
    circuits::RotationKeyPlan keys;
    std::size_t plaintext_bytes = 0;
};

namespace detail {

// Slots of every value of every stage for the model's stages on `slots` slots, with the fold
// chosen by the BSGS cost model at each stage's level (levels must be set), and the input in
// `input_copies` copies (0: the number the cost model finds cheapest). Throws CompileError
// naming the stage when its values cannot fit the slots.
LatencyLayout plan_latency_layout(const nn::Model& model, const std::vector<StagePlan>& stages,
                                  const ckks::Context& context, bool naive_diagonals,
                                  int input_copies);

// The diagonals of linear stage `stage` of a layout on `slots` slots (every sample's region).
// FormatError when there would be more than `max_diagonals` (a stored layout that would exhaust
// memory).
circuits::Diagonals latency_diagonals(const LatencyLayout& layout, const LinearStage& l,
                                      std::size_t stage, std::int64_t slots,
                                      std::size_t max_diagonals);

// Blocks a folded stage's rotate-and-sum adds (1 when not folded): those up to its last input,
// a power of two (output r is right at slot r only).
std::int64_t fold_blocks(const LatencyLayout& layout, std::size_t stage);

// Memory allowed for the encoded diagonals of one linear stage (compile refuses more, load too).
extern const double kMaxPlaintextBytes;

void write_latency_layout(Writer& w, const LatencyLayout& layout);
// The version of the compiled-model format a layout needs: 4 with copies of the input, else 3.
std::uint16_t latency_layout_version(const LatencyLayout& layout);
// Reads (in the compiled-model format `version`) and validates against the stages (counts,
// ranges, distinct slots, folds, copies); FormatError.
LatencyLayout read_latency_layout(Reader& r, const std::vector<StagePlan>& stages,
                                  std::int64_t input_size, std::int64_t slots,
                                  std::uint16_t version);

}  // namespace detail
}  // namespace henn::engine
