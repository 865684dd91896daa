// Static costs of running a model under CKKS, for `henn inspect` and for a first look before
// planning. The cost model is the simple one of CryptoNets/CryptoDL, stated so the figures can
// be checked by hand:
//  - every value (neuron) is its own ciphertext, samples batched across slots;
//  - Conv2d and Dense: plaintext-ciphertext products (one per multiply-accumulate) and one
//    rescale, so multiplicative depth 1 and no ciphertext-ciphertext products;
//  - average pooling: one scalar product (depth 1); scaled sum pooling: additions only (depth 0);
//  - a polynomial of degree d: henn::approx's baby-step giant-step plan in the Chebyshev basis
//    (approx::plan_evaluation: its ct-ct products per element, depth ceil(log2(d + 1)));
//    x^(2^k) with coefficient 1 (the square) by repeated squaring: k products, depth k.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "henn/nn/model.hpp"

namespace henn::nn {

struct LayerCost {
    std::string name, kind;
    Shape output_shape;
    std::int64_t parameters = 0;
    int depth = 0;                       // multiplicative levels consumed by this layer
    std::int64_t ct_ct_multiplications = 0;
    std::int64_t pt_ct_multiplications = 0;
    bool encryptable = true;             // false for ReLU/sigmoid/tanh kept as such
    std::string detail;                  // e.g. "degree 2, relu by chebyshev on [-6,6]"
};

struct ModelCost {
    std::vector<LayerCost> layers;
    std::int64_t parameters = 0;
    int depth = 0;
    std::int64_t ct_ct_multiplications = 0;
    std::int64_t pt_ct_multiplications = 0;
    bool encryptable = true;
};

int polynomial_depth(const Polynomial& p);
std::int64_t polynomial_ct_multiplications(const Polynomial& p);  // per element
ModelCost analyze(const Model& model);

// A human-readable table of layers, shapes and costs (what `henn inspect` prints).
std::string describe(const Model& model);

}  // namespace henn::nn
