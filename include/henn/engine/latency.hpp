// Latency packing: one sample in one ciphertext (several when the slots allow), every fused
// linear stage one LinearTransform of one level (generalized diagonals of the stage's matrix,
// baby-step giant-step, double hoisting), every activation elementwise on all slots.
//
// The compiler places each value of each stage in a slot of the sample's region (`region`
// slots, a power of two; sample i uses slots [i * region, (i + 1) * region)):
// - the input image row-major, channel after channel;
// - a run of convolutions and pools keeps the input's row and column strides multiplied by its
//   own strides (outputs stay where their receptive field starts, with gaps after a stride, as in
//   Orion's multiplexed layout), and each output channel goes to the smallest offset whose
//   positions are still free, so channels fill each other's gaps; a convolution then needs one
//   diagonal per (input channel, output channel, kernel tap), whatever its stride and padding;
// - a run that ends in a dense layer writes its outputs compactly, either directly (one diagonal
//   per distinct input-slot minus output offset) or "folded": output r collects its inputs of
//   slot block b at slot r + fold * b (fewer than 2 * fold diagonals), and a rotate-and-sum over
//   the region's blocks adds the partial sums (log2(region / fold) rotations); the cost model
//   of the BSGS planner picks.
// The client may encrypt several copies of the input (LoLa's move of work to the client): when the
// first stage is a convolution, output channels that read their own copy at the same offset share
// every diagonal, one per (input channel, kernel tap) instead of one per (input channel, output
// channel, tap). The compiler picks the number of copies with the cost model (fewer key switches
// per ciphertext, fewer samples per ciphertext when the region grows).
// Flatten moves nothing: the next stage's matrix reads the slots where the values are.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace henn::ckks {
class KeyGenerator;
struct EvaluationKeys;
}  // namespace henn::ckks

namespace henn::engine {

class CompiledModel;

struct LatencyStageLayout {
    // Linear stages: the slot (within a sample's region) of every output. Activations: empty
    // (they keep their input's slots).
    std::vector<std::int64_t> output_slot;
    // 0: direct. Otherwise the block size of the folded form (a power of two dividing region).
    std::int64_t fold = 0;
    // The first stage only, when the input comes in several copies: the copy (an index into
    // LatencyLayout::input_copies) each output reads. Empty: copy 0.
    std::vector<std::uint32_t> input_copy;
};

struct LatencyLayout {
    std::int64_t region = 0;               // slots per sample, a power of two
    std::int64_t samples = 1;              // samples per ciphertext: N/2 / region
    std::vector<std::int64_t> input_slot;  // per model input
    // Offsets of the copies of the input the client encrypts (the first 0): copy j holds input i
    // at input_copies[j] + input_slot[i].
    std::vector<std::int64_t> input_copies{0};
    std::vector<LatencyStageLayout> stages;  // per stage of the program
    // The reference of benchmarks: one rotation per diagonal, no hoisting (Method::Naive).
    bool naive_diagonals = false;

    // Slots of the values a stage produces (the last linear stage's output slots for an
    // activation).
    const std::vector<std::int64_t>& slots_after(std::size_t stage) const;
    const std::vector<std::int64_t>& output_slot() const { return slots_after(stages.size() - 1); }
};

// The evaluation keys a compiled model needs, made with `keygen`, each stopping at the highest
// level it is used at: the relinearization key at the highest level an activation starts from
// (products happen only in activations, from their input level down); in latency packing every
// rotation key at its steps' level (KeyRequirements::rotation_levels, known from the plan) and
// the conjugation key at the top; in batch packing the conjugation key (complex-slot squares,
// inside activations) at the activation level. Same keys a session needs, fewer bytes
// (KeySwitchKey::at_level).
std::shared_ptr<ckks::EvaluationKeys> make_evaluation_keys(const CompiledModel& model,
                                                           ckks::KeyGenerator& keygen);
// The highest level an activation stage starts from (-1 without activations).
int highest_activation_level(const CompiledModel& model);

}  // namespace henn::engine
