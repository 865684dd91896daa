// The model IR: an immutable graph of typed layers with inferred shapes. This is what training
// produces, what ONNX import/export reads and writes, what the float64 reference executor runs,
// and what the encrypted planner walks.
//
// The graph is a chain: every layer consumes the output of the one before it (the models of this
// field, CryptoNets, CryptoDL, LeNet-5, MLPs, are chains; ONNX graphs that branch are rejected on
// import). BatchNorm never appears: it is folded into the neighbouring linear layer, and constant
// sub-expressions (scalings, bias additions) are folded into weights.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "henn/error.hpp"

namespace henn::nn {

// A model that cannot be built or run; category parameters unless said otherwise.
struct ModelError : ::henn::Error {
    explicit ModelError(const std::string& message,
                        ErrorCategory category = ErrorCategory::parameters)
        : ::henn::Error(category, message) {}
};

// Per-sample shape, without the batch dimension: {channels, height, width} or {features}.
using Shape = std::vector<std::int64_t>;
std::int64_t shape_size(const Shape& shape);
std::string shape_to_string(const Shape& shape);

// 2-D convolution (cross-correlation, like PyTorch and ONNX), one group, no dilation.
// weight is [out_channels][in_channels][kernel_h][kernel_w], row-major.
struct Conv2d {
    std::int64_t in_channels = 0, out_channels = 0;
    std::int64_t kernel_h = 0, kernel_w = 0;
    std::int64_t stride_h = 1, stride_w = 1;
    std::int64_t pad_h = 0, pad_w = 0;  // zero padding, same on both sides
    std::vector<double> weight, bias;
};

// out = scale * (sum of the window). Average pooling has scale = 1 / (kernel_h * kernel_w);
// CryptoNets' scaled sum pooling has scale = 1 (no multiplication under encryption).
// pad_h/pad_w add zeros on both sides that count in the window (PyTorch's AvgPool2d padding with
// count_include_pad=True, ONNX's count_include_pad=1, or an explicit zero Pad before pooling):
// the divisor stays kernel_h * kernel_w at the borders.
struct Pool2d {
    std::int64_t kernel_h = 0, kernel_w = 0;
    std::int64_t stride_h = 1, stride_w = 1;
    double scale = 1.0;
    std::int64_t pad_h = 0, pad_w = 0;  // zero padding, same on both sides
    bool is_average() const { return scale == 1.0 / static_cast<double>(kernel_h * kernel_w); }
};

// weight is [out_features][in_features], row-major: out = W x + b.
struct Dense {
    std::int64_t in_features = 0, out_features = 0;
    std::vector<double> weight, bias;
};

// Collapses {C, H, W} to {C * H * W} in C-major order (PyTorch/ONNX Flatten).
struct Flatten {};

// Element-wise p(x) = sum_i coefficients[i] * x^i (power basis on the input). `approximates`,
// `method` and the interval record where the polynomial came from (metadata for users and for
// the planner, which may re-express it in another basis).
struct Polynomial {
    std::vector<double> coefficients;
    std::string approximates = "none";  // "relu", "sigmoid", "tanh", "square", ...
    std::string method = "exact";       // approximation method name from henn::approx
    double interval_lo = 0.0, interval_hi = 0.0;
    int degree() const;  // index of the highest non-zero coefficient
};

// Activations with no polynomial form: plaintext baselines only. A model that holds one cannot
// be run under encryption until it is replaced (see replace_activations).
enum class NonPolynomialKind { relu, sigmoid, tanh };
struct NonPolynomial {
    NonPolynomialKind kind = NonPolynomialKind::relu;
};
std::string to_string(NonPolynomialKind kind);

using LayerOp = std::variant<Conv2d, Pool2d, Dense, Flatten, Polynomial, NonPolynomial>;
std::string layer_kind(const LayerOp& op);  // "Conv2d", "AvgPool2d", "SumPool2d", "Dense", ...

struct Layer {
    std::string name;
    LayerOp op;
    Shape input_shape, output_shape;
};

struct NamedOp {
    std::string name;
    LayerOp op;
};

class Model {
  public:
    // Validates every layer (sizes of weights, shapes, finite parameters) and infers shapes;
    // throws ModelError naming the layer and the problem.
    Model(Shape input_shape, std::vector<NamedOp> ops,
          std::map<std::string, std::string> metadata = {});

    const Shape& input_shape() const { return input_shape_; }
    const Shape& output_shape() const;
    const std::vector<Layer>& layers() const { return layers_; }
    const std::map<std::string, std::string>& metadata() const { return metadata_; }

    // True when every activation is a polynomial (the model can run under encryption).
    bool is_polynomial() const;
    std::int64_t parameter_count() const;

    // A copy with different metadata or layers: the IR itself never changes in place.
    Model with_metadata(std::map<std::string, std::string> metadata) const;
    std::vector<NamedOp> ops() const;

  private:
    Shape input_shape_;
    std::vector<Layer> layers_;
    std::map<std::string, std::string> metadata_;
};

// Folds y = gamma * (x - mean) / sqrt(var + eps) + beta into the Conv2d/Dense `op` that produced
// x (per output channel/feature). Throws ModelError if sizes do not match.
void fold_batch_norm(LayerOp& op, const std::vector<double>& gamma, const std::vector<double>& beta,
                     const std::vector<double>& mean, const std::vector<double>& var, double eps);

}  // namespace henn::nn
