#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "henn/ckks/encoder.hpp"
#include "henn/ckks/errors.hpp"
#include "henn/ckks/evaluator.hpp"
#include "henn/ckks/keys.hpp"
#include "henn/ckks/matrix_product.hpp"
#include "henn/engine/client.hpp"
#include "henn/engine/compiled_model.hpp"
#include "henn/engine/errors.hpp"
#include "henn/engine/session.hpp"
#include "henn/nn/model.hpp"
#include "henn/nn/reference.hpp"
#include "random_values.hpp"

using namespace henn;
using namespace henn::engine;

namespace {

using henn::test::random_vector;

nn::Conv2d conv(std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t stride,
                std::int64_t pad, std::mt19937_64& rng) {
    nn::Conv2d c;
    c.in_channels = in;
    c.out_channels = out;
    c.kernel_h = c.kernel_w = k;
    c.stride_h = c.stride_w = stride;
    c.pad_h = c.pad_w = pad;
    c.weight = random_vector(static_cast<std::size_t>(in * out * k * k), rng, -0.5, 0.5);
    c.bias = random_vector(static_cast<std::size_t>(out), rng, -0.2, 0.2);
    return c;
}

nn::Dense dense(std::int64_t in, std::int64_t out, std::mt19937_64& rng, double w = 0.3) {
    nn::Dense d;
    d.in_features = in;
    d.out_features = out;
    d.weight = random_vector(static_cast<std::size_t>(in * out), rng, -w, w);
    d.bias = random_vector(static_cast<std::size_t>(out), rng, -0.2, 0.2);
    return d;
}

nn::Polynomial poly(std::vector<double> c) {
    nn::Polynomial p;
    p.coefficients = std::move(c);
    return p;
}

// Worst absolute error of `actual` against `expected`, in bits (-log2).
double precision_bits(const std::vector<double>& actual, const std::vector<double>& expected) {
    EXPECT_EQ(actual.size(), expected.size());
    double worst = 0;
    for (std::size_t i = 0; i < std::min(actual.size(), expected.size()); ++i) {
        worst = std::max(worst, std::abs(actual[i] - expected[i]));
    }
    return worst == 0 ? 60.0 : -std::log2(worst);
}

struct EncryptedRun {
    CompiledModelPtr compiled;
    std::vector<double> encrypted, reference;
    double bits = 0;
};

// Compiles `model`, encrypts `count` random inputs in [0, 1], runs, decrypts; compares with the
// float64 reference executor.
EncryptedRun encrypted_run(const nn::Model& model, std::int64_t count, CompileOptions options = {},
                           std::uint64_t seed = 1) {
    std::mt19937_64 rng(seed);
    const std::int64_t size = nn::shape_size(model.input_shape());
    options.calibration = random_vector(static_cast<std::size_t>(size * 32), rng, 0, 1);
    options.calibration_count = 32;
    EncryptedRun r;
    r.compiled = CompiledModel::compile(model, options);
    const auto inputs = random_vector(static_cast<std::size_t>(size * count), rng, 0, 1);
    Client client = Client::with_test_only_seed(r.compiled, seed);
    Session session(r.compiled, client.evaluation_keys());
    std::vector<EncryptedBatch> outputs;
    for (const auto& batch : client.encrypt(inputs, count)) outputs.push_back(session.run(batch));
    r.encrypted = client.decrypt(outputs);
    r.reference = nn::run_reference_batch(model, inputs, count);
    r.bits = precision_bits(r.encrypted, r.reference);
    return r;
}

nn::Model cryptonets_like(std::mt19937_64& rng) {
    // 1x12x12 -> conv 3x3 stride 2 pad 1 (4 channels, 6x6) -> x^2 -> dense 144 -> 16 -> x^2 ->
    // dense 16 -> 4
    return nn::Model({1, 12, 12}, {{"conv", conv(1, 4, 3, 2, 1, rng)},
                                   {"square1", poly({0, 0, 1})},
                                   {"flatten", nn::Flatten{}},
                                   {"fc1", dense(144, 16, rng, 0.2)},
                                   {"square2", poly({0, 0, 1})},
                                   {"fc2", dense(16, 4, rng)}});
}

}  // namespace

TEST(ConstantMatrix, EqualsEvaluatorMultiplyAccumulate) {
    auto ctx = ckks::Context::create(ckks::ParametersLiteral::for_depth(2, 40));
    ckks::KeyGenerator keygen(ctx, math::Seed{7});
    ckks::Encoder encoder(ctx);
    ckks::Encryptor encryptor(ctx, keygen.secret_key());
    encryptor.use_test_only_seed(math::Seed{8});
    ckks::Evaluator evaluator(ctx);
    std::mt19937_64 rng(3);
    const std::size_t cols = 70, rows = 9;  // more columns than one weighted sum takes
    std::vector<ckks::Ciphertext> in;
    for (std::size_t c = 0; c < cols; ++c)
        in.push_back(encryptor.encrypt(encoder.encode(random_vector(16, rng, -1, 1))));
    std::vector<const ckks::Ciphertext*> ptrs;
    for (auto& c : in) ptrs.push_back(&c);
    std::vector<std::size_t> row_begin{0};
    std::vector<std::uint32_t> column;
    std::vector<double> value;
    std::vector<std::vector<double>> dense(rows, std::vector<double>(cols, 0.0));
    for (std::size_t r = 0; r < rows; ++r) {
        for (std::size_t c = 0; c < cols; ++c) {
            if (r == 3 || (r + c) % 3 == 0) continue;  // sparse rows, one empty row
            const double w = random_vector(1, rng, -2, 2)[0];
            column.push_back(static_cast<std::uint32_t>(c));
            value.push_back(w);
            dense[r][c] = w;
        }
        row_begin.push_back(column.size());
    }
    ckks::ConstantMatrix matrix(ctx, ctx->max_level(), cols, row_begin, column, value);
    for (std::size_t block : {std::size_t{64}, std::size_t{1024}, ctx->n()}) {
        matrix.set_block_size(block);
        const auto out = matrix.multiply(ptrs);
        ASSERT_EQ(out.size(), rows);
        for (std::size_t r = 0; r < rows; ++r) {
            const auto naive = evaluator.multiply_accumulate(
                std::span<const ckks::Ciphertext* const>(ptrs), dense[r]);
            EXPECT_EQ(out[r].polys, naive.polys)
                << "row " << r << ", block " << block;  // bit-identical
            EXPECT_EQ(out[r].scale, naive.scale);
        }
    }
    const auto part = matrix.multiply(ptrs, 2, 5);
    ASSERT_EQ(part.size(), 3u);
    EXPECT_EQ(part[0].polys, matrix.multiply(ptrs)[2].polys);
    ptrs.pop_back();
    EXPECT_THROW(matrix.multiply(ptrs), ckks::MismatchError);
}

// Column blocks accumulated one after another equal the whole product bit for bit (the sums are
// exact modulo each prime), which is what streaming between layers relies on.
TEST(ConstantMatrix, ColumnBlocksAccumulateToTheWholeProduct) {
    auto ctx = ckks::Context::create(ckks::ParametersLiteral::for_depth(2, 40));
    ckks::KeyGenerator keygen(ctx, math::Seed{9});
    ckks::Encoder encoder(ctx);
    ckks::Encryptor encryptor(ctx, keygen.secret_key());
    encryptor.use_test_only_seed(math::Seed{10});
    std::mt19937_64 rng(4);
    const std::size_t cols = 50, rows = 7, width = 16;  // blocks of 16, 16, 16 and 2 columns
    std::vector<ckks::Ciphertext> in;
    for (std::size_t c = 0; c < cols; ++c)
        in.push_back(encryptor.encrypt(encoder.encode(random_vector(16, rng, -1, 1))));
    std::vector<std::size_t> row_begin{0};
    std::vector<std::uint32_t> column;
    std::vector<double> value;
    std::vector<std::vector<std::size_t>> block_rows((cols + width - 1) / width,
                                                     std::vector<std::size_t>{0});
    std::vector<std::vector<std::uint32_t>> block_columns(block_rows.size());
    std::vector<std::vector<double>> block_values(block_rows.size());
    for (std::size_t r = 0; r < rows; ++r) {
        for (std::size_t c = 0; c < cols; ++c) {
            if (r == 2 || (r * 7 + c) % 4 == 0) continue;  // sparse rows, one empty row
            const double w = random_vector(1, rng, -2, 2)[0];
            column.push_back(static_cast<std::uint32_t>(c));
            value.push_back(w);
            block_columns[c / width].push_back(static_cast<std::uint32_t>(c % width));
            block_values[c / width].push_back(w);
        }
        row_begin.push_back(column.size());
        for (std::size_t b = 0; b < block_rows.size(); ++b)
            block_rows[b].push_back(block_columns[b].size());
    }
    const int level = ctx->max_level();
    ckks::ConstantMatrix whole(ctx, level, cols, row_begin, column, value);
    std::vector<const ckks::Ciphertext*> ptrs;
    for (auto& c : in) ptrs.push_back(&c);
    const auto expected = whole.multiply(ptrs);
    std::vector<ckks::Ciphertext> sums(rows);
    for (std::size_t b = 0; b < block_rows.size(); ++b) {
        const std::size_t lo = b * width, hi = std::min(cols, lo + width);
        ckks::ConstantMatrix block(ctx, level, hi - lo, block_rows[b], block_columns[b],
                                   block_values[b], whole.constant_scale());
        block.set_block_size(b % 2 ? 256 : 128);  // the coefficient blocking does not matter either
        block.multiply_accumulate(
            std::span<const ckks::Ciphertext* const>(ptrs.data() + lo, hi - lo), sums);
    }
    for (std::size_t r = 0; r < rows; ++r) {
        EXPECT_EQ(sums[r].polys, expected[r].polys) << "row " << r;
        EXPECT_EQ(sums[r].scale, expected[r].scale);
        EXPECT_EQ(sums[r].level, expected[r].level);
    }
    std::vector<ckks::Ciphertext> too_few(rows - 1);
    ckks::ConstantMatrix first(ctx, level, width, block_rows[0], block_columns[0], block_values[0]);
    EXPECT_THROW(first.multiply_accumulate(
                     std::span<const ckks::Ciphertext* const>(ptrs.data(), width), too_few),
                 ckks::MismatchError);
    std::vector<ckks::Ciphertext> mixed(rows);
    mixed[0] =
        in[0];  // one accumulator already holds a ciphertext of another shape, the others are empty
    EXPECT_THROW(first.multiply_accumulate(
                     std::span<const ckks::Ciphertext* const>(ptrs.data(), width), mixed),
                 ckks::MismatchError);
}

TEST(Lowering, PlainProgramEqualsTheReferenceExecutor) {
    std::mt19937_64 rng(11);
    nn::Pool2d pool;
    pool.kernel_h = pool.kernel_w = 2;
    pool.stride_h = pool.stride_w = 2;
    pool.scale = 0.25;
    // conv -> pool -> affine polynomial -> flatten -> dense fuse into one stage; a quadratic
    // with linear and constant terms moves a and c into the next dense layer.
    nn::Model model({2, 8, 8}, {{"conv", conv(2, 3, 3, 1, 1, rng)},
                                {"pool", pool},
                                {"affine", poly({0.5, -2.0})},
                                {"flatten", nn::Flatten{}},
                                {"fc1", dense(48, 8, rng)},
                                {"quad", poly({0.3, 0.7, -1.5})},
                                {"fc2", dense(8, 3, rng)}});
    auto compiled = CompiledModel::compile(model, {});
    ASSERT_EQ(compiled->stages().size(), 3u);
    EXPECT_EQ(compiled->stages()[0].name, "conv+pool+affine+flatten+fc1");
    EXPECT_EQ(compiled->depth(), 3);
    const auto& q = std::get<ActivationStage>(compiled->stages()[1].op);
    EXPECT_EQ(q.coefficients, (std::vector<double>{0, 0.7 / -1.5, 1}));
    for (int k = 0; k < 5; ++k) {
        const auto x = random_vector(128, rng, 0, 1);
        const auto expected = nn::run_reference(model, x);
        const auto actual = compiled->run_plain(x);
        ASSERT_EQ(actual.size(), expected.size());
        for (std::size_t i = 0; i < actual.size(); ++i) EXPECT_NEAR(actual[i], expected[i], 1e-10);
    }
}

TEST(Engine, CryptoNetsShapeMatchesReferenceInBothSlotPackings) {
    for (SlotPacking packing : {SlotPacking::complex, SlotPacking::real}) {
        std::mt19937_64 rng(5);
        const nn::Model model = cryptonets_like(rng);
        CompileOptions options;
        options.slot_packing = packing;
        const EncryptedRun r = encrypted_run(model, 40, options);
        EXPECT_EQ(r.compiled->slot_packing(), packing);
        EXPECT_EQ(r.compiled->depth(), 5);
        EXPECT_EQ(r.compiled->keys().conjugation, packing == SlotPacking::complex);
        EXPECT_GE(r.bits, options.target_precision_bits)
            << to_string(packing) << " expected " << r.compiled->expected_precision_bits()
            << " log_n " << r.compiled->context()->log_n() << " scale "
            << std::log2(r.compiled->input_scale());
        EXPECT_GE(r.bits, r.compiled->expected_precision_bits() - 4)
            << "the noise estimate is far too optimistic";
    }
}

// Lazy relinearization: squares between two linear stages are summed unrelinearized and the
// consumer relinearizes its outputs (16 key switches instead of 144 for the first square here),
// with the same planned precision met, and the same words as the per-weight reference path.
TEST(Engine, LazyRelinearizationMovesKeySwitchesToTheConsumer) {
    std::mt19937_64 rng(5);
    const nn::Model model = cryptonets_like(rng);
    for (SlotPacking packing : {SlotPacking::complex, SlotPacking::real}) {
        CompileOptions options;
        options.slot_packing = packing;
        const std::int64_t conjugations = packing == SlotPacking::complex ? 1 : 0;
        const auto eager = CompiledModel::compile(model, options);
        EXPECT_FALSE(eager->lazy_relinearization());
        EXPECT_EQ(eager->stages()[1].key_switches, 144 * (1 + conjugations));
        EXPECT_EQ(eager->stages()[2].key_switches, 0);

        options.lazy_relinearization = true;
        const EncryptedRun r = encrypted_run(model, 40, options);
        const auto& st = r.compiled->stages();
        ASSERT_EQ(st.size(), 5u);
        EXPECT_TRUE(r.compiled->lazy_relinearization());
        EXPECT_EQ(st[1].key_switches, 144 * conjugations) << to_string(packing);
        EXPECT_EQ(st[2].key_switches, 16);
        EXPECT_EQ(st[3].key_switches, 16 * conjugations);
        EXPECT_EQ(st[4].key_switches, 4);
        EXPECT_GE(r.bits, options.target_precision_bits)
            << to_string(packing) << " expected " << r.compiled->expected_precision_bits();
        // The policy survives a save and load; derived counts are recomputed there.
        const auto loaded = CompiledModel::load(r.compiled->save());
        EXPECT_TRUE(loaded->lazy_relinearization());
        for (std::size_t k = 0; k < st.size(); ++k)
            EXPECT_EQ(loaded->stages()[k].key_switches, st[k].key_switches);

        Client client = Client::with_test_only_seed(r.compiled, 8);
        Session session(r.compiled, client.evaluation_keys());
        const auto batch = client.encrypt(random_vector(144 * 5, rng, 0, 1), 5)[0];
        RunOptions naive;
        naive.reference_kernels = true;
        naive.chunk = 7;
        const auto fast = session.run(batch), reference = session.run(batch, naive);
        for (std::size_t i = 0; i < fast.ciphertexts.size(); ++i) {
            EXPECT_EQ(fast.ciphertexts[i].size(), 2u);
            EXPECT_EQ(fast.ciphertexts[i].polys, reference.ciphertexts[i].polys) << "output " << i;
        }
    }
    CompileOptions latency;
    latency.packing = Packing::latency;
    latency.lazy_relinearization = true;
    EXPECT_THROW(CompiledModel::compile(model, latency), CompileError);
}

TEST(Engine, SamplesInBothHalvesOfComplexSlotsAndSeveralBatches) {
    std::mt19937_64 rng(9);
    const nn::Model model(
        {6}, {{"fc1", dense(6, 5, rng)}, {"sq", poly({0.1, 0.2, 1})}, {"fc2", dense(5, 2, rng)}});
    CompileOptions options;
    options.log_n = 13;  // 8192 samples per batch, two per slot
    const EncryptedRun r = encrypted_run(model, 8192 + 4100 + 7, options);
    ASSERT_EQ(r.compiled->batch_size(), 8192);
    EXPECT_GE(r.bits, 12) << "expected " << r.compiled->expected_precision_bits() << ", scale 2^"
                          << std::log2(r.compiled->input_scale());
}

TEST(Engine, HigherDegreePolynomialsUseRealSlots) {
    std::mt19937_64 rng(13);
    nn::Polynomial cubic = poly({0.5, 0.197, 0, -0.004});
    nn::Polynomial degree5 = poly({0.1, 0.5, 0.2, -0.05, 0.01, 0.002});
    degree5.interval_lo = -4;
    degree5.interval_hi = 4;
    const nn::Model model({8}, {{"fc1", dense(8, 6, rng, 0.5)},
                                {"cubic", cubic},
                                {"fc2", dense(6, 5, rng, 0.5)},
                                {"p5", degree5},
                                {"fc3", dense(5, 3, rng)}});
    std::vector<std::string> warnings;
    const EncryptedRun r = encrypted_run(model, 50);
    EXPECT_EQ(r.compiled->slot_packing(), SlotPacking::real);
    EXPECT_EQ(r.compiled->stages()[1].depth, 2);
    EXPECT_GE(r.bits, 12);
}

TEST(Engine, TraceSeesEveryStageAtThePlannedLevelAndScale) {
    std::mt19937_64 rng(5);
    const nn::Model model = cryptonets_like(rng);
    auto compiled = CompiledModel::compile(model, {});
    Client client = Client::with_test_only_seed(compiled, 3);
    Session session(compiled, client.evaluation_keys());
    const auto x = random_vector(144 * 3, rng, 0, 1);
    auto batches = client.encrypt(x, 3);
    std::vector<std::size_t> seen;
    RunOptions options;
    options.trace = [&](std::size_t stage, const std::vector<ckks::Ciphertext>& outs) {
        seen.push_back(stage);
        const auto& plan = compiled->stages()[stage];
        for (const auto& c : outs) {
            EXPECT_EQ(c.level, plan.level_out);
            EXPECT_DOUBLE_EQ(c.scale, plan.scale_out);
        }
        const auto values = client.decrypt_values(outs, 3);
        for (int sample = 0; sample < 3; ++sample) {
            std::vector<std::vector<double>> trace;
            compiled->run_plain(std::span<const double>(x).subspan(144 * sample, 144), &trace);
            for (std::size_t i = 0; i < outs.size(); ++i) {
                EXPECT_NEAR(values[i][sample], trace[stage][i],
                            1e-3 * std::max(1.0, std::abs(trace[stage][i])));
            }
        }
    };
    session.run(batches[0], options);
    EXPECT_EQ(seen, (std::vector<std::size_t>{0, 1, 2, 3, 4}));
}

TEST(Engine, CompileErrorsNameTheLayer) {
    std::mt19937_64 rng(1);
    nn::NonPolynomial relu;
    const nn::Model with_relu(
        {4}, {{"fc", dense(4, 4, rng)}, {"relu7", relu}, {"out", dense(4, 2, rng)}});
    try {
        CompiledModel::compile(with_relu, {});
        FAIL() << "a ReLU compiled";
    } catch (const CompileError& e) {
        EXPECT_NE(std::string(e.what()).find("relu7"), std::string::npos) << e.what();
    }
    std::vector<nn::NamedOp> deep;
    for (int i = 0; i < 60; ++i) {
        deep.push_back({"fc" + std::to_string(i), dense(4, 4, rng)});
        deep.push_back({"sq" + std::to_string(i), poly({0, 0, 1})});
    }
    try {
        CompiledModel::compile(nn::Model({4}, deep), {});
        FAIL() << "depth 120 compiled";
    } catch (const CompileError& e) {
        EXPECT_NE(std::string(e.what()).find("depth 120"), std::string::npos) << e.what();
    }
}

TEST(Engine, CalibrationOutsideAnIntervalWarnsWithTheLayerName) {
    std::mt19937_64 rng(1);
    nn::Polynomial p = poly({0, 0.5, 0.25});
    p.interval_lo = -0.1;
    p.interval_hi = 0.1;
    const nn::Model model({4},
                          {{"fc", dense(4, 4, rng, 2.0)}, {"act3", p}, {"out", dense(4, 2, rng)}});
    std::vector<std::string> warnings;
    CompileOptions options;
    options.calibration = random_vector(4 * 16, rng, 0, 1);
    options.calibration_count = 16;
    CompiledModel::compile(model, options, &warnings);
    bool named = false;
    for (const auto& w : warnings) named = named || w.find("act3") != std::string::npos;
    EXPECT_TRUE(named);
}

TEST(Engine, SerializationRoundTripsAndRejectsDamage) {
    std::mt19937_64 rng(5);
    const nn::Model model = cryptonets_like(rng);
    auto compiled = CompiledModel::compile(model, {});
    const auto bytes = compiled->save();
    auto loaded = CompiledModel::load(bytes);
    EXPECT_EQ(loaded->hash(), compiled->hash());
    EXPECT_EQ(loaded->save(), bytes);
    EXPECT_EQ(loaded->summary(), compiled->summary());
    // Keys and ciphertexts from one load work with the other.
    Client client = Client::with_test_only_seed(compiled, 4);
    Session session(loaded, client.evaluation_keys());
    const auto x = random_vector(144 * 2, rng, 0, 1);
    const auto out =
        client.decrypt(std::vector<EncryptedBatch>{session.run(client.encrypt(x, 2)[0])});
    EXPECT_GE(precision_bits(out, nn::run_reference_batch(model, x, 2)),
              compiled->expected_precision_bits() - 2);
    // Truncations and flipped bytes: a FormatError (never a crash, never a silent success that
    // changes the program).
    for (std::size_t cut = 0; cut < bytes.size();
         cut += std::max<std::size_t>(1, bytes.size() / 97)) {
        EXPECT_THROW(CompiledModel::load(std::span(bytes).first(cut)), FormatError)
            << "cut at " << cut;
    }
    std::mt19937_64 flips(2);
    int rejected = 0;
    for (int t = 0; t < 60; ++t) {
        auto damaged = bytes;
        damaged[flips() % damaged.size()] ^= static_cast<std::uint8_t>(1 + flips() % 255);
        try {
            // Accepted: either another model (a weight changed) or an equivalent encoding of
            // this one (e.g. a flag byte that still reads as true).
            auto m = CompiledModel::load(damaged);
            if (m->hash() == compiled->hash()) {
                EXPECT_EQ(m->summary(), compiled->summary());
            }
        } catch (const FormatError&) {
            ++rejected;
        }
    }
    EXPECT_GT(rejected, 0);
}

TEST(Engine, MismatchedKeysModelsAndBundlesAreRefused) {
    std::mt19937_64 rng(5);
    auto a = CompiledModel::compile(cryptonets_like(rng), {});
    auto b = CompiledModel::compile(cryptonets_like(rng), {});  // other weights
    ASSERT_NE(a->hash(), b->hash());
    Client ca = Client::with_test_only_seed(a, 1);
    EXPECT_THROW(Session(b, ca.evaluation_keys()), KeyMismatchError);
    // Keys without the conjugation key.
    auto keys = ca.evaluation_keys();
    auto partial = std::make_shared<ckks::EvaluationKeys>(*keys.keys);
    partial->galois.keys.clear();
    EXPECT_THROW(Session(a, EvaluationKeyBundle{a->hash(), partial}), KeyMismatchError);
    // Bundles.
    const auto x = random_vector(144 * 2, rng, 0, 1);
    const auto batches = ca.encrypt(x, 2);
    const auto wire = save_batches(*a, batches, BundleKind::inputs);
    EXPECT_EQ(load_batches(*a, wire, BundleKind::inputs)[0].ciphertexts.size(), 144u);
    EXPECT_EQ(saved_batches_bytes(*a, batches),
              wire.size());  // measured without building the bundle
    EXPECT_THROW(load_batches(*b, wire, BundleKind::inputs), KeyMismatchError);
    EXPECT_THROW(load_batches(*a, wire, BundleKind::outputs), FormatError);
    for (std::size_t cut :
         {std::size_t{0}, std::size_t{5}, std::size_t{30}, wire.size() / 2, wire.size() - 1}) {
        EXPECT_THROW(load_batches(*a, std::span(wire).first(cut), BundleKind::inputs), FormatError);
    }
    Session session(a, ca.evaluation_keys());
    EncryptedBatch short_batch = batches[0];
    short_batch.ciphertexts.pop_back();
    EXPECT_THROW(session.run(short_batch), FormatError);
    const auto key_wire = save_evaluation_keys(*a, ca.evaluation_keys());
    EXPECT_NO_THROW(Session(a, load_evaluation_keys(*a, key_wire)));
    EXPECT_THROW(load_evaluation_keys(*b, key_wire), KeyMismatchError);
    EXPECT_THROW(load_evaluation_keys(*a, std::span(key_wire).first(key_wire.size() / 3)),
                 FormatError);
    // The secret key: saved and restored for the same model only.
    const auto secret = ca.save_secret_key();
    Client restored(a, secret);
    const auto outputs = session.run(batches[0]);
    EXPECT_EQ(restored.decrypt(std::vector<EncryptedBatch>{outputs}),
              ca.decrypt(std::vector<EncryptedBatch>{outputs}));
    EXPECT_THROW(Client(b, secret), KeyMismatchError);
}

TEST(Engine, BlockedKernelIsBitIdenticalToOneEvaluatorCallPerWeight) {
    std::mt19937_64 rng(21);
    const nn::Model model = cryptonets_like(rng);
    auto compiled = CompiledModel::compile(model, {});
    Client client = Client::with_test_only_seed(compiled, 8);
    Session session(compiled, client.evaluation_keys());
    const auto x = random_vector(144 * 5, rng, 0, 1);
    const auto batch = client.encrypt(x, 5)[0];
    RunOptions naive;
    naive.reference_kernels = true;
    naive.chunk = 7;  // chunks that do not divide the layers
    const auto fast = session.run(batch);
    const auto reference = session.run(batch, naive);
    ASSERT_EQ(fast.ciphertexts.size(), reference.ciphertexts.size());
    for (std::size_t i = 0; i < fast.ciphertexts.size(); ++i) {
        EXPECT_EQ(fast.ciphertexts[i].polys, reference.ciphertexts[i].polys) << "output " << i;
        EXPECT_EQ(fast.ciphertexts[i].scale, reference.ciphertexts[i].scale);
    }
}
