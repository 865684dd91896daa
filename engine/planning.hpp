// Private to henn_engine: the noise estimate and the simulated run shared by compile and load.
#pragma once

#include <vector>

#include "henn/ckks/parameters.hpp"
#include "henn/engine/compiled_model.hpp"

namespace henn::engine::detail {

// Lazy relinearization (batch packing, on request): a square between two linear stages is left as a
// 3-polynomial ciphertext; the next linear stage sums those as they are and relinearizes each of
// its outputs once, after its rescale. One key switch per output of that stage instead of one per
// input: CryptoNets' 845 -> 100 layer needs 100 relinearizations instead of 845. The price is the
// rescale of the unrelinearized square, whose round-off on the third polynomial is multiplied by
// s^2 (estimate_precision_bits charges it, so the scale is chosen with it).
// `lazy`: CompileOptions::lazy_relinearization (batch packing only). Off by default.
bool relinearized_by_consumer(const std::vector<StagePlan>& stages, std::size_t k, bool lazy);
// Depth, products and key switches of every stage for the slot packing and relinearization.
void cost_stages(std::vector<StagePlan>& stages, SlotPacking slots, bool lazy);
// The constant scale of a linear stage's weights: q (the prime its rescale divides by) times
// target / scale_in, so that every linear stage brings the scale back to `target` (the squares'
// drift never accumulates).
inline double linear_constant_scale(double q, double target, double scale_in) {
    return q * (target / scale_in);
}

// What the noise of a compiled program depends on besides its stages.
struct NoiseModel {
    int log_n = 0;
    double scale = 0;         // the input scale (every linear stage comes back to it)
    double weight_scale = 0;  // the scale weights are rounded at (per slot in latency packing)
    bool lazy = false;        // CompileOptions::lazy_relinearization
    bool latency = false;     // rotations: a key switch per diagonal and per rotate-and-sum step
    // sqrt(sum over digits of (D_j / P)^2) at the top level: key switching's noise over P.
    double key_switch_digit_ratio = 0;
};
// Bits of precision of the outputs (absolute error at ten standard deviations).
double estimate_precision_bits(const std::vector<StagePlan>& stages, const NoiseModel& model);
void simulate(std::vector<StagePlan>& stages, const ckks::Context& ctx, double input_scale,
              SlotPacking packing);

}  // namespace henn::engine::detail
