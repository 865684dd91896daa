// Static costs of running a model under CKKS, for `henn inspect` and for a first look before
// planning. The cost model is the simple one of CryptoNets/CryptoDL, stated so the figures can
// be checked by hand:
//  - every value (neuron) is its own ciphertext, samples batched across slots;
//  - Conv2d and Dense: plaintext-ciphertext products (one per multiply-accumulate) and one
//    rescale, so multiplicative depth 1 and no ciphertext-ciphertext products;
//  - average (or otherwise scaled) pooling: one scalar product per output, depth 1; it could be
//    folded into the next linear layer's weights (the detail column says when), which this
//    model does not do. Sum pooling (scale 1): additions only, depth 0;
//  - a polynomial: henn::circuits::plan_polynomial, exactly what circuits::evaluate_polynomial
//    consumes (tested): power basis for degree <= 3 (a quadratic, the square included, at depth 1
//    with one product; a cubic at depth 2 with two), the Chebyshev baby-step giant-step plan
//    above (depth ceil(log2(d + 1)), plus one for the interval change unless it is [-1, 1]; a
//    polynomial with no interval recorded is planned on [-1, 1]).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "henn/circuits/polynomial_plan.hpp"
#include "henn/nn/model.hpp"

namespace henn::nn {

struct LayerCost {
    std::string name, kind;
    Shape output_shape;
    std::int64_t parameters = 0;
    int depth = 0;  // multiplicative levels consumed by this layer
    std::int64_t ct_ct_multiplications = 0;
    std::int64_t pt_ct_multiplications = 0;
    bool encryptable = true;  // false for ReLU/sigmoid/tanh kept as such
    std::string detail;       // e.g. "degree 2, relu by chebyshev on [-6,6]"
};

struct ModelCost {
    std::vector<LayerCost> layers;
    std::int64_t parameters = 0;
    int depth = 0;
    std::int64_t ct_ct_multiplications = 0;
    std::int64_t pt_ct_multiplications = 0;
    bool encryptable = true;
};

// The plan of a polynomial layer (its coefficients on its interval), and its two figures.
circuits::PolynomialPlan polynomial_plan(const Polynomial& p);
int polynomial_depth(const Polynomial& p);
std::int64_t polynomial_ct_multiplications(const Polynomial& p);  // per element
ModelCost analyze(const Model& model);

// A human-readable table of layers, shapes and costs (what `henn inspect` prints).
std::string describe(const Model& model);

}  // namespace henn::nn
