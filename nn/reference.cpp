#include "henn/nn/reference.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace henn::nn {
namespace {

template <class... Ts>
struct Overloaded : Ts... {
    using Ts::operator()...;
};
// Spelled out for clang 14 (the fuzz build), which lacks aggregate deduction.
template <typename... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

std::vector<double> apply_layer(const Layer& layer, const std::vector<double>& x) {
    const Shape& in = layer.input_shape;
    const Shape& out = layer.output_shape;
    return std::visit(
        Overloaded{
            [&](const Conv2d& c) {
                std::vector<double> y(static_cast<std::size_t>(shape_size(out)));
                const auto H = in[1], W = in[2], OH = out[1], OW = out[2];
                for (std::int64_t o = 0; o < c.out_channels; ++o)
                    for (std::int64_t oy = 0; oy < OH; ++oy)
                        for (std::int64_t ox = 0; ox < OW; ++ox) {
                            double sum = c.bias[o];
                            for (std::int64_t i = 0; i < c.in_channels; ++i)
                                for (std::int64_t ky = 0; ky < c.kernel_h; ++ky) {
                                    const auto iy = oy * c.stride_h + ky - c.pad_h;
                                    if (iy < 0 || iy >= H) continue;
                                    for (std::int64_t kx = 0; kx < c.kernel_w; ++kx) {
                                        const auto ix = ox * c.stride_w + kx - c.pad_w;
                                        if (ix < 0 || ix >= W) continue;
                                        sum +=
                                            c.weight[((o * c.in_channels + i) * c.kernel_h + ky) *
                                                         c.kernel_w +
                                                     kx] *
                                            x[(i * H + iy) * W + ix];
                                    }
                                }
                            y[(o * OH + oy) * OW + ox] = sum;
                        }
                return y;
            },
            [&](const Pool2d& p) {
                std::vector<double> y(static_cast<std::size_t>(shape_size(out)));
                const auto H = in[1], W = in[2], OH = out[1], OW = out[2];
                for (std::int64_t c = 0; c < in[0]; ++c)
                    for (std::int64_t oy = 0; oy < OH; ++oy)
                        for (std::int64_t ox = 0; ox < OW; ++ox) {
                            double sum = 0;  // padded positions are zeros
                            for (std::int64_t ky = 0; ky < p.kernel_h; ++ky) {
                                const auto iy = oy * p.stride_h + ky - p.pad_h;
                                if (iy < 0 || iy >= H) continue;
                                for (std::int64_t kx = 0; kx < p.kernel_w; ++kx) {
                                    const auto ix = ox * p.stride_w + kx - p.pad_w;
                                    if (ix < 0 || ix >= W) continue;
                                    sum += x[(c * H + iy) * W + ix];
                                }
                            }
                            y[(c * OH + oy) * OW + ox] = p.scale * sum;
                        }
                return y;
            },
            [&](const Dense& d) {
                std::vector<double> y(static_cast<std::size_t>(d.out_features));
                for (std::int64_t o = 0; o < d.out_features; ++o) {
                    double sum = d.bias[o];
                    const double* w = d.weight.data() + o * d.in_features;
                    for (std::int64_t i = 0; i < d.in_features; ++i) sum += w[i] * x[i];
                    y[o] = sum;
                }
                return y;
            },
            [&](const Flatten&) { return x; },
            [&](const Polynomial& p) {
                std::vector<double> y(x.size());
                for (std::size_t k = 0; k < x.size(); ++k) {
                    double acc = 0;  // Horner
                    for (auto c = p.coefficients.rbegin(); c != p.coefficients.rend(); ++c)
                        acc = acc * x[k] + *c;
                    y[k] = acc;
                }
                return y;
            },
            [&](const NonPolynomial& n) {
                std::vector<double> y(x.size());
                for (std::size_t k = 0; k < x.size(); ++k) {
                    switch (n.kind) {
                        case NonPolynomialKind::relu:
                            y[k] = std::max(0.0, x[k]);
                            break;
                        case NonPolynomialKind::sigmoid:
                            y[k] = 1.0 / (1.0 + std::exp(-x[k]));
                            break;
                        case NonPolynomialKind::tanh:
                            y[k] = std::tanh(x[k]);
                            break;
                    }
                }
                return y;
            },
        },
        layer.op);
}

}  // namespace

std::vector<double> run_reference(const Model& model, std::span<const double> input) {
    if (static_cast<std::int64_t>(input.size()) != shape_size(model.input_shape()))
        throw ModelError("reference executor: input has " + std::to_string(input.size()) +
                         " values, the model expects " + shape_to_string(model.input_shape()));
    std::vector<double> x(input.begin(), input.end());
    for (const auto& layer : model.layers()) x = apply_layer(layer, x);
    return x;
}

std::vector<double> run_reference_batch(const Model& model, std::span<const double> inputs,
                                        std::int64_t batch) {
    const auto in_size = shape_size(model.input_shape());
    const auto out_size = shape_size(model.output_shape());
    if (batch < 0 || static_cast<std::int64_t>(inputs.size()) != batch * in_size)
        throw ModelError("reference executor: " + std::to_string(inputs.size()) +
                         " input values is not " + std::to_string(batch) + " samples of " +
                         shape_to_string(model.input_shape()));
    std::vector<double> outputs(static_cast<std::size_t>(batch * out_size));
#pragma omp parallel for schedule(dynamic, 16)
    for (std::int64_t b = 0; b < batch; ++b) {
        auto y = run_reference(model, inputs.subspan(static_cast<std::size_t>(b * in_size),
                                                     static_cast<std::size_t>(in_size)));
        std::copy(y.begin(), y.end(), outputs.begin() + b * out_size);
    }
    return outputs;
}

Evaluation evaluate_reference(const Model& model, const data::Dataset& data) {
    if (shape_size(model.input_shape()) != data.sample_size())
        throw ModelError("model input " + shape_to_string(model.input_shape()) +
                         " does not match data samples of " + shape_to_string(data.sample_shape));
    const auto classes = shape_size(model.output_shape());
    if (classes < data.num_classes)
        throw ModelError("model has " + std::to_string(classes) + " outputs, data has " +
                         std::to_string(data.num_classes) + " classes");
    std::vector<double> inputs(data.features.begin(), data.features.end());
    auto outputs = run_reference_batch(model, inputs, data.count());
    Evaluation e;
    e.total = data.count();
    e.confusion.assign(static_cast<std::size_t>(classes),
                       std::vector<std::int64_t>(static_cast<std::size_t>(classes), 0));
    for (std::int64_t i = 0; i < data.count(); ++i) {
        auto begin = outputs.begin() + i * classes;
        const auto predicted = std::max_element(begin, begin + classes) - begin;
        const auto truth = data.labels[static_cast<std::size_t>(i)];
        e.confusion[static_cast<std::size_t>(truth)][static_cast<std::size_t>(predicted)]++;
        if (predicted == truth) ++e.correct;
    }
    return e;
}

}  // namespace henn::nn
