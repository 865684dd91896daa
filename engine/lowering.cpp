#include "lowering.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>

#include "henn/engine/errors.hpp"

namespace henn::engine::detail {
namespace {

// Builds rows one at a time.
struct RowBuilder {
    LinearStage s;
    RowBuilder(std::int64_t inputs, std::int64_t outputs) {
        s.inputs = inputs;
        s.outputs = outputs;
        s.row_begin.push_back(0);
        s.bias.reserve(static_cast<std::size_t>(outputs));
    }
    void entry(std::int64_t column, double weight) {
        if (weight == 0.0) return;
        s.column.push_back(static_cast<std::uint32_t>(column));
        s.weight.push_back(weight);
    }
    void end_row(double bias) {
        s.row_begin.push_back(s.column.size());
        s.bias.push_back(bias);
    }
};

LinearStage conv_stage(const nn::Conv2d& c, const nn::Shape& in, const nn::Shape& out) {
    const std::int64_t ih = in[1], iw = in[2], oh = out[1], ow = out[2];
    RowBuilder b(nn::shape_size(in), nn::shape_size(out));
    for (std::int64_t oc = 0; oc < c.out_channels; ++oc) {
        for (std::int64_t oy = 0; oy < oh; ++oy) {
            for (std::int64_t ox = 0; ox < ow; ++ox) {
                for (std::int64_t ic = 0; ic < c.in_channels; ++ic) {
                    for (std::int64_t ky = 0; ky < c.kernel_h; ++ky) {
                        const std::int64_t y = oy * c.stride_h + ky - c.pad_h;
                        if (y < 0 || y >= ih) continue;
                        for (std::int64_t kx = 0; kx < c.kernel_w; ++kx) {
                            const std::int64_t x = ox * c.stride_w + kx - c.pad_w;
                            if (x < 0 || x >= iw) continue;
                            const double w =
                                c.weight[((oc * c.in_channels + ic) * c.kernel_h + ky) *
                                             c.kernel_w +
                                         kx];
                            b.entry((ic * ih + y) * iw + x, w);
                        }
                    }
                }
                b.end_row(c.bias.empty() ? 0.0 : c.bias[oc]);
            }
        }
    }
    return b.s;
}

// Pooling padding, when the IR has it (zero padding counted in the window, ONNX's
// count_include_pad with the scale fixed by the kernel size).
template <typename P>
std::int64_t pool_pad_h(const P& p) {
    if constexpr (requires { p.pad_h; })
        return p.pad_h;
    else
        return 0;
}
template <typename P>
std::int64_t pool_pad_w(const P& p) {
    if constexpr (requires { p.pad_w; })
        return p.pad_w;
    else
        return 0;
}

LinearStage pool_stage(const nn::Pool2d& p, const nn::Shape& in, const nn::Shape& out) {
    const std::int64_t channels = in[0], ih = in[1], iw = in[2], oh = out[1], ow = out[2];
    RowBuilder b(nn::shape_size(in), nn::shape_size(out));
    for (std::int64_t c = 0; c < channels; ++c) {
        for (std::int64_t oy = 0; oy < oh; ++oy) {
            for (std::int64_t ox = 0; ox < ow; ++ox) {
                for (std::int64_t ky = 0; ky < p.kernel_h; ++ky) {
                    const std::int64_t y = oy * p.stride_h + ky - pool_pad_h(p);
                    if (y < 0 || y >= ih) continue;
                    for (std::int64_t kx = 0; kx < p.kernel_w; ++kx) {
                        const std::int64_t x = ox * p.stride_w + kx - pool_pad_w(p);
                        if (x < 0 || x >= iw) continue;
                        b.entry((c * ih + y) * iw + x, p.scale);
                    }
                }
                b.end_row(0.0);
            }
        }
    }
    return b.s;
}

LinearStage dense_stage(const nn::Dense& d) {
    RowBuilder b(d.in_features, d.out_features);
    for (std::int64_t o = 0; o < d.out_features; ++o) {
        for (std::int64_t i = 0; i < d.in_features; ++i)
            b.entry(i, d.weight[o * d.in_features + i]);
        b.end_row(d.bias.empty() ? 0.0 : d.bias[o]);
    }
    return b.s;
}

// a * x + c element-wise.
LinearStage affine_stage(std::int64_t size, double a, double c) {
    RowBuilder b(size, size);
    for (std::int64_t i = 0; i < size; ++i) {
        b.entry(i, a);
        b.end_row(c);
    }
    return b.s;
}

// second after first.
LinearStage compose(const LinearStage& second, const LinearStage& first) {
    RowBuilder b(first.inputs, second.outputs);
    std::vector<double> acc(static_cast<std::size_t>(first.inputs), 0.0);
    std::vector<char> touched(static_cast<std::size_t>(first.inputs), 0);
    std::vector<std::uint32_t> order;
    for (std::int64_t r = 0; r < second.outputs; ++r) {
        double bias = second.bias[r];
        order.clear();
        for (std::size_t e = second.row_begin[r]; e < second.row_begin[r + 1]; ++e) {
            const std::uint32_t k = second.column[e];
            const double w = second.weight[e];
            bias += w * first.bias[k];
            for (std::size_t f = first.row_begin[k]; f < first.row_begin[k + 1]; ++f) {
                const std::uint32_t c = first.column[f];
                if (!touched[c]) {
                    touched[c] = 1;
                    order.push_back(c);
                }
                acc[c] += w * first.weight[f];
            }
        }
        std::sort(order.begin(), order.end());
        for (std::uint32_t c : order) {
            b.entry(c, acc[c]);
            acc[c] = 0.0;
            touched[c] = 0;
        }
        b.end_row(bias);
    }
    return b.s;
}

std::string join(const std::string& a, const std::string& b) {
    return a.empty() ? b : a + "+" + b;
}

}  // namespace

int activation_degree(const ActivationStage& a) {
    int d = static_cast<int>(a.coefficients.size()) - 1;
    while (d > 0 && a.coefficients[d] == 0.0) --d;
    return d;
}

std::vector<StagePlan> lower(const nn::Model& model) {
    std::vector<StagePlan> stages;
    std::optional<StagePlan> linear;  // the run of linear layers being fused
    auto push_linear = [&](const std::string& name, LinearStage s) {
        if (!linear) {
            StagePlan p;
            p.name = name;
            p.kind = "linear";
            p.op = std::move(s);
            linear = std::move(p);
        } else {
            linear->op = compose(s, std::get<LinearStage>(linear->op));
            linear->name = join(linear->name, name);
        }
    };
    for (const nn::Layer& layer : model.layers()) {
        const auto& op = layer.op;
        if (const auto* c = std::get_if<nn::Conv2d>(&op)) {
            push_linear(layer.name, conv_stage(*c, layer.input_shape, layer.output_shape));
        } else if (const auto* p = std::get_if<nn::Pool2d>(&op)) {
            push_linear(layer.name, pool_stage(*p, layer.input_shape, layer.output_shape));
        } else if (const auto* d = std::get_if<nn::Dense>(&op)) {
            push_linear(layer.name, dense_stage(*d));
            linear->has_dense = true;
        } else if (std::holds_alternative<nn::Flatten>(op)) {
            if (linear) linear->name = join(linear->name, layer.name);
            // A flatten is free: the C-major order of the slots does not change.
        } else if (const auto* poly = std::get_if<nn::Polynomial>(&op)) {
            const std::int64_t size = nn::shape_size(layer.output_shape);
            ActivationStage a;
            a.coefficients = poly->coefficients;
            a.interval_lo = poly->interval_lo;
            a.interval_hi = poly->interval_hi;
            a.width = size;
            const int degree = activation_degree(a);
            if (degree <= 1) {
                push_linear(layer.name,
                            affine_stage(size, degree == 1 ? a.coefficients[1] : 0.0,
                                         a.coefficients.empty() ? 0.0 : a.coefficients[0]));
                continue;
            }
            a.coefficients.resize(static_cast<std::size_t>(degree) + 1);
            if (linear) {
                stages.push_back(std::move(*linear));
                linear.reset();
            }
            StagePlan s;
            s.name = layer.name;
            s.kind = "polynomial";
            s.op = std::move(a);
            stages.push_back(std::move(s));
        } else if (const auto* np = std::get_if<nn::NonPolynomial>(&op)) {
            throw CompileError(
                "layer '" + layer.name + "' (" + nn::to_string(np->kind) +
                ") has no encrypted form; replace it by a polynomial (henn train --activation "
                "poly:..., or import with the default activation replacement)");
        } else {
            throw CompileError("layer '" + layer.name + "' (" + nn::layer_kind(op) +
                               ") cannot run under encryption");
        }
    }
    if (linear) stages.push_back(std::move(*linear));
    if (stages.empty()) throw CompileError("the model has no layers to run");

    // Quadratics become monic: a x^2 + b x + c = a (x^2 + (b/a) x) + c, with a and c moved into
    // the following linear stage's weights and bias (no level, no product).
    for (std::size_t i = 0; i + 1 < stages.size(); ++i) {
        auto* a = std::get_if<ActivationStage>(&stages[i].op);
        auto* next = std::get_if<LinearStage>(&stages[i + 1].op);
        if (!a || !next || activation_degree(*a) != 2) continue;
        const double lead = a->coefficients[2], constant = a->coefficients[0];
        if (lead == 1.0 && constant == 0.0) continue;
        for (std::int64_t r = 0; r < next->outputs; ++r) {
            for (std::size_t e = next->row_begin[r]; e < next->row_begin[r + 1]; ++e) {
                next->bias[r] += next->weight[e] * constant;
                next->weight[e] *= lead;
            }
        }
        a->coefficients = {0.0, a->coefficients[1] / lead, 1.0};
        // The interval stays that of the input x: only the output's affine map moved.
    }
    return stages;
}

std::vector<double> apply_stage(const StagePlan& stage, std::span<const double> input) {
    if (const auto* l = std::get_if<LinearStage>(&stage.op)) {
        std::vector<double> out(static_cast<std::size_t>(l->outputs));
        for (std::int64_t r = 0; r < l->outputs; ++r) {
            double sum = l->bias[r];
            for (std::size_t e = l->row_begin[r]; e < l->row_begin[r + 1]; ++e)
                sum += l->weight[e] * input[l->column[e]];
            out[r] = sum;
        }
        return out;
    }
    const auto& a = std::get<ActivationStage>(stage.op);
    std::vector<double> out(input.size());
    for (std::size_t i = 0; i < input.size(); ++i) {
        double y = 0;
        for (std::size_t k = a.coefficients.size(); k-- > 0;) y = y * input[i] + a.coefficients[k];
        out[i] = y;
    }
    return out;
}

}  // namespace henn::engine::detail
