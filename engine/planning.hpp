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

// Bits of precision of the outputs: input scale `scale`, weights rounded at `weight_scale`.
double estimate_precision_bits(const std::vector<StagePlan>& stages, bool lazy, int log_n,
                               double scale, double weight_scale);
void simulate(std::vector<StagePlan>& stages, const ckks::Context& ctx, double input_scale,
              SlotPacking packing);

}  // namespace henn::engine::detail
