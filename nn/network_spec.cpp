#include "henn/nn/network_spec.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "henn/error.hpp"

namespace henn::nn {
namespace {

using Type = LayerSpec::Type;

const char* type_name(Type type) {
    switch (type) {
        case Type::conv2d:
            return "conv2d";
        case Type::avgpool:
            return "avgpool";
        case Type::sumpool:
            return "sumpool";
        case Type::dense:
            return "dense";
        case Type::flatten:
            return "flatten";
        case Type::batchnorm:
            return "batchnorm";
        case Type::dropout:
            return "dropout";
        case Type::activation:
            return "activation";
    }
    return "?";
}

LayerSpec conv(std::int64_t out, std::int64_t kernel, std::int64_t stride = 1,
               std::int64_t padding = 0) {
    LayerSpec l;
    l.type = Type::conv2d;
    l.out = out;
    l.kernel = kernel;
    l.stride = stride;
    l.padding = padding;
    return l;
}
LayerSpec pool(Type type, std::int64_t kernel) {
    LayerSpec l;
    l.type = type;
    l.kernel = kernel;
    l.stride = kernel;
    return l;
}
LayerSpec dense(std::int64_t out) {
    LayerSpec l;
    l.type = Type::dense;
    l.out = out;
    return l;
}
LayerSpec simple(Type type) {
    LayerSpec l;
    l.type = type;
    return l;
}
LayerSpec dropout(double p) {
    LayerSpec l;
    l.type = Type::dropout;
    l.dropout = p;
    return l;
}

}  // namespace

std::vector<Shape> NetworkSpec::infer_shapes() const {
    std::vector<Shape> shapes;
    Shape current = input_shape;
    if (current.empty() || current.size() > 3)
        throw ModelError("network '" + name + "': input must have rank 1 to 3");
    for (auto d : current)
        if (d < 1 || d > 1 << 20)
            throw ModelError("network '" + name + "': bad input shape " + shape_to_string(current));
    for (std::size_t i = 0; i < layers.size(); ++i) {
        const auto& l = layers[i];
        const std::string where =
            "network '" + name + "', layer " + std::to_string(i) + " (" + type_name(l.type) + "): ";
        switch (l.type) {
            case Type::conv2d:
                if (current.size() != 3)
                    throw ModelError(where + "needs a {C,H,W} input, got " +
                                     shape_to_string(current));
                if (l.out < 1 || l.out > 4096 || l.kernel < 1 || l.kernel > 64 || l.stride < 1 ||
                    l.stride > 64 || l.padding < 0 || l.padding > 64)
                    throw ModelError(where + "out, kernel, stride or padding out of range");
                if (current[1] + 2 * l.padding < l.kernel || current[2] + 2 * l.padding < l.kernel)
                    throw ModelError(where + "kernel larger than the padded input " +
                                     shape_to_string(current));
                current = {l.out, (current[1] + 2 * l.padding - l.kernel) / l.stride + 1,
                           (current[2] + 2 * l.padding - l.kernel) / l.stride + 1};
                break;
            case Type::avgpool:
            case Type::sumpool:
                if (current.size() != 3)
                    throw ModelError(where + "needs a {C,H,W} input, got " +
                                     shape_to_string(current));
                if (l.kernel < 1 || l.stride < 1 || current[1] < l.kernel || current[2] < l.kernel)
                    throw ModelError(where + "bad kernel/stride for input " +
                                     shape_to_string(current));
                current = {current[0], (current[1] - l.kernel) / l.stride + 1,
                           (current[2] - l.kernel) / l.stride + 1};
                break;
            case Type::dense:
                if (l.out < 1 || l.out > 1 << 16) throw ModelError(where + "out out of range");
                if (current.size() != 1)
                    throw ModelError(where + "needs a flat input (add a flatten layer), got " +
                                     shape_to_string(current));
                current = {l.out};
                break;
            case Type::flatten:
                current = {shape_size(current)};
                break;
            case Type::batchnorm:
                if (i == 0 ||
                    (layers[i - 1].type != Type::conv2d && layers[i - 1].type != Type::dense))
                    throw ModelError(where +
                                     "must directly follow conv2d or dense (it is folded into it)");
                break;
            case Type::dropout:
                if (!(l.dropout >= 0.0 && l.dropout < 1.0))
                    throw ModelError(where + "p must be in [0, 1)");
                break;
            case Type::activation:
                break;
        }
        shapes.push_back(current);
    }
    if (shape_size(current) != num_classes || current.size() != 1)
        throw ModelError("network '" + name + "': output " + shape_to_string(current) +
                         " does not match " + std::to_string(num_classes) + " classes");
    return shapes;
}

std::vector<std::string> preset_names() {
    return {"cryptonets", "cryptodl-m1", "mlp", "lenet5"};
}

NetworkSpec preset_network(const std::string& name, const Shape& input_shape,
                           std::int64_t num_classes) {
    NetworkSpec spec;
    spec.name = name;
    spec.input_shape = input_shape;
    spec.num_classes = num_classes;
    const auto act = simple(Type::activation);
    const auto bn = simple(Type::batchnorm);
    if (name == "cryptonets") {
        // Gilad-Bachrach et al. 2016: 5 maps 5x5 stride 2 (13x13 on 28x28 with padding 1),
        // square, 100 hidden units, square, 10 outputs. Their scaled-sum-pool and the linear
        // layer after it compose to one dense layer, which is what they evaluate.
        spec.default_activation = parse_activation("square");
        spec.layers = {conv(5, 5, 2, 1), act, simple(Type::flatten),
                       dense(100),       act, dense(num_classes)};
    } else if (name == "cryptodl-m1") {
        // CryptoDL (Hesamifard et al. 2017) model 1: conv 20, average pooling, conv 50, average
        // pooling, dense 256, dense 10, with batch normalization before every activation (which
        // keeps the activations' inputs inside the approximation interval).
        spec.default_activation = parse_activation("poly:least-squares:2:4");
        spec.layers = {conv(20, 5),
                       bn,
                       act,
                       pool(Type::avgpool, 2),
                       conv(50, 5),
                       bn,
                       act,
                       pool(Type::avgpool, 2),
                       simple(Type::flatten),
                       dense(256),
                       bn,
                       act,
                       dropout(0.3),
                       dense(num_classes)};
    } else if (name == "mlp") {
        spec.default_activation = parse_activation("poly:least-squares:2:4");
        spec.layers = {simple(Type::flatten), dense(128), bn, act, dense(128), bn, act,
                       dense(num_classes)};
    } else if (name == "lenet5") {
        // LeCun et al. 1998 with average pooling and polynomial activations.
        spec.default_activation = parse_activation("poly:least-squares:2:4");
        spec.layers = {conv(6, 5, 1, 2),
                       bn,
                       act,
                       pool(Type::avgpool, 2),
                       conv(16, 5),
                       bn,
                       act,
                       pool(Type::avgpool, 2),
                       simple(Type::flatten),
                       dense(120),
                       bn,
                       act,
                       dense(84),
                       bn,
                       act,
                       dense(num_classes)};
    } else {
        std::string names;
        for (const auto& n : preset_names()) names += (names.empty() ? "" : ", ") + n;
        throw InvalidArgument("unknown preset '" + name + "' (known: " + names + ")");
    }
    spec.infer_shapes();
    return spec;
}

NetworkSpec parse_network_spec(const std::string& json_text, const std::string& source) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(json_text);
    } catch (const nlohmann::json::exception& e) {
        throw ModelError(source + ": not valid JSON: " + e.what(), ErrorCategory::data);
    }
    try {
        NetworkSpec spec;
        spec.name = j.value("name", source);
        if (j.contains("input")) spec.input_shape = j.at("input").get<Shape>();
        spec.num_classes = j.value("classes", std::int64_t{10});
        spec.default_activation = parse_activation(j.value("activation", std::string("relu")));
        const auto& layers = j.at("layers");
        if (!layers.is_array())
            throw ModelError(source + ": 'layers' must be an array", ErrorCategory::data);
        for (std::size_t i = 0; i < layers.size(); ++i) {
            const auto& lj = layers[i];
            const std::string type = lj.at("type").get<std::string>();
            LayerSpec l;
            if (type == "conv2d") {
                l = conv(lj.at("out").get<std::int64_t>(), lj.at("kernel").get<std::int64_t>(),
                         lj.value("stride", std::int64_t{1}), lj.value("padding", std::int64_t{0}));
            } else if (type == "avgpool" || type == "sumpool") {
                l = pool(type == "avgpool" ? Type::avgpool : Type::sumpool,
                         lj.at("kernel").get<std::int64_t>());
                l.stride = lj.value("stride", l.kernel);
            } else if (type == "dense") {
                l = dense(lj.at("out").get<std::int64_t>());
            } else if (type == "flatten") {
                l = simple(Type::flatten);
            } else if (type == "batchnorm") {
                l = simple(Type::batchnorm);
            } else if (type == "dropout") {
                l = dropout(lj.value("p", 0.5));
            } else if (type == "activation") {
                l = simple(Type::activation);
                if (lj.contains("fn"))
                    l.activation = parse_activation(lj.at("fn").get<std::string>());
            } else {
                throw ModelError(
                    source + ": layer " + std::to_string(i) + " has unknown type '" + type +
                    "' (conv2d, avgpool, sumpool, dense, flatten, batchnorm, dropout, activation)");
            }
            spec.layers.push_back(l);
        }
        spec.infer_shapes();
        return spec;
    } catch (const nlohmann::json::exception& e) {
        throw ModelError(source + ": " + e.what(), ErrorCategory::data);
    } catch (const InvalidArgument& e) {
        throw ModelError(source + ": " + e.what(), ErrorCategory::data);
    }
}

NetworkSpec load_network_spec(const std::filesystem::path& path) {
    std::ifstream in(path);
    if (!in) throw ModelError(path.string() + ": cannot open file", ErrorCategory::io);
    std::stringstream buffer;
    buffer << in.rdbuf();
    if (buffer.str().size() > (1 << 20))
        throw ModelError(path.string() + ": spec larger than 1 MiB", ErrorCategory::data);
    return parse_network_spec(buffer.str(), path.string());
}

std::string to_json(const NetworkSpec& spec) {
    nlohmann::json j;
    j["name"] = spec.name;
    j["input"] = spec.input_shape;
    j["classes"] = spec.num_classes;
    j["activation"] = to_string(spec.default_activation);
    j["layers"] = nlohmann::json::array();
    for (const auto& l : spec.layers) {
        nlohmann::json lj;
        lj["type"] = type_name(l.type);
        switch (l.type) {
            case Type::conv2d:
                lj["out"] = l.out;
                lj["kernel"] = l.kernel;
                lj["stride"] = l.stride;
                lj["padding"] = l.padding;
                break;
            case Type::avgpool:
            case Type::sumpool:
                lj["kernel"] = l.kernel;
                lj["stride"] = l.stride;
                break;
            case Type::dense:
                lj["out"] = l.out;
                break;
            case Type::dropout:
                lj["p"] = l.dropout;
                break;
            case Type::activation:
                if (l.activation) lj["fn"] = to_string(*l.activation);
                break;
            default:
                break;
        }
        j["layers"].push_back(lj);
    }
    return j.dump(2);
}

}  // namespace henn::nn
