#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

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
        auto [train, test] = split(shuffle_rows(load_wdbc_csv(path.string()), 1), 455);
        standardize(train, test);
        return Wdbc{train, test};
    }();
    return data ? &*data : nullptr;
}
#define REQUIRE_WDBC()                                                                   \
    if (wdbc() == nullptr) GTEST_SKIP() << "WDBC not found under --data-dir (wdbc/breast_cancer.csv)"

TEST(SmlpPlain, FloatTrainingReachesPaperAccuracy) {
    REQUIRE_WDBC();
    const ModelShape shape{{30, 16, 1}};
    const TrainSchedule schedule{.epochs = 1, .batch_size = 8, .learning_rate = 0.1, .seed = 1};
    const PlainModel trained = train_float(quantize(initial_model(shape, 1), 16), wdbc()->train, schedule);
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

TEST(SmlpPlain, LoaderRejectsMalformedFiles) {
    const auto dir = std::filesystem::temp_directory_path() / "henn_smlp_loader_test";
    std::filesystem::create_directories(dir);
    auto write = [&](const std::string& name, const std::string& text) {
        std::ofstream(dir / name) << text;
        return (dir / name).string();
    };
    EXPECT_NO_THROW(load_wdbc_csv(write("ok.csv", "2,2,a,b\n1,2,0\n3,4,1\n")));
    EXPECT_THROW(load_wdbc_csv(write("rows.csv", "3,2,a,b\n1,2,0\n3,4,1\n")), SmlpError);
    EXPECT_THROW(load_wdbc_csv(write("fields.csv", "2,2,a,b\n1,2,0\n3,1\n")), SmlpError);
    EXPECT_THROW(load_wdbc_csv(write("label.csv", "1,2,a,b\n1,2,0.5\n")), SmlpError);
    EXPECT_THROW(load_wdbc_csv(write("nan.csv", "1,2,a,b\nnan,2,1\n")), SmlpError);
    EXPECT_THROW(load_wdbc_csv(write("header.csv", "x,y\n")), SmlpError);
    EXPECT_THROW(load_wdbc_csv((dir / "missing.csv").string()), SmlpError);
    std::filesystem::remove_all(dir);
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
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s, "
              << report.epochs[0].traffic.total_bytes() << " bytes\n";
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

}  // namespace
}  // namespace henn::smlp
