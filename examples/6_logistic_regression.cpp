// Example 6, logistic regression trained on encrypted rows. A client holds labelled rows (here a
// deterministic WDBC-like table: 569 rows of 30 features, so no data file is needed); a server
// trains a logistic-regression model on them while they stay encrypted under CKKS, and scores
// encrypted rows with the encrypted model; only the client can decrypt the model and the scores.
//
//   client: standardize, fix the plan (ring and chain at 128-bit security), make the keys,
//           encrypt the training rows and the rows to score; keep the secret key in a 0600 file
//   server: plan, evaluation keys and ciphertexts only: two iterations of gradient descent, then
//           the scores of the held-out rows
//   client: decrypt the model and the scores, and check them against the plaintext reference
//           that performs the same arithmetic (same sigmoid polynomial, same constants)
//
// The parties exchange files in a private temporary directory (henn::lr's role files, the ones
// `henn lr keygen | encrypt | train | decrypt | predict` use). Exit status 0 if the decrypted
// model is within 1e-2 of the reference, its held-out predictions the reference's except on rows
// whose reference score is within what that difference can move, and the encrypted scores within
// 1e-2 of the plaintext ones.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "henn/ckks/serialization.hpp"
#include "henn/files.hpp"
#include "henn/lr/encrypted.hpp"
#include "henn/lr/files.hpp"
#include "henn/lr/lr.hpp"
#include "henn/lr/scoring.hpp"

using namespace henn;
namespace fs = std::filesystem;

namespace {
std::vector<std::uint8_t> read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void write(const fs::path& path, const std::vector<std::uint8_t>& bytes,
           FileAccess access = FileAccess::shared) {
    write_file_atomically(path, bytes, access);
}

// The client's configuration: two iterations of gradient descent with the study's cubic sigmoid
// on [-B, B], B from the client's own rows; two levels kept so the model can score afterwards.
lr::TrainingConfig configuration(const lr::Problem& train) {
    lr::TrainingConfig c;
    c.rows = train.rows();
    c.features = train.features;
    c.hyper.optimizer = lr::Optimizer::gradient_descent;
    c.hyper.learning_rate = 1.0;
    c.hyper.iterations = 2;
    c.sigmoid = "poly3";
    c.sigmoid_bound = lr::sigmoid_bound_from_data(train, c.hyper);
    c.chain.scoring_levels = lr::kScoringLevels;
    return c;
}

// Client, first: keys and encrypted rows.
void client_prepare(const fs::path& dir, const lr::Split& data) {
    const lr::TrainingConfig config = configuration(data.train);
    lr::Client client(config.plan());
    std::printf("client: plan %s\n", client.plan().describe().c_str());
    write(dir / "secret.key", ckks::save(*client.context(), client.secret_key()),
          FileAccess::owner_only);
    const auto plan_bytes = lr::save_plan(config, *client.context());
    write(dir / "plan.lr", plan_bytes);
    write(dir / "evaluation.keys", ckks::save(*client.context(), client.evaluation_keys()));
    const lr::PlanFile plan = lr::load_plan(plan_bytes);
    write(dir / "rows.ct", lr::save_encrypted(plan, {lr::FileKind::training_rows, data.train.rows(),
                                                     0, client.encrypt_rows(data.train)}));
    write(dir / "score_rows.ct",
          lr::save_encrypted(plan, {lr::FileKind::scoring_rows, data.test.rows(), 0,
                                    client.encrypt_features(data.test)}));
}

// Server: no secret key; trains, then scores the held-out rows with the encrypted model.
void server_train_and_score(const fs::path& dir) {
    const lr::PlanFile plan = lr::load_plan(read(dir / "plan.lr"));
    auto keys = std::make_shared<const ckks::EvaluationKeys>(
        lr::load_evaluation_keys(plan, read(dir / "evaluation.keys")));
    lr::EncryptedFile rows =
        lr::load_encrypted(plan, read(dir / "rows.ct"), lr::FileKind::training_rows);
    lr::EncryptedTrainer trainer(plan.context, keys, plan.plan, std::move(rows.ciphertexts));
    trainer.train(nullptr, [](const lr::IterationReport& r) {
        std::printf("server: iteration %d, level %d, %.2f s\n", r.iteration, r.level, r.seconds);
    });
    const auto& state = trainer.state();
    write(dir / "model.ct", lr::save_encrypted(plan, {lr::FileKind::model,
                                                      plan.plan.packing.rows,
                                                      static_cast<std::uint32_t>(state.iteration),
                                                      {*state.v, *state.theta}}));
    const lr::EncryptedFile to_score =
        lr::load_encrypted(plan, read(dir / "score_rows.ct"), lr::FileKind::scoring_rows);
    const ckks::Evaluator evaluator(plan.context, keys);
    const auto scores = lr::score_encrypted(evaluator, lr::packing_of(plan, to_score),
                                            to_score.ciphertexts, *state.theta);
    write(dir / "scores.ct",
          lr::save_encrypted(plan, {lr::FileKind::scores, to_score.rows, 0, scores}));
}

// Client, again: the secret key from its file decrypts the model and the scores.
int client_check(const fs::path& dir, const lr::Split& data) {
    const lr::PlanFile plan = lr::load_plan(read(dir / "plan.lr"));
    const lr::Client client(plan.plan, plan.context,
                            lr::load_secret_key(plan, read(dir / "secret.key")));
    const lr::EncryptedFile model =
        lr::load_encrypted(plan, read(dir / "model.ct"), lr::FileKind::model);
    const lr::Model decrypted{client.decrypt_weights(model.ciphertexts[1])};
    const lr::Model reference = lr::train_reference(data.train, plan.plan.hyper, plan.plan.sigmoid);
    const double weights_gap = lr::max_weight_difference(decrypted, reference);
    const lr::Metrics encrypted = lr::evaluate(decrypted, data.test);
    const lr::Metrics plain = lr::evaluate(reference, data.test);

    const lr::EncryptedFile scores_file =
        lr::load_encrypted(plan, read(dir / "scores.ct"), lr::FileKind::scores);
    const auto scores =
        client.decrypt_scores(scores_file.ciphertexts, lr::packing_of(plan, scores_file));
    const auto expected = lr::score_rows(decrypted, data.test);
    double scores_gap = 0;
    for (std::size_t i = 0; i < scores.size(); ++i)
        scores_gap = std::max(scores_gap, std::abs(scores[i] - expected[i]));

    std::printf(
        "client: held-out accuracy %.2f%% (AUC %.4f) from encrypted training, %.2f%% "
        "(AUC %.4f) from the same arithmetic in plaintext\n",
        100 * encrypted.accuracy, encrypted.auc, 100 * plain.accuracy, plain.auc);
    std::printf(
        "client: largest coefficient difference %.2e, largest score difference %.2e over "
        "%zu encrypted scores\n",
        weights_gap, scores_gap, scores.size());
    // CKKS error (fresh randomness each run) may move a row whose score is near 0 across the
    // threshold: the decrypted model's score of row x is off by at most weights_gap (1 + |x|_1),
    // so a prediction may differ from the reference's only where the reference's score is that
    // close to 0.
    const double tolerance = 1e-2;
    const auto reference_scores = lr::score_rows(reference, data.test);
    std::size_t unexplained = 0, borderline = 0;
    for (std::size_t i = 0; i < expected.size(); ++i) {
        if ((expected[i] > 0) == (reference_scores[i] > 0)) continue;
        double norm = 1;
        for (std::size_t j = 0; j < data.test.features; ++j)
            norm += std::abs(data.test.x[i * data.test.features + j]);
        (std::abs(reference_scores[i]) <= weights_gap * norm ? borderline : unexplained) += 1;
    }
    std::printf(
        "client: %zu held-out prediction(s) differ from the reference's, %zu of them "
        "further from the threshold than the weights' difference explains\n",
        unexplained + borderline, unexplained);
    const bool ok = weights_gap < tolerance && scores_gap < tolerance && unexplained == 0;
    std::printf("%s\n", ok ? "check passed" : "check FAILED");
    return ok ? 0 : 1;
}
}  // namespace

int main() {
    // 569 rows of 30 features from a fixed seed, split 80/20 and standardized by the client.
    const lr::Split data =
        lr::split_and_standardize(lr::synthetic_problem(569, 30, 2024), 0.8, /*seed=*/1);
    std::string pattern = (fs::temp_directory_path() / "henn-example-6-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) return 1;  // mode 0700
    const fs::path dir = pattern;
    int status = 1;
    try {
        client_prepare(dir, data);
        server_train_and_score(dir);
        status = client_check(dir, data);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
    }
    fs::remove_all(dir);
    return status;
}
