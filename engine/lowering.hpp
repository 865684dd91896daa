// Private to henn_engine: the IR lowered to stages, and the plaintext semantics of a stage.
#pragma once

#include <span>
#include <vector>

#include "henn/engine/compiled_model.hpp"
#include "henn/nn/model.hpp"

namespace henn::engine::detail {

// Lowers the IR: consecutive linear layers fused into one sparse matrix, polynomials of degree
// <= 1 folded into the linear maps, a monic form for quadratics whose leading coefficient and
// constant move into the next linear stage. Levels, scales and bounds are left for the planner.
std::vector<StagePlan> lower(const nn::Model& model);

// One stage on one sample, in float64.
std::vector<double> apply_stage(const StagePlan& stage, std::span<const double> input);

// Effective degree of an activation (trailing zeros dropped).
int activation_degree(const ActivationStage& a);

}  // namespace henn::engine::detail
