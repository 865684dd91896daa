#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "henn/smlp/cloud.hpp"
#include "henn/smlp/helper.hpp"
#include "henn/smlp/owner.hpp"
#include "henn/smlp/plain.hpp"
#include "test_data.hpp"

namespace henn::smlp {
namespace {

const paillier::KeyPair& test_keys() {
    static const paillier::KeyPair keys = paillier::generate_keypair(
        {.modulus_bits = paillier::kTestOnlyModulusBits, .allow_test_only_sizes = true});
    return keys;
}

// WDBC shuffled with seed 1 (as `henn smlp demo` does), 455 training rows, 114 test rows,
// standardized with the training rows' statistics.
struct Wdbc {
    Dataset train, test;
};
const Wdbc* wdbc() {
    static const std::optional<Wdbc> data = []() -> std::optional<Wdbc> {
        const auto path = std::filesystem::path(test::data_dir()) / "wdbc" / "breast_cancer.csv";
        if (test::data_dir().empty() || !std::filesystem::exists(path)) return std::nullopt;
        auto [train, test] = split(shuffle_rows(from_table(data::load_wdbc_table(path)), 1), 455);
        standardize(train, test);
        return Wdbc{train, test};
    }();
    return data ? &*data : nullptr;
}
#define REQUIRE_WDBC()     \
    if (wdbc() == nullptr) \
    HENN_SKIP_WITHOUT_DATA("WDBC not found under --data-dir (wdbc/breast_cancer.csv)")

TEST(SmlpPlain, FloatTrainingReachesPaperAccuracy) {
    REQUIRE_WDBC();
    const ModelShape shape{{30, 16, 1}};
    const TrainSchedule schedule{.epochs = 1, .batch_size = 8, .learning_rate = 0.1, .seed = 1};
    const PlainModel trained =
        train_float(quantize(initial_model(shape, 1), 16), wdbc()->train, schedule);
    EXPECT_GE(accuracy(predict(trained, wdbc()->test), wdbc()->test), 0.95);
}

TEST(SmlpPlain, FixedPointTracksFloat) {
    REQUIRE_WDBC();
    const ModelShape shape{{30, 8, 1}};
    const TrainSchedule schedule{.epochs = 2, .batch_size = 8, .learning_rate = 0.05, .seed = 7};
    const PlainModel start = quantize(initial_model(shape, 3), 16);
    const PlainModel real = train_float(start, wdbc()->train, schedule);
    const PlainModel fixed = train_fixed_point(start, wdbc()->train, schedule, FixedPointConfig{});
    // Floor rescaling drifts from real arithmetic, slowly: far less than training moves weights.
    EXPECT_LT(max_abs_difference(real, fixed), 0.05);
    EXPECT_GT(max_abs_difference(start, fixed), 0.25);
    EXPECT_NEAR(accuracy(predict(fixed, wdbc()->test), wdbc()->test),
                accuracy(predict(real, wdbc()->test), wdbc()->test), 0.02);
}

// The WDBC file itself is read (and validated) by henn::data::load_wdbc_table; SMLP maps its 0/1
// labels to -1/+1 targets and accepts nothing else.
TEST(SmlpPlain, TwoClassTablesBecomeSignedTargets) {
    data::Table table{
        .columns = 2, .features = {1, 2, 3, 4, 5, 6}, .labels = {0, 1, 1}, .num_classes = 2};
    const Dataset d = from_table(table);
    EXPECT_EQ(d.features, 2u);
    EXPECT_EQ(d.outputs, 1u);
    EXPECT_EQ(d.rows(), 3u);
    EXPECT_EQ(d.x, table.features);
    EXPECT_EQ(d.y, (std::vector<double>{-1, 1, 1}));
    table.labels = {0, 2, 1};
    table.num_classes = 3;
    EXPECT_THROW(from_table(table), SmlpError);
    table.labels = {0, 1};
    EXPECT_THROW(from_table(table), SmlpError);  // rows and features disagree
}

// Standardization with the training rows' statistics, clipped, the same for both sets.
TEST(SmlpPlain, StandardizeUsesTrainingStatisticsAndClips) {
    Dataset train{2, 1, {1, 10, 3, 10, 5, 10}, {1, -1, 1}};
    Dataset test{2, 1, {3, 10, 1000, 7}, {1, -1}};
    standardize(train, test, 4.0);
    const double sd = std::sqrt(8.0 / 3.0);
    EXPECT_DOUBLE_EQ(train.x[0], -2 / sd);
    EXPECT_DOUBLE_EQ(train.x[2], 0.0);
    EXPECT_DOUBLE_EQ(train.x[4], 2 / sd);
    EXPECT_EQ(train.x[1], 0.0);  // a constant feature: deviation taken as 1
    EXPECT_EQ(test.x[0], 0.0);
    EXPECT_EQ(test.x[1], 0.0);
    EXPECT_EQ(test.x[2], 4.0);   // clipped
    EXPECT_EQ(test.x[3], -3.0);  // (7 - 10) / 1
    Dataset empty{2, 1, {}, {}};
    EXPECT_THROW(standardize(empty, test), SmlpError);
}

TEST(SmlpEncrypted, TrainingMatchesFixedPointReference) {
    REQUIRE_WDBC();
    const auto& keys = test_keys();
    const FixedPointConfig config;
    Helper helper(keys.secret_key);
    LocalHelperLink link(helper);
    Owner owner(keys.secret_key, config);
    Cloud cloud(keys.public_key, config, link);

    const Dataset train = head(wdbc()->train, 24);
    const ModelShape shape{{30, 3, 1}};
    const TrainSchedule schedule{.epochs = 1, .batch_size = 8, .learning_rate = 0.05, .seed = 11};
    const PlainModel start = quantize(initial_model(shape, 5), config.scale_bits);

    cloud.set_model(owner.encrypt(start));
    cloud.add_data(owner.encrypt(train));
    const auto t0 = std::chrono::steady_clock::now();
    const TrainingReport report = cloud.train(schedule);
    std::cerr << "encrypted epoch: "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()
              << " s, " << report.epochs[0].traffic.total_bytes() << " bytes\n";
    const PlainModel encrypted = owner.decrypt(cloud.model());
    const PlainModel reference = train_fixed_point(start, train, schedule, config);
    const double ulp = std::ldexp(1.0, -static_cast<int>(config.scale_bits));
    std::cerr << "max difference: " << max_abs_difference(encrypted, reference) / ulp << " ulp\n";
    EXPECT_LE(max_abs_difference(encrypted, reference), 16 * ulp);
    EXPECT_GT(max_abs_difference(start, reference), 100 * ulp);
    ASSERT_EQ(report.epochs.size(), 1u);
    EXPECT_EQ(report.epochs[0].samples, 24u);
    EXPECT_GT(report.epochs[0].traffic.total_bytes(), 0u);
}

TEST(SmlpHelper, RefusesRequestsOutsideTheProtocol) {
    const auto& [pk, sk] = test_keys();
    const Helper helper(sk, HelperLimits{.max_ciphertexts_per_request = 64});
    const Ciphertext small = pk.encrypt(5), negative = pk.encrypt(pk.n() - 5);

    MultiplyRequest multiply;
    multiply.operand_bits = 100;
    multiply.products.push_back({MaskedProduct::Kind::elementwise, 0, 0, 0, {small}, {small}});
    ASSERT_EQ(helper.multiply(multiply).results.size(), 1u);
    EXPECT_EQ(sk.decrypt(helper.multiply(multiply).results[0][0]), 25);
    multiply.products[0].right = {negative};  // not below the announced bound
    EXPECT_THROW(helper.multiply(multiply), SmlpError);
    multiply.products[0].right = {small, small};  // lengths differ
    EXPECT_THROW(helper.multiply(multiply), SmlpError);
    multiply.operand_bits = 600;  // not below p
    EXPECT_THROW(helper.multiply(multiply), SmlpError);
    multiply.operand_bits = 100;
    multiply.products[0] = {
        MaskedProduct::Kind::matrix,        1, 100, 1, std::vector<Ciphertext>(100, small),
        std::vector<Ciphertext>(100, small)};
    EXPECT_THROW(helper.multiply(multiply), SmlpError);  // over the per-request limit
    multiply.products[0] = {MaskedProduct::Kind::elementwise, 0, 0, 0, {Ciphertext{0}}, {small}};
    EXPECT_THROW(helper.multiply(multiply), SmlpError);  // not a ciphertext

    ReluRequest relu{
        .shift = 16, .value_bits = 80, .statistical_bits = 40, .probes = {small}, .carriers = {}};
    EXPECT_THROW(helper.relu(relu), SmlpError);  // unpaired
    relu.carriers = {small};
    EXPECT_EQ(helper.relu(relu).steps.size(), 1u);
    EXPECT_EQ(sk.decrypt(helper.relu(relu).steps[0]), 0);  // 5 is below the zero point 2^120
    relu.shift = 81;
    EXPECT_THROW(helper.relu(relu), SmlpError);
    relu.shift = 16;
    relu.statistical_bits = 8;
    EXPECT_THROW(helper.relu(relu), SmlpError);

    RescaleRequest rescale{
        .value_bits = 80, .statistical_bits = 40, .shifts = {2}, .values = {small}};
    EXPECT_EQ(sk.decrypt(helper.rescale(rescale).values[0]), 1);
    rescale.shifts = {};
    EXPECT_THROW(helper.rescale(rescale), SmlpError);
    rescale.shifts = {2};
    rescale.values = {negative};
    EXPECT_THROW(helper.rescale(rescale), SmlpError);
}

// Bounds near 2^32 must not wrap around in the range checks (found reviewing the SMLP messages
// for the service fuzz targets): S2 would then decrypt without any bound, or shift by ~2^32 bits.
TEST(SmlpHelper, RefusesBoundsThatWrapAround) {
    const auto& [pk, sk] = test_keys();
    const Helper helper(sk);
    const Ciphertext small = pk.encrypt(5);
    for (unsigned bits : {~0u, ~0u - 1, ~0u - 2}) {
        MultiplyRequest multiply;
        multiply.operand_bits = bits;
        multiply.products.push_back({MaskedProduct::Kind::elementwise, 0, 0, 0, {small}, {small}});
        EXPECT_THROW(helper.multiply(multiply), SmlpError) << "operand_bits " << bits;
    }
    // value_bits + statistical_bits + 4 wraps to 3, and the bound value_bits + statistical_bits + 1
    // to 0.
    const unsigned value_bits = ~0u - 40;
    ReluRequest relu{.shift = 4,
                     .value_bits = value_bits,
                     .statistical_bits = 40,
                     .probes = {small},
                     .carriers = {small}};
    EXPECT_THROW(helper.relu(relu), SmlpError);
    RescaleRequest rescale{
        .value_bits = value_bits, .statistical_bits = 40, .shifts = {2}, .values = {small}};
    EXPECT_THROW(helper.rescale(rescale), SmlpError);
}

TEST(SmlpProtocol, ConfigAndScheduleValidation) {
    const auto& pk = test_keys().public_key;
    EXPECT_NO_THROW(FixedPointConfig{}.validate(pk));
    EXPECT_THROW((FixedPointConfig{.scale_bits = 16, .operand_bits = 480}.validate(pk)),
                 SmlpError);  // masks beyond p
    EXPECT_THROW(
        (FixedPointConfig{.scale_bits = 16, .operand_bits = 32, .wide_bits = 40}.validate(pk)),
        SmlpError);
    EXPECT_THROW(ModelShape{{30}}.validate(), SmlpError);
    EXPECT_THROW((ModelShape{{30, 0, 1}}.validate()), SmlpError);
    EXPECT_EQ(step_integer(0.1, 8, 16), 819);  // round(0.0125 * 65536)
    EXPECT_THROW(step_integer(0.0, 8, 16), SmlpError);
    EXPECT_THROW(step_integer(1e-9, 8, 16), SmlpError);  // underflows
    const auto order = epoch_order(10, 3, 1);
    std::vector<std::size_t> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    for (std::size_t i = 0; i < 10; ++i) EXPECT_EQ(sorted[i], i);
    EXPECT_EQ(order, epoch_order(10, 3, 1));
    EXPECT_NE(order, epoch_order(10, 3, 2));
}

}  // namespace
}  // namespace henn::smlp
