#include "henn/nn/analysis.hpp"

#include <cstdio>
#include <sstream>

#include "henn/approx/chebyshev.hpp"

namespace henn::nn {

namespace {

// x^(2^k) with coefficient 1 (the square): repeated squaring, no scalar products.
bool is_power_of_two_monomial(const Polynomial& p, int degree) {
    if ((degree & (degree - 1)) != 0 || p.coefficients[static_cast<std::size_t>(degree)] != 1.0) return false;
    for (int i = 1; i < degree; ++i)
        if (p.coefficients[static_cast<std::size_t>(i)] != 0.0) return false;
    return true;
}

approx::Parity parity_of(const Polynomial& p, int degree) {
    bool odd = false, even = false;
    for (int i = 0; i <= degree; ++i) {
        if (p.coefficients[static_cast<std::size_t>(i)] == 0.0) continue;
        (i % 2 ? odd : even) = true;
    }
    // Parity in x is parity in t only for intervals symmetric about 0.
    if (p.interval_lo != -p.interval_hi) return approx::Parity::None;
    return odd && !even ? approx::Parity::Odd : even && !odd ? approx::Parity::Even : approx::Parity::None;
}

}  // namespace

int polynomial_depth(const Polynomial& p) {
    const int d = p.degree();
    if (d == 0) return 0;
    if (is_power_of_two_monomial(p, d)) {
        int depth = 0;
        while ((1 << depth) < d) ++depth;
        return depth;
    }
    return approx::multiplicative_depth(d);
}

std::int64_t polynomial_ct_multiplications(const Polynomial& p) {
    const int d = p.degree();
    if (d <= 1) return 0;
    if (is_power_of_two_monomial(p, d)) {
        int squarings = 0;
        while ((1 << squarings) < d) ++squarings;
        return squarings;
    }
    return approx::plan_evaluation(d, parity_of(p, d)).ct_multiplications;
}

ModelCost analyze(const Model& model) {
    ModelCost total;
    for (const auto& layer : model.layers()) {
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
                          " stride " + std::to_string(c->stride_h) + " pad " + std::to_string(c->pad_h);
        } else if (auto* d = std::get_if<Dense>(&layer.op)) {
            cost.parameters = static_cast<std::int64_t>(d->weight.size() + d->bias.size());
            cost.depth = 1;
            cost.pt_ct_multiplications = d->in_features * d->out_features;
        } else if (auto* p = std::get_if<Pool2d>(&layer.op)) {
            cost.depth = p->scale == 1.0 ? 0 : 1;
            cost.pt_ct_multiplications = p->scale == 1.0 ? 0 : outputs;
            cost.detail = std::to_string(p->kernel_h) + "x" + std::to_string(p->kernel_w) +
                          " stride " + std::to_string(p->stride_h);
        } else if (auto* poly = std::get_if<Polynomial>(&layer.op)) {
            cost.parameters = static_cast<std::int64_t>(poly->coefficients.size());
            cost.depth = polynomial_depth(*poly);
            const int degree = poly->degree();
            cost.ct_ct_multiplications = outputs * polynomial_ct_multiplications(*poly);
            std::int64_t scaled_terms = 0;  // coefficients other than 0 and 1 multiply a power of x
            for (int i = 1; i <= degree; ++i) {
                const double c = poly->coefficients[static_cast<std::size_t>(i)];
                if (c != 0.0 && c != 1.0) ++scaled_terms;
            }
            cost.pt_ct_multiplications = outputs * scaled_terms;
            char interval[64];
            std::snprintf(interval, sizeof interval, "[%g,%g]", poly->interval_lo, poly->interval_hi);
            cost.detail = "degree " + std::to_string(degree) + ", " + poly->approximates + " by " +
                          poly->method + (poly->interval_hi > poly->interval_lo ? std::string(" on ") + interval : "");
            std::string coefficients;
            for (int i = 0; i <= degree; ++i) {
                char c[32];
                std::snprintf(c, sizeof c, "%s%.6g", i ? ", " : "", poly->coefficients[static_cast<std::size_t>(i)]);
                coefficients += c;
            }
            cost.detail += ", coefficients (x^0..) [" + coefficients + "]";
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
    std::snprintf(line, sizeof line, "%-4s %-18s %-16s %-14s %10s %6s %12s  %s\n", "#", "layer", "kind",
                  "output", "params", "depth", "ct*ct mults", "detail");
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
    for (const auto& [key, value] : model.metadata()) out << "metadata " << key << " = " << value << "\n";
    return out.str();
}

}  // namespace henn::nn
