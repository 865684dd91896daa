// Descriptions of networks to train: presets and a small JSON format.
//
//   {
//     "name": "my-net", "input": [1, 28, 28], "classes": 10, "activation": "square",
//     "layers": [
//       {"type": "conv2d", "out": 5, "kernel": 5, "stride": 2, "padding": 1},
//       {"type": "batchnorm"},
//       {"type": "activation"},                  // the network's (or --activation's) choice
//       {"type": "avgpool", "kernel": 2},        // stride defaults to the kernel size
//       {"type": "sumpool", "kernel": 2},        // CryptoNets' scaled sum pooling
//       {"type": "flatten"},
//       {"type": "dropout", "p": 0.25},          // training only
//       {"type": "activation", "fn": "relu"},    // a fixed activation, never overridden
//       {"type": "dense", "out": 10}
//     ]
//   }
// BatchNorm must directly follow a conv2d or dense layer (it is folded into it for inference).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "henn/nn/activation.hpp"
#include "henn/nn/model.hpp"

namespace henn::nn {

struct LayerSpec {
    enum class Type { conv2d, avgpool, sumpool, dense, flatten, batchnorm, dropout, activation };
    Type type = Type::dense;
    std::int64_t out = 0;  // conv2d channels / dense features
    std::int64_t kernel = 0, stride = 1, padding = 0;
    double dropout = 0.0;
    std::optional<ActivationSpec> activation;  // unset: the network's default activation
};

struct NetworkSpec {
    std::string name;
    Shape input_shape{1, 28, 28};
    std::int64_t num_classes = 10;
    ActivationSpec default_activation;
    std::vector<LayerSpec> layers;

    // Checks layer parameters and shapes (throws ModelError naming the layer) and returns the
    // per-layer output shapes.
    std::vector<Shape> infer_shapes() const;
};

// cryptonets, cryptodl-m1, mlp, lenet5 (see network_spec.cpp for the exact layers).
std::vector<std::string> preset_names();
NetworkSpec preset_network(const std::string& name, const Shape& input_shape = {1, 28, 28},
                           std::int64_t num_classes = 10);

NetworkSpec parse_network_spec(const std::string& json_text, const std::string& source = "spec");
NetworkSpec load_network_spec(const std::filesystem::path& path);
std::string to_json(const NetworkSpec& spec);

}  // namespace henn::nn
