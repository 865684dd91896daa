#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "henn/data/data.hpp"
#include "henn/nn/network_spec.hpp"
#include "henn/nn/reference.hpp"
#include "henn/onnx/onnx.hpp"
#include "henn/train/train.hpp"
#include "test_data.hpp"

using namespace henn::data;
using namespace henn::nn;
using namespace henn::onnx;
using namespace henn::train;
namespace fs = std::filesystem;

namespace {

double max_relative_error(const std::vector<double>& a, const std::vector<double>& b) {
    double scale = 0, err = 0;
    for (double v : b) scale = std::max(scale, std::abs(v));
    for (std::size_t i = 0; i < a.size(); ++i) err = std::max(err, std::abs(a[i] - b[i]));
    return err / scale;
}

std::vector<double> random_inputs(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    std::vector<double> v(n);
    for (auto& x : v) x = u(rng);
    return v;
}

}  // namespace

// The float64 reference executor (with BatchNorm folded) agrees with libtorch in float64 on the
// same weights, for every preset and for each activation kind.
TEST(Train, ReferenceExecutorAgreesWithLibtorch) {
    std::vector<NetworkSpec> specs;
    for (const auto& name : preset_names()) specs.push_back(preset_network(name));
    specs.push_back(parse_network_spec(
        R"({"name": "mixed", "input": [2, 9, 9], "classes": 4, "activation": "sigmoid",
        "layers": [{"type": "conv2d", "out": 3, "kernel": 3, "padding": 1}, {"type": "batchnorm"},
                   {"type": "activation", "fn": "tanh"}, {"type": "sumpool", "kernel": 3, "stride": 2},
                   {"type": "activation", "fn": "relu"}, {"type": "flatten"}, {"type": "dense", "out": 7},
                   {"type": "batchnorm"}, {"type": "activation"}, {"type": "dropout", "p": 0.5},
                   {"type": "activation", "fn": "poly:minimax:5:3"}, {"type": "dense", "out": 4}]})"));
    for (const auto& spec : specs) {
        const std::int64_t batch = 3;
        auto inputs =
            random_inputs(static_cast<std::size_t>(batch * shape_size(spec.input_shape)), 17);
        auto check = torch_cross_check(spec, inputs, batch, 42);
        auto ours = run_reference_batch(check.model, inputs, batch);
        ASSERT_EQ(ours.size(), check.torch_outputs.size()) << spec.name;
        EXPECT_LT(max_relative_error(ours, check.torch_outputs), 1e-9) << spec.name;
        // And the check is not vacuous: a different seed gives different outputs.
        auto other = torch_cross_check(spec, inputs, batch, 43);
        EXPECT_GT(max_relative_error(other.torch_outputs, check.torch_outputs), 1e-3) << spec.name;
    }
}

// A few epochs on a subset: this checks that training really learns (and that the exported model
// gives the same predictions), not the final accuracy, which docs/accuracy.md reports.
TEST(Train, CryptoNetsLearnsMnistSubsetAndRoundTripsThroughOnnx) {
    const auto dir = henn::test::data_dir();
    if (dir.empty() || !fs::exists(fs::path(dir) / "mnist"))
        HENN_SKIP_WITHOUT_DATA("MNIST not found under --data-dir");
    auto train = load_named_dataset("mnist", dir, Split::train).head(2000);
    auto test = load_named_dataset("mnist", dir, Split::test).head(1000);
    TrainOptions options;
    options.epochs = 5;
    options.progress = false;
    options.threads = 1;  // the test suite runs beside others on 2 cores
    options.seed = 7;
    auto result = train_network(preset_network("cryptonets"), train, options);
    ASSERT_EQ(result.history.size(), 5u);
    EXPECT_LT(result.history.back().train_loss, result.history.front().train_loss);
    const auto evaluation = evaluate_reference(result.model, test);
    EXPECT_GT(evaluation.accuracy(), 0.85);
    ASSERT_EQ(result.pre_activation.size(), 2u);
    EXPECT_GT(result.pre_activation[0].count, 0);
    EXPECT_LE(result.pre_activation[0].min, result.pre_activation[0].mean);
    EXPECT_FALSE(result.pre_activation[0].samples.empty());

    OnnxExportOptions export_options;
    export_options.float64 = true;
    auto bytes = export_onnx_bytes(result.model, export_options);
    auto imported = import_onnx_bytes(std::vector<std::uint8_t>(bytes.begin(), bytes.end()));
    const auto again = evaluate_reference(imported.model, test);
    EXPECT_EQ(again.correct, evaluation.correct);
    EXPECT_EQ(again.confusion, evaluation.confusion);
}

TEST(Train, PolynomialMlpOnWdbc) {
    const auto dir = henn::test::data_dir();
    if (dir.empty() || !fs::exists(fs::path(dir) / "wdbc"))
        HENN_SKIP_WITHOUT_DATA("WDBC not found under --data-dir");
    auto train = load_named_dataset("wdbc", dir, Split::train);
    auto test = load_named_dataset("wdbc", dir, Split::test);
    TrainOptions options;
    options.epochs = 15;
    options.batch_size = 32;
    options.validation_fraction = 0.0;
    options.progress = false;
    options.threads = 1;  // the test suite runs beside others on 2 cores
    auto spec = preset_network("mlp", train.sample_shape, 2);
    spec.default_activation = parse_activation("poly:least-squares:2:4");
    auto result = train_network(spec, train, options);
    EXPECT_GT(evaluate_reference(result.model, test).accuracy(), 0.9);
    EXPECT_TRUE(result.model.is_polynomial());
}

TEST(Train, TrainableCoefficientsMove) {
    const auto dir = henn::test::data_dir();
    if (dir.empty() || !fs::exists(fs::path(dir) / "wdbc"))
        HENN_SKIP_WITHOUT_DATA("WDBC not found under --data-dir");
    auto train = load_named_dataset("wdbc", dir, Split::train);
    TrainOptions options;
    options.epochs = 3;
    options.progress = false;
    options.threads = 1;  // the test suite runs beside others on 2 cores
    auto spec = preset_network("mlp", train.sample_shape, 2);
    spec.default_activation = parse_activation("poly:least-squares:2:4:trainable");
    auto fixed = spec;
    fixed.default_activation.trainable = false;
    auto trained = train_network(spec, train, options).model;
    auto untouched = train_network(fixed, train, options).model;
    const auto& a = std::get<Polynomial>(trained.layers()[2].op);
    const auto& b = std::get<Polynomial>(untouched.layers()[2].op);
    EXPECT_EQ(a.method, "least-squares+trained");
    EXPECT_NE(a.coefficients, b.coefficients);
}
