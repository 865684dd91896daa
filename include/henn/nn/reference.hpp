// The float64 plaintext reference executor: runs the IR exactly as written (no fusion, no
// reordering of sums beyond the natural loop order), so encrypted execution and libtorch can be
// checked against it.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "henn/data/data.hpp"
#include "henn/nn/model.hpp"

namespace henn::nn {

// One sample in, one output vector out (input and output in the model's C-major layout).
std::vector<double> run_reference(const Model& model, std::span<const double> input);

// `batch` samples laid out one after another; samples run in parallel (OpenMP).
std::vector<double> run_reference_batch(const Model& model, std::span<const double> inputs,
                                        std::int64_t batch);

// Classification results of the reference executor on a data set.
struct Evaluation {
    std::int64_t correct = 0, total = 0;
    std::vector<std::vector<std::int64_t>> confusion;  // [true class][predicted class]
    double accuracy() const {
        return total ? static_cast<double>(correct) / static_cast<double>(total) : 0.0;
    }
};
Evaluation evaluate_reference(const Model& model, const data::Dataset& data);

}  // namespace henn::nn
