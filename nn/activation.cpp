#include "henn/nn/activation.hpp"

#include <cmath>
#include <random>
#include <sstream>
#include <stdexcept>

#include "henn/approx/approximate.hpp"
#include "henn/error.hpp"

namespace henn::nn {
namespace {

std::vector<std::string> split(const std::string& text, char separator) {
    std::vector<std::string> parts;
    std::string part;
    std::stringstream ss(text);
    while (std::getline(ss, part, separator)) parts.push_back(part);
    return parts;
}

double parse_number(const std::string& text, const std::string& whole) {
    try {
        std::size_t used = 0;
        double v = std::stod(text, &used);
        if (used == text.size() && std::isfinite(v)) return v;
    } catch (const std::exception&) {
    }
    throw InvalidArgument("activation '" + whole + "': '" + text + "' is not a number");
}

}  // namespace

ActivationSpec parse_activation(const std::string& text) {
    ActivationSpec spec;
    if (text == "relu") return spec;
    if (text == "sigmoid") {
        spec.kind = ActivationSpec::Kind::sigmoid;
        return spec;
    }
    if (text == "tanh") {
        spec.kind = ActivationSpec::Kind::tanh;
        return spec;
    }
    if (text == "square") {
        spec.kind = ActivationSpec::Kind::square;
        return spec;
    }
    const std::string usage =
        "expected relu, sigmoid, tanh, square or poly:METHOD:DEGREE:INTERVAL[:FUNCTION][:trainable]"
        " (e.g. poly:chebyshev:3:6 or poly:least-squares:2:-4,4:sigmoid)";
    auto parts = split(text, ':');
    if (parts.size() < 4 || parts[0] != "poly")
        throw InvalidArgument("activation '" + text + "': " + usage);
    spec.kind = ActivationSpec::Kind::polynomial;
    spec.method = approx::method_name(approx::parse_method(parts[1]));
    const double degree = parse_number(parts[2], text);
    if (degree < 1 || degree > 31 || degree != std::floor(degree))
        throw InvalidArgument("activation '" + text + "': degree must be an integer in 1..31");
    spec.degree = static_cast<int>(degree);
    std::string interval = parts[3];
    if (!interval.empty() && interval.front() == '[' && interval.back() == ']')
        interval = interval.substr(1, interval.size() - 2);
    auto bounds = split(interval, ',');
    if (bounds.size() == 1) {
        const double l = parse_number(bounds[0], text);
        spec.interval_lo = -l;
        spec.interval_hi = l;
    } else if (bounds.size() == 2) {
        spec.interval_lo = parse_number(bounds[0], text);
        spec.interval_hi = parse_number(bounds[1], text);
    } else {
        throw InvalidArgument("activation '" + text + "': bad interval; " + usage);
    }
    if (!(spec.interval_lo < spec.interval_hi))
        throw InvalidArgument("activation '" + text + "': empty interval");
    for (std::size_t i = 4; i < parts.size(); ++i) {
        if (parts[i] == "trainable") {
            spec.trainable = true;
        } else {
            approx::builtin_function(parts[i]);  // throws listing the known functions
            spec.function = parts[i];
        }
    }
    return spec;
}

std::string to_string(const ActivationSpec& spec) {
    switch (spec.kind) {
        case ActivationSpec::Kind::relu:
            return "relu";
        case ActivationSpec::Kind::sigmoid:
            return "sigmoid";
        case ActivationSpec::Kind::tanh:
            return "tanh";
        case ActivationSpec::Kind::square:
            return "square";
        case ActivationSpec::Kind::polynomial:
            break;
    }
    std::ostringstream out;
    out << "poly:" << spec.method << ":" << spec.degree << ":";
    if (spec.interval_lo == -spec.interval_hi)
        out << spec.interval_hi;
    else
        out << spec.interval_lo << "," << spec.interval_hi;
    if (spec.function != "relu") out << ":" << spec.function;
    if (spec.trainable) out << ":trainable";
    return out.str();
}

LayerOp activation_layer(const ActivationSpec& spec, const std::vector<double>& samples) {
    switch (spec.kind) {
        case ActivationSpec::Kind::relu:
            return NonPolynomial{NonPolynomialKind::relu};
        case ActivationSpec::Kind::sigmoid:
            return NonPolynomial{NonPolynomialKind::sigmoid};
        case ActivationSpec::Kind::tanh:
            return NonPolynomial{NonPolynomialKind::tanh};
        case ActivationSpec::Kind::square: {
            Polynomial p;
            p.coefficients = {0.0, 0.0, 1.0};
            p.approximates = "square";
            p.method = "exact";
            return p;
        }
        case ActivationSpec::Kind::polynomial:
            break;
    }
    approx::ApproxRequest request;
    request.function = approx::builtin_function(spec.function);
    request.method = approx::parse_method(spec.method);
    request.degree = spec.degree;
    request.interval = {spec.interval_lo, spec.interval_hi};
    request.samples = samples;
    if (request.method == approx::Method::Empirical && samples.empty()) {
        // Before training there are no pre-activation values yet: batch normalization puts them
        // near a standard normal, so fit to that (fixed seed; re-fit on the recorded samples
        // for the real distribution).
        std::mt19937_64 rng(20240601);
        std::normal_distribution<double> normal(0.0, 1.0);
        request.samples.resize(20000);
        for (auto& v : request.samples) v = normal(rng);
    }
    const auto result = approx::approximate(request);
    Polynomial p;
    p.coefficients = result.power_coefficients;
    p.coefficients.resize(static_cast<std::size_t>(spec.degree) + 1, 0.0);
    p.approximates = spec.function;
    p.method = spec.method;
    p.interval_lo = spec.interval_lo;
    p.interval_hi = spec.interval_hi;
    return p;
}

Model replace_activations(const Model& model, const ActivationSpec& spec,
                          std::vector<std::string>& warnings) {
    if (!spec.is_polynomial())
        throw InvalidArgument("replacement activation must be square or poly:..., not " +
                              to_string(spec));
    auto ops = model.ops();
    for (auto& op : ops) {
        auto* n = std::get_if<NonPolynomial>(&op.op);
        if (!n) continue;
        ActivationSpec replacement = spec;
        if (replacement.kind == ActivationSpec::Kind::polynomial)
            replacement.function = to_string(n->kind);
        warnings.push_back("layer '" + op.name + "': " + to_string(n->kind) + " replaced by " +
                           to_string(replacement));
        op.op = activation_layer(replacement);
    }
    return Model(model.input_shape(), std::move(ops), model.metadata());
}

}  // namespace henn::nn
