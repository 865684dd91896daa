// Private to henn_engine: the noise estimate and the simulated run shared by compile and load.
#pragma once

#include <vector>

#include "henn/ckks/parameters.hpp"
#include "henn/engine/compiled_model.hpp"

namespace henn::engine::detail {

// Depth, products and key switches of every stage for the slot packing.
void cost_stages(std::vector<StagePlan>& stages, SlotPacking packing);
// The constant scale of a linear stage's weights: q (the prime its rescale divides by) times
// target / scale_in, so that every linear stage brings the scale back to `target` (the squares'
// drift never accumulates).
inline double linear_constant_scale(double q, double target, double scale_in) { return q * (target / scale_in); }

// Bits of precision of the outputs: input scale `scale`, weights rounded at `weight_scale`.
double estimate_precision_bits(const std::vector<StagePlan>& stages, int log_n, double scale, double weight_scale);
void simulate(std::vector<StagePlan>& stages, const ckks::Context& ctx, double input_scale, SlotPacking packing);

}  // namespace henn::engine::detail
