// ONNX import/export. The models imported here are written the way PyTorch's exporter (NCHW,
// Conv/Relu/MaxPool/Flatten/Gemm, BatchNormalization, Identity) and tf2onnx for Keras (MatMul +
// Add bias, per-channel Mul/Add for BatchNorm, Reshape with a Constant shape, Softmax at the end)
// write them; no Python is available on the build machines to produce the files themselves.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <random>

#include "henn/nn/reference.hpp"
#include "henn/onnx/onnx.hpp"

using namespace henn::nn;
using namespace henn::onnx;

namespace {

class GraphBuilder {
  public:
    explicit GraphBuilder(std::int64_t opset, const std::string& producer = "pytorch") {
        model_.set_ir_version(opset >= 13 ? 7 : 6);
        model_.set_producer_name(producer);
        auto* o = model_.add_opset_import();
        o->set_domain("");
        o->set_version(opset);
        graph_ = model_.mutable_graph();
        graph_->set_name("g");
    }
    void input(const std::string& name, std::vector<std::int64_t> per_sample) {
        auto* in = graph_->add_input();
        in->set_name(name);
        auto* t = in->mutable_type()->mutable_tensor_type();
        t->set_elem_type(onnx::TensorProto::FLOAT);
        t->mutable_shape()->add_dim()->set_dim_param("batch_size");
        for (auto d : per_sample) t->mutable_shape()->add_dim()->set_dim_value(d);
    }
    void output(const std::string& name, std::vector<std::int64_t> per_sample) {
        auto* out = graph_->add_output();
        out->set_name(name);
        auto* t = out->mutable_type()->mutable_tensor_type();
        t->set_elem_type(onnx::TensorProto::FLOAT);
        t->mutable_shape()->add_dim()->set_dim_param("batch_size");
        for (auto d : per_sample) t->mutable_shape()->add_dim()->set_dim_value(d);
    }
    // Initializers as raw little-endian float32 bytes, like PyTorch writes them.
    std::string init(const std::string& name, std::vector<std::int64_t> dims,
                     const std::vector<double>& values) {
        auto* t = graph_->add_initializer();
        t->set_name(name);
        t->set_data_type(onnx::TensorProto::FLOAT);
        for (auto d : dims) t->add_dims(d);
        std::string raw;
        for (double v : values) {
            float f = static_cast<float>(v);
            raw.append(reinterpret_cast<const char*>(&f), 4);
        }
        t->set_raw_data(raw);
        return name;
    }
    std::string init_int64(const std::string& name, const std::vector<std::int64_t>& values) {
        auto* t = graph_->add_initializer();
        t->set_name(name);
        t->set_data_type(onnx::TensorProto::INT64);
        t->add_dims(static_cast<std::int64_t>(values.size()));
        for (auto v : values) t->add_int64_data(v);
        return name;
    }
    onnx::NodeProto* node(const std::string& op, const std::string& name,
                          std::vector<std::string> inputs, std::string output) {
        auto* n = graph_->add_node();
        n->set_op_type(op);
        n->set_name(name);
        for (auto& i : inputs) n->add_input(i);
        n->add_output(output);
        return n;
    }
    static void ints(onnx::NodeProto* n, const std::string& name, std::vector<std::int64_t> v) {
        auto* a = n->add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto::INTS);
        for (auto x : v) a->add_ints(x);
    }
    static void integer(onnx::NodeProto* n, const std::string& name, std::int64_t v) {
        auto* a = n->add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto::INT);
        a->set_i(v);
    }
    static void real(onnx::NodeProto* n, const std::string& name, float v) {
        auto* a = n->add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto::FLOAT);
        a->set_f(v);
    }
    onnx::ModelProto& model() { return model_; }
    std::vector<std::uint8_t> bytes() const {
        std::string s;
        model_.SerializeToString(&s);
        return {s.begin(), s.end()};
    }

  private:
    onnx::ModelProto model_;
    onnx::GraphProto* graph_;
};

std::vector<double> randoms(std::size_t n, std::mt19937_64& rng, double scale = 0.5) {
    std::uniform_real_distribution<double> u(-scale, scale);
    std::vector<double> v(n);
    for (auto& x : v) x = static_cast<float>(u(rng));  // representable in float32, like the file
    return v;
}

template <class F>
std::string onnx_error(F&& f) {
    try {
        f();
    } catch (const OnnxError& e) {
        return e.what();
    }
    return "";
}

void expect_close(const std::vector<double>& a, const std::vector<double>& b, double relative) {
    ASSERT_EQ(a.size(), b.size());
    double scale = 0;
    for (double v : b) scale = std::max(scale, std::abs(v));
    for (std::size_t i = 0; i < a.size(); ++i)
        EXPECT_NEAR(a[i], b[i], relative * std::max(scale, 1e-30)) << i;
}

// PyTorch-style CNN: Conv -> BatchNormalization -> Relu -> MaxPool -> Conv -> Relu -> Flatten ->
// Gemm -> Identity (Dropout in eval) -> Sigmoid -> Gemm.
struct TorchStyle {
    std::vector<double> w1, b1, gamma, beta, mean, var, w2, b2, fc1, fb1, fc2, fb2;
    GraphBuilder g{11};
    explicit TorchStyle(std::mt19937_64& rng) {
        w1 = randoms(4 * 1 * 3 * 3, rng);
        b1 = randoms(4, rng);
        gamma = randoms(4, rng);
        beta = randoms(4, rng);
        mean = randoms(4, rng);
        var = randoms(4, rng);
        for (auto& v : var) v = static_cast<float>(std::abs(v) + 0.5);
        w2 = randoms(6 * 4 * 2 * 2, rng);
        b2 = randoms(6, rng);
        fc1 = randoms(8 * 24, rng);
        fb1 = randoms(8, rng);
        fc2 = randoms(3 * 8, rng);
        fb2 = randoms(3, rng);
        g.input("input.1", {1, 10, 10});
        auto* c1 = g.node(
            "Conv", "Conv_0",
            {"input.1", g.init("conv1.weight", {4, 1, 3, 3}, w1), g.init("conv1.bias", {4}, b1)},
            "c1");
        GraphBuilder::ints(c1, "kernel_shape", {3, 3});
        GraphBuilder::ints(c1, "pads", {1, 1, 1, 1});
        GraphBuilder::ints(c1, "strides", {1, 1});
        GraphBuilder::ints(c1, "dilations", {1, 1});
        GraphBuilder::integer(c1, "group", 1);
        auto* bn =
            g.node("BatchNormalization", "BatchNormalization_1",
                   {"c1", g.init("bn.weight", {4}, gamma), g.init("bn.bias", {4}, beta),
                    g.init("bn.running_mean", {4}, mean), g.init("bn.running_var", {4}, var)},
                   "bn");
        GraphBuilder::real(bn, "epsilon", 1e-5f);
        g.node("Relu", "Relu_2", {"bn"}, "r1");
        auto* mp = g.node("MaxPool", "MaxPool_3", {"r1"}, "p1");
        GraphBuilder::ints(mp, "kernel_shape", {2, 2});
        GraphBuilder::ints(mp, "strides", {2, 2});
        auto* c2 = g.node(
            "Conv", "Conv_4",
            {"p1", g.init("conv2.weight", {6, 4, 2, 2}, w2), g.init("conv2.bias", {6}, b2)}, "c2");
        GraphBuilder::ints(c2, "kernel_shape", {2, 2});
        GraphBuilder::ints(c2, "strides", {2, 2});
        g.node("Relu", "Relu_5", {"c2"}, "r2");
        GraphBuilder::integer(g.node("Flatten", "Flatten_6", {"r2"}, "f"), "axis", 1);
        auto* gemm =
            g.node("Gemm", "Gemm_7",
                   {"f", g.init("fc1.weight", {8, 24}, fc1), g.init("fc1.bias", {8}, fb1)}, "h");
        GraphBuilder::integer(gemm, "transB", 1);
        GraphBuilder::real(gemm, "alpha", 1.0f);
        GraphBuilder::real(gemm, "beta", 1.0f);
        g.node("Identity", "Identity_8", {"h"}, "hd");
        g.node("Sigmoid", "Sigmoid_9", {"hd"}, "s");
        auto* gemm2 = g.node("Gemm", "Gemm_10",
                             {"s", g.init("fc2.weight", {3, 8}, fc2), g.init("fc2.bias", {3}, fb2)},
                             "logits");
        GraphBuilder::integer(gemm2, "transB", 1);
        g.output("logits", {3});
    }
    // The same network written directly in the IR (BatchNorm folded by the tested helper,
    // MaxPool as average pooling).
    Model expected(bool keep) const {
        Conv2d conv1{1, 4, 3, 3, 1, 1, 1, 1, w1, b1};
        LayerOp op1 = conv1;
        fold_batch_norm(op1, gamma, beta, mean, var, 1e-5f);
        Conv2d conv2{4, 6, 2, 2, 2, 2, 0, 0, w2, b2};
        Pool2d pool{2, 2, 2, 2, 0.25};
        Dense d1{24, 8, fc1, fb1}, d2{8, 3, fc2, fb2};
        auto act = [&](NonPolynomialKind k) -> LayerOp {
            if (keep) return NonPolynomial{k};
            ActivationSpec s = parse_activation("poly:least-squares:2:4");
            s.function = to_string(k);
            return activation_layer(s);
        };
        return Model({1, 10, 10}, {{"c1", op1},
                                   {"a1", act(NonPolynomialKind::relu)},
                                   {"p", pool},
                                   {"c2", conv2},
                                   {"a2", act(NonPolynomialKind::relu)},
                                   {"f", Flatten{}},
                                   {"d1", d1},
                                   {"a3", act(NonPolynomialKind::sigmoid)},
                                   {"d2", d2}});
    }
};

}  // namespace

TEST(Onnx, ImportsAPyTorchStyleCnn) {
    std::mt19937_64 rng(3);
    TorchStyle t(rng);
    auto x = randoms(100, rng, 1.0);
    for (bool keep : {true, false}) {
        OnnxImportOptions options;
        options.keep_nonpolynomial = keep;
        auto imported = import_onnx_bytes(t.g.bytes(), options, "torch-style");
        EXPECT_EQ(imported.opset, 11);
        EXPECT_EQ(imported.model.layers().size(), 9u);  // BN folded, Identity gone
        EXPECT_EQ(imported.model.is_polynomial(), !keep);
        // Warnings the user sees: MaxPool replaced, and each activation kept or replaced.
        ASSERT_EQ(imported.warnings.size(), 4u);
        EXPECT_NE(imported.warnings[1].find("MaxPool_3"), std::string::npos);
        EXPECT_NE(imported.warnings[0].find(keep ? "kept" : "replaced by poly:least-squares:2:4"),
                  std::string::npos);
        EXPECT_NE(imported.warnings[3].find(keep ? "Sigmoid" : "poly:least-squares:2:4:sigmoid"),
                  std::string::npos);
        expect_close(run_reference(imported.model, x), run_reference(t.expected(keep), x), 1e-12);
    }
}

// tf2onnx-style MLP: MatMul + Add (bias), per-channel Mul + Add (a Keras BatchNormalization),
// Tanh, a polynomial written with Pow/Mul/Add, Reshape with a Constant shape, final Softmax.
TEST(Onnx, ImportsAKerasStyleMlpAndGathersPolynomials) {
    std::mt19937_64 rng(4);
    GraphBuilder g(13, "tf2onnx");
    auto w1 = randoms(12 * 5, rng), b1 = randoms(5, rng), s1 = randoms(5, rng),
         t1 = randoms(5, rng);
    auto w2 = randoms(5 * 3, rng), b2 = randoms(3, rng);
    g.input("input_1", {3, 2, 2});
    auto* shape = g.node("Constant", "const_shape", {}, "shape");
    {
        auto* a = shape->add_attribute();
        a->set_name("value");
        a->set_type(onnx::AttributeProto::TENSOR);
        auto* t = a->mutable_t();
        t->set_data_type(onnx::TensorProto::INT64);
        t->add_dims(2);
        t->add_int64_data(-1);
        t->add_int64_data(12);
    }
    g.node("Reshape", "flatten/Reshape", {"input_1", "shape"}, "flat");
    g.node("MatMul", "dense/MatMul", {"flat", g.init("dense/kernel", {12, 5}, w1)}, "m1");
    g.node("Add", "dense/BiasAdd", {"m1", g.init("dense/bias", {5}, b1)}, "a1");
    g.node("Mul", "bn/mul", {"a1", g.init("bn/scale", {5}, s1)}, "bn1");
    g.node("Add", "bn/add", {"bn1", g.init("bn/shift", {5}, t1)}, "bn2");
    // p(x) = 0.5 x^2 + 0.25 x + 0.125 as Pow, Mul and Add nodes sharing x.
    g.node("Pow", "poly/pow", {"bn2", g.init("two", {}, {2.0})}, "x2");
    g.node("Mul", "poly/a", {"x2", g.init("half", {}, {0.5})}, "ax2");
    g.node("Mul", "poly/b", {g.init("quarter", {}, {0.25}), "bn2"}, "bx");
    g.node("Add", "poly/sum", {"ax2", "bx"}, "s");
    g.node("Add", "poly/c", {"s", g.init("eighth", {1}, {0.125})}, "p");
    g.node("MatMul", "dense_1/MatMul", {"p", g.init("dense_1/kernel", {5, 3}, w2)}, "m2");
    g.node("Add", "dense_1/BiasAdd", {"m2", g.init("dense_1/bias", {3}, b2)}, "z");
    g.node("Tanh", "tanh", {"z"}, "th");
    g.node("Softmax", "softmax", {"th"}, "probs");
    g.output("probs", {3});

    OnnxImportOptions options;
    options.keep_nonpolynomial = true;
    auto imported = import_onnx_bytes(g.bytes(), options, "keras-style");
    const auto& layers = imported.model.layers();
    ASSERT_EQ(layers.size(), 5u);  // flatten, dense, poly, dense, tanh
    EXPECT_TRUE(std::holds_alternative<Flatten>(layers[0].op));
    const auto& poly = std::get<Polynomial>(layers[2].op);
    EXPECT_EQ(poly.coefficients, (std::vector<double>{0.125, 0.25, 0.5}));
    ASSERT_EQ(imported.warnings.size(), 2u);
    EXPECT_NE(imported.warnings[1].find("Softmax dropped"), std::string::npos);

    // Expected: computed by hand from the weights.
    auto x = randoms(12, rng, 1.0);
    std::vector<double> h(5), z(3);
    for (int j = 0; j < 5; ++j) {
        double v = b1[j];
        for (int i = 0; i < 12; ++i) v += x[i] * w1[i * 5 + j];
        v = v * s1[j] + t1[j];
        h[j] = 0.5 * v * v + 0.25 * v + 0.125;
    }
    for (int k = 0; k < 3; ++k) {
        double v = b2[k];
        for (int j = 0; j < 5; ++j) v += h[j] * w2[j * 3 + k];
        z[k] = std::tanh(v);
    }
    expect_close(run_reference(imported.model, x), z, 1e-12);
}

TEST(Onnx, ExportImportRoundTrip) {
    std::mt19937_64 rng(8);
    Conv2d conv{2, 3, 3, 3, 1, 1, 1, 1, randoms(54, rng), randoms(3, rng)};
    Polynomial p;
    p.coefficients = {0.1, 0.5, 0.25, -0.05};
    p.approximates = "relu";
    p.method = "chebyshev";
    p.interval_lo = -5;
    p.interval_hi = 5;
    Polynomial square;
    square.coefficients = {0, 0, 1};
    Pool2d avg{2, 2, 2, 2, 0.25}, sum{2, 2, 1, 1, 1.0};
    Model model({2, 6, 6},
                {{"conv", conv},
                 {"act1", p},
                 {"pool", avg},
                 {"sumpool", sum},
                 {"act2", square},
                 {"flat", Flatten{}},
                 {"fc", Dense{12, 4, randoms(48, rng), randoms(4, rng)}},
                 {"relu", NonPolynomial{NonPolynomialKind::relu}},
                 {"fc2", Dense{4, 3, randoms(12, rng), randoms(3, rng)}},
                 {"tanh", NonPolynomial{NonPolynomialKind::tanh}}},
                {{"henn.network", "roundtrip"}});
    auto x = randoms(72, rng, 1.0);
    OnnxImportOptions keep;
    keep.keep_nonpolynomial = true;
    for (bool float64 : {true, false}) {
        OnnxExportOptions options;
        options.float64 = float64;
        const auto bytes = export_onnx_bytes(model, options);
        EXPECT_NO_THROW(check_onnx_bytes(bytes));
        auto imported = import_onnx_bytes(std::vector<std::uint8_t>(bytes.begin(), bytes.end()),
                                          keep, "roundtrip");
        ASSERT_EQ(imported.model.layers().size(), model.layers().size());
        for (std::size_t i = 0; i < model.layers().size(); ++i) {
            EXPECT_EQ(imported.model.layers()[i].name, model.layers()[i].name);
            EXPECT_EQ(layer_kind(imported.model.layers()[i].op), layer_kind(model.layers()[i].op));
            EXPECT_EQ(imported.model.layers()[i].output_shape, model.layers()[i].output_shape);
        }
        const auto& back = std::get<Polynomial>(imported.model.layers()[1].op);
        EXPECT_EQ(back.approximates, "relu");
        EXPECT_EQ(back.method, "chebyshev");
        EXPECT_EQ(back.interval_hi, 5);
        EXPECT_EQ(imported.model.metadata().at("henn.network"), "roundtrip");
        expect_close(run_reference(imported.model, x), run_reference(model, x),
                     float64 ? 1e-13 : 1e-5);
    }
}

TEST(Onnx, RejectsWhatItCannotRunWithClearErrors) {
    std::mt19937_64 rng(9);
    {
        GraphBuilder g(13);
        g.input("x", {4});
        g.node("Softplus", "Softplus_3", {"x"}, "y");
        g.node("Relu", "Relu_4", {"y"}, "z");
        g.output("z", {4});
        auto e = onnx_error([&] { import_onnx_bytes(g.bytes()); });
        EXPECT_NE(e.find("Softplus"), std::string::npos) << e;
        EXPECT_NE(e.find("Softplus_3"), std::string::npos) << e;
        EXPECT_NE(e.find("opset 13"), std::string::npos) << e;
    }
    for (std::int64_t opset : {8, 18}) {
        GraphBuilder g(opset);
        g.input("x", {4});
        g.node("Relu", "r", {"x"}, "y");
        g.output("y", {4});
        auto e = onnx_error([&] { import_onnx_bytes(g.bytes()); });
        EXPECT_NE(e.find("opset " + std::to_string(opset)), std::string::npos) << e;
    }
    {
        // A residual connection: the graph branches.
        GraphBuilder g(13);
        g.input("x", {4});
        g.node("Gemm", "fc", {"x", g.init("w", {4, 4}, randoms(16, rng))}, "h");
        g.node("Relu", "r", {"h"}, "hr");
        g.node("Add", "residual", {"hr", "h"}, "y");
        g.output("y", {4});
        EXPECT_NE(onnx_error([&] { import_onnx_bytes(g.bytes()); }).find("branches"),
                  std::string::npos);
    }
    {
        GraphBuilder g(13);
        g.input("x", {2, 4, 4});
        auto* c =
            g.node("Conv", "grouped", {"x", g.init("w", {2, 1, 3, 3}, randoms(18, rng))}, "y");
        GraphBuilder::integer(c, "group", 2);
        g.output("y", {2, 2, 2});
        EXPECT_NE(onnx_error([&] { import_onnx_bytes(g.bytes()); }).find("grouped"),
                  std::string::npos);
    }
    {
        // Raw data shorter than the dims announce.
        GraphBuilder g(13);
        g.input("x", {4});
        g.node("MatMul", "mm", {"x", g.init("w", {4, 2}, randoms(8, rng))}, "y");
        g.output("y", {2});
        g.model().mutable_graph()->mutable_initializer(0)->mutable_raw_data()->resize(12);
        auto e = onnx_error([&] { import_onnx_bytes(g.bytes()); });
        EXPECT_NE(e.find("raw data"), std::string::npos) << e;
    }
    {
        std::mt19937_64 r(3);
        TorchStyle t(r);
        auto bytes = t.g.bytes();
        bytes.resize(bytes.size() / 3);
        EXPECT_FALSE(onnx_error([&] { import_onnx_bytes(bytes); }).empty());
        std::vector<std::uint8_t> garbage(1000);
        for (auto& b : garbage) b = static_cast<std::uint8_t>(r());
        EXPECT_FALSE(onnx_error([&] { import_onnx_bytes(garbage); }).empty());
    }
    EXPECT_NE(onnx_error([] { import_onnx("/nonexistent/model.onnx"); }).find("cannot open"),
              std::string::npos);
}
