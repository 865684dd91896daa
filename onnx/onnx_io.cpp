#include "henn/onnx/onnx.hpp"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace henn::onnx {
using namespace henn::nn;

namespace {

// ---------------------------------------------------------------------------------------------
// Import
// ---------------------------------------------------------------------------------------------

constexpr std::int64_t kMaxTensorElements = std::int64_t{1} << 28;

struct Tensor {
    std::vector<std::int64_t> dims;
    std::vector<double> data;
    bool integer = false;  // an integer element type (Div truncates, Cast rounds toward zero)
    // Shape arithmetic (x.view(x.size(0), -1) exports Shape -> Gather -> Unsqueeze -> Concat ->
    // Reshape): when non-empty, batch[i] != 0 marks data[i] as the batch size, which is not known
    // on import. It may be moved around (Gather, Concat, Slice, ...) and used as a Reshape's first
    // dimension, never computed with.
    std::vector<char> batch;
    std::int64_t numel() const { return static_cast<std::int64_t>(data.size()); }
    bool has_batch() const {
        for (char b : batch)
            if (b) return true;
        return false;
    }
};

std::int64_t product(const std::vector<std::int64_t>& dims, std::size_t from = 0,
                     std::size_t to = SIZE_MAX) {
    std::int64_t n = 1;
    for (std::size_t i = from; i < dims.size() && i < to; ++i) n *= dims[i];
    return n;
}

// Tensor `in` rearranged: out.data[i] = in.data[source[i]] (Gather, Slice, Transpose).
Tensor select(const Tensor& in, std::vector<std::int64_t> dims,
              const std::vector<std::int64_t>& source) {
    Tensor out;
    out.dims = std::move(dims);
    out.integer = in.integer;
    out.data.reserve(source.size());
    for (auto i : source) out.data.push_back(in.data[static_cast<std::size_t>(i)]);
    if (in.has_batch()) {
        for (auto i : source) out.batch.push_back(in.batch[static_cast<std::size_t>(i)]);
        if (!out.has_batch()) out.batch.clear();
    }
    return out;
}

// An index from a tensor value (int64 data is held as double; huge values such as INT64_MAX,
// which exporters use for "to the end", are clamped before the conversion).
std::int64_t to_index(double v) {
    constexpr double limit = 4611686018427387904.0;  // 2^62
    return static_cast<std::int64_t>(std::max(-limit, std::min(limit, v)));
}

// A value flowing through the graph: a constant, or the running activation = poly(x_stage),
// where x_stage is the output of the first `stage` IR layers and poly an element-wise polynomial
// (power basis) gathered from Mul/Add/Sub/Div/Pow nodes not yet written as a layer.
struct Runtime {
    std::size_t stage = 0;  // Importer::version_ when this value was produced
    std::vector<double> poly{0.0, 1.0};
    // Zeros around x_stage (a constant Pad), not yet taken into the padding of the Conv or
    // AveragePool that must follow.
    std::int64_t pad_h = 0, pad_w = 0;
    bool padded() const { return pad_h != 0 || pad_w != 0; }
};
struct Value {
    bool is_constant = false;
    Tensor constant;
    Runtime runtime;
};

bool is_identity(const std::vector<double>& p) {
    return p.size() == 2 && p[0] == 0.0 && p[1] == 1.0;
}

std::vector<double> poly_mul(const std::vector<double>& a, const std::vector<double>& b) {
    std::vector<double> out(a.size() + b.size() - 1, 0.0);
    for (std::size_t i = 0; i < a.size(); ++i)
        for (std::size_t j = 0; j < b.size(); ++j) out[i + j] += a[i] * b[j];
    while (out.size() > 1 && out.back() == 0.0) out.pop_back();
    return out;
}
std::vector<double> poly_add(std::vector<double> a, const std::vector<double>& b,
                             double sign = 1.0) {
    if (a.size() < b.size()) a.resize(b.size(), 0.0);
    for (std::size_t i = 0; i < b.size(); ++i) a[i] += sign * b[i];
    while (a.size() > 1 && a.back() == 0.0) a.pop_back();
    return a;
}

class Importer {
  public:
    Importer(const ::onnx::ModelProto& model, const OnnxImportOptions& options, std::string source)
        : model_(model), options_(options), source_(std::move(source)) {}

    OnnxImport run();

  private:
    [[noreturn]] void fail(const std::string& problem) const {
        throw OnnxError(source_ + ": " + problem);
    }
    [[noreturn]] void fail_node(const ::onnx::NodeProto& node, const std::string& problem) const {
        fail("node '" + node.name() + "' (" + node.op_type() + ", opset " + std::to_string(opset_) +
             "): " + problem);
    }

    Tensor parse_tensor(const ::onnx::TensorProto& t, const std::string& what) const;
    const Value& value(const ::onnx::NodeProto& node, int index) const;
    bool has_input(const ::onnx::NodeProto& node, int index) const {
        return node.input_size() > index && !node.input(index).empty();
    }
    const Tensor& constant_input(const ::onnx::NodeProto& node, int index, const char* what) const;
    // padded_ok: the consumer takes a pending zero Pad into its own padding (Conv, AveragePool).
    Runtime runtime_input(const ::onnx::NodeProto& node, int index, bool padded_ok = false) const;
    void set_output(const ::onnx::NodeProto& node, Value v) {
        if (node.output_size() < 1 || node.output(0).empty()) fail_node(node, "no output");
        values_[node.output(0)] = std::move(v);
    }
    void set_runtime(const ::onnx::NodeProto& node, Runtime r) {
        if (r.poly.size() > 33) fail_node(node, "element-wise polynomial of degree above 32");
        Value v;
        v.runtime = std::move(r);
        set_output(node, std::move(v));
    }
    Shape current_shape() const { return ops_shapes_.empty() ? input_shape_ : ops_shapes_.back(); }
    void bump_version() {
        ++version_;
        stage_shapes_[version_] = current_shape();
    }
    // Writes the pending polynomial of `r` as layers (folding affine maps into a preceding
    // linear layer) and returns the running value at the new stage.
    Runtime materialize(const ::onnx::NodeProto* node, Runtime r);
    void push(const ::onnx::NodeProto* node, const std::string& name, LayerOp op,
              std::string fixed_name = {});
    bool fold_channel_affine(const std::vector<double>& scale, const std::vector<double>& shift);
    std::vector<double> per_channel(const ::onnx::NodeProto& node, const Tensor& t) const;

    std::int64_t attr_int(const ::onnx::NodeProto& node, const std::string& name,
                          std::int64_t fallback) const;
    double attr_float(const ::onnx::NodeProto& node, const std::string& name,
                      double fallback) const;
    std::vector<std::int64_t> attr_ints(const ::onnx::NodeProto& node,
                                        const std::string& name) const;
    std::string attr_string(const ::onnx::NodeProto& node, const std::string& name) const;

    void handle(const ::onnx::NodeProto& node);
    void handle_conv(const ::onnx::NodeProto& node);
    void handle_pool(const ::onnx::NodeProto& node, bool global, bool from_max);
    void handle_dense(const ::onnx::NodeProto& node, bool gemm);
    void handle_elementwise(const ::onnx::NodeProto& node);
    void handle_batch_norm(const ::onnx::NodeProto& node);
    void handle_reshape(const ::onnx::NodeProto& node, bool flatten);
    void handle_activation(const ::onnx::NodeProto& node);
    void handle_pad(const ::onnx::NodeProto& node);
    // Constant and shape arithmetic: Shape, Gather, Unsqueeze, Squeeze, Concat, ConstantOfShape,
    // Cast, Slice, Transpose, Reshape of constants.
    void handle_shape(const ::onnx::NodeProto& node);
    void handle_gather(const ::onnx::NodeProto& node);
    void handle_unsqueeze(const ::onnx::NodeProto& node, bool squeeze);
    void handle_concat(const ::onnx::NodeProto& node);
    void handle_constant_of_shape(const ::onnx::NodeProto& node);
    void handle_cast(const ::onnx::NodeProto& node);
    void handle_slice(const ::onnx::NodeProto& node);
    void handle_transpose(const ::onnx::NodeProto& node);
    void handle_constant_reshape(const ::onnx::NodeProto& node);
    void set_constant(const ::onnx::NodeProto& node, Tensor t) {
        if (t.numel() > kMaxTensorElements) fail_node(node, "constant too large");
        Value v;
        v.is_constant = true;
        v.constant = std::move(t);
        set_output(node, std::move(v));
    }
    // Integers of a constant input (axes, pads, indices); refuses the batch size.
    std::vector<std::int64_t> constant_ints(const ::onnx::NodeProto& node, int index,
                                            const char* what) const;

    const ::onnx::ModelProto& model_;
    const OnnxImportOptions& options_;
    std::string source_;
    std::int64_t opset_ = 0;
    Shape input_shape_;
    std::map<std::string, Value> values_;
    std::map<std::string, int> consumers_;
    std::vector<NamedOp> ops_;
    std::vector<Shape> ops_shapes_;
    std::vector<std::string> warnings_;
    std::map<std::string, int> name_counts_;
    int polynomial_count_ = 0;
    // Bumped whenever the running tensor changes meaning (a layer added, or constants folded into
    // the last layer), so that a stale tensor cannot be used afterwards.
    std::size_t version_ = 0;
    std::map<std::size_t, Shape>
        stage_shapes_;  // per-sample shape of the running tensor at each version
    std::map<std::string, std::string> metadata_;
};

Tensor Importer::parse_tensor(const ::onnx::TensorProto& t, const std::string& what) const {
    Tensor out;
    std::int64_t numel = 1;
    for (auto d : t.dims()) {
        if (d < 0 || d > kMaxTensorElements) fail(what + ": bad dimension " + std::to_string(d));
        out.dims.push_back(d);
        numel *= d;
        if (numel > kMaxTensorElements) fail(what + ": tensor too large");
    }
    if (t.data_location() == ::onnx::TensorProto::EXTERNAL)
        fail(what + ": external tensor data is not supported (save the model as a single file)");
    const auto type = t.data_type();
    std::size_t element_size = 0;
    switch (type) {
        case ::onnx::TensorProto::FLOAT:
            element_size = 4;
            break;
        case ::onnx::TensorProto::DOUBLE:
            element_size = 8;
            break;
        case ::onnx::TensorProto::INT64:
            element_size = 8;
            break;
        case ::onnx::TensorProto::INT32:
            element_size = 4;
            break;
        default:
            fail(what + ": unsupported tensor element type " + std::to_string(type));
    }
    out.integer = type == ::onnx::TensorProto::INT64 || type == ::onnx::TensorProto::INT32;
    out.data.resize(static_cast<std::size_t>(numel));
    if (t.has_raw_data()) {
        const auto& raw = t.raw_data();
        if (raw.size() != static_cast<std::size_t>(numel) * element_size)
            fail(what + ": raw data holds " + std::to_string(raw.size()) + " bytes, dims need " +
                 std::to_string(static_cast<std::size_t>(numel) * element_size));
        // ONNX raw data is little-endian, like this machine.
        for (std::int64_t i = 0; i < numel; ++i) {
            const char* p = raw.data() + i * static_cast<std::int64_t>(element_size);
            switch (type) {
                case ::onnx::TensorProto::FLOAT: {
                    float v;
                    std::memcpy(&v, p, 4);
                    out.data[i] = v;
                    break;
                }
                case ::onnx::TensorProto::DOUBLE: {
                    double v;
                    std::memcpy(&v, p, 8);
                    out.data[i] = v;
                    break;
                }
                case ::onnx::TensorProto::INT64: {
                    std::int64_t v;
                    std::memcpy(&v, p, 8);
                    out.data[i] = static_cast<double>(v);
                    break;
                }
                default: {
                    std::int32_t v;
                    std::memcpy(&v, p, 4);
                    out.data[i] = v;
                    break;
                }
            }
        }
    } else {
        auto copy = [&](const auto& field) {
            if (field.size() != numel)
                fail(what + ": holds " + std::to_string(field.size()) + " values, dims need " +
                     std::to_string(numel));
            for (std::int64_t i = 0; i < numel; ++i)
                out.data[i] = static_cast<double>(field.Get(static_cast<int>(i)));
        };
        switch (type) {
            case ::onnx::TensorProto::FLOAT:
                copy(t.float_data());
                break;
            case ::onnx::TensorProto::DOUBLE:
                copy(t.double_data());
                break;
            case ::onnx::TensorProto::INT64:
                copy(t.int64_data());
                break;
            default:
                copy(t.int32_data());
                break;
        }
    }
    for (double v : out.data)
        if (!std::isfinite(v)) fail(what + ": non-finite value");
    return out;
}

const Value& Importer::value(const ::onnx::NodeProto& node, int index) const {
    if (!has_input(node, index)) fail_node(node, "missing input " + std::to_string(index));
    auto it = values_.find(node.input(index));
    if (it == values_.end())
        fail_node(node, "input '" + node.input(index) + "' is not defined before use");
    return it->second;
}

const Tensor& Importer::constant_input(const ::onnx::NodeProto& node, int index,
                                       const char* what) const {
    const auto& v = value(node, index);
    if (!v.is_constant) fail_node(node, std::string(what) + " must be a constant (initializer)");
    return v.constant;
}

Runtime Importer::runtime_input(const ::onnx::NodeProto& node, int index, bool padded_ok) const {
    const auto& v = value(node, index);
    if (v.is_constant)
        fail_node(node, "input " + std::to_string(index) + " must be the data, not a constant");
    if (v.runtime.stage != version_)
        fail_node(node, "the graph branches (input '" + node.input(index) +
                            "' is an earlier tensor); only chain-shaped models are supported");
    if (v.runtime.padded() && !padded_ok)
        fail_node(
            node,
            "its input is zero-padded by a Pad node; a Pad is supported only right before Conv or "
            "AveragePool (it becomes their padding)");
    return v.runtime;
}

std::vector<std::int64_t> Importer::constant_ints(const ::onnx::NodeProto& node, int index,
                                                  const char* what) const {
    const Tensor& t = constant_input(node, index, what);
    if (t.has_batch())
        fail_node(node,
                  std::string(what) + " depends on the batch size, which is not known on import");
    std::vector<std::int64_t> out;
    for (double v : t.data) {
        if (v != std::floor(v)) fail_node(node, std::string(what) + " must be integers");
        out.push_back(to_index(v));
    }
    return out;
}

std::int64_t Importer::attr_int(const ::onnx::NodeProto& node, const std::string& name,
                                std::int64_t fallback) const {
    for (const auto& a : node.attribute())
        if (a.name() == name) return a.i();
    return fallback;
}
double Importer::attr_float(const ::onnx::NodeProto& node, const std::string& name,
                            double fallback) const {
    for (const auto& a : node.attribute())
        if (a.name() == name) return a.f();
    return fallback;
}
std::vector<std::int64_t> Importer::attr_ints(const ::onnx::NodeProto& node,
                                              const std::string& name) const {
    for (const auto& a : node.attribute())
        if (a.name() == name) return {a.ints().begin(), a.ints().end()};
    return {};
}
std::string Importer::attr_string(const ::onnx::NodeProto& node, const std::string& name) const {
    for (const auto& a : node.attribute())
        if (a.name() == name) return a.s();
    return {};
}

void Importer::push(const ::onnx::NodeProto* node, const std::string& base, LayerOp op,
                    std::string fixed_name) {
    std::string name = !fixed_name.empty() ? fixed_name
                       : node && !node->name().empty()
                           ? node->name()
                           : base + std::to_string(++name_counts_[base]);
    if ((!fixed_name.empty() || (node && !node->name().empty())) && name_counts_[name]++ > 0)
        name += "_" + std::to_string(name_counts_[name]);
    // Building the partial model validates the layer and infers its shape right away, so errors
    // point at the node that caused them.
    std::vector<NamedOp> ops = ops_;
    ops.push_back({name, op});
    try {
        Model partial(input_shape_, ops);
        ops_shapes_.push_back(partial.output_shape());
    } catch (const ModelError& e) {
        if (node) fail_node(*node, e.what());
        fail(e.what());
    }
    ops_.push_back({name, std::move(op)});
    bump_version();
}

bool Importer::fold_channel_affine(const std::vector<double>& scale,
                                   const std::vector<double>& shift) {
    if (ops_.empty()) return false;
    auto& op = ops_.back().op;
    std::vector<double>* weight = nullptr;
    std::vector<double>* bias = nullptr;
    std::size_t channels = 0;
    if (auto* c = std::get_if<Conv2d>(&op)) {
        weight = &c->weight;
        bias = &c->bias;
        channels = static_cast<std::size_t>(c->out_channels);
    } else if (auto* d = std::get_if<Dense>(&op)) {
        weight = &d->weight;
        bias = &d->bias;
        channels = static_cast<std::size_t>(d->out_features);
    } else if (auto* p = std::get_if<Pool2d>(&op);
               p && scale.size() == 1 && shift.size() == 1 && shift[0] == 0.0) {
        p->scale *= scale[0];  // e.g. scaled sum pooling exported as AveragePool then Mul
        bump_version();
        return true;
    } else {
        return false;
    }
    const std::size_t per = weight->size() / channels;
    for (std::size_t c = 0; c < channels; ++c) {
        const double s = scale.size() == 1 ? scale[0] : scale[c];
        const double t = shift.size() == 1 ? shift[0] : shift[c];
        for (std::size_t k = 0; k < per; ++k) (*weight)[c * per + k] *= s;
        (*bias)[c] = (*bias)[c] * s + t;
    }
    bump_version();
    return true;
}

// A constant that broadcasts per channel (per feature) over the current output: returns one
// value per channel, or a single value for scalars.
std::vector<double> Importer::per_channel(const ::onnx::NodeProto& node, const Tensor& t) const {
    if (t.numel() == 1) return t.data;
    const Shape shape = current_shape();
    const auto channels = shape[0];
    if (t.numel() != channels)
        fail_node(node, "constant of " + std::to_string(t.numel()) +
                            " values does not broadcast per channel over " +
                            shape_to_string(shape));
    // Its non-unit dimension must be the channel axis: [C], [1,C] for flat data; [C,1,1] or
    // [1,C,1,1] for images.
    std::vector<std::int64_t> non_unit;
    for (std::size_t i = 0; i < t.dims.size(); ++i)
        if (t.dims[i] != 1)
            non_unit.push_back(
                static_cast<std::int64_t>(t.dims.size() - i));  // axis from the right
    const std::int64_t expected_from_right = static_cast<std::int64_t>(shape.size());
    if (non_unit.size() != 1 || non_unit[0] != expected_from_right)
        fail_node(node, "constant does not broadcast per channel over " + shape_to_string(shape));
    return t.data;
}

Runtime Importer::materialize(const ::onnx::NodeProto* node, Runtime r) {
    if (is_identity(r.poly)) return r;
    if (r.poly.size() <= 2) {
        const double a = r.poly.size() == 2 ? r.poly[1] : 0.0;
        if (fold_channel_affine({a}, {r.poly[0]})) return Runtime{version_, {0.0, 1.0}};
    }
    Polynomial p;
    p.coefficients = r.poly;
    p.approximates = "imported";
    p.method = "imported";
    // henn's own export says what each polynomial approximates.
    std::string layer_name = "poly" + std::to_string(polynomial_count_ + 1);
    auto it = metadata_.find("henn.polynomial." + std::to_string(polynomial_count_));
    if (it != metadata_.end()) {
        std::stringstream ss(it->second);
        std::string item;
        while (std::getline(ss, item, ';')) {
            auto eq = item.find('=');
            if (eq == std::string::npos) continue;
            auto key = item.substr(0, eq), val = item.substr(eq + 1);
            if (key == "layer" && !val.empty()) layer_name = val;
            if (key == "approximates") p.approximates = val;
            if (key == "method") p.method = val;
            if (key == "interval")
                std::sscanf(val.c_str(), "%lf,%lf", &p.interval_lo, &p.interval_hi);
        }
    }
    ++polynomial_count_;
    push(node, "poly", p, layer_name);
    return Runtime{version_, {0.0, 1.0}};
}

void Importer::handle_conv(const ::onnx::NodeProto& node) {
    // A zero Pad before the Conv (PyTorch's F.pad, Keras' ZeroPadding2D) joins its padding.
    const auto x = materialize(&node, runtime_input(node, 0, /*padded_ok=*/true));
    const auto& w = constant_input(node, 1, "Conv weight");
    if (w.dims.size() != 4)
        fail_node(node, "only 2-D convolutions are supported (weight rank " +
                            std::to_string(w.dims.size()) + ")");
    if (attr_int(node, "group", 1) != 1) fail_node(node, "grouped convolution is not supported");
    for (auto d : attr_ints(node, "dilations"))
        if (d != 1) fail_node(node, "dilated convolution is not supported");
    const auto auto_pad = attr_string(node, "auto_pad");
    if (!auto_pad.empty() && auto_pad != "NOTSET" && auto_pad != "VALID")
        fail_node(node, "auto_pad " + auto_pad + " is not supported (export with explicit pads)");
    Conv2d c;
    c.out_channels = w.dims[0];
    c.in_channels = w.dims[1];
    c.kernel_h = w.dims[2];
    c.kernel_w = w.dims[3];
    auto kernel = attr_ints(node, "kernel_shape");
    if (!kernel.empty() &&
        (kernel.size() != 2 || kernel[0] != c.kernel_h || kernel[1] != c.kernel_w))
        fail_node(node, "kernel_shape does not match the weight");
    auto strides = attr_ints(node, "strides");
    if (!strides.empty()) {
        if (strides.size() != 2) fail_node(node, "strides must have 2 values");
        c.stride_h = strides[0];
        c.stride_w = strides[1];
    }
    auto pads = attr_ints(node, "pads");
    if (!pads.empty()) {
        if (pads.size() != 4) fail_node(node, "pads must have 4 values");
        if (pads[0] != pads[2] || pads[1] != pads[3])
            fail_node(node, "asymmetric padding is not supported");
        c.pad_h = pads[0];
        c.pad_w = pads[1];
    }
    c.pad_h += x.pad_h;
    c.pad_w += x.pad_w;
    c.weight = w.data;
    if (has_input(node, 2)) {
        const auto& b = constant_input(node, 2, "Conv bias");
        if (b.numel() != c.out_channels)
            fail_node(node, "bias size does not match the output channels");
        c.bias = b.data;
    } else {
        c.bias.assign(static_cast<std::size_t>(c.out_channels), 0.0);
    }
    push(&node, "conv", c);
    set_runtime(node, Runtime{version_, {0.0, 1.0}});
}

void Importer::handle_pool(const ::onnx::NodeProto& node, bool global, bool from_max) {
    // Average pooling takes a zero Pad before it into its padding (PyTorch exports
    // AvgPool2d(padding=p) as Pad then AveragePool): the zeros count in the window.
    const auto x = materialize(&node, runtime_input(node, 0, /*padded_ok=*/!global && !from_max));
    const Shape shape = current_shape();
    if (shape.size() != 3)
        fail_node(node, "pooling needs an image input, got " + shape_to_string(shape));
    Pool2d p;
    if (global) {
        p.kernel_h = shape[1];
        p.kernel_w = shape[2];
    } else {
        auto kernel = attr_ints(node, "kernel_shape");
        if (kernel.size() != 2) fail_node(node, "only 2-D pooling is supported");
        p.kernel_h = kernel[0];
        p.kernel_w = kernel[1];
        auto strides = attr_ints(node, "strides");
        if (!strides.empty()) {
            if (strides.size() != 2) fail_node(node, "strides must have 2 values");
            p.stride_h = strides[0];
            p.stride_w = strides[1];
        }
        auto pads = attr_ints(node, "pads");
        bool any_pad = false;
        for (auto pad : pads) any_pad = any_pad || pad != 0;
        if (any_pad) {
            if (from_max) fail_node(node, "padded MaxPool is not supported");
            if (attr_int(node, "count_include_pad", 0) == 0)
                fail_node(node,
                          "padding with count_include_pad = 0 (border windows divided by fewer "
                          "elements) is "
                          "not supported; use count_include_pad = 1 (PyTorch's default)");
            if (pads.size() != 4) fail_node(node, "pads must have 4 values");
            if (pads[0] != pads[2] || pads[1] != pads[3])
                fail_node(node, "asymmetric padding is not supported");
            p.pad_h = pads[0];
            p.pad_w = pads[1];
        }
        p.pad_h += x.pad_h;
        p.pad_w += x.pad_w;
        if (attr_int(node, "ceil_mode", 0) != 0) fail_node(node, "ceil_mode is not supported");
        for (auto d : attr_ints(node, "dilations"))
            if (d != 1) fail_node(node, "dilated pooling is not supported");
        const auto auto_pad = attr_string(node, "auto_pad");
        if (!auto_pad.empty() && auto_pad != "NOTSET" && auto_pad != "VALID")
            fail_node(node, "auto_pad " + auto_pad + " is not supported");
    }
    p.scale = 1.0 / static_cast<double>(p.kernel_h * p.kernel_w);
    if (from_max)
        warnings_.push_back("node '" + node.name() + "': MaxPool replaced by average pooling (" +
                            std::to_string(p.kernel_h) + "x" + std::to_string(p.kernel_w) +
                            "); accuracy may drop unless the model is retrained");
    push(&node, "avgpool", p);
    set_runtime(node, Runtime{version_, {0.0, 1.0}});
}

void Importer::handle_dense(const ::onnx::NodeProto& node, bool gemm) {
    materialize(&node, runtime_input(node, 0));
    const Shape shape = current_shape();
    if (shape.size() != 1)
        fail_node(node,
                  "needs a flat input (Flatten/Reshape first), got " + shape_to_string(shape));
    const auto& b = constant_input(node, 1, "weight");
    if (b.dims.size() != 2) fail_node(node, "weight must be a matrix");
    bool trans_b = false;
    double alpha = 1.0, beta = 1.0;
    if (gemm) {
        if (attr_int(node, "transA", 0) != 0) fail_node(node, "transA is not supported");
        trans_b = attr_int(node, "transB", 0) != 0;
        alpha = attr_float(node, "alpha", 1.0);
        beta = attr_float(node, "beta", 1.0);
    }
    Dense d;
    d.in_features = trans_b ? b.dims[1] : b.dims[0];
    d.out_features = trans_b ? b.dims[0] : b.dims[1];
    if (d.in_features != shape[0])
        fail_node(node, "weight expects " + std::to_string(d.in_features) + " inputs, data has " +
                            std::to_string(shape[0]));
    d.weight.resize(static_cast<std::size_t>(d.in_features * d.out_features));
    for (std::int64_t o = 0; o < d.out_features; ++o)
        for (std::int64_t i = 0; i < d.in_features; ++i)
            d.weight[o * d.in_features + i] =
                alpha * (trans_b ? b.data[o * d.in_features + i] : b.data[i * d.out_features + o]);
    d.bias.assign(static_cast<std::size_t>(d.out_features), 0.0);
    if (gemm && has_input(node, 2)) {
        const auto& c = constant_input(node, 2, "Gemm bias");
        if (c.numel() != 1 && c.numel() != d.out_features)
            fail_node(node, "bias does not broadcast over the outputs");
        for (std::int64_t o = 0; o < d.out_features; ++o)
            d.bias[o] = beta * (c.numel() == 1 ? c.data[0] : c.data[o]);
    }
    push(&node, "dense", d);
    set_runtime(node, Runtime{version_, {0.0, 1.0}});
}

void Importer::handle_elementwise(const ::onnx::NodeProto& node) {
    const auto& op = node.op_type();
    const Value& a = value(node, 0);
    const Value& b = value(node, 1);
    if (a.is_constant && b.is_constant) {
        // Constant folding: element-wise with equal shapes or a scalar operand.
        const Tensor& ta = a.constant;
        const Tensor& tb = b.constant;
        if (ta.numel() != tb.numel() && ta.numel() != 1 && tb.numel() != 1)
            fail_node(node, "constant folding needs equal shapes or a scalar");
        if (ta.has_batch() || tb.has_batch())
            fail_node(node,
                      "arithmetic on the batch size is not supported (it is not known on import)");
        Tensor out = ta.numel() >= tb.numel() ? ta : tb;
        out.integer = ta.integer && tb.integer;
        for (std::int64_t i = 0; i < out.numel(); ++i) {
            const double x = ta.data[ta.numel() == 1 ? 0 : i], y = tb.data[tb.numel() == 1 ? 0 : i];
            double z = op == "Add"   ? x + y
                       : op == "Sub" ? x - y
                       : op == "Mul" ? x * y
                       : op == "Div" ? x / y
                                     : std::pow(x, y);
            if (out.integer && op == "Div") z = std::trunc(z);  // integer division truncates
            if (!std::isfinite(z)) fail_node(node, "constant folding produced a non-finite value");
            out.data[i] = z;
        }
        set_constant(node, std::move(out));
        return;
    }
    if (op == "Pow") {
        if (!b.is_constant || b.constant.numel() != 1)
            fail_node(node, "exponent must be a constant scalar");
        const double e = b.constant.data[0];
        if (e != std::floor(e) || e < 1 || e > 8)
            fail_node(node, "exponent " + std::to_string(e) + " is not a small positive integer");
        auto r = runtime_input(node, 0);
        std::vector<double> p{1.0};
        for (int i = 0; i < static_cast<int>(e); ++i) p = poly_mul(p, r.poly);
        r.poly = p;
        set_runtime(node, r);
        return;
    }
    if (!a.is_constant && !b.is_constant) {
        auto ra = runtime_input(node, 0), rb = runtime_input(node, 1);
        Runtime r{ra.stage, {}};
        if (op == "Mul")
            r.poly = poly_mul(ra.poly, rb.poly);
        else if (op == "Add")
            r.poly = poly_add(ra.poly, rb.poly);
        else if (op == "Sub")
            r.poly = poly_add(ra.poly, rb.poly, -1.0);
        else
            fail_node(node, "division of two data tensors is not a polynomial");
        if (r.poly.size() > 33) fail_node(node, "polynomial degree above 32");
        set_runtime(node, r);
        return;
    }
    const bool data_first = !a.is_constant;
    auto r = runtime_input(node, data_first ? 0 : 1);
    const Tensor& c = data_first ? b.constant : a.constant;
    if (c.numel() == 1) {
        const double k = c.data[0];
        // A scaling right after pooling belongs to the pooling (scaled sum pooling is exported
        // as AveragePool then Mul).
        if ((op == "Mul" || (op == "Div" && data_first && k != 0.0)) && is_identity(r.poly) &&
            !ops_.empty() && std::holds_alternative<Pool2d>(ops_.back().op) &&
            consumers_[node.input(data_first ? 0 : 1)] == 1) {
            std::get<Pool2d>(ops_.back().op).scale *= op == "Mul" ? k : 1.0 / k;
            bump_version();
            set_runtime(node, Runtime{version_, {0.0, 1.0}});
            return;
        }
        if (op == "Mul")
            r.poly = poly_mul(r.poly, {k});
        else if (op == "Add")
            r.poly = poly_add(r.poly, {k});
        else if (op == "Sub")
            r.poly = data_first ? poly_add(r.poly, {-k}) : poly_add(poly_mul(r.poly, {-1.0}), {k});
        else if (op == "Div") {
            if (!data_first) fail_node(node, "division by the data is not a polynomial");
            if (k == 0.0) fail_node(node, "division by zero");
            r.poly = poly_mul(r.poly, {1.0 / k});
        }
        set_runtime(node, r);
        return;
    }
    // A per-channel constant (a bias after MatMul, Keras-style scaling): fold into the linear
    // layer that produced the data.
    if (!is_identity(r.poly))
        fail_node(node,
                  "per-channel constant applied after a non-linear element-wise expression is not "
                  "supported");
    const std::string& input_name = node.input(data_first ? 0 : 1);
    if (consumers_[input_name] > 1)
        fail_node(node,
                  "per-channel constant on a tensor that is also used elsewhere is not supported");
    auto channel = per_channel(node, c);
    std::vector<double> scale{1.0}, shift{0.0};
    if (op == "Add")
        shift = channel;
    else if (op == "Sub" && data_first) {
        shift = channel;
        for (auto& s : shift) s = -s;
    } else if (op == "Mul")
        scale = channel;
    else if (op == "Div" && data_first) {
        scale = channel;
        for (auto& s : scale) {
            if (s == 0.0) fail_node(node, "division by zero");
            s = 1.0 / s;
        }
    } else {
        fail_node(node,
                  "constant-minus-data or constant-divided-by-data per channel is not supported");
    }
    if (!fold_channel_affine(scale, shift))
        fail_node(node, "a per-channel constant must directly follow Conv, Gemm or MatMul");
    set_runtime(node, Runtime{version_, {0.0, 1.0}});
}

void Importer::handle_batch_norm(const ::onnx::NodeProto& node) {
    auto r = runtime_input(node, 0);
    if (!is_identity(r.poly) || ops_.empty() ||
        !(std::holds_alternative<Conv2d>(ops_.back().op) ||
          std::holds_alternative<Dense>(ops_.back().op)))
        fail_node(node,
                  "BatchNormalization must directly follow Conv, Gemm or MatMul to be folded");
    if (consumers_[node.input(0)] > 1) fail_node(node, "its input is also used elsewhere");
    if (attr_int(node, "training_mode", 0) != 0) fail_node(node, "training_mode is not supported");
    const double eps = attr_float(node, "epsilon", 1e-5);
    const auto& gamma = constant_input(node, 1, "scale");
    const auto& beta = constant_input(node, 2, "bias");
    const auto& mean = constant_input(node, 3, "mean");
    const auto& var = constant_input(node, 4, "var");
    try {
        fold_batch_norm(ops_.back().op, gamma.data, beta.data, mean.data, var.data, eps);
        bump_version();
    } catch (const ModelError& e) {
        fail_node(node, e.what());
    }
    set_runtime(node, Runtime{version_, {0.0, 1.0}});
}

void Importer::handle_reshape(const ::onnx::NodeProto& node, bool flatten) {
    auto r = runtime_input(node, 0);
    const Shape shape = current_shape();
    if (flatten) {
        if (attr_int(node, "axis", 1) != 1)
            fail_node(node, "only axis = 1 (keep the batch axis) is supported");
    } else {
        const auto& target = constant_input(node, 1, "shape");
        // Supported: [batch, -1] or [batch, size] (flatten), or the current per-sample shape;
        // the batch is written 0, -1, 1 or the input's own batch size (x.view(x.size(0), -1)).
        std::vector<std::int64_t> dims;
        for (double v : target.data) dims.push_back(to_index(v));
        if (dims.empty()) fail_node(node, "empty target shape");
        for (std::size_t i = 1; i < target.batch.size(); ++i)
            if (target.batch[i])
                fail_node(node,
                          "the batch size may only be the first dimension of the target shape");
        const bool batch_kept = !target.batch.empty() && target.batch[0];
        if (!batch_kept && dims[0] != 0 && dims[0] != -1 && dims[0] != 1)
            fail_node(node, "the first (batch) dimension must be kept (0, -1 or 1)");
        std::vector<std::int64_t> rest(dims.begin() + 1, dims.end());
        const bool to_flat = rest.size() == 1 && (rest[0] == -1 || rest[0] == shape_size(shape));
        if (!to_flat && rest != shape)
            fail_node(node, "reshape to " + shape_to_string(rest) + " from " +
                                shape_to_string(shape) + " is not supported (only flattening)");
        if (!to_flat) {
            set_runtime(node, r);
            return;
        }
    }
    if (shape.size() == 1) {  // already flat
        set_runtime(node, r);
        return;
    }
    materialize(&node, r);
    push(&node, "flatten", Flatten{});
    set_runtime(node, Runtime{version_, {0.0, 1.0}});
}

void Importer::handle_activation(const ::onnx::NodeProto& node) {
    materialize(&node, runtime_input(node, 0));
    const auto& op = node.op_type();
    NonPolynomialKind kind = op == "Relu"      ? NonPolynomialKind::relu
                             : op == "Sigmoid" ? NonPolynomialKind::sigmoid
                                               : NonPolynomialKind::tanh;
    if (options_.keep_nonpolynomial) {
        warnings_.push_back("node '" + node.name() + "': " + op +
                            " kept as is (plaintext only: the model cannot run encrypted)");
        push(&node, "act", NonPolynomial{kind});
    } else {
        ActivationSpec spec = options_.replacement;
        if (!spec.is_polynomial())
            fail("the replacement for " + op + " must be a polynomial activation");
        if (spec.kind == ActivationSpec::Kind::polynomial) spec.function = to_string(kind);
        warnings_.push_back("node '" + node.name() + "': " + op + " replaced by " +
                            to_string(spec));
        push(&node, "act", activation_layer(spec));
    }
    set_runtime(node, Runtime{version_, {0.0, 1.0}});
}

void Importer::handle_pad(const ::onnx::NodeProto& node) {
    const auto r = runtime_input(node, 0, /*padded_ok=*/true);
    const auto mode = attr_string(node, "mode");
    if (!mode.empty() && mode != "constant")
        fail_node(node, "mode '" + mode + "' is not supported (only zero padding)");
    std::vector<std::int64_t> pads;
    double fill = 0.0;
    if (opset_ < 11) {
        pads = attr_ints(node, "pads");
        fill = attr_float(node, "value", 0.0);
    } else {
        pads = constant_ints(node, 1, "pads");
        if (has_input(node, 2)) {
            const auto& v = constant_input(node, 2, "constant_value");
            if (v.numel() != 1) fail_node(node, "constant_value must be a scalar");
            fill = v.data[0];
        }
    }
    bool any = false;
    for (auto p : pads) any = any || p != 0;
    if (!any) {  // PyTorch writes all-zero Pads (e.g. before an unpadded avg_pool2d)
        set_runtime(node, r);
        return;
    }
    if (fill != 0.0)
        fail_node(node, "padding with " + std::to_string(fill) + " is not supported (only zeros)");
    const Shape shape = current_shape();
    if (shape.size() != 3 || pads.size() != 8)
        fail_node(node, "only padding of images (N, C, H, W) is supported, got " +
                            std::to_string(pads.size()) + " pads for " + shape_to_string(shape));
    // [N_begin, C_begin, H_begin, W_begin, N_end, C_end, H_end, W_end]
    if (pads[0] != 0 || pads[1] != 0 || pads[4] != 0 || pads[5] != 0)
        fail_node(node, "padding of the batch or channel axis is not supported");
    for (auto p : pads)
        if (p < 0) fail_node(node, "negative pads (cropping) are not supported");
    if (pads[2] != pads[6] || pads[3] != pads[7])
        fail_node(node, "asymmetric padding (" + std::to_string(pads[2]) + "," +
                            std::to_string(pads[6]) + " rows, " + std::to_string(pads[3]) + "," +
                            std::to_string(pads[7]) +
                            " columns) is not supported: padding must be the same on both sides");
    // The zeros pad the value as computed so far: a pending polynomial becomes a layer first.
    Runtime out = materialize(&node, r);
    out.pad_h += pads[2];
    out.pad_w += pads[3];
    set_runtime(node, out);
}

void Importer::handle_shape(const ::onnx::NodeProto& node) {
    const Value& v = value(node, 0);
    std::vector<std::int64_t> full;
    std::vector<char> batch;
    if (v.is_constant) {
        full = v.constant.dims;
        batch.assign(full.size(), 0);
    } else {
        // The data's shape is known except for the batch size (any earlier tensor of the chain:
        // shapes are static, reading one does not branch the computation).
        auto it = stage_shapes_.find(v.runtime.stage);
        if (it == stage_shapes_.end()) fail_node(node, "shape of an unknown tensor");
        Shape s = it->second;
        if (v.runtime.padded()) {
            s[1] += 2 * v.runtime.pad_h;
            s[2] += 2 * v.runtime.pad_w;
        }
        full = {0};
        full.insert(full.end(), s.begin(), s.end());
        batch.assign(full.size(), 0);
        batch[0] = 1;
    }
    const auto rank = static_cast<std::int64_t>(full.size());
    std::int64_t start = attr_int(node, "start", 0), end = attr_int(node, "end", rank);
    if (start < 0) start += rank;
    if (end < 0) end += rank;
    start = std::clamp<std::int64_t>(start, 0, rank);
    end = std::clamp<std::int64_t>(end, start, rank);
    Tensor t;
    t.integer = true;
    for (auto i = start; i < end; ++i) {
        t.data.push_back(static_cast<double>(full[static_cast<std::size_t>(i)]));
        t.batch.push_back(batch[static_cast<std::size_t>(i)]);
    }
    t.dims = {end - start};
    if (!t.has_batch()) t.batch.clear();
    set_constant(node, std::move(t));
}

void Importer::handle_gather(const ::onnx::NodeProto& node) {
    const Tensor& data =
        constant_input(node, 0, "Gather data (gathering from the data tensor is not supported)");
    const Tensor& indices = constant_input(node, 1, "Gather indices");
    const auto rank = static_cast<std::int64_t>(data.dims.size());
    if (rank == 0) fail_node(node, "cannot gather from a scalar");
    auto axis = attr_int(node, "axis", 0);
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank) fail_node(node, "axis out of range");
    const auto ax = static_cast<std::size_t>(axis);
    const auto n = data.dims[ax];
    const auto outer = product(data.dims, 0, ax), inner = product(data.dims, ax + 1);
    std::vector<std::int64_t> dims(data.dims.begin(), data.dims.begin() + axis);
    dims.insert(dims.end(), indices.dims.begin(), indices.dims.end());
    dims.insert(dims.end(), data.dims.begin() + axis + 1, data.dims.end());
    std::vector<std::int64_t> source;
    for (std::int64_t o = 0; o < outer; ++o)
        for (double iv : indices.data) {
            auto k = to_index(iv);
            if (k < 0) k += n;
            if (k < 0 || k >= n) fail_node(node, "index out of range");
            for (std::int64_t i = 0; i < inner; ++i) source.push_back((o * n + k) * inner + i);
        }
    set_constant(node, select(data, std::move(dims), source));
}

void Importer::handle_unsqueeze(const ::onnx::NodeProto& node, bool squeeze) {
    const Tensor& in =
        constant_input(node, 0,
                       squeeze ? "Squeeze input (squeezing the data is not supported)"
                               : "Unsqueeze input (unsqueezing the data is not supported)");
    std::vector<std::int64_t> axes;
    if (opset_ >= 13) {
        if (has_input(node, 1)) axes = constant_ints(node, 1, "axes");
    } else {
        axes = attr_ints(node, "axes");
    }
    Tensor out = in;
    const auto rank = static_cast<std::int64_t>(in.dims.size());
    if (squeeze) {
        std::vector<bool> drop(in.dims.size(), false);
        if (axes.empty()) {
            for (std::size_t i = 0; i < in.dims.size(); ++i) drop[i] = in.dims[i] == 1;
        } else {
            for (auto a : axes) {
                if (a < 0) a += rank;
                if (a < 0 || a >= rank || in.dims[static_cast<std::size_t>(a)] != 1)
                    fail_node(node, "cannot squeeze axis " + std::to_string(a));
                drop[static_cast<std::size_t>(a)] = true;
            }
        }
        out.dims.clear();
        for (std::size_t i = 0; i < in.dims.size(); ++i)
            if (!drop[i]) out.dims.push_back(in.dims[i]);
    } else {
        if (axes.empty()) fail_node(node, "Unsqueeze without axes");
        const auto out_rank = rank + static_cast<std::int64_t>(axes.size());
        std::vector<bool> inserted(static_cast<std::size_t>(out_rank), false);
        for (auto a : axes) {
            if (a < 0) a += out_rank;
            if (a < 0 || a >= out_rank || inserted[static_cast<std::size_t>(a)])
                fail_node(node, "bad axes");
            inserted[static_cast<std::size_t>(a)] = true;
        }
        out.dims.clear();
        std::size_t next = 0;
        for (std::size_t i = 0; i < inserted.size(); ++i)
            out.dims.push_back(inserted[i] ? 1 : in.dims[next++]);
    }
    set_constant(node, std::move(out));
}

void Importer::handle_concat(const ::onnx::NodeProto& node) {
    if (node.input_size() < 1) fail_node(node, "no inputs");
    std::vector<const Tensor*> parts;
    for (int i = 0; i < node.input_size(); ++i)
        parts.push_back(
            &constant_input(node, i, "Concat input (concatenating data tensors is not supported)"));
    const auto& first = parts[0]->dims;
    const auto rank = static_cast<std::int64_t>(first.size());
    auto axis = attr_int(node, "axis", 0);
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank) fail_node(node, "axis out of range");
    const auto ax = static_cast<std::size_t>(axis);
    Tensor out;
    out.dims = first;
    out.dims[ax] = 0;
    out.integer = true;
    bool batch = false;
    for (const Tensor* t : parts) {
        if (t->dims.size() != first.size()) fail_node(node, "inputs of different ranks");
        for (std::size_t d = 0; d < first.size(); ++d)
            if (d != ax && t->dims[d] != first[d]) fail_node(node, "inputs of different shapes");
        out.dims[ax] += t->dims[ax];
        out.integer = out.integer && t->integer;
        batch = batch || t->has_batch();
    }
    const auto outer = product(first, 0, ax), inner = product(first, ax + 1);
    for (std::int64_t o = 0; o < outer; ++o)
        for (const Tensor* t : parts) {
            const auto block = t->dims[ax] * inner;
            for (std::int64_t k = 0; k < block; ++k) {
                const auto i = static_cast<std::size_t>(o * block + k);
                out.data.push_back(t->data[i]);
                if (batch) out.batch.push_back(t->has_batch() ? t->batch[i] : 0);
            }
        }
    set_constant(node, std::move(out));
}

void Importer::handle_constant_of_shape(const ::onnx::NodeProto& node) {
    const auto dims = constant_ints(node, 0, "shape");
    Tensor out;
    out.dims = dims;
    std::int64_t n = 1;
    for (auto d : dims) {
        if (d < 0 || d > kMaxTensorElements) fail_node(node, "bad dimension");
        n *= d;
        if (n > kMaxTensorElements) fail_node(node, "constant too large");
    }
    double fill = 0.0;
    for (const auto& a : node.attribute())
        if (a.name() == "value") {
            const Tensor v = parse_tensor(a.t(), "node '" + node.name() + "' value");
            if (v.numel() != 1) fail_node(node, "value must hold one element");
            fill = v.data[0];
            out.integer = v.integer;
        }
    out.data.assign(static_cast<std::size_t>(n), fill);
    set_constant(node, std::move(out));
}

void Importer::handle_cast(const ::onnx::NodeProto& node) {
    const Value& v = value(node, 0);
    const auto to = attr_int(node, "to", 0);
    const bool to_float = to == ::onnx::TensorProto::FLOAT || to == ::onnx::TensorProto::DOUBLE ||
                          to == ::onnx::TensorProto::FLOAT16 || to == ::onnx::TensorProto::BFLOAT16;
    const bool to_int = to == ::onnx::TensorProto::INT64 || to == ::onnx::TensorProto::INT32 ||
                        to == ::onnx::TensorProto::INT16 || to == ::onnx::TensorProto::INT8 ||
                        to == ::onnx::TensorProto::UINT8 || to == ::onnx::TensorProto::UINT16 ||
                        to == ::onnx::TensorProto::UINT32 || to == ::onnx::TensorProto::UINT64;
    if (!v.is_constant) {
        // float <-> double on the data changes nothing in a float64 (or CKKS) evaluation.
        if (to != ::onnx::TensorProto::FLOAT && to != ::onnx::TensorProto::DOUBLE)
            fail_node(node, "casting the data to element type " + std::to_string(to) +
                                " is not supported");
        set_runtime(node, runtime_input(node, 0, /*padded_ok=*/true));
        return;
    }
    if (!to_float && !to_int && to != ::onnx::TensorProto::BOOL)
        fail_node(node, "cast to element type " + std::to_string(to) + " is not supported");
    Tensor out = v.constant;
    out.integer = !to_float;
    for (auto& x : out.data) {
        if (to == ::onnx::TensorProto::FLOAT)
            x = static_cast<float>(x);
        else if (to == ::onnx::TensorProto::BOOL)
            x = x != 0.0 ? 1.0 : 0.0;
        else if (to_int)
            x = std::trunc(x);
    }
    if (out.has_batch() && !to_int) fail_node(node, "the batch size cast to a non-integer type");
    set_constant(node, std::move(out));
}

// Row-major strides of `dims`.
std::vector<std::int64_t> strides_of(const std::vector<std::int64_t>& dims) {
    std::vector<std::int64_t> s(dims.size(), 1);
    for (std::size_t i = dims.size(); i-- > 1;) s[i - 1] = s[i] * dims[i];
    return s;
}

void Importer::handle_slice(const ::onnx::NodeProto& node) {
    const Tensor& in =
        constant_input(node, 0, "Slice input (slicing the data tensor is not supported)");
    const auto rank = static_cast<std::int64_t>(in.dims.size());
    std::vector<std::int64_t> starts, ends, axes, steps;
    if (opset_ < 10) {
        starts = attr_ints(node, "starts");
        ends = attr_ints(node, "ends");
        axes = attr_ints(node, "axes");
    } else {
        starts = constant_ints(node, 1, "starts");
        ends = constant_ints(node, 2, "ends");
        if (has_input(node, 3)) axes = constant_ints(node, 3, "axes");
        if (has_input(node, 4)) steps = constant_ints(node, 4, "steps");
    }
    if (axes.empty())
        for (std::int64_t i = 0; i < static_cast<std::int64_t>(starts.size()); ++i)
            axes.push_back(i);
    if (steps.empty()) steps.assign(starts.size(), 1);
    if (ends.size() != starts.size() || axes.size() != starts.size() ||
        steps.size() != starts.size())
        fail_node(node, "starts, ends, axes and steps differ in length");
    // Per axis: first index, step, count.
    struct Range {
        std::int64_t first = 0, step = 1, count = 0;
    };
    std::vector<Range> range;
    for (auto d : in.dims) range.push_back({0, 1, d});
    for (std::size_t j = 0; j < starts.size(); ++j) {
        auto axis = axes[j];
        if (axis < 0) axis += rank;
        if (axis < 0 || axis >= rank) fail_node(node, "axis out of range");
        const auto a = static_cast<std::size_t>(axis);
        const auto dim = in.dims[a], st = steps[j];
        if (st == 0) fail_node(node, "step 0");
        auto b = starts[j], e = ends[j];
        if (b < 0) b += dim;
        if (e < 0) e += dim;
        if (st > 0) {
            b = std::clamp<std::int64_t>(b, 0, dim);
            e = std::clamp<std::int64_t>(e, 0, dim);
            range[a].count = e > b ? (e - b + st - 1) / st : 0;
        } else {
            b = std::clamp<std::int64_t>(b, 0, dim - 1);
            e = std::clamp<std::int64_t>(e, -1, dim - 1);
            range[a].count = b > e ? (b - e - st - 1) / -st : 0;
        }
        range[a].first = b;
        range[a].step = st;
    }
    std::vector<std::int64_t> count;
    for (const auto& r : range) count.push_back(r.count);
    const auto in_strides = strides_of(in.dims), out_strides = strides_of(count);
    const auto n = product(count);
    std::vector<std::int64_t> source;
    source.reserve(static_cast<std::size_t>(n));
    for (std::int64_t flat = 0; flat < n; ++flat) {
        std::int64_t src = 0, rest = flat;
        for (std::size_t d = 0; d < count.size(); ++d) {
            const auto idx = rest / out_strides[d];
            rest %= out_strides[d];
            src += (range[d].first + idx * range[d].step) * in_strides[d];
        }
        source.push_back(src);
    }
    set_constant(node, select(in, count, source));
}

void Importer::handle_transpose(const ::onnx::NodeProto& node) {
    const Tensor& in =
        constant_input(node, 0, "Transpose input (transposing the data tensor is not supported)");
    const auto rank = in.dims.size();
    auto perm = attr_ints(node, "perm");
    if (perm.empty())
        for (std::size_t i = 0; i < rank; ++i)
            perm.push_back(static_cast<std::int64_t>(rank - 1 - i));
    if (perm.size() != rank) fail_node(node, "perm does not match the rank");
    std::vector<bool> seen(rank, false);
    std::vector<std::int64_t> dims;
    for (auto p : perm) {
        if (p < 0 || p >= static_cast<std::int64_t>(rank) || seen[static_cast<std::size_t>(p)])
            fail_node(node, "bad perm");
        seen[static_cast<std::size_t>(p)] = true;
        dims.push_back(in.dims[static_cast<std::size_t>(p)]);
    }
    const auto in_strides = strides_of(in.dims), out_strides = strides_of(dims);
    const auto n = in.numel();
    std::vector<std::int64_t> source;
    source.reserve(static_cast<std::size_t>(n));
    for (std::int64_t flat = 0; flat < n; ++flat) {
        std::int64_t src = 0, rest = flat;
        for (std::size_t d = 0; d < rank; ++d) {
            const auto idx = rest / out_strides[d];
            rest %= out_strides[d];
            src += idx * in_strides[static_cast<std::size_t>(perm[d])];
        }
        source.push_back(src);
    }
    set_constant(node, select(in, std::move(dims), source));
}

void Importer::handle_constant_reshape(const ::onnx::NodeProto& node) {
    const Tensor& in = constant_input(node, 0, "data");
    auto dims = constant_ints(node, 1, "shape");
    const bool allow_zero = attr_int(node, "allowzero", 0) != 0;
    std::int64_t known = 1, infer = -1;
    for (std::size_t i = 0; i < dims.size(); ++i) {
        if (dims[i] == 0 && !allow_zero) {
            if (i >= in.dims.size())
                fail_node(node, "0 in the shape refers to a missing dimension");
            dims[i] = in.dims[i];
        }
        if (dims[i] == -1) {
            if (infer >= 0) fail_node(node, "more than one -1 in the shape");
            infer = static_cast<std::int64_t>(i);
        } else if (dims[i] < 0) {
            fail_node(node, "negative dimension in the shape");
        } else {
            known *= dims[i];
        }
    }
    if (infer >= 0) {
        if (known == 0 || in.numel() % known != 0) fail_node(node, "cannot infer the -1 dimension");
        dims[static_cast<std::size_t>(infer)] = in.numel() / known;
        known *= dims[static_cast<std::size_t>(infer)];
    }
    if (known != in.numel()) fail_node(node, "reshape changes the number of elements");
    Tensor out = in;
    out.dims = std::move(dims);
    set_constant(node, std::move(out));
}

void Importer::handle(const ::onnx::NodeProto& node) {
    if (!node.domain().empty() && node.domain() != "ai.onnx")
        fail_node(node, "operator domain '" + node.domain() + "' is not supported");
    const auto& op = node.op_type();
    if (op == "Identity" || op == "Dropout") {
        Value v = value(node, 0);
        set_output(node, std::move(v));
    } else if (op == "Constant") {
        for (const auto& a : node.attribute()) {
            Value v;
            v.is_constant = true;
            if (a.name() == "value")
                v.constant = parse_tensor(a.t(), "node '" + node.name() + "' value");
            else if (a.name() == "value_float")
                v.constant.data = {a.f()};
            else if (a.name() == "value_int") {
                v.constant.data = {static_cast<double>(a.i())};
                v.constant.integer = true;
            } else if (a.name() == "value_floats") {
                v.constant.dims = {a.floats_size()};
                v.constant.data.assign(a.floats().begin(), a.floats().end());
            } else if (a.name() == "value_ints") {
                v.constant.integer = true;
                v.constant.dims = {a.ints_size()};
                for (auto i : a.ints()) v.constant.data.push_back(static_cast<double>(i));
            } else
                fail_node(node, "unsupported Constant attribute '" + a.name() + "'");
            set_output(node, std::move(v));
            return;
        }
        fail_node(node, "Constant without a value");
    } else if (op == "Conv") {
        handle_conv(node);
    } else if (op == "AveragePool") {
        handle_pool(node, false, false);
    } else if (op == "GlobalAveragePool") {
        handle_pool(node, true, false);
    } else if (op == "MaxPool") {
        if (node.output_size() > 1 && !node.output(1).empty())
            fail_node(node, "MaxPool indices output is not supported");
        handle_pool(node, false, true);
    } else if (op == "Gemm" || op == "MatMul") {
        handle_dense(node, op == "Gemm");
    } else if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Pow") {
        handle_elementwise(node);
    } else if (op == "BatchNormalization") {
        handle_batch_norm(node);
    } else if (op == "Reshape" && value(node, 0).is_constant) {
        handle_constant_reshape(node);
    } else if (op == "Flatten" || op == "Reshape") {
        handle_reshape(node, op == "Flatten");
    } else if (op == "Pad") {
        handle_pad(node);
    } else if (op == "Shape") {
        handle_shape(node);
    } else if (op == "Gather") {
        handle_gather(node);
    } else if (op == "Unsqueeze" || op == "Squeeze") {
        handle_unsqueeze(node, op == "Squeeze");
    } else if (op == "Concat") {
        handle_concat(node);
    } else if (op == "ConstantOfShape") {
        handle_constant_of_shape(node);
    } else if (op == "Cast") {
        handle_cast(node);
    } else if (op == "Slice") {
        handle_slice(node);
    } else if (op == "Transpose") {
        handle_transpose(node);
    } else if (op == "Relu" || op == "Sigmoid" || op == "Tanh") {
        handle_activation(node);
    } else if ((op == "Softmax" || op == "LogSoftmax") && node.output_size() == 1 &&
               node.output(0) == model_.graph().output(0).name()) {
        // A final (log-)softmax does not change the predicted class; the encrypted model
        // returns logits and the client may apply it after decryption.
        auto r = runtime_input(node, 0);
        if (current_shape().size() != 1) fail_node(node, "softmax over a non-flat tensor");
        warnings_.push_back("node '" + node.name() + "': final " + op +
                            " dropped (the model outputs logits; the argmax is unchanged)");
        set_runtime(node, r);
    } else {
        fail_node(
            node,
            "unsupported operator: " + op +
                " has no encrypted (polynomial) form in henn. Supported: Conv, Gemm, MatMul, Add, "
                "Sub, Mul, "
                "Div, Pow, AveragePool, GlobalAveragePool, Pad (zeros, before Conv/AveragePool), "
                "BatchNormalization, Flatten, Reshape, Relu/Sigmoid/Tanh and MaxPool (replaced), a "
                "final "
                "Softmax/LogSoftmax (dropped), and constant or shape arithmetic");
    }
}

OnnxImport Importer::run() {
    if (model_.ir_version() < 3)
        fail("IR version " + std::to_string(model_.ir_version()) + " is too old (need >= 3)");
    for (const auto& o : model_.opset_import())
        if (o.domain().empty() || o.domain() == "ai.onnx") opset_ = o.version();
    if (opset_ < 9 || opset_ > 17)
        fail("default-domain opset " + std::to_string(opset_) + " is not supported (9 to 17)");
    for (const auto& p : model_.metadata_props()) metadata_[p.key()] = p.value();
    const auto& graph = model_.graph();
    if (graph.output_size() != 1)
        fail("the graph must have exactly one output, has " + std::to_string(graph.output_size()));

    for (const auto& t : graph.initializer()) {
        Value v;
        v.is_constant = true;
        v.constant = parse_tensor(t, "initializer '" + t.name() + "'");
        values_[t.name()] = std::move(v);
    }
    std::string input_name;
    for (const auto& in : graph.input()) {
        if (values_.count(in.name())) continue;  // initializers listed as inputs (IR < 4)
        if (!input_name.empty())
            fail("more than one data input ('" + input_name + "', '" + in.name() + "')");
        input_name = in.name();
        const auto& type = in.type();
        if (!type.has_tensor_type() || !type.tensor_type().has_shape())
            fail("input '" + in.name() + "' has no tensor shape");
        const auto elem = type.tensor_type().elem_type();
        if (elem != ::onnx::TensorProto::FLOAT && elem != ::onnx::TensorProto::DOUBLE)
            fail("input '" + in.name() + "' is not float or double");
        const auto& dims = type.tensor_type().shape().dim();
        if (dims.size() < 2 || dims.size() > 4)
            fail("input '" + in.name() + "' must have rank 2 to 4 (batch first)");
        for (int i = 1; i < dims.size(); ++i) {
            if (!dims[i].has_dim_value() || dims[i].dim_value() < 1)
                fail("input '" + in.name() + "' dimension " + std::to_string(i) +
                     " must be a fixed positive number");
            input_shape_.push_back(dims[i].dim_value());
        }
    }
    if (input_name.empty()) fail("the graph has no data input");
    stage_shapes_[0] = input_shape_;
    // Our own checks above come first (clearer messages); then ONNX's schema and graph checks.
    try {
        ::onnx::checker::check_model(model_);
    } catch (const std::exception& e) {
        fail(std::string("ONNX checker: ") + e.what());
    }
    values_[input_name] = Value{};
    for (const auto& node : graph.node())
        for (const auto& in : node.input()) ++consumers_[in];
    ++consumers_[graph.output(0).name()];

    for (const auto& node : graph.node()) handle(node);

    auto it = values_.find(graph.output(0).name());
    if (it == values_.end())
        fail("graph output '" + graph.output(0).name() + "' is never computed");
    if (it->second.is_constant) fail("graph output is a constant");
    if (it->second.runtime.stage != version_) fail("graph output is not the end of the chain");
    if (it->second.runtime.padded())
        fail("graph output is a zero-padded tensor (a Pad at the end of the model)");
    materialize(nullptr, it->second.runtime);

    std::map<std::string, std::string> metadata = metadata_;
    metadata["onnx.producer"] =
        model_.producer_name() +
        (model_.producer_version().empty() ? "" : " " + model_.producer_version());
    metadata["onnx.opset"] = std::to_string(opset_);
    OnnxImport result{Model(input_shape_, ops_, std::move(metadata)), warnings_, opset_,
                      model_.producer_name()};
    return result;  // the caller shows the warnings (libraries never print)
}

// ---------------------------------------------------------------------------------------------
// Export
// ---------------------------------------------------------------------------------------------

class Exporter {
  public:
    Exporter(const Model& model, const OnnxExportOptions& options)
        : model_(model), options_(options) {}

    std::string run();

  private:
    std::string constant(const std::string& name, const std::vector<std::int64_t>& dims,
                         const std::vector<double>& data) {
        auto* t = graph_->add_initializer();
        t->set_name(name);
        for (auto d : dims) t->add_dims(d);
        if (options_.float64) {
            t->set_data_type(::onnx::TensorProto::DOUBLE);
            for (double v : data) t->add_double_data(v);
        } else {
            t->set_data_type(::onnx::TensorProto::FLOAT);
            for (double v : data) t->add_float_data(static_cast<float>(v));
        }
        return name;
    }
    ::onnx::NodeProto* node(const std::string& op, const std::string& name,
                            std::vector<std::string> inputs, const std::string& output) {
        auto* n = graph_->add_node();
        n->set_op_type(op);
        n->set_name(name);
        for (auto& in : inputs) n->add_input(in);
        n->add_output(output);
        return n;
    }
    static void ints(::onnx::NodeProto* n, const std::string& name,
                     std::vector<std::int64_t> values) {
        auto* a = n->add_attribute();
        a->set_name(name);
        a->set_type(::onnx::AttributeProto::INTS);
        for (auto v : values) a->add_ints(v);
    }
    static void integer(::onnx::NodeProto* n, const std::string& name, std::int64_t value) {
        auto* a = n->add_attribute();
        a->set_name(name);
        a->set_type(::onnx::AttributeProto::INT);
        a->set_i(value);
    }
    void value_info(::onnx::ValueInfoProto* info, const std::string& name, const Shape& shape) {
        info->set_name(name);
        auto* tensor = info->mutable_type()->mutable_tensor_type();
        tensor->set_elem_type(options_.float64 ? ::onnx::TensorProto::DOUBLE
                                               : ::onnx::TensorProto::FLOAT);
        auto* s = tensor->mutable_shape();
        s->add_dim()->set_dim_param("batch");
        for (auto d : shape) s->add_dim()->set_dim_value(d);
    }

    const Model& model_;
    const OnnxExportOptions& options_;
    ::onnx::GraphProto* graph_ = nullptr;
};

std::string Exporter::run() {
    ::onnx::ModelProto proto;
    proto.set_ir_version(7);  // ONNX 1.7+, what current runtimes read
    proto.set_producer_name("henn");
    proto.set_producer_version("0.1.0");
    auto* opset = proto.add_opset_import();
    opset->set_domain("");
    opset->set_version(options_.opset);
    graph_ = proto.mutable_graph();
    graph_->set_name("henn_model");
    value_info(graph_->add_input(), "input", model_.input_shape());

    std::string current = "input";
    int polynomial_index = 0;
    for (const auto& layer : model_.layers()) {
        const std::string& n = layer.name;
        const std::string out = n + "_out";
        if (auto* c = std::get_if<Conv2d>(&layer.op)) {
            auto* node_proto = node(
                "Conv", n,
                {current,
                 constant(n + ".weight",
                          {c->out_channels, c->in_channels, c->kernel_h, c->kernel_w}, c->weight),
                 constant(n + ".bias", {c->out_channels}, c->bias)},
                out);
            ints(node_proto, "kernel_shape", {c->kernel_h, c->kernel_w});
            ints(node_proto, "strides", {c->stride_h, c->stride_w});
            ints(node_proto, "pads", {c->pad_h, c->pad_w, c->pad_h, c->pad_w});
            current = out;
        } else if (auto* p = std::get_if<Pool2d>(&layer.op)) {
            const bool average = p->is_average();
            auto* node_proto = node("AveragePool", n, {current}, average ? out : n + "_avg");
            ints(node_proto, "kernel_shape", {p->kernel_h, p->kernel_w});
            ints(node_proto, "strides", {p->stride_h, p->stride_w});
            if (p->pad_h != 0 || p->pad_w != 0) {  // zeros counted in the window, as in the IR
                ints(node_proto, "pads", {p->pad_h, p->pad_w, p->pad_h, p->pad_w});
                integer(node_proto, "count_include_pad", 1);
            }
            if (!average) {
                // Scaled sum pooling = average pooling times (window size * scale).
                const double factor = p->scale * static_cast<double>(p->kernel_h * p->kernel_w);
                node("Mul", n + "/scale", {n + "_avg", constant(n + ".scale", {}, {factor})}, out);
            }
            current = out;
        } else if (auto* d = std::get_if<Dense>(&layer.op)) {
            auto* node_proto = node(
                "Gemm", n,
                {current, constant(n + ".weight", {d->out_features, d->in_features}, d->weight),
                 constant(n + ".bias", {d->out_features}, d->bias)},
                out);
            integer(node_proto, "transB", 1);
            current = out;
        } else if (std::holds_alternative<Flatten>(layer.op)) {
            integer(node("Flatten", n, {current}, out), "axis", 1);
            current = out;
        } else if (auto* poly = std::get_if<Polynomial>(&layer.op)) {
            const auto& c = poly->coefficients;
            const int degree = poly->degree();
            auto meta = proto.add_metadata_props();
            char interval[96];
            std::snprintf(interval, sizeof interval, "%.17g,%.17g", poly->interval_lo,
                          poly->interval_hi);
            meta->set_key("henn.polynomial." + std::to_string(polynomial_index++));
            meta->set_value("layer=" + n + ";approximates=" + poly->approximates +
                            ";method=" + poly->method + ";degree=" + std::to_string(degree) +
                            ";interval=" + interval);
            if (degree == 0) {
                // A constant activation: 0 * x + c keeps the data dependency and the shape.
                node("Mul", n + "/zero", {current, constant(n + ".c1", {}, {0.0})}, n + "_zero");
                node("Add", n + "/c0", {n + "_zero", constant(n + ".c0", {}, {c[0]})}, out);
            } else if (degree == 2 && c[0] == 0.0 && c[1] == 0.0 && c[2] == 1.0) {
                node("Mul", n, {current, current}, out);
            } else {
                // Horner: acc = c_d x; then acc = (acc + c_i) x for i = d-1..1; then acc + c_0.
                std::string acc = n + "_h" + std::to_string(degree);
                node("Mul", n + "/mul" + std::to_string(degree),
                     {current, constant(n + ".c" + std::to_string(degree), {},
                                        {c[static_cast<std::size_t>(degree)]})},
                     acc);
                for (int i = degree - 1; i >= 1; --i) {
                    std::string sum = acc;
                    if (c[static_cast<std::size_t>(i)] != 0.0) {
                        sum = n + "_s" + std::to_string(i);
                        node("Add", n + "/add" + std::to_string(i),
                             {acc, constant(n + ".c" + std::to_string(i), {},
                                            {c[static_cast<std::size_t>(i)]})},
                             sum);
                    }
                    acc = n + "_h" + std::to_string(i);
                    node("Mul", n + "/mul" + std::to_string(i), {sum, current}, acc);
                }
                node("Add", n + "/add0", {acc, constant(n + ".c0", {}, {c[0]})}, out);
            }
            current = out;
        } else if (auto* np = std::get_if<NonPolynomial>(&layer.op)) {
            const char* op = np->kind == NonPolynomialKind::relu      ? "Relu"
                             : np->kind == NonPolynomialKind::sigmoid ? "Sigmoid"
                                                                      : "Tanh";
            node(op, n, {current}, out);
            current = out;
        }
    }
    if (current == "input") node("Identity", "identity", {current}, "output"), current = "output";
    value_info(graph_->add_output(), current, model_.output_shape());
    for (const auto& [key, value] : model_.metadata()) {
        if (key.rfind("henn.polynomial.", 0) == 0 || key.rfind("onnx.", 0) == 0)
            continue;  // regenerated
        auto* meta = proto.add_metadata_props();
        meta->set_key(key);
        meta->set_value(value);
    }
    std::string bytes;
    if (!proto.SerializeToString(&bytes)) throw InternalError("cannot serialize the ONNX model");
    return bytes;
}

}  // namespace

OnnxImport import_onnx_bytes(std::span<const std::uint8_t> bytes, const OnnxImportOptions& options,
                             const std::string& source) {
    if (bytes.size() > options.max_bytes)
        throw OnnxError(
            source + ": file is larger than " + std::to_string(options.max_bytes) + " bytes",
            ErrorCategory::data);
    ::onnx::ModelProto proto;
    if (!proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
        throw OnnxError(source + ": not a valid ONNX (protobuf) model", ErrorCategory::data);
    return Importer(proto, options, source).run();
}

OnnxImport import_onnx(const std::filesystem::path& path, const OnnxImportOptions& options) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw OnnxError(path.string() + ": cannot open file", ErrorCategory::io);
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) throw OnnxError(path.string() + ": cannot read file size", ErrorCategory::io);
    if (size > options.max_bytes)
        throw OnnxError(
            path.string() + ": file is larger than " + std::to_string(options.max_bytes) + " bytes",
            ErrorCategory::data);
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
    in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
    if (!in) throw OnnxError(path.string() + ": read error", ErrorCategory::io);
    return import_onnx_bytes(bytes, options, path.string());
}

std::string export_onnx_bytes(const Model& model, const OnnxExportOptions& options) {
    if (options.opset < 13 || options.opset > 17)
        throw OnnxError("export opset must be 13 to 17", ErrorCategory::usage);
    auto bytes = Exporter(model, options).run();
    check_onnx_bytes(bytes);
    return bytes;
}

void export_onnx(const Model& model, const std::filesystem::path& path,
                 const OnnxExportOptions& options) {
    const auto bytes = export_onnx_bytes(model, options);
    std::ofstream out(path, std::ios::binary);
    if (!out) throw OnnxError(path.string() + ": cannot create file", ErrorCategory::io);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw OnnxError(path.string() + ": write error", ErrorCategory::io);
}

void check_onnx_bytes(const std::string& bytes) {
    ::onnx::ModelProto proto;
    if (!proto.ParseFromString(bytes))
        throw OnnxError("not a valid ONNX (protobuf) model", ErrorCategory::data);
    try {
        ::onnx::checker::check_model(proto);
    } catch (const std::exception& e) {
        throw OnnxError(std::string("ONNX checker: ") + e.what());
    }
}

}  // namespace henn::onnx
