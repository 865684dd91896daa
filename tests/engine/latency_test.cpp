// Latency packing: every layer kind against the float64 reference executor (random shapes,
// strides, paddings, channels; precision in bits asserted), several samples per ciphertext,
// serialization, the rotation-key set (sufficient and minimal, each key only down to its level),
// compile errors naming the layer, and the PyTorch fixtures on MNIST test images.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <random>
#include <utility>

#include "henn/ckks/errors.hpp"
#include "henn/ckks/serialization.hpp"
#include "henn/data/data.hpp"
#include "henn/engine/client.hpp"
#include "henn/engine/compiled_model.hpp"
#include "henn/engine/errors.hpp"
#include "henn/engine/latency.hpp"
#include "henn/engine/session.hpp"
#include "henn/nn/model.hpp"
#include "henn/nn/reference.hpp"
#include "henn/onnx/onnx.hpp"
#include "latency.hpp"  // engine/: the prepared program, for the key-minimality check
#include "random_values.hpp"
#include "test_data.hpp"

using namespace henn;
using namespace henn::engine;

namespace {

using henn::test::random_vector;

std::int64_t pick(std::mt19937_64& rng, std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
}

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

nn::Pool2d avg_pool(std::int64_t k, std::int64_t stride, std::int64_t pad) {
    nn::Pool2d p;
    p.kernel_h = p.kernel_w = k;
    p.stride_h = p.stride_w = stride;
    p.pad_h = p.pad_w = pad;
    p.scale = 1.0 / static_cast<double>(k * k);
    return p;
}

nn::Polynomial poly(std::vector<double> c, double lo = 0, double hi = 0) {
    nn::Polynomial p;
    p.coefficients = std::move(c);
    p.interval_lo = lo;
    p.interval_hi = hi;
    return p;
}

// Bits of precision relative to the largest expected value (at least 1).
double relative_bits(const std::vector<double>& actual, const std::vector<double>& expected) {
    EXPECT_EQ(actual.size(), expected.size());
    double worst = 0, largest = 1;
    for (std::size_t i = 0; i < std::min(actual.size(), expected.size()); ++i) {
        worst = std::max(worst, std::abs(actual[i] - expected[i]));
        largest = std::max(largest, std::abs(expected[i]));
    }
    return worst == 0 ? 60.0 : -std::log2(worst / largest);
}

CompileOptions latency_options(std::int64_t input_size, std::mt19937_64& rng, int log_n = 13) {
    CompileOptions o;
    o.packing = Packing::latency;
    o.log_n = log_n;
    o.calibration = random_vector(static_cast<std::size_t>(input_size * 16), rng, 0, 1);
    o.calibration_count = 16;
    return o;
}

// A key generator over the client's secret key (the engine's secret-key file: magic, version,
// model hash, then the ckks blob), with deterministic evaluation keys.
std::unique_ptr<ckks::KeyGenerator> keygen_of(const Client& client, std::uint64_t seed) {
    const auto bytes = client.save_secret_key();
    engine::detail::Reader r(bytes, "secret key");
    r.expect_magic("HENNSKEY", 8);
    (void)r.u16("version");
    (void)r.u64("model hash");
    const auto& ctx = client.model().context();
    return std::make_unique<ckks::KeyGenerator>(ctx, ckks::load_secret_key(*ctx, r.blob("key")),
                                                math::test_only_seed(seed));
}

// Each key only down to the level it is used at (make_evaluation_keys).
EvaluationKeyBundle levelled_keys(const CompiledModelPtr& m, const Client& client,
                                  std::uint64_t seed) {
    return {m->hash(), make_evaluation_keys(*m, *keygen_of(client, seed))};
}

// The same keys, every one at the top level (what clients made before keys had levels).
EvaluationKeyBundle top_level_keys(const CompiledModelPtr& m, const Client& client,
                                   std::uint64_t seed) {
    const auto keygen = keygen_of(client, seed);
    auto keys = std::make_shared<ckks::EvaluationKeys>();
    const KeyRequirements& need = m->keys();
    if (need.relinearization) keys->relinearization = keygen->relinearization_key();
    keys->galois = keygen->galois_keys(need.rotations, need.conjugation);
    return {m->hash(), keys};
}

// With `key_bytes`: the saved sizes of the levelled keys it ran with and of the same keys at the
// top level.
std::vector<double> run_encrypted(const CompiledModelPtr& m, const std::vector<double>& inputs,
                                  std::int64_t count, std::uint64_t seed,
                                  std::pair<std::size_t, std::size_t>* key_bytes = nullptr) {
    Client client = Client::with_test_only_seed(m, seed);
    const EvaluationKeyBundle keys = levelled_keys(m, client, seed);
    if (key_bytes) {
        key_bytes->first = save_evaluation_keys(*m, keys).size();
        key_bytes->second = save_evaluation_keys(*m, top_level_keys(m, client, seed)).size();
    }
    Session session(m, keys);
    std::vector<EncryptedBatch> outputs;
    for (auto& batch : client.encrypt(inputs, count))
        outputs.push_back(session.run(std::move(batch)));
    return client.decrypt(outputs);
}

struct Case {
    CompiledModelPtr compiled;
    double bits = 0;
};

// Compiles in latency packing (with `input_copies`, 0: chosen), runs `count` random inputs
// encrypted, compares with the reference.
Case check_against_reference(const nn::Model& model, std::int64_t count, std::uint64_t seed,
                             int log_n = 13, int input_copies = 0) {
    std::mt19937_64 rng(seed);
    const std::int64_t size = nn::shape_size(model.input_shape());
    Case c;
    CompileOptions options = latency_options(size, rng, log_n);
    options.latency_input_copies = input_copies;
    c.compiled = CompiledModel::compile(model, options);
    const auto inputs = random_vector(static_cast<std::size_t>(size * count), rng, 0, 1);
    const auto encrypted = run_encrypted(c.compiled, inputs, count, seed);
    const auto reference = nn::run_reference_batch(model, inputs, count);
    c.bits = relative_bits(encrypted, reference);
    return c;
}

}  // namespace

TEST(Latency, ConvolutionsOfRandomShapesStridesPaddingsAndChannels) {
    std::mt19937_64 rng(11);
    for (int t = 0; t < 6; ++t) {
        const std::int64_t k = pick(rng, 2, 5), stride = pick(rng, 1, 3),
                           pad = pick(rng, 0, std::min<std::int64_t>(2, k - 1));
        const std::int64_t size = pick(rng, std::max<std::int64_t>(k, 7), 13);
        const std::int64_t in = pick(rng, 1, 3), out = pick(rng, 1, 4);
        nn::Model model({in, size, size}, {{"conv", conv(in, out, k, stride, pad, rng)}});
        SCOPED_TRACE("conv " + std::to_string(in) + "x" + std::to_string(size) + "x" +
                     std::to_string(size) + " k" + std::to_string(k) + " s" +
                     std::to_string(stride) + " p" + std::to_string(pad) + " -> " +
                     std::to_string(out) + " channels");
        const Case c = check_against_reference(model, 3, 100 + t);
        EXPECT_GE(c.bits, 12.0);
        ASSERT_NE(c.compiled->latency_layout(), nullptr);
        EXPECT_GT(c.compiled->batch_size(), 1);  // small images: several per ciphertext
        // One diagonal per (input channel, output channel, kernel tap) at most, unless padding
        // makes the output wider than the input (then it goes row-major).
        const auto& detail = c.compiled->stages()[0].detail;
        const auto diagonals = std::stoll(detail.substr(detail.find(", ") + 2));
        if ((size + 2 * pad - k) / stride + 1 <= size) {
            EXPECT_LE(diagonals, in * out * k * k) << detail;
        }
    }
}

// The number of diagonals of a stage, from its description ("784 -> 845, 25 diagonals, ...").
std::int64_t diagonals_of(const StagePlan& stage) {
    return std::stoll(stage.detail.substr(stage.detail.find(", ") + 2));
}

// Copies of the input: with one per output channel, every channel reads its own copy at the same
// offset and the first convolution needs one diagonal per (input channel, tap); fewer copies
// share some. Same results as one copy, against the reference.
TEST(Latency, InputCopiesShareTheFirstConvolutionsDiagonals) {
    std::mt19937_64 rng(24);
    for (int t = 0; t < 4; ++t) {
        const std::int64_t k = pick(rng, 2, 4), stride = pick(rng, 1, 2),
                           pad = pick(rng, 0, std::min<std::int64_t>(1, k - 1));
        const std::int64_t size = pick(rng, 8, 12), in = pick(rng, 1, 2), out = pick(rng, 2, 5);
        const std::int64_t side = (size + 2 * pad - k) / stride + 1;
        nn::Model model({in, size, size}, {{"conv", conv(in, out, k, stride, pad, rng)},
                                           {"square", poly({0, 0, 1})},
                                           {"flatten", nn::Flatten{}},
                                           {"fc", dense(out * side * side, 3, rng, 0.1)}});
        SCOPED_TRACE("conv " + std::to_string(in) + "x" + std::to_string(size) + "x" +
                     std::to_string(size) + " k" + std::to_string(k) + " s" +
                     std::to_string(stride) + " p" + std::to_string(pad) + " -> " +
                     std::to_string(out) + " channels");
        const Case one = check_against_reference(model, 2, 400 + t, 13, 1);
        const Case all = check_against_reference(model, 2, 400 + t, 13, static_cast<int>(out));
        const Case chosen = check_against_reference(model, 2, 400 + t, 13, 0);
        for (const Case* c : {&one, &all, &chosen}) EXPECT_GE(c->bits, 12.0);
        EXPECT_EQ(one.compiled->latency_layout()->input_copies.size(), 1u);
        const auto& layout = *all.compiled->latency_layout();
        EXPECT_EQ(layout.input_copies.size(), static_cast<std::size_t>(out));
        EXPECT_EQ(layout.stages[0].input_copy.size(), static_cast<std::size_t>(out * side * side));
        const std::int64_t one_diagonals = diagonals_of(one.compiled->stages()[0]);
        EXPECT_LE(diagonals_of(all.compiled->stages()[0]), in * k * k);
        EXPECT_LE(diagonals_of(all.compiled->stages()[0]), one_diagonals);
        EXPECT_LE(diagonals_of(chosen.compiled->stages()[0]), one_diagonals);
        // Through the wire form: version 4 only with copies.
        const auto bytes = all.compiled->save();
        EXPECT_EQ(bytes[8], 4);
        EXPECT_EQ(one.compiled->save()[8], 3);
        const auto loaded = CompiledModel::load(bytes);
        EXPECT_EQ(loaded->hash(), all.compiled->hash());
        EXPECT_EQ(loaded->latency_layout()->input_copies, layout.input_copies);
        EXPECT_EQ(loaded->latency_layout()->stages[0].input_copy, layout.stages[0].input_copy);
        EXPECT_EQ(loaded->stages()[0].detail, all.compiled->stages()[0].detail);
    }
}

TEST(Latency, InputCopiesTheFirstStageCannotUseAreRefused) {
    std::mt19937_64 rng(25);
    nn::Model conv_model({1, 8, 8}, {{"conv", conv(1, 2, 3, 1, 0, rng)},
                                     {"square", poly({0, 0, 1})},
                                     {"flatten", nn::Flatten{}},
                                     {"fc", dense(72, 2, rng)}});
    CompileOptions o = latency_options(64, rng);
    o.latency_input_copies = 3;  // two output channels
    EXPECT_THROW(CompiledModel::compile(conv_model, o), CompileError);
    nn::Model dense_model({16}, {{"fc1", dense(16, 4, rng)}, {"square", poly({0, 0, 1})}});
    o = latency_options(16, rng);
    o.latency_input_copies = 2;
    EXPECT_THROW(CompiledModel::compile(dense_model, o), CompileError);
    o.latency_input_copies = 1;
    EXPECT_EQ(CompiledModel::compile(dense_model, o)->latency_layout()->input_copies.size(), 1u);
}

TEST(Latency, ConvolutionWithFoldedBatchNorm) {
    std::mt19937_64 rng(12);
    nn::LayerOp op = conv(2, 3, 3, 1, 1, rng);
    nn::fold_batch_norm(op, {1.5, 0.7, 1.1}, {0.1, -0.2, 0.05}, {0.2, 0.1, -0.1}, {0.9, 1.3, 0.5},
                        1e-5);
    nn::Model model({2, 9, 9}, {{"conv_bn", op},
                                {"square", poly({0, 0, 1})},
                                {"flatten", nn::Flatten{}},
                                {"fc", dense(3 * 81, 5, rng, 0.1)}});
    EXPECT_GE(check_against_reference(model, 2, 12, 0).bits, 12.0);
}

TEST(Latency, AveragePoolsWithStridesAndPadding) {
    std::mt19937_64 rng(13);
    for (int t = 0; t < 3; ++t) {
        const std::int64_t k = pick(rng, 2, 3), stride = pick(rng, 1, 2), pad = pick(rng, 0, 1);
        const std::int64_t ch = pick(rng, 1, 3), size = pick(rng, 6, 12);
        nn::Model model({ch, size, size}, {{"pool", avg_pool(k, stride, pad)}});
        SCOPED_TRACE("pool k" + std::to_string(k) + " s" + std::to_string(stride) + " p" +
                     std::to_string(pad));
        EXPECT_GE(check_against_reference(model, 2, 200 + t).bits, 12.0);
    }
}

TEST(Latency, DenseLayersDirectAndFolded) {
    std::mt19937_64 rng(14);
    bool folded = false, direct = false;
    const std::vector<std::pair<std::int64_t, std::int64_t>> shapes{
        {8, 8}, {300, 10}, {50, 33}, {600, 120}};
    for (std::size_t t = 0; t < shapes.size(); ++t) {
        const auto [in, out] = shapes[t];
        nn::Model model({in},
                        {{"fc", dense(in, out, rng, 1.0 / std::sqrt(static_cast<double>(in)))}});
        SCOPED_TRACE("dense " + std::to_string(in) + " -> " + std::to_string(out));
        const Case c = check_against_reference(model, 2, 300 + t);
        EXPECT_GE(c.bits, 12.0);
        (c.compiled->latency_layout()->stages[0].fold ? folded : direct) = true;
    }
    EXPECT_TRUE(folded);
    EXPECT_TRUE(direct);
}

TEST(Latency, ChainOfConvolutionsPoolsActivationsAndDense) {
    // LeNet-shaped: conv -> x^2 + x/2 -> pool + conv (stride 2, one stage) -> cubic -> flatten ->
    // dense.
    std::mt19937_64 rng(15);
    nn::Model model({1, 12, 12}, {{"conv1", conv(1, 3, 3, 1, 1, rng)},
                                  {"square1", poly({0, 0.5, 1})},
                                  {"pool1", avg_pool(2, 2, 0)},
                                  {"conv2", conv(3, 4, 3, 2, 1, rng)},
                                  {"cubic", poly({0.1, 0.5, 0, -0.02}, -6, 6)},
                                  {"flatten", nn::Flatten{}},
                                  {"fc", dense(4 * 3 * 3, 5, rng, 0.2)}});
    const Case c = check_against_reference(model, 3, 15, 0);
    EXPECT_GE(c.bits, 10.0);
    // Stages at the planned levels (checked by the session) and the layout round-trips.
    const auto bytes = c.compiled->save();
    const auto loaded = CompiledModel::load(bytes);
    EXPECT_EQ(loaded->hash(), c.compiled->hash());
    EXPECT_EQ(loaded->keys().rotation_levels, c.compiled->keys().rotation_levels);
    EXPECT_EQ(loaded->latency_layout()->output_slot(), c.compiled->latency_layout()->output_slot());
}

TEST(Latency, KeySetIsSufficientMinimalAndLevelled) {
    std::mt19937_64 rng(16);
    nn::Model model({1, 10, 10}, {{"conv", conv(1, 2, 3, 2, 1, rng)},
                                  {"square", poly({0, 0, 1})},
                                  {"flatten", nn::Flatten{}},
                                  {"fc", dense(50, 6, rng, 0.2)}});
    const Case c = check_against_reference(model, 1, 16);  // sufficient: the run succeeds
    EXPECT_GE(c.bits, 12.0);
    const CompiledModel& m = *c.compiled;
    const auto& need = m.keys();
    ASSERT_FALSE(need.rotations.empty());
    ASSERT_EQ(need.rotations.size(), need.rotation_levels.size());
    // The plan knows the level each key is used at (the dense stage's are lower), and the keys
    // stop there (the run above used them).
    int lowest = m.input_level();
    for (const auto& [step, level] : need.rotation_levels) {
        EXPECT_LE(level, m.input_level());
        lowest = std::min(lowest, level);
    }
    EXPECT_LT(lowest, m.input_level());
    const LatencyProgram& program = *m.latency_program();
    EXPECT_LT(program.keys.key_bytes, program.keys.top_level_bytes);
    {
        Client client = Client::with_test_only_seed(c.compiled, 16);
        const EvaluationKeyBundle levelled = levelled_keys(c.compiled, client, 16);
        const ckks::Context& ctx = *m.context();
        for (const auto& [step, level] : need.rotation_levels) {
            const auto& key = levelled.keys->galois.keys.at(ctx.galois_element_for_rotation(step));
            EXPECT_EQ(key.level(ctx), level) << "step " << step;
        }
        ASSERT_TRUE(levelled.keys->relinearization.has_value());
        EXPECT_LT(levelled.keys->relinearization->key.level(ctx), m.input_level());
        // In memory exactly what the plan counts for the rotation keys; fewer bytes on the wire
        // than the same keys at the top level.
        EXPECT_EQ(levelled.keys->galois.bytes(), program.keys.key_bytes);
        const auto levelled_bytes = save_evaluation_keys(m, levelled).size();
        const auto full_bytes =
            save_evaluation_keys(m, top_level_keys(c.compiled, client, 16)).size();
        EXPECT_LT(levelled_bytes, full_bytes);
        // The client makes the levelled keys; the compiled model's estimate of their size is
        // within a few percent of the saved bundle.
        EXPECT_EQ(save_evaluation_keys(m, client.evaluation_keys()).size(), levelled_bytes);
        EXPECT_NEAR(static_cast<double>(m.evaluation_key_bytes()),
                    static_cast<double>(levelled_bytes), 0.05 * levelled_bytes);
        // A key one level below its use is refused before the run, naming the step.
        const auto highest =
            std::max_element(need.rotation_levels.begin(), need.rotation_levels.end(),
                             [](const auto& x, const auto& y) { return x.second < y.second; });
        const auto [step, level] = *highest;
        ASSERT_GT(level, 0);
        auto low = std::make_shared<ckks::EvaluationKeys>(*levelled.keys);
        auto& key = low->galois.keys.at(ctx.galois_element_for_rotation(step));
        key = key.at_level(ctx, level - 1);
        Session s(c.compiled, EvaluationKeyBundle{m.hash(), low});
        auto batch = client.encrypt(random_vector(100, rng, 0, 1), 1);
        try {
            (void)s.run(std::move(batch[0]));
            ADD_FAILURE() << "a key below its level was accepted";
        } catch (const KeyMismatchError& e) {
            EXPECT_NE(std::string(e.what()).find("step " + std::to_string(step)), std::string::npos)
                << e.what();
        }
    }
    // Minimal: without any one of the keys some stage's evaluation fails, naming the step.
    Client client = Client::with_test_only_seed(c.compiled, 16);
    const auto full = client.evaluation_keys();
    auto batches = client.encrypt(random_vector(100, rng, 0, 1), 1);
    for (int step : need.rotations) {
        auto keys = std::make_shared<ckks::EvaluationKeys>(*full.keys);
        keys->galois.keys.erase(m.context()->galois_element_for_rotation(step));
        ckks::Evaluator evaluator(m.context(), keys);
        ckks::Ciphertext x = batches[0].ciphertexts[0];
        bool failed = false;
        for (std::size_t k = 0; k < program.stages.size() && !failed; ++k) {
            const auto& st = program.stages[k];
            try {
                if (st.transform) {
                    x = st.transform->evaluate(evaluator, x);
                    if (st.fold_blocks > 1) {
                        x = circuits::inner_sum(evaluator, x,
                                                static_cast<std::size_t>(st.fold_blocks),
                                                static_cast<std::size_t>(st.fold_stride));
                    }
                    if (st.bias) evaluator.add_plain_inplace(x, *st.bias);
                } else {
                    x = evaluator.rescale(evaluator.square_relin(x));
                }
            } catch (const ckks::Error&) {
                failed = true;
            }
        }
        EXPECT_TRUE(failed) << "the key for step " << step << " is never used";
    }
    // The session refuses a bundle lacking a key, naming the step.
    auto keys = std::make_shared<ckks::EvaluationKeys>(*full.keys);
    keys->galois.keys.erase(m.context()->galois_element_for_rotation(need.rotations.front()));
    try {
        Session s(c.compiled, EvaluationKeyBundle{full.model_hash, keys});
        FAIL() << "a key set without step " << need.rotations.front() << " was accepted";
    } catch (const KeyMismatchError& e) {
        EXPECT_NE(std::string(e.what()).find(std::to_string(need.rotations.front())),
                  std::string::npos)
            << e.what();
    }
}

TEST(Latency, SeveralSamplesPerCiphertextAndPartialBatches) {
    std::mt19937_64 rng(17);
    nn::Model model(
        {20},
        {{"fc1", dense(20, 12, rng)}, {"square", poly({0, 0, 1})}, {"fc2", dense(12, 4, rng)}});
    const auto compiled = CompiledModel::compile(model, latency_options(20, rng));
    ASSERT_GE(compiled->batch_size(), 64);
    const std::int64_t count = compiled->batch_size() + 3;  // two ciphertexts, the second partial
    const auto inputs = random_vector(static_cast<std::size_t>(20 * count), rng, 0, 1);
    Client client = Client::with_test_only_seed(compiled, 17);
    const auto batches = client.encrypt(inputs, count);
    ASSERT_EQ(batches.size(), 2u);
    EXPECT_EQ(batches[0].ciphertexts.size(), 1u);
    EXPECT_EQ(batches[1].samples, 3);
    // Through the wire form, as a server would see them.
    const auto bundle = save_batches(*compiled, batches, BundleKind::inputs);
    Session session(compiled, client.evaluation_keys());
    std::vector<EncryptedBatch> outputs;
    for (auto& b : load_batches(*compiled, bundle, BundleKind::inputs))
        outputs.push_back(session.run(std::move(b)));
    const auto encrypted = client.decrypt(outputs);
    EXPECT_GE(relative_bits(encrypted, nn::run_reference_batch(model, inputs, count)), 12.0);
}

TEST(Latency, SerializationVersionsAndDamage) {
    std::mt19937_64 rng(18);
    nn::Model model({1, 6, 6}, {{"conv", conv(1, 2, 3, 1, 0, rng)},
                                {"square", poly({0, 0, 1})},
                                {"flatten", nn::Flatten{}},
                                {"fc", dense(32, 3, rng)}});
    // One copy of the input: the version-3 form (the version-4 one with copies is damaged below).
    CompileOptions one_copy = latency_options(36, rng);
    one_copy.latency_input_copies = 1;
    const auto latency = CompiledModel::compile(model, one_copy);
    auto bytes = latency->save();
    ASSERT_EQ(bytes[8], 3);
    // Files of versions 1 and 2 lack the relinearization byte (offset 12, after the magic, the
    // version and the two packing bytes) that version 3 added.
    auto as_version = [](std::vector<std::uint8_t> b, std::uint8_t version) {
        b[8] = version;
        b[9] = 0;
        b.erase(b.begin() + 12);
        return b;
    };
    // A version-1 file (before latency packing) and a version-2 one holding a batch model still
    // load, with eager relinearization.
    CompileOptions batch_options;
    batch_options.log_n = 13;
    const auto batch_bytes = CompiledModel::compile(model, batch_options)->save();
    for (std::uint8_t version : {1, 2}) {
        const auto m = CompiledModel::load(as_version(batch_bytes, version));
        EXPECT_EQ(m->packing(), Packing::batch);
        EXPECT_FALSE(m->lazy_relinearization());
    }
    // Version 1 cannot say latency; version 2 can.
    EXPECT_THROW(CompiledModel::load(as_version(bytes, 1)), FormatError);
    EXPECT_EQ(CompiledModel::load(as_version(bytes, 2))->packing(), Packing::latency);
    // An unknown relinearization policy, and lazy relinearization with latency packing, are
    // refused.
    auto policy = batch_bytes;
    policy[12] = 2;
    EXPECT_THROW(CompiledModel::load(policy), FormatError);
    auto lazy_latency = bytes;
    lazy_latency[12] = 1;
    EXPECT_THROW(CompiledModel::load(lazy_latency), FormatError);
    // Damaged layouts, with and without copies of the input, are refused with a typed error,
    // never a crash; a version-4 file read as version 3 is refused too.
    CompileOptions copies = one_copy;
    copies.latency_input_copies = 2;
    const auto with_copies = CompiledModel::compile(model, copies);
    const auto copies_bytes = with_copies->save();
    ASSERT_EQ(copies_bytes[8], 4);
    auto as_three = copies_bytes;
    as_three[8] = 3;
    EXPECT_THROW(CompiledModel::load(as_three), FormatError);
    for (const auto* original : {&latency, &with_copies}) {
        const auto good = (*original)->save();
        EXPECT_THROW(CompiledModel::load(std::span(good).first(good.size() - 3)), FormatError);
        // The layout is the file's tail: flip bits in its last 400 bytes.
        for (std::size_t back = 4; back <= 400 && back < good.size(); back += 4) {
            SCOPED_TRACE("byte " + std::to_string(good.size() - back) + " of " +
                         std::to_string(good.size()));
            auto damaged = good;
            damaged[damaged.size() - back] ^= 0x40;
            try {
                const auto m = CompiledModel::load(damaged);
                EXPECT_NE(m->hash(), (*original)->hash());
            } catch (const FormatError&) {
            }
        }
    }
}

TEST(Latency, CompileErrorNamesTheLayerThatDoesNotFit) {
    std::mt19937_64 rng(19);
    // 4 channels of 40x40 at stride 1: 6400 values, N/2 = 4096 slots at 2^13.
    nn::Model model({1, 40, 40}, {{"wide_conv", conv(1, 4, 3, 1, 1, rng)},
                                  {"square", poly({0, 0, 1})},
                                  {"flatten", nn::Flatten{}},
                                  {"fc", dense(6400, 2, rng, 0.01)}});
    try {
        CompiledModel::compile(model, latency_options(1600, rng));
        FAIL() << "compiled";
    } catch (const CompileError& e) {
        EXPECT_NE(std::string(e.what()).find("wide_conv"), std::string::npos) << e.what();
    }
}

// A stage whose diagonals would not fit in memory is refused, naming it: a 4096 x 4096 matrix
// with one weight per row, row r reading input 2r mod 4096, has 4096 diagonals (3 GiB or more
// encoded over the 5 primes of its level and P at 2^14).
TEST(Latency, CompileErrorNamesTheStageWithTooManyDiagonals) {
    std::mt19937_64 rng(23);
    nn::Dense scatter;
    scatter.in_features = scatter.out_features = 4096;
    scatter.weight.assign(4096u * 4096u, 0.0);
    for (std::size_t r = 0; r < 4096; ++r) scatter.weight[r * 4096 + (2 * r) % 4096] = 0.5;
    scatter.bias.assign(4096, 0.0);
    nn::Model model({4096}, {{"scatter", scatter},
                             {"square", poly({0, 0, 1})},
                             {"fc", dense(4096, 2, rng, 0.01)},
                             {"square2", poly({0, 0, 1})}});
    const CompileOptions o = latency_options(4096, rng, 14);
    try {
        FAIL() << "compiled: " << CompiledModel::compile(model, o)->summary();
    } catch (const CompileError& e) {
        EXPECT_NE(std::string(e.what()).find("scatter"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("diagonals"), std::string::npos) << e.what();
    }
}

// The PyTorch exports on MNIST test images: encrypted predictions equal the plaintext ones.
namespace {
void expect_fixture_agrees(const std::string& path, std::int64_t count) {
    const auto dir = henn::test::data_dir();
    if (dir.empty()) HENN_SKIP_WITHOUT_DATA("no --data-dir");
    const nn::Model model = onnx::import_onnx(path).model;
    const auto train = data::load_named_dataset("mnist", dir, data::Split::train).head(256);
    const auto test = data::load_named_dataset("mnist", dir, data::Split::test).head(count);
    CompileOptions o;
    o.packing = Packing::latency;
    o.calibration.assign(train.features.begin(), train.features.end());
    o.calibration_count = train.count();
    const auto compiled = CompiledModel::compile(model, o);
    const std::vector<double> inputs(test.features.begin(), test.features.end());
    std::pair<std::size_t, std::size_t> key_bytes;
    const auto encrypted = run_encrypted(compiled, inputs, count, 21, &key_bytes);
    const auto reference = nn::run_reference_batch(model, inputs, count);
    // Each key only down to its level: fewer bytes than every key at the top level.
    EXPECT_LT(key_bytes.first, key_bytes.second) << path;
    std::cout << path << ": evaluation keys " << key_bytes.first << " bytes levelled, "
              << key_bytes.second << " bytes at the top level\n";
    const std::int64_t classes = compiled->output_size();
    std::int64_t agree = 0;
    for (std::int64_t i = 0; i < count; ++i) {
        auto arg = [&](const std::vector<double>& v) {
            return std::max_element(v.begin() + i * classes, v.begin() + (i + 1) * classes) -
                   (v.begin() + i * classes);
        };
        agree += arg(encrypted) == arg(reference);
    }
    EXPECT_EQ(agree, count) << path;
    EXPECT_GE(relative_bits(encrypted, reference), 8.0) << path;
}
}  // namespace

TEST(LatencyMnist, CryptoNetsFixtureAgreesWithPlaintext) {
    expect_fixture_agrees(std::string(HENN_ONNX_FIXTURE_DIR) + "/cryptonets.onnx", 100);
}
// LeNet's pool + 6 -> 16 channel 5x5 convolution fuses into one stage; with the output channels
// placed where they share diagonals it needs about a thousand (3,666 when each channel took the
// first free offset, too many plaintexts to keep).
TEST(LatencyMnist, LeNetFixtureAgreesWithPlaintext) {
    expect_fixture_agrees(std::string(HENN_ONNX_FIXTURE_DIR) + "/lenet_bn.onnx", 8);
}
// LeNet-5 as henn train exports it (models/mnist_lenet5.onnx): three convolution-like stages,
// two pools, depth 9 at N = 2^14, one image per ciphertext.
TEST(LatencyMnist, LeNet5AgreesWithPlaintext) {
    expect_fixture_agrees(std::string(HENN_MODELS_DIR) + "/mnist_lenet5.onnx", 4);
}
TEST(LatencyMnist, MlpFixtureAgreesWithPlaintext) {
    expect_fixture_agrees(std::string(HENN_ONNX_FIXTURE_DIR) + "/mlp.onnx", 300);
}
TEST(LatencyMnist, DemoModelAgreesWithPlaintext) {
    expect_fixture_agrees(std::string(HENN_MODELS_DIR) + "/mnist_cryptonets.onnx", 200);
}
