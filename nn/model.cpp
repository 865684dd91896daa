#include "henn/nn/model.hpp"

#include <cmath>
#include <sstream>

namespace henn::nn {
namespace {

template <class... Ts>
struct Overloaded : Ts... {
    using Ts::operator()...;
};
// Spelled out for clang 14 (the fuzz build), which lacks aggregate deduction.
template <typename... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

[[noreturn]] void fail(const std::string& layer, const std::string& problem) {
    throw ModelError("layer '" + layer + "': " + problem);
}

void check_finite(const std::string& layer, const std::vector<double>& values, const char* what) {
    for (double v : values)
        if (!std::isfinite(v)) fail(layer, std::string("non-finite value in ") + what);
}

// Upper bound on any dimension and on tensor sizes: far above real models, low enough that
// products of dimensions cannot overflow int64.
constexpr std::int64_t kMaxDim = std::int64_t{1} << 24;
constexpr std::int64_t kMaxSize = std::int64_t{1} << 32;

void check_dim(const std::string& layer, std::int64_t value, const char* what, std::int64_t min) {
    if (value < min || value > kMaxDim)
        fail(layer, std::string(what) + " = " + std::to_string(value) + " is out of range");
}

Shape infer(const std::string& name, const LayerOp& op, const Shape& in) {
    return std::visit(
        Overloaded{
            [&](const Conv2d& c) -> Shape {
                if (in.size() != 3)
                    fail(name, "Conv2d needs a {C,H,W} input, got " + shape_to_string(in));
                check_dim(name, c.in_channels, "in_channels", 1);
                check_dim(name, c.out_channels, "out_channels", 1);
                check_dim(name, c.kernel_h, "kernel_h", 1);
                check_dim(name, c.kernel_w, "kernel_w", 1);
                check_dim(name, c.stride_h, "stride_h", 1);
                check_dim(name, c.stride_w, "stride_w", 1);
                check_dim(name, c.pad_h, "pad_h", 0);
                check_dim(name, c.pad_w, "pad_w", 0);
                if (c.in_channels != in[0])
                    fail(name, "expects " + std::to_string(c.in_channels) +
                                   " channels, input has " + std::to_string(in[0]));
                if (static_cast<std::int64_t>(c.weight.size()) !=
                    c.out_channels * c.in_channels * c.kernel_h * c.kernel_w)
                    fail(name, "weight has " + std::to_string(c.weight.size()) + " values");
                if (static_cast<std::int64_t>(c.bias.size()) != c.out_channels)
                    fail(name, "bias has " + std::to_string(c.bias.size()) + " values");
                check_finite(name, c.weight, "weight");
                check_finite(name, c.bias, "bias");
                const auto h = in[1] + 2 * c.pad_h - c.kernel_h;
                const auto w = in[2] + 2 * c.pad_w - c.kernel_w;
                if (h < 0 || w < 0) fail(name, "kernel larger than the padded input");
                return {c.out_channels, h / c.stride_h + 1, w / c.stride_w + 1};
            },
            [&](const Pool2d& p) -> Shape {
                if (in.size() != 3)
                    fail(name, "pooling needs a {C,H,W} input, got " + shape_to_string(in));
                check_dim(name, p.kernel_h, "kernel_h", 1);
                check_dim(name, p.kernel_w, "kernel_w", 1);
                check_dim(name, p.stride_h, "stride_h", 1);
                check_dim(name, p.stride_w, "stride_w", 1);
                check_dim(name, p.pad_h, "pad_h", 0);
                check_dim(name, p.pad_w, "pad_w", 0);
                if (p.pad_h >= p.kernel_h || p.pad_w >= p.kernel_w)
                    fail(name, "pooling padding must be smaller than the window");
                if (!std::isfinite(p.scale)) fail(name, "non-finite pooling scale");
                const auto h = in[1] + 2 * p.pad_h - p.kernel_h;
                const auto w = in[2] + 2 * p.pad_w - p.kernel_w;
                if (h < 0 || w < 0) fail(name, "pooling window larger than the padded input");
                return {in[0], h / p.stride_h + 1, w / p.stride_w + 1};
            },
            [&](const Dense& d) -> Shape {
                check_dim(name, d.in_features, "in_features", 1);
                check_dim(name, d.out_features, "out_features", 1);
                if (shape_size(in) != d.in_features)
                    fail(name, "expects " + std::to_string(d.in_features) + " inputs, input is " +
                                   shape_to_string(in));
                if (in.size() != 1)
                    fail(name,
                         "Dense needs a flat input (add Flatten), got " + shape_to_string(in));
                if (static_cast<std::int64_t>(d.weight.size()) != d.in_features * d.out_features)
                    fail(name, "weight has " + std::to_string(d.weight.size()) + " values");
                if (static_cast<std::int64_t>(d.bias.size()) != d.out_features)
                    fail(name, "bias has " + std::to_string(d.bias.size()) + " values");
                check_finite(name, d.weight, "weight");
                check_finite(name, d.bias, "bias");
                return {d.out_features};
            },
            [&](const Flatten&) -> Shape { return {shape_size(in)}; },
            [&](const Polynomial& p) -> Shape {
                if (p.coefficients.empty()) fail(name, "polynomial without coefficients");
                if (p.coefficients.size() > 64) fail(name, "polynomial degree above 63");
                check_finite(name, p.coefficients, "coefficients");
                return in;
            },
            [&](const NonPolynomial&) -> Shape { return in; },
        },
        op);
}

}  // namespace

std::int64_t shape_size(const Shape& shape) {
    std::int64_t size = 1;
    for (auto d : shape) size *= d;
    return size;
}

std::string shape_to_string(const Shape& shape) {
    std::ostringstream out;
    out << "{";
    for (std::size_t i = 0; i < shape.size(); ++i) out << (i ? "," : "") << shape[i];
    out << "}";
    return out.str();
}

int Polynomial::degree() const {
    for (int i = static_cast<int>(coefficients.size()) - 1; i > 0; --i)
        if (coefficients[static_cast<std::size_t>(i)] != 0.0) return i;
    return 0;
}

std::string to_string(NonPolynomialKind kind) {
    switch (kind) {
        case NonPolynomialKind::relu:
            return "relu";
        case NonPolynomialKind::sigmoid:
            return "sigmoid";
        case NonPolynomialKind::tanh:
            return "tanh";
    }
    return "?";
}

std::string layer_kind(const LayerOp& op) {
    return std::visit(Overloaded{
                          [](const Conv2d&) -> std::string { return "Conv2d"; },
                          [](const Pool2d& p) -> std::string {
                              return p.is_average() ? "AvgPool2d" : "ScaledSumPool2d";
                          },
                          [](const Dense&) -> std::string { return "Dense"; },
                          [](const Flatten&) -> std::string { return "Flatten"; },
                          [](const Polynomial&) -> std::string { return "Polynomial"; },
                          [](const NonPolynomial& n) -> std::string {
                              return "NonPolynomial(" + to_string(n.kind) + ")";
                          },
                      },
                      op);
}

Model::Model(Shape input_shape, std::vector<NamedOp> ops,
             std::map<std::string, std::string> metadata)
    : input_shape_(std::move(input_shape)), metadata_(std::move(metadata)) {
    if (input_shape_.empty() || input_shape_.size() > 3)
        throw ModelError("model input must have rank 1 to 3, got " + shape_to_string(input_shape_));
    std::int64_t size = 1;
    for (auto d : input_shape_) {
        if (d < 1 || d > kMaxDim)
            throw ModelError("model input shape " + shape_to_string(input_shape_) + " is invalid");
        size *= d;
        if (size > kMaxSize) throw ModelError("model input is too large");
    }
    Shape current = input_shape_;
    layers_.reserve(ops.size());
    for (auto& [name, op] : ops) {
        Shape next = infer(name, op, current);
        if (shape_size(next) > kMaxSize || shape_size(next) < 1)
            fail(name, "output shape " + shape_to_string(next) + " is out of range");
        layers_.push_back(Layer{name, std::move(op), current, next});
        current = std::move(next);
    }
}

const Shape& Model::output_shape() const {
    return layers_.empty() ? input_shape_ : layers_.back().output_shape;
}

bool Model::is_polynomial() const {
    for (const auto& layer : layers_)
        if (std::holds_alternative<NonPolynomial>(layer.op)) return false;
    return true;
}

std::int64_t Model::parameter_count() const {
    std::int64_t count = 0;
    for (const auto& layer : layers_) {
        if (auto* c = std::get_if<Conv2d>(&layer.op))
            count += static_cast<std::int64_t>(c->weight.size() + c->bias.size());
        else if (auto* d = std::get_if<Dense>(&layer.op))
            count += static_cast<std::int64_t>(d->weight.size() + d->bias.size());
        else if (auto* p = std::get_if<Polynomial>(&layer.op))
            count += static_cast<std::int64_t>(p->coefficients.size());
    }
    return count;
}

Model Model::with_metadata(std::map<std::string, std::string> metadata) const {
    return Model(input_shape_, ops(), std::move(metadata));
}

std::vector<NamedOp> Model::ops() const {
    std::vector<NamedOp> out;
    out.reserve(layers_.size());
    for (const auto& layer : layers_) out.push_back({layer.name, layer.op});
    return out;
}

void fold_batch_norm(LayerOp& op, const std::vector<double>& gamma, const std::vector<double>& beta,
                     const std::vector<double>& mean, const std::vector<double>& var, double eps) {
    auto fold = [&](std::vector<double>& weight, std::vector<double>& bias, std::int64_t channels) {
        const auto n = static_cast<std::size_t>(channels);
        if (gamma.size() != n || beta.size() != n || mean.size() != n || var.size() != n)
            throw ModelError("BatchNorm has " + std::to_string(gamma.size()) +
                             " channels, the layer before it has " + std::to_string(n));
        const std::size_t per_channel = weight.size() / n;
        for (std::size_t c = 0; c < n; ++c) {
            if (!(var[c] + eps > 0.0))
                throw ModelError("BatchNorm variance + epsilon is not positive");
            const double factor = gamma[c] / std::sqrt(var[c] + eps);
            for (std::size_t k = 0; k < per_channel; ++k) weight[c * per_channel + k] *= factor;
            bias[c] = (bias[c] - mean[c]) * factor + beta[c];
        }
    };
    if (auto* c = std::get_if<Conv2d>(&op))
        fold(c->weight, c->bias, c->out_channels);
    else if (auto* d = std::get_if<Dense>(&op))
        fold(d->weight, d->bias, d->out_features);
    else
        throw ModelError("BatchNorm can only be folded into a Conv2d or Dense layer, not " +
                         layer_kind(op));
}

}  // namespace henn::nn
