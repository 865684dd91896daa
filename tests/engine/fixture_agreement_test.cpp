// Batch packing on the networks users export: the PyTorch fixtures (tests/fixtures/onnx) and the
// bundled demo model, compiled with a calibration set of MNIST training images, run encrypted on
// a few hundred MNIST test images. Encrypted predictions must equal the plaintext executor's on
// every image, and the worst logit error is reported in bits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <string>

#include "henn/data/data.hpp"
#include "henn/engine/client.hpp"
#include "henn/engine/compiled_model.hpp"
#include "henn/engine/session.hpp"
#include "henn/nn/reference.hpp"
#include "henn/onnx/onnx.hpp"
#include "test_data.hpp"

using namespace henn;
using namespace henn::engine;

namespace {

constexpr std::int64_t kImages = 300;

std::int64_t argmax(const double* v, std::int64_t n) {
    return std::max_element(v, v + n) - v;
}

struct Agreement {
    std::int64_t agree = 0, correct_encrypted = 0, correct_plain = 0;
    double bits = 0;  // worst absolute logit error, relative to the largest logit
    std::string parameters;
};

Agreement run_fixture(const std::filesystem::path& onnx_path,
                      SlotPacking slots = SlotPacking::automatic) {
    const std::string dir = test::data_dir();
    const nn::Model model = onnx::import_onnx(onnx_path).model;
    const auto train = data::load_named_dataset("mnist", dir, data::Split::train).head(256);
    const auto test = data::load_named_dataset("mnist", dir, data::Split::test).head(kImages);
    CompileOptions options;
    options.slot_packing = slots;
    options.calibration.assign(train.features.begin(), train.features.end());
    options.calibration_count = train.count();
    const auto compiled = CompiledModel::compile(model, options);
    const std::vector<double> x(test.features.begin(), test.features.end());
    Client client = Client::with_test_only_seed(compiled, 20261202);
    Session session(compiled, client.evaluation_keys());
    std::vector<EncryptedBatch> out;
    for (auto& batch : client.encrypt(x, test.count()))
        out.push_back(session.run(std::move(batch)));
    const auto encrypted = client.decrypt(out);
    const auto plain = nn::run_reference_batch(model, x, test.count());
    const std::int64_t classes = compiled->output_size();
    EXPECT_EQ(static_cast<std::int64_t>(encrypted.size()), classes * test.count());
    Agreement a;
    double worst = 0, largest = 0;
    for (std::int64_t i = 0; i < test.count(); ++i) {
        const auto e = argmax(encrypted.data() + i * classes, classes);
        const auto p = argmax(plain.data() + i * classes, classes);
        a.agree += e == p;
        a.correct_encrypted += e == test.labels[i];
        a.correct_plain += p == test.labels[i];
    }
    for (std::size_t i = 0; i < plain.size(); ++i) {
        worst = std::max(worst, std::abs(encrypted[i] - plain[i]));
        largest = std::max(largest, std::abs(plain[i]));
    }
    a.bits = worst == 0 ? 60 : std::log2(largest / worst);
    a.parameters = "N = 2^" +
                   std::to_string(static_cast<int>(std::log2(compiled->context()->n()))) + ", " +
                   std::to_string(compiled->context()->q().size()) + " primes, " +
                   to_string(compiled->slot_packing()) + " slots";
    return a;
}

std::filesystem::path fixture(const std::string& name) {
    return std::filesystem::path(HENN_ONNX_FIXTURE_DIR) / name;
}

void expect_full_agreement(const Agreement& a, const std::string& name) {
    EXPECT_EQ(a.agree, kImages) << name << ": encrypted and plaintext predictions differ";
    EXPECT_EQ(a.correct_encrypted, a.correct_plain) << name;
    EXPECT_GE(a.bits, 8.0) << name << ": logits off by more than 2^-8 of the largest";
    std::cout << name << ": " << a.agree << "/" << kImages << " agree, accuracy "
              << a.correct_encrypted << "/" << kImages << ", worst logit error 2^-" << a.bits
              << " of the largest (" << a.parameters << ")\n";
}

}  // namespace

#define REQUIRE_MNIST()                                                                        \
    do {                                                                                       \
        if (test::data_dir().empty() || !std::filesystem::exists(test::data_dir() + "/mnist")) \
            HENN_SKIP_WITHOUT_DATA("MNIST not found (--data-dir)");                            \
    } while (0)

// Two convolutions with BatchNorm folded by the exporter, trainable a*x^2+b*x+c activations and
// PyTorch's Pad + AveragePool: seven stages, the conv1 layer streamed into conv2.
TEST(FixtureAgreement, LeNetWithBatchNormFolded) {
    REQUIRE_MNIST();
    expect_full_agreement(run_fixture(fixture("lenet_bn.onnx")), "lenet_bn");
}

// The same network exported without constant folding (BatchNormalization nodes folded by henn)
// compiles to the same program: its plaintext program equals the folded one's on the test images,
// so the encrypted run above covers it.
TEST(FixtureAgreement, LeNetWithBatchNormUnfoldedCompilesToTheSameProgram) {
    REQUIRE_MNIST();
    const auto train =
        data::load_named_dataset("mnist", test::data_dir(), data::Split::train).head(256);
    const auto images =
        data::load_named_dataset("mnist", test::data_dir(), data::Split::test).head(kImages);
    CompileOptions options;
    options.calibration.assign(train.features.begin(), train.features.end());
    options.calibration_count = train.count();
    const auto folded =
        CompiledModel::compile(onnx::import_onnx(fixture("lenet_bn.onnx")).model, options);
    const auto unfolded =
        CompiledModel::compile(onnx::import_onnx(fixture("lenet_bn_unfolded.onnx")).model, options);
    ASSERT_EQ(folded->stages().size(), unfolded->stages().size());
    EXPECT_EQ(folded->context()->n(), unfolded->context()->n());
    EXPECT_EQ(folded->depth(), unfolded->depth());
    const std::vector<double> x(images.features.begin(), images.features.end());
    const auto size = static_cast<std::size_t>(folded->input_size());
    double worst = 0;
    for (std::int64_t i = 0; i < images.count(); ++i) {
        const std::span<const double> input(x.data() + static_cast<std::size_t>(i) * size, size);
        const auto a = folded->run_plain(input), b = unfolded->run_plain(input);
        ASSERT_EQ(a.size(), b.size());
        for (std::size_t o = 0; o < a.size(); ++o) worst = std::max(worst, std::abs(a[o] - b[o]));
    }
    EXPECT_LT(worst, 1e-3) << "the unfolded export compiles to another program";
}

TEST(FixtureAgreement, CryptoNetsInRealAndComplexSlots) {
    REQUIRE_MNIST();
    expect_full_agreement(run_fixture(fixture("cryptonets.onnx"), SlotPacking::real),
                          "cryptonets (real slots)");
    expect_full_agreement(run_fixture(fixture("cryptonets.onnx"), SlotPacking::complex),
                          "cryptonets (complex slots)");
}

TEST(FixtureAgreement, MlpAndTheDemoModel) {
    REQUIRE_MNIST();
    expect_full_agreement(run_fixture(fixture("mlp.onnx")), "mlp");
    expect_full_agreement(
        run_fixture(std::filesystem::path(HENN_MODELS_DIR) / "mnist_cryptonets.onnx"),
        "demo model");
}
