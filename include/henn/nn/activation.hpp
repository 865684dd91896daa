// Activation choices for training, import and replacement: the plaintext baselines (ReLU,
// sigmoid, tanh), the square, and polynomial approximations from henn::approx.
//
// Text form (command line and network specs):
//   relu | sigmoid | tanh | square
//   poly:METHOD:DEGREE:INTERVAL[:FUNCTION][:trainable]
// METHOD is a henn::approx method name (least-squares, taylor, chebyshev, modified-weight,
// derivative, minimax, empirical), INTERVAL is "L" for [-L, L] or "A,B", FUNCTION is the
// function approximated (relu by default; sigmoid, tanh, ...), and "trainable" lets training
// adjust the coefficients (starting from the approximation).
#pragma once

#include <string>
#include <vector>

#include "henn/nn/model.hpp"

namespace henn::nn {

struct ActivationSpec {
    enum class Kind { relu, sigmoid, tanh, square, polynomial };
    Kind kind = Kind::relu;
    // For Kind::polynomial:
    std::string function = "relu";
    std::string method = "least-squares";
    int degree = 2;
    double interval_lo = -1.0, interval_hi = 1.0;
    bool trainable = false;

    bool is_polynomial() const { return kind == Kind::square || kind == Kind::polynomial; }
};

// Throws henn::InvalidArgument explaining the expected form.
ActivationSpec parse_activation(const std::string& text);
std::string to_string(const ActivationSpec& spec);

// The IR layer for a spec: Polynomial for square and poly:... (coefficients from henn::approx,
// power basis; `samples` feed the empirical method, which uses a standard normal sample when
// none are given), NonPolynomial for the baselines.
LayerOp activation_layer(const ActivationSpec& spec, const std::vector<double>& samples = {});

// Replaces every NonPolynomial layer by the polynomial `spec` (which must be polynomial). The
// function approximated is the replaced one (relu, sigmoid or tanh). A warning per replacement
// is appended to `warnings`.
Model replace_activations(const Model& model, const ActivationSpec& spec,
                          std::vector<std::string>& warnings);

}  // namespace henn::nn
