// Models that users actually export: tests/fixtures/onnx/*.onnx were trained and written by
// PyTorch's torch.onnx.export (scripts/make_onnx_fixtures.py), and each NAME.expected.json holds
// 16 MNIST test images with PyTorch's float64 logits for them and its test accuracy. Here every
// fixture is imported, run through henn's float64 reference executor and compared with PyTorch;
// the layers the importer makes of the exporter's graphs (BatchNorm folded, Pad taken into the
// pooling, a*x^2+b*x+c as one Polynomial) are checked, and what cannot run encrypted is refused.
// With --data-dir the whole MNIST test set is also classified and compared with PyTorch's count.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "henn/data/data.hpp"
#include "henn/nn/reference.hpp"
#include "henn/onnx/onnx.hpp"
#include "test_data.hpp"

using namespace henn::nn;
using namespace henn::onnx;

namespace {

const std::string kFixtures = HENN_ONNX_FIXTURE_DIR;

struct Sample {
    std::int64_t test_index = 0, label = 0;
    std::vector<double> input, logits;
};

struct Expected {
    nlohmann::json json;
    std::vector<Sample> samples;
};

Expected expected(const std::string& name) {
    std::ifstream in(kFixtures + "/" + name + ".expected.json");
    if (!in) throw std::runtime_error("cannot open " + name + ".expected.json");
    Expected e;
    in >> e.json;
    for (const auto& s : e.json.at("samples")) {
        Sample sample;
        sample.test_index = s.at("test_index").get<std::int64_t>();
        sample.label = s.at("label").get<std::int64_t>();
        // As henn's MNIST loader and the fixture script compute it: float32(pixel) / 255 in
        // float32.
        for (int p : s.at("pixels").get<std::vector<int>>())
            sample.input.push_back(static_cast<double>(static_cast<float>(p) / 255.0f));
        sample.logits = s.at("logits").get<std::vector<double>>();
        e.samples.push_back(std::move(sample));
    }
    return e;
}

OnnxImport import_fixture(const std::string& name, const OnnxImportOptions& options = {}) {
    return import_onnx(kFixtures + "/" + name + ".onnx", options);
}

std::vector<std::string> kinds(const Model& m) {
    std::vector<std::string> out;
    for (const auto& layer : m.layers()) out.push_back(layer_kind(layer.op));
    return out;
}

std::size_t argmax(const std::vector<double>& v) {
    return static_cast<std::size_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

// henn's reference logits against PyTorch's: 1e-4 relative per logit (relative to the logit, or
// to a thousandth of the largest one for logits near zero), and the same predicted class.
void expect_matches_pytorch(const Model& model, const Expected& e) {
    ASSERT_EQ(e.samples.size(), 16u);
    double worst = 0;
    for (const auto& s : e.samples) {
        const auto logits = run_reference(model, s.input);
        ASSERT_EQ(logits.size(), s.logits.size());
        double largest = 0;
        for (double v : s.logits) largest = std::max(largest, std::abs(v));
        for (std::size_t k = 0; k < logits.size(); ++k) {
            const double scale = std::max(std::abs(s.logits[k]), 1e-3 * largest);
            EXPECT_NEAR(logits[k], s.logits[k], 1e-4 * scale)
                << "test image " << s.test_index << ", logit " << k;
            worst = std::max(worst, std::abs(logits[k] - s.logits[k]) / scale);
        }
        EXPECT_EQ(argmax(logits), argmax(s.logits)) << "test image " << s.test_index;
    }
    std::cout << "  16 images: largest relative difference from PyTorch " << worst << "\n";
}

const Polynomial& polynomial(const Model& m, std::size_t i) {
    return std::get<Polynomial>(m.layers().at(i).op);
}
const Pool2d& pool(const Model& m, std::size_t i) {
    return std::get<Pool2d>(m.layers().at(i).op);
}
const Conv2d& conv(const Model& m, std::size_t i) {
    return std::get<Conv2d>(m.layers().at(i).op);
}

void expect_square(const Polynomial& p) {
    EXPECT_EQ(p.coefficients, (std::vector<double>{0.0, 0.0, 1.0}));
}

// The PyTorch quadratic activations a*x^2 + b*x + c (recorded as {c, b, a}): float32 parameters,
// so the imported coefficients are those exactly.
void expect_quadratic(const Polynomial& p, const nlohmann::json& c) {
    ASSERT_EQ(p.coefficients.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i)
        EXPECT_DOUBLE_EQ(p.coefficients[i], c.at(i).get<double>()) << i;
}

// Full MNIST test set through the reference executor, against PyTorch's count of correct
// predictions. Both run float64 on the same float32 weights; only images whose two best logits
// tie to ~1e-12 could go either way, so at most 2 of 10,000 may differ.
void expect_test_accuracy(const Model& model, const Expected& e) {
    const auto dir = henn::test::data_dir();
    if (dir.empty()) HENN_SKIP_WITHOUT_DATA("no --data-dir");
    const auto test = henn::data::load_named_dataset("mnist", dir, henn::data::Split::test);
    const auto result = evaluate_reference(model, test);
    EXPECT_EQ(result.total, e.json.at("test_count").get<std::int64_t>());
    const auto torch_correct = e.json.at("pytorch_test_correct").get<std::int64_t>();
    EXPECT_LE(std::abs(result.correct - torch_correct), 2)
        << "henn " << result.correct << ", PyTorch " << torch_correct << " of " << result.total;
    std::cout << "  test accuracy: henn reference " << result.correct << "/" << result.total
              << ", PyTorch " << torch_correct << "\n";
}

std::vector<std::uint8_t> fixture_bytes(const std::string& name) {
    std::ifstream in(kFixtures + "/" + name + ".onnx", std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
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

}  // namespace

TEST(PyTorchFixtures, CryptoNets) {
    const auto e = expected("cryptonets");
    const auto imported = import_fixture("cryptonets");
    EXPECT_TRUE(imported.warnings.empty());
    EXPECT_EQ(imported.opset, 13);
    const auto& m = imported.model;
    EXPECT_EQ(m.input_shape(), (Shape{1, 28, 28}));
    EXPECT_EQ(kinds(m), (std::vector<std::string>{"Conv2d", "Polynomial", "Flatten", "Dense",
                                                  "Polynomial", "Dense"}));
    EXPECT_EQ(conv(m, 0).stride_h, 2);
    EXPECT_EQ(conv(m, 0).pad_h, 1);
    EXPECT_EQ(m.layers()[1].output_shape, (Shape{5, 13, 13}));
    expect_square(polynomial(m, 1));  // x * x
    expect_square(polynomial(m, 4));
    EXPECT_TRUE(m.is_polynomial());
    expect_matches_pytorch(m, e);
    expect_test_accuracy(m, e);
}

TEST(PyTorchFixtures, LeNetWithBatchNormFoldedByTheExporter) {
    const auto e = expected("lenet_bn");
    const auto imported = import_fixture("lenet_bn");
    EXPECT_TRUE(imported.warnings.empty());
    EXPECT_EQ(imported.opset, 17);
    const auto& m = imported.model;
    // Pad + AveragePool (AvgPool2d(2, padding=1) and F.pad + avg_pool2d) become padded pooling;
    // Shape/Gather/Unsqueeze/Concat/Reshape (x.view(x.size(0), -1)) a Flatten.
    EXPECT_EQ(kinds(m),
              (std::vector<std::string>{"Conv2d", "Polynomial", "AvgPool2d", "Conv2d", "Polynomial",
                                        "AvgPool2d", "Flatten", "Dense", "Polynomial", "Dense"}));
    EXPECT_EQ(pool(m, 2).pad_h, 1);
    EXPECT_EQ(pool(m, 2).pad_w, 1);
    EXPECT_EQ(m.layers()[2].output_shape, (Shape{6, 13, 13}));
    EXPECT_EQ(pool(m, 5).pad_h, 1);
    EXPECT_EQ(m.layers()[5].output_shape, (Shape{16, 5, 5}));
    for (std::size_t i : {0u, 1u, 2u})
        expect_quadratic(polynomial(m, std::vector<std::size_t>{1, 4, 8}[i]),
                         e.json.at("quadratic_coefficients").at(i));
    expect_matches_pytorch(m, e);
    expect_test_accuracy(m, e);
}

TEST(PyTorchFixtures, LeNetWithBatchNormalizationNodesFoldedOnImport) {
    const auto e = expected("lenet_bn_unfolded");
    const auto& nodes = e.json.at("nodes");
    EXPECT_TRUE(std::any_of(nodes.begin(), nodes.end(),
                            [](const auto& n) { return n.at("op_type") == "BatchNormalization"; }));
    const auto imported = import_fixture("lenet_bn_unfolded");
    EXPECT_TRUE(imported.warnings.empty());
    EXPECT_EQ(imported.opset, 13);
    const auto& m = imported.model;
    EXPECT_EQ(kinds(m),
              (std::vector<std::string>{"Conv2d", "Polynomial", "AvgPool2d", "Conv2d", "Polynomial",
                                        "AvgPool2d", "Flatten", "Dense", "Polynomial", "Dense"}));
    EXPECT_EQ(pool(m, 2).pad_h, 1);
    EXPECT_EQ(pool(m, 5).pad_h, 1);
    for (std::size_t i : {0u, 1u, 2u})
        expect_quadratic(polynomial(m, std::vector<std::size_t>{1, 4, 8}[i]),
                         e.json.at("quadratic_coefficients").at(i));
    expect_matches_pytorch(m, e);
    // Our BatchNorm folding (float64) against the exporter's (float32) on the same network.
    const auto folded = import_fixture("lenet_bn").model;
    for (std::size_t layer : {0u, 3u}) {
        const auto& ours = conv(m, layer);
        const auto& theirs = conv(folded, layer);
        ASSERT_EQ(ours.weight.size(), theirs.weight.size());
        for (std::size_t k = 0; k < ours.weight.size(); ++k)
            EXPECT_NEAR(ours.weight[k], theirs.weight[k],
                        1e-6 * std::max(1.0, std::abs(theirs.weight[k])));
        for (std::size_t k = 0; k < ours.bias.size(); ++k)
            EXPECT_NEAR(ours.bias[k], theirs.bias[k],
                        1e-6 * std::max(1.0, std::abs(theirs.bias[k])));
    }
    expect_test_accuracy(m, e);
}

TEST(PyTorchFixtures, MlpWithPow) {
    const auto e = expected("mlp");
    const auto imported = import_fixture("mlp");
    EXPECT_TRUE(imported.warnings.empty());
    const auto& m = imported.model;
    EXPECT_EQ(m.input_shape(), (Shape{784}));
    EXPECT_EQ(kinds(m), (std::vector<std::string>{"Dense", "Polynomial", "Dense"}));
    expect_square(polynomial(m, 1));  // torch.pow(x, 2)
    expect_matches_pytorch(m, e);
    expect_test_accuracy(m, e);
}

TEST(PyTorchFixtures, FinalSoftmaxIsDroppedWithAWarning) {
    const auto e = expected("mlp_softmax");
    std::string softmax;
    for (const auto& n : e.json.at("nodes"))
        if (n.at("op_type") == "Softmax") softmax = n.at("name");
    ASSERT_FALSE(softmax.empty());
    const auto imported = import_fixture("mlp_softmax");
    ASSERT_EQ(imported.warnings.size(), 1u);
    EXPECT_NE(imported.warnings[0].find(softmax), std::string::npos) << imported.warnings[0];
    EXPECT_NE(imported.warnings[0].find("Softmax dropped"), std::string::npos)
        << imported.warnings[0];
    const auto& m = imported.model;
    EXPECT_EQ(kinds(m), (std::vector<std::string>{"Dense", "Polynomial", "Dense"}));
    expect_matches_pytorch(m, e);  // the logits before PyTorch's Softmax
    expect_test_accuracy(m, e);
}

TEST(PyTorchFixtures, ReluAndMaxPoolAreReplacedWithWarnings) {
    const auto e = expected("cnn_relu_maxpool");
    const auto imported = import_fixture("cnn_relu_maxpool");
    // One warning per replaced node (named), and one for the final LogSoftmax.
    ASSERT_EQ(imported.warnings.size(), 3u);
    for (const auto& replaced : e.json.at("replaced")) {
        const std::string name = replaced.at("name");
        EXPECT_TRUE(std::any_of(
            imported.warnings.begin(), imported.warnings.end(),
            [&](const std::string& w) { return w.find("'" + name + "'") != std::string::npos; }))
            << name;
    }
    EXPECT_EQ(kinds(imported.model),
              (std::vector<std::string>{"Conv2d", "Polynomial", "AvgPool2d", "Flatten", "Dense"}));
    EXPECT_TRUE(imported.model.is_polynomial());
    // Keeping activations (plaintext baselines) keeps the ReLU; MaxPool has no such form.
    OnnxImportOptions keep;
    keep.keep_nonpolynomial = true;
    const auto kept = import_fixture("cnn_relu_maxpool", keep);
    EXPECT_EQ(kinds(kept.model), (std::vector<std::string>{"Conv2d", "NonPolynomial(relu)",
                                                           "AvgPool2d", "Flatten", "Dense"}));
    EXPECT_FALSE(kept.model.is_polynomial());
}

TEST(PyTorchFixtures, UnsupportedOperatorIsRefusedNamingTheNode) {
    const auto e = expected("unsupported_sin");
    const std::string name = e.json.at("unsupported_node").at("name");
    const std::string op = e.json.at("unsupported_node").at("op_type");
    const auto message = onnx_error([] { import_fixture("unsupported_sin"); });
    std::cout << "  " << message << "\n";
    EXPECT_NE(message.find("node '" + name + "' (" + op + ", opset 13)"), std::string::npos)
        << message;
    EXPECT_NE(message.find("unsupported operator"), std::string::npos) << message;
    EXPECT_NE(message.find("unsupported_sin.onnx"), std::string::npos) << message;
}

// The imported LeNet (padded pooling) written by henn's exporter and read back: same logits.
TEST(PyTorchFixtures, PaddedPoolingSurvivesExportAndReimport) {
    const auto e = expected("lenet_bn");
    const auto m = import_fixture("lenet_bn").model;
    OnnxExportOptions options;
    options.float64 = true;
    const auto bytes = export_onnx_bytes(m, options);
    const auto back =
        import_onnx_bytes(std::vector<std::uint8_t>(bytes.begin(), bytes.end())).model;
    EXPECT_EQ(kinds(back), kinds(m));
    EXPECT_EQ(pool(back, 2).pad_h, 1);
    for (const auto& s : e.samples)
        EXPECT_EQ(run_reference(back, s.input), run_reference(m, s.input));
}

// Variations of the real exports that henn cannot take, each refused naming the node.
TEST(PyTorchFixtures, RefusesPaddingItCannotRepresent) {
    const auto original = fixture_bytes("lenet_bn");
    auto edit = [&](auto&& change) {
        ::onnx::ModelProto proto;
        EXPECT_TRUE(proto.ParseFromArray(original.data(), static_cast<int>(original.size())));
        change(*proto.mutable_graph());
        std::string s;
        proto.SerializeToString(&s);
        return onnx_error(
            [&] { import_onnx_bytes(std::vector<std::uint8_t>(s.begin(), s.end())); });
    };
    // The Constant feeding AvgPool2d's Pad: [0,0,1,1,0,0,1,1] made asymmetric.
    auto pad_constant = [](::onnx::GraphProto& g,
                           const std::string& pad_name) -> ::onnx::TensorProto& {
        std::string input;
        for (const auto& n : g.node())
            if (n.name() == pad_name) input = n.input(1);
        for (auto& n : *g.mutable_node())
            if (n.op_type() == "Constant" && n.output(0) == input)
                return *n.mutable_attribute(0)->mutable_t();
        throw std::runtime_error("no Constant for " + pad_name);
    };
    auto set_pads = [](::onnx::TensorProto& t, std::vector<std::int64_t> pads) {
        t.clear_raw_data();
        t.clear_int64_data();
        for (auto p : pads) t.add_int64_data(p);
    };
    auto message = edit([&](::onnx::GraphProto& g) {
        set_pads(pad_constant(g, "/pool2/Pad"), {0, 0, 1, 1, 0, 0, 2, 2});
    });
    EXPECT_NE(message.find("node '/pool2/Pad' (Pad"), std::string::npos) << message;
    EXPECT_NE(message.find("asymmetric"), std::string::npos) << message;
    message = edit([&](::onnx::GraphProto& g) {
        set_pads(pad_constant(g, "/pool2/Pad"), {0, 1, 1, 1, 0, 1, 1, 1});
    });
    EXPECT_NE(message.find("node '/pool2/Pad'"), std::string::npos) << message;
    EXPECT_NE(message.find("channel"), std::string::npos) << message;
    // Reflection padding is not zeros.
    message = edit([&](::onnx::GraphProto& g) {
        for (auto& n : *g.mutable_node())
            if (n.name() == "/pool2/Pad")
                for (auto& a : *n.mutable_attribute())
                    if (a.name() == "mode") a.set_s("reflect");
    });
    EXPECT_NE(message.find("node '/pool2/Pad'"), std::string::npos) << message;
    EXPECT_NE(message.find("reflect"), std::string::npos) << message;
    // A Pad whose output goes to anything but Conv/AveragePool: AveragePool made a MaxPool.
    message = edit([&](::onnx::GraphProto& g) {
        for (auto& n : *g.mutable_node())
            if (n.name() == "/pool2/AveragePool") n.set_op_type("MaxPool");
    });
    EXPECT_NE(message.find("node '/pool2/AveragePool' (MaxPool"), std::string::npos) << message;
    EXPECT_NE(message.find("zero-padded"), std::string::npos) << message;
    // AveragePool's own padding without counting the zeros.
    message = edit([&](::onnx::GraphProto& g) {
        for (auto& n : *g.mutable_node())
            if (n.name() == "/pool2/AveragePool")
                for (auto& a : *n.mutable_attribute())
                    if (a.name() == "pads")
                        for (int i = 0; i < a.ints_size(); ++i) a.set_ints(i, 1);
    });
    EXPECT_NE(message.find("node '/pool2/AveragePool'"), std::string::npos) << message;
    EXPECT_NE(message.find("count_include_pad"), std::string::npos) << message;
}

// The model `henn demo` runs encrypted (models/README.md): imports as a polynomial CryptoNets
// network and, in henn's float64 reference executor, classifies at least 97% of the MNIST test
// set (98.01% measured by PyTorch when it was trained).
TEST(BundledModel, MnistCryptoNets) {
    const auto imported = import_onnx(std::string(HENN_MODELS_DIR) + "/mnist_cryptonets.onnx");
    EXPECT_TRUE(imported.warnings.empty());
    const auto& m = imported.model;
    EXPECT_EQ(kinds(m), (std::vector<std::string>{"Conv2d", "Polynomial", "Flatten", "Dense",
                                                  "Polynomial", "Dense"}));
    EXPECT_TRUE(m.is_polynomial());
    const auto dir = henn::test::data_dir();
    if (dir.empty()) HENN_SKIP_WITHOUT_DATA("no --data-dir");
    const auto result = evaluate_reference(
        m, henn::data::load_named_dataset("mnist", dir, henn::data::Split::test));
    std::cout << "  henn reference: " << result.correct << "/" << result.total << "\n";
    EXPECT_GE(result.accuracy(), 0.97);
}
