// Plaintext side of SMLP: data sets, models, and two reference trainers with the exact schedule
// of the encrypted protocol: one in floating point, one in the protocol's fixed-point arithmetic.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "henn/data/data.hpp"
#include "henn/smlp/protocol.hpp"

namespace henn::smlp {

struct Dataset {
    std::size_t features = 0, outputs = 0;
    std::vector<double> x;  // rows x features, row-major
    std::vector<double> y;  // rows x outputs (regression targets; -1/+1 for two classes)
    std::size_t rows() const { return features == 0 ? 0 : x.size() / features; }
};

// A two-class table (e.g. henn::data::load_wdbc_table) as a one-output data set with targets -1
// (label 0) and +1 (label 1): centered targets train faster under the squared error. Throws
// SmlpError for any other label.
Dataset from_table(const data::Table& table);
// First `train_rows` rows and the rest.
std::pair<Dataset, Dataset> split(const Dataset& data, std::size_t train_rows);
// Rows in a seeded random order (WDBC's file order is not random: its tail is mostly benign).
Dataset shuffle_rows(const Dataset& data, std::uint64_t seed);
// Standardizes both sets with the training set's mean and deviation, clipping to +-clip.
void standardize(Dataset& train, Dataset& test, double clip = 8.0);
Dataset head(const Dataset& data, std::size_t rows);

struct PlainModel {
    ModelShape shape;
    // Per layer: weights (inputs x outputs, row-major) and biases (outputs).
    std::vector<std::vector<double>> weights, biases;
};

// Glorot-uniform weights, zero biases, from a seeded generator (identical on every platform).
PlainModel initial_model(const ModelShape& shape, std::uint64_t seed);
// Rounds a model to the fixed-point grid, as the owner does before encrypting it.
PlainModel quantize(const PlainModel& model, unsigned scale_bits);

std::vector<double> predict(const PlainModel& model, const Dataset& data);
// One output: the sign of the score against the sign of the target; several: argmax.
double accuracy(const std::vector<double>& scores, const Dataset& data);
double max_abs_difference(const PlainModel& a, const PlainModel& b);

// Mini-batch gradient descent on the squared error, ReLU hidden layers, linear outputs.
PlainModel train_float(PlainModel model, const Dataset& data, const TrainSchedule& schedule);
// The same in the protocol's integer arithmetic, the encrypted run's reference. Rescaling rounds
// to nearest: the protocol rounds stochastically (floor plus a random carry), which is unbiased,
// so the two agree on average and differ by the carries' random walk.
PlainModel train_fixed_point(const PlainModel& model, const Dataset& data,
                             const TrainSchedule& schedule, const FixedPointConfig& config);

}  // namespace henn::smlp
