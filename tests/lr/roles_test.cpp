// The separate roles' library parts: encrypted scoring against plaintext scoring (encrypted and
// plain models), the role files round trip, and every loader refuses wrong, foreign, truncated
// and corrupted files with an LrError of the right category (never a crash). Toy insecure rings
// (test_only_insecure, accepted only with FileOptions::allow_test_only_insecure), fixed seeds.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "henn/ckks/serialization.hpp"
#include "henn/lr/encrypted.hpp"
#include "henn/lr/files.hpp"
#include "henn/lr/lr.hpp"
#include "henn/lr/scoring.hpp"
#include "henn/math/random.hpp"

using namespace henn;
using namespace henn::lr;

namespace {

ChainOptions toy_chain(int log_n, int scoring_levels = kScoringLevels) {
    ChainOptions c;
    c.log_n = log_n;
    c.scoring_levels = scoring_levels;
    c.test_only_insecure = true;  // tests only: a small ring keeps the run short
    return c;
}

TrainingConfig toy_config(const Problem& train, int iterations, Optimizer optimizer) {
    TrainingConfig c;
    c.rows = train.rows();
    c.features = train.features;
    c.hyper.optimizer = optimizer;
    c.hyper.learning_rate = 1.0;
    c.hyper.iterations = iterations;
    c.sigmoid = "poly3";
    c.sigmoid_bound = 8;
    c.chain = toy_chain(12);
    return c;
}

FileOptions tests_only() {
    FileOptions o;
    o.allow_test_only_insecure = true;
    return o;
}

double max_abs_difference(const std::vector<double>& a, const std::vector<double>& b) {
    EXPECT_EQ(a.size(), b.size());
    double m = 0;
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i)
        m = std::max(m, std::abs(a[i] - b[i]));
    return m;
}

std::vector<double> decrypt_scores(const Client& client, const Packing& packing,
                                   const std::vector<ckks::Ciphertext>& scores,
                                   double* largest_other_slot = nullptr) {
    const ckks::Decryptor decryptor(client.context(), client.secret_key());
    const ckks::Encoder encoder(client.context());
    std::vector<std::vector<double>> slots;
    for (const auto& ct : scores) slots.push_back(encoder.decode_real(decryptor.decrypt(ct)));
    if (largest_other_slot) {
        *largest_other_slot = 0;
        for (const auto& s : slots)
            for (std::size_t t = 0; t < s.size(); ++t)
                if (t % packing.block != 0)
                    *largest_other_slot = std::max(*largest_other_slot, std::abs(s[t]));
    }
    return unpack_scores(slots, packing);
}

template <class F>
ErrorCategory category_of(F&& f) {
    try {
        f();
    } catch (const LrError& e) {
        return e.category();
    } catch (const std::exception& e) {
        ADD_FAILURE() << "not an LrError: " << e.what();
        return ErrorCategory::internal;
    }
    ADD_FAILURE() << "accepted";
    return ErrorCategory::internal;
}

// One toy run shared by the tests below: keys, files, two iterations on ciphertexts.
struct Toy {
    Split data;
    TrainingConfig config;
    PlanFile plan;
    std::unique_ptr<Client> client;
    std::vector<std::uint8_t> plan_bytes, keys_bytes, secret_bytes, rows_bytes, model_bytes;
    std::vector<double> theta;  // decrypted
};

const Toy& toy() {
    static const Toy t = [] {
        Toy t;
        // 300 training rows of 6 features: block 8, 256 rows per ciphertext, two ciphertexts.
        t.data = split_and_standardize(synthetic_problem(400, 6, 31), 0.75, 8);
        t.config = toy_config(t.data.train, 2, Optimizer::nesterov);
        const TrainingPlan plan = t.config.plan();
        t.client = std::make_unique<Client>(plan, math::test_only_seed(41));
        t.plan_bytes = save_plan(t.config, *t.client->context());
        t.plan = load_plan(t.plan_bytes, tests_only());
        t.keys_bytes = ckks::save(*t.plan.context, t.client->evaluation_keys());
        t.secret_bytes = ckks::save(*t.plan.context, t.client->secret_key());
        EncryptedFile rows{FileKind::training_rows, t.data.train.rows(), 0,
                           t.client->encrypt_rows(t.data.train)};
        t.rows_bytes = save_encrypted(t.plan, rows);
        // The server: plan, evaluation keys and rows from their bytes only.
        const PlanFile server_plan = load_plan(t.plan_bytes, tests_only());
        auto keys = std::make_shared<const ckks::EvaluationKeys>(
            load_evaluation_keys(server_plan, t.keys_bytes));
        EncryptedFile loaded = load_encrypted(server_plan, t.rows_bytes, FileKind::training_rows);
        EncryptedTrainer trainer(server_plan.context, keys, server_plan.plan,
                                 std::move(loaded.ciphertexts));
        trainer.train(nullptr);
        EncryptedFile model{FileKind::model,
                            server_plan.plan.packing.rows,
                            static_cast<std::uint32_t>(trainer.state().iteration),
                            {*trainer.state().v, *trainer.state().theta}};
        t.model_bytes = save_encrypted(server_plan, model);
        t.theta = t.client->decrypt_weights(
            load_encrypted(t.plan, t.model_bytes, FileKind::model).ciphertexts[1]);
        return t;
    }();
    return t;
}

}  // namespace

TEST(LrRoles, FilesCarryTrainingToTheReference) {
    const Toy& t = toy();
    const SigmoidApproximation s = make_sigmoid("poly3", 8);
    const auto reference = train_reference(t.data.train, t.config.hyper, s).weights;
    EXPECT_LT(max_abs_difference(t.theta, reference), 1e-3);
    // The plan file says what it was made from.
    EXPECT_EQ(t.plan.config.rows, t.data.train.rows());
    EXPECT_EQ(t.plan.config.hyper.iterations, 2);
    EXPECT_EQ(t.plan.config.chain.scoring_levels, kScoringLevels);
    EXPECT_EQ(t.plan.context->parameter_hash(), t.client->context()->parameter_hash());
    // The model kept kScoringLevels levels, as planned.
    const EncryptedFile model = load_encrypted(t.plan, t.model_bytes, FileKind::model);
    EXPECT_EQ(model.iterations, 2u);
    EXPECT_EQ(model.ciphertexts[1].level, kScoringLevels);
}

TEST(LrRoles, SecretKeyFromItsFileDecryptsTheModel) {
    const Toy& t = toy();
    Client client(t.plan.plan, t.plan.context, load_secret_key(t.plan, t.secret_bytes));
    const EncryptedFile model = load_encrypted(t.plan, t.model_bytes, FileKind::model);
    EXPECT_EQ(client.decrypt_weights(model.ciphertexts[1]), t.theta);
}

// Scores of encrypted rows by the encrypted model equal the plaintext scores of the decrypted
// model within 1e-3 (scores up to ~5; measured 8.6e-5 here, 9e-6 with a plain model below).
TEST(LrRoles, EncryptedScoringWithTheEncryptedModelEqualsPlaintextScoring) {
    const Toy& t = toy();
    const PlanFile& plan = t.plan;
    const Packing packing = Packing::make(t.data.test.rows(), 6, plan.plan.packing.slots);
    const auto rows = t.client->encrypt_features(t.data.test);
    auto keys =
        std::make_shared<const ckks::EvaluationKeys>(load_evaluation_keys(plan, t.keys_bytes));
    const ckks::Evaluator evaluator(plan.context, keys);
    const EncryptedFile model = load_encrypted(plan, t.model_bytes, FileKind::model);
    const auto scores =
        score_encrypted(evaluator, packing, rows, model.ciphertexts[1], plan.config.chain.radix);
    double other = 0;
    const auto got = decrypt_scores(*t.client, packing, scores, &other);
    const auto expected = score_rows(Model{t.theta}, t.data.test);
    std::printf("encrypted model: largest score error %.2e, largest masked slot %.2e\n",
                max_abs_difference(got, expected), other);
    EXPECT_LT(max_abs_difference(got, expected), 1e-3);
    EXPECT_LT(other, 1e-3) << "the mask leaves only the scores";
    // A model without spare levels is refused, saying why.
    ckks::Ciphertext low = evaluator.drop_level(model.ciphertexts[1], 1);
    EXPECT_EQ(category_of([&] { score_encrypted(evaluator, packing, rows, low); }),
              ErrorCategory::crypto);
}

// A plain model on the server scores encrypted rows (several ciphertexts of them) within 1e-3.
TEST(LrRoles, EncryptedScoringWithAPlainModelEqualsPlaintextScoring) {
    const Toy& t = toy();
    const Problem rows = synthetic_problem(600, 6, 77);  // 600 rows: 3 ciphertexts of 256
    const Packing packing = Packing::make(rows.rows(), 6, t.plan.plan.packing.slots);
    ASSERT_EQ(packing.ciphertexts, 3u);
    const std::vector<double> w = {0.3, -1.2, 0.8, 0.05, -0.4, 1.5, -0.7};
    auto keys =
        std::make_shared<const ckks::EvaluationKeys>(load_evaluation_keys(t.plan, t.keys_bytes));
    const ckks::Evaluator evaluator(t.plan.context, keys);
    const auto encrypted = t.client->encrypt_features(rows);
    // Through the scoring-rows and scores files.
    const auto rows_bytes =
        save_encrypted(t.plan, EncryptedFile{FileKind::scoring_rows, rows.rows(), 0, encrypted});
    const EncryptedFile loaded = load_encrypted(t.plan, rows_bytes, FileKind::scoring_rows);
    const auto scores = score_encrypted(evaluator, packing_of(t.plan, loaded), loaded.ciphertexts,
                                        w, t.plan.config.chain.radix);
    const auto scores_bytes =
        save_encrypted(t.plan, EncryptedFile{FileKind::scores, rows.rows(), 0, scores});
    const EncryptedFile back = load_encrypted(t.plan, scores_bytes, FileKind::scores);
    double other = 0;
    const auto got = decrypt_scores(*t.client, packing, back.ciphertexts, &other);
    const auto expected = score_rows(Model{w}, rows);
    std::printf("plain model: largest score error %.2e, largest masked slot %.2e\n",
                max_abs_difference(got, expected), other);
    EXPECT_LT(max_abs_difference(got, expected), 1e-3);
    EXPECT_LT(other, 1e-3);
    double largest = 0;
    for (double e : expected) largest = std::max(largest, std::abs(e));
    EXPECT_GT(largest, 1.0) << "the check must see real scores";
}

TEST(LrRoles, PlanRefusesInsecureOutsideTestsAndTooManyIterations) {
    const Toy& t = toy();
    EXPECT_EQ(category_of([&] { load_plan(t.plan_bytes); }), ErrorCategory::parameters);
    // The chain holds the planned iterations and no more; asking for more names how many fit.
    EXPECT_EQ(max_iterations_in_chain(t.plan.plan), 2);
    EXPECT_EQ(with_iterations(t.plan.plan, 1).hyper.iterations, 1);
    try {
        with_iterations(t.plan.plan, 5);
        ADD_FAILURE() << "5 iterations accepted";
    } catch (const LrError& e) {
        EXPECT_EQ(e.category(), ErrorCategory::parameters);
        EXPECT_NE(std::string(e.what()).find("at most 2 iterations"), std::string::npos)
            << e.what();
    }
}

TEST(LrRoles, WrongAndForeignFilesAreRefused) {
    const Toy& t = toy();
    // Another client's keys and plan (same configuration, different secret: same parameters, so
    // its rows load but decrypt to garbage; other parameters are refused outright).
    TrainingConfig other_config = t.config;
    other_config.chain.log_n = 13;
    Client other(other_config.plan(), math::test_only_seed(99));
    const auto other_plan_bytes = save_plan(other_config, *other.context());
    const PlanFile other_plan = load_plan(other_plan_bytes, tests_only());
    const auto other_rows =
        save_encrypted(other_plan, EncryptedFile{FileKind::training_rows, t.data.train.rows(), 0,
                                                 other.encrypt_rows(t.data.train)});
    EXPECT_EQ(category_of([&] { load_encrypted(t.plan, other_rows, FileKind::training_rows); }),
              ErrorCategory::protocol);
    EXPECT_EQ(category_of([&] {
                  load_evaluation_keys(t.plan,
                                       ckks::save(*other.context(), other.evaluation_keys()));
              }),
              ErrorCategory::protocol);
    EXPECT_EQ(category_of([&] {
                  load_secret_key(t.plan, ckks::save(*other.context(), other.secret_key()));
              }),
              ErrorCategory::protocol);
    // A file of one kind given as another.
    EXPECT_EQ(category_of([&] { load_encrypted(t.plan, t.rows_bytes, FileKind::model); }),
              ErrorCategory::usage);
    EXPECT_EQ(peek_kind(t.model_bytes), FileKind::model);
    // A plan file is not an encrypted file and vice versa.
    EXPECT_EQ(category_of([&] { load_encrypted(t.plan, t.plan_bytes, FileKind::model); }),
              ErrorCategory::data);
    EXPECT_EQ(category_of([&] { load_plan(t.rows_bytes, tests_only()); }), ErrorCategory::data);
    // Evaluation keys without the rotations the plan needs.
    ckks::EvaluationKeys partial = t.client->evaluation_keys();
    partial.galois.keys.erase(partial.galois.keys.begin());
    EXPECT_EQ(
        category_of([&] { load_evaluation_keys(t.plan, ckks::save(*t.plan.context, partial)); }),
        ErrorCategory::protocol);
    // Training rows of another plan's row count.
    TrainingConfig fewer = t.config;
    fewer.rows = t.config.rows - 1;
    const PlanFile fewer_plan = load_plan(save_plan(fewer, *t.plan.context), tests_only());
    EXPECT_EQ(
        category_of([&] { load_encrypted(fewer_plan, t.rows_bytes, FileKind::training_rows); }),
        ErrorCategory::protocol);
    // A plan file is non-interactive: a configuration with a client-aided refresh is refused.
    TrainingConfig refreshed = t.config;
    refreshed.refresh_every = 2;
    EXPECT_EQ(category_of([&] { save_plan(refreshed, *t.plan.context); }), ErrorCategory::usage);
}

// Every prefix of each file and a flip of every 97th byte are refused (data), never a crash; a
// flipped byte in a ciphertext's residues may still load (CKKS has no integrity check), but never
// as anything but a valid ciphertext of the plan's shape.
TEST(LrRoles, TruncatedAndCorruptedFilesAreRefused) {
    const Toy& t = toy();
    for (const auto* bytes : {&t.plan_bytes, &t.model_bytes}) {
        const std::size_t step = std::max<std::size_t>(1, bytes->size() / 400);
        for (std::size_t n = 0; n < bytes->size(); n += (n < 64 ? 1 : step)) {
            const std::span<const std::uint8_t> prefix(bytes->data(), n);
            if (bytes == &t.plan_bytes)
                EXPECT_EQ(category_of([&] { load_plan(prefix, tests_only()); }),
                          ErrorCategory::data)
                    << n;
            else
                EXPECT_EQ(category_of([&] { load_encrypted(t.plan, prefix, FileKind::model); }),
                          ErrorCategory::data)
                    << n;
        }
    }
    // Trailing bytes.
    auto longer = t.model_bytes;
    longer.push_back(0);
    EXPECT_EQ(category_of([&] { load_encrypted(t.plan, longer, FileKind::model); }),
              ErrorCategory::data);
    // The header fields: version, kind, counts.
    auto bad_version = t.model_bytes;
    bad_version[8] = 9;
    EXPECT_EQ(category_of([&] { load_encrypted(t.plan, bad_version, FileKind::model); }),
              ErrorCategory::data);
    auto bad_kind = t.model_bytes;
    bad_kind[10] = 17;
    EXPECT_EQ(category_of([&] { load_encrypted(t.plan, bad_kind, FileKind::model); }),
              ErrorCategory::data);
    auto bad_count = t.model_bytes;
    bad_count[8 + 2 + 1 + 8 + 8 + 4 + 4] = 3;  // three ciphertexts announced
    EXPECT_NE(category_of([&] { load_encrypted(t.plan, bad_count, FileKind::model); }),
              ErrorCategory::internal);
    std::size_t loaded = 0;
    for (std::size_t i = 0; i < t.model_bytes.size(); i += 97) {
        auto corrupt = t.model_bytes;
        corrupt[i] ^= 0x5a;
        try {
            const EncryptedFile f = load_encrypted(t.plan, corrupt, FileKind::model);
            EXPECT_EQ(f.ciphertexts.size(), 2u);
            EXPECT_EQ(f.ciphertexts[0].slots, t.plan.plan.packing.slots);
            ++loaded;
        } catch (const LrError&) {
        }
    }
    EXPECT_GT(loaded, 0u) << "residue bytes are not integrity-checked: some flips load";
}

TEST(LrRoles, ClientStateAndPlainModelRoundTripAndRefuseMalformedJson) {
    const Problem table = synthetic_problem(50, 4, 5);
    const ClientState state = ClientState::fit(table, 0.8, 3);
    const ClientState back = load_client_state(save_client_state(state));
    EXPECT_EQ(back.standardizer.mean, state.standardizer.mean);
    EXPECT_EQ(back.standardizer.stddev, state.standardizer.stddev);
    EXPECT_EQ(back.seed, 3u);
    EXPECT_EQ(back.table_rows, 50u);
    // prepare() is split_and_standardize's split.
    const Split a = back.prepare(table), b = split_and_standardize(table, 0.8, 3);
    EXPECT_EQ(a.train.x, b.train.x);
    EXPECT_EQ(a.test.y, b.test.y);
    EXPECT_EQ(category_of([&] { back.prepare(synthetic_problem(51, 4, 5)); }), ErrorCategory::data);

    PlainModel m;
    m.model.weights = {0.5, -1, 2, 0.25, 3};
    m.standardizer = state.standardizer;
    m.clip = 5;
    m.iterations = 4;
    m.optimizer = "nesterov";
    const PlainModel n = load_plain_model(save_plain_model(m));
    EXPECT_EQ(n.model.weights, m.model.weights);
    EXPECT_EQ(n.standardizer.mean, m.standardizer.mean);
    EXPECT_EQ(n.iterations, 4);
    const std::string good = save_plain_model(m);
    for (const std::string& bad :
         {std::string("{"), std::string("[]"), std::string("{\"format\": \"henn-lr-client\"}"),
          good.substr(0, good.size() / 2)})
        EXPECT_EQ(category_of([&] { load_plain_model(bad); }), ErrorCategory::data) << bad;
    auto replace = [&](const std::string& from, const std::string& to) {
        std::string s = good;
        s.replace(s.find(from), from.size(), to);
        return s;
    };
    EXPECT_EQ(category_of([&] { load_plain_model(replace("\"features\": 4", "\"features\": 5")); }),
              ErrorCategory::data);
    EXPECT_EQ(category_of([&] { load_plain_model(replace("\"bias\": 0.5", "\"bias\": \"x\"")); }),
              ErrorCategory::data);
    EXPECT_EQ(category_of([&] { load_client_state(good); }), ErrorCategory::data);
}
