// Training with libtorch (kept out of this header: only train.cpp includes torch).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "henn/data/data.hpp"
#include "henn/nn/model.hpp"
#include "henn/nn/network_spec.hpp"

namespace henn::train {

struct BatchProgress {
    int epoch = 0, epochs = 0;
    std::int64_t batch = 0, batches = 0;  // batches done in this epoch, of `batches`
    double loss = 0;                      // mean training loss over this epoch so far
};

struct TrainOptions {
    int epochs = 10;
    std::int64_t batch_size = 64;
    double learning_rate = 2e-3;       // Adam; decayed by the schedule
    std::string schedule = "cosine";   // cosine | step (x0.1 at 50% and 75%) | constant
    double weight_decay = 1e-4;        // decoupled (AdamW)
    double validation_fraction = 0.1;  // of the training data, split with `seed`
    int patience = 0;                  // early stopping: epochs without validation gain; 0 = off
    bool augment = true;               // random shifts and rotations of images
    double max_shift_pixels = 2.0;
    double max_rotation_degrees = 10.0;
    double gradient_clip = 5.0;  // max gradient norm (polynomial activations can spike); 0 = off
    std::uint64_t seed = 1;
    int threads = 2;              // torch::set_num_threads
    std::string checkpoint_path;  // if set, the best weights so far are saved there (torch format)
    std::string resume_path;  // if set, start from these weights (a checkpoint of the same spec)
    bool progress = true;     // report batches to on_batch (the library never prints)
    std::int64_t stats_samples = 20000;  // pre-activation values kept per layer (reservoir)
    // Progress within an epoch: every 10th batch and the last one of each epoch (the caller
    // decides what to show, e.g. a bar on a terminal).
    std::function<void(const BatchProgress&)> on_batch;
};

struct EpochRecord {
    int epoch = 0;
    double train_loss = 0, train_accuracy = 0;
    bool validated = false;  // a validation split exists (validation_* are meaningful)
    double validation_loss = 0, validation_accuracy = 0;
    double learning_rate = 0, seconds = 0;
};

// What each activation layer's input looked like on the training data (eval mode, after
// training): to fit approximation intervals to what the network really sees.
struct PreActivationStats {
    std::string layer;
    double min = 0, max = 0, mean = 0, stddev = 0;
    std::int64_t count = 0;
    double fraction_outside_interval = 0;  // for polynomial activations, of [lo, hi]
    std::vector<double> samples;           // reservoir sample (for approx's empirical method)
};

struct TrainResult {
    nn::Model model;  // BatchNorm folded, dropout removed, best validation epoch's weights
    std::vector<EpochRecord> history;
    std::vector<PreActivationStats> pre_activation;
    int best_epoch = 0;
    bool stopped_early = false;  // TrainOptions::patience epochs without validation gain
    double seconds = 0;
};

// Called after every epoch (the record also lands in TrainResult::history).
using EpochCallback = std::function<void(const EpochRecord&)>;

TrainResult train_network(const nn::NetworkSpec& spec, const data::Dataset& train_data,
                          const TrainOptions& options, const EpochCallback& on_epoch = {});

// Builds the libtorch network for `spec` in float64 with seeded random weights and random
// BatchNorm statistics, runs it in eval mode on `inputs` (`batch` samples), and converts it to
// the IR. Used to check the reference executor (and BatchNorm folding) against libtorch.
struct TorchCrossCheck {
    nn::Model model;
    std::vector<double> torch_outputs;
};
TorchCrossCheck torch_cross_check(const nn::NetworkSpec& spec, std::span<const double> inputs,
                                  std::int64_t batch, std::uint64_t seed);

}  // namespace henn::train
