#include "henn/nn/analysis.hpp"

#include <cmath>
#include <cstdio>
#include <sstream>
#include <variant>

namespace henn::nn {

namespace {

// An interval recorded with the layer (none: lo = hi = 0, e.g. the square and imported
// polynomials; an unusable one from a foreign file counts as none).
bool has_interval(const Polynomial& p) {
    return std::isfinite(p.interval_lo) && std::isfinite(p.interval_hi) &&
           p.interval_lo < p.interval_hi;
}

}  // namespace

circuits::PolynomialPlan polynomial_plan(const Polynomial& p) {
    // Without an interval, plan_polynomial expands in the Chebyshev basis of [-1, 1].
    return has_interval(p) ? circuits::plan_polynomial(p.coefficients, p.interval_lo, p.interval_hi)
                           : circuits::plan_polynomial(p.coefficients, 0.0, 0.0);
}

int polynomial_depth(const Polynomial& p) {
    return polynomial_plan(p).depth;
}

std::int64_t polynomial_ct_multiplications(const Polynomial& p) {
    return polynomial_plan(p).ct_multiplications;
}

namespace {

// The layer after `index` that a scalar product could be folded into (Flatten only reorders).
const Layer* next_linear_layer(const std::vector<Layer>& layers, std::size_t index) {
    for (std::size_t i = index + 1; i < layers.size(); ++i) {
        if (std::holds_alternative<Flatten>(layers[i].op)) continue;
        if (std::holds_alternative<Dense>(layers[i].op) ||
            std::holds_alternative<Conv2d>(layers[i].op)) {
            return &layers[i];
        }
        return nullptr;
    }
    return nullptr;
}

}  // namespace

ModelCost analyze(const Model& model) {
    ModelCost total;
    const auto& layers = model.layers();
    for (std::size_t index = 0; index < layers.size(); ++index) {
        const Layer& layer = layers[index];
        LayerCost cost;
        cost.name = layer.name;
        cost.kind = layer_kind(layer.op);
        cost.output_shape = layer.output_shape;
        const auto outputs = shape_size(layer.output_shape);
        if (auto* c = std::get_if<Conv2d>(&layer.op)) {
            cost.parameters = static_cast<std::int64_t>(c->weight.size() + c->bias.size());
            cost.depth = 1;
            cost.pt_ct_multiplications = outputs * c->in_channels * c->kernel_h * c->kernel_w;
            cost.detail = std::to_string(c->kernel_h) + "x" + std::to_string(c->kernel_w) +
                          " stride " + std::to_string(c->stride_h) + " pad " +
                          std::to_string(c->pad_h);
        } else if (auto* d = std::get_if<Dense>(&layer.op)) {
            cost.parameters = static_cast<std::int64_t>(d->weight.size() + d->bias.size());
            cost.depth = 1;
            cost.pt_ct_multiplications = d->in_features * d->out_features;
        } else if (auto* p = std::get_if<Pool2d>(&layer.op)) {
            cost.detail = std::to_string(p->kernel_h) + "x" + std::to_string(p->kernel_w) +
                          " stride " + std::to_string(p->stride_h);
            if (p->scale == 1.0) {
                cost.depth = 0;  // sum pooling: additions only
                cost.detail += ", additions only";
            } else {
                // One scalar product per output, rescaled: a level. Folding the scale into the
                // next linear layer's weights would save it; this model does not fold.
                cost.depth = 1;
                cost.pt_ct_multiplications = outputs;
                char scalar[64];
                std::snprintf(scalar, sizeof scalar, ", scalar product by %g (1 level", p->scale);
                cost.detail += scalar;
                const Layer* next = next_linear_layer(layers, index);
                cost.detail += next ? "; foldable into " + next->name + ", not folded)" : ")";
            }
        } else if (auto* poly = std::get_if<Polynomial>(&layer.op)) {
            cost.parameters = static_cast<std::int64_t>(poly->coefficients.size());
            const circuits::PolynomialPlan plan = polynomial_plan(*poly);
            cost.depth = plan.depth;
            const int degree = poly->degree();
            cost.ct_ct_multiplications = outputs * plan.ct_multiplications;
            std::int64_t scaled_terms = 0;  // coefficients other than 0 and 1 multiply a power of x
            for (int i = 1; i <= degree; ++i) {
                const double c = poly->coefficients[static_cast<std::size_t>(i)];
                if (c != 0.0 && c != 1.0) ++scaled_terms;
            }
            cost.pt_ct_multiplications = outputs * scaled_terms;
            char interval[64];
            std::snprintf(interval, sizeof interval, "[%g,%g]", poly->interval_lo,
                          poly->interval_hi);
            cost.detail =
                "degree " + std::to_string(degree) + ", " + poly->approximates + " by " +
                poly->method +
                (poly->interval_hi > poly->interval_lo ? std::string(" on ") + interval : "");
            std::string coefficients;
            for (int i = 0; i <= degree; ++i) {
                char c[32];
                std::snprintf(c, sizeof c, "%s%.6g", i ? ", " : "",
                              poly->coefficients[static_cast<std::size_t>(i)]);
                coefficients += c;
            }
            cost.detail += ", coefficients (x^0..) [" + coefficients + "]";
            if (plan.basis == circuits::PolynomialBasis::chebyshev && !has_interval(*poly)) {
                cost.detail += ", no interval recorded: planned on [-1,1]";
            }
        } else if (auto* n = std::get_if<NonPolynomial>(&layer.op)) {
            cost.encryptable = false;
            cost.detail = to_string(n->kind) + ": not a polynomial, cannot run encrypted";
        }
        total.parameters += cost.parameters;
        total.depth += cost.depth;
        total.ct_ct_multiplications += cost.ct_ct_multiplications;
        total.pt_ct_multiplications += cost.pt_ct_multiplications;
        total.encryptable = total.encryptable && cost.encryptable;
        total.layers.push_back(std::move(cost));
    }
    return total;
}

std::string describe(const Model& model) {
    const auto cost = analyze(model);
    std::ostringstream out;
    out << "input " << shape_to_string(model.input_shape()) << "\n";
    char line[512];
    std::snprintf(line, sizeof line, "%-4s %-18s %-16s %-14s %10s %6s %12s  %s\n", "#", "layer",
                  "kind", "output", "params", "depth", "ct*ct mults", "detail");
    out << line;
    int index = 0;
    for (const auto& l : cost.layers) {
        std::snprintf(line, sizeof line, "%-4d %-18s %-16s %-14s %10lld %6d %12lld  %s\n", index++,
                      l.name.c_str(), l.kind.c_str(), shape_to_string(l.output_shape).c_str(),
                      static_cast<long long>(l.parameters), l.depth,
                      static_cast<long long>(l.ct_ct_multiplications), l.detail.c_str());
        out << line;
    }
    out << "parameters: " << cost.parameters << "\n";
    out << "multiplicative depth under encryption: " << cost.depth
        << (cost.encryptable ? "" : " (plus non-polynomial layers: not encryptable as is)") << "\n";
    out << "ciphertext-ciphertext multiplications (one ciphertext per neuron): "
        << cost.ct_ct_multiplications << "\n";
    out << "plaintext-ciphertext multiplications: " << cost.pt_ct_multiplications << "\n";
    for (const auto& [key, value] : model.metadata())
        out << "metadata " << key << " = " << value << "\n";
    return out.str();
}

}  // namespace henn::nn
