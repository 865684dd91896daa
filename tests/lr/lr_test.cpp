// Logistic regression: the float trainer is the study's rule, the reference performs the
// encrypted trainer's arithmetic, and encrypted runs (gradient descent and Nesterov, several
// sigmoids, non-interactive and client-aided) equal that reference within the stated precision.
// Fixed seeds throughout; the small synthetic runs use toy insecure rings (flagged as such), the
// WDBC run the 128-bit ring the CLI uses.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "henn/data/data.hpp"
#include "henn/lr/encrypted.hpp"
#include "henn/lr/lr.hpp"
#include "henn/math/random.hpp"
#include "test_data.hpp"

using namespace henn;
using namespace henn::lr;

namespace {

double max_abs_difference(const std::vector<double>& a, const std::vector<double>& b) {
    EXPECT_EQ(a.size(), b.size());
    double m = 0;
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i)
        m = std::max(m, std::abs(a[i] - b[i]));
    return m;
}

// The study's rule written out literally, with the true sigmoid and y in {0, 1}.
std::vector<double> study_rule(const Problem& p, double alpha, double lambda, int iterations) {
    const std::size_t d = p.features + 1;
    const double m = static_cast<double>(p.rows());
    std::vector<double> theta(d, 0.0);
    for (int t = 0; t < iterations; ++t) {
        std::vector<double> grad(d, 0.0);
        for (std::size_t i = 0; i < p.rows(); ++i) {
            double u = theta[0];
            for (std::size_t j = 0; j < p.features; ++j)
                u += theta[j + 1] * p.x[i * p.features + j];
            const double err = 1.0 / (1.0 + std::exp(-u)) - p.y[i];
            grad[0] += err;
            for (std::size_t j = 0; j < p.features; ++j)
                grad[j + 1] += err * p.x[i * p.features + j];
        }
        for (std::size_t j = 0; j < d; ++j)
            theta[j] -= alpha * (grad[j] / m + lambda / m * theta[j]);
    }
    return theta;
}

struct EncryptedRun {
    std::vector<double> weights;
    std::vector<double> reference;
    TrainingPlan plan;
};

EncryptedRun run_encrypted(const Problem& train, const Hyperparameters& hyper,
                           const std::string& sigmoid_spec, double bound, Mode mode,
                           int refresh_every, const ChainOptions& chain, std::uint64_t seed) {
    const SigmoidApproximation sigmoid = make_sigmoid(sigmoid_spec, bound);
    EncryptedRun run;
    run.plan =
        plan_training(train.rows(), train.features, hyper, sigmoid, mode, refresh_every, chain);
    Client client(run.plan, math::test_only_seed(seed));
    auto keys = std::make_shared<const ckks::EvaluationKeys>(client.evaluation_keys());
    EncryptedTrainer trainer(client.context(), keys, run.plan, client.encrypt_rows(train));
    LocalClientRefresher refresher(client);
    trainer.train(mode == Mode::client_aided ? &refresher : nullptr);
    run.weights = client.decrypt_weights(trainer.model());
    run.reference = train_reference(train, hyper, sigmoid).weights;
    return run;
}

ChainOptions toy_chain(int log_n) {
    ChainOptions c;
    c.log_n = log_n;
    c.test_only_insecure = true;  // tests only: a small ring keeps the run short
    return c;
}

}  // namespace

TEST(LogisticRegression, FloatGradientDescentIsTheStudysRule) {
    const Problem p = synthetic_problem(200, 5, 7);
    for (double lambda : {0.0, 3.0}) {
        Hyperparameters h{Optimizer::gradient_descent, 0.7, lambda, 6};
        EXPECT_LT(max_abs_difference(train_float(p, h).weights, study_rule(p, 0.7, lambda, 6)),
                  1e-12);
    }
}

TEST(LogisticRegression, ReferenceWithAnExactSigmoidIsTheFloatTrainer) {
    // A degree-15 interpolant is within 1e-6 of the sigmoid on [-8, 8]: the reference's packing,
    // sign trick and Nesterov bookkeeping then reproduce the float trainer to that precision.
    const Problem p = synthetic_problem(300, 6, 3);
    SigmoidApproximation s = make_sigmoid("minimax:7", 8);
    s.p = approx::ChebyshevPolynomial::interpolate([](double u) { return 1 / (1 + std::exp(-u)); },
                                                   31, approx::Interval{-8, 8});
    for (Optimizer o : {Optimizer::gradient_descent, Optimizer::nesterov}) {
        Hyperparameters h{o, 1.0, 1.0, 5};
        EXPECT_LT(max_abs_difference(train_reference(p, h, s).weights, train_float(p, h).weights),
                  1e-6);
    }
}

TEST(LogisticRegression, SigmoidsAndSchedule) {
    const auto poly3 = make_sigmoid("poly3", 8);
    EXPECT_NEAR(poly3.evaluate(2.0), 0.5 + 0.197 * 2 - 0.004 * 8, 1e-12);
    for (const char* spec : {"minimax:3", "least-squares:5", "minimax:7"}) {
        const auto s = make_sigmoid(spec, 8);
        EXPECT_LT(s.max_error, 0.12) << spec;
        EXPECT_NEAR(s.evaluate(0.0), 0.5, 1e-9) << spec;
    }
    EXPECT_LT(make_sigmoid("minimax:7", 8).max_error, make_sigmoid("minimax:3", 8).max_error);
    EXPECT_THROW(make_sigmoid("minimax:4", 8), LrError);
    EXPECT_THROW(make_sigmoid("cubic", 8), LrError);
    const auto nesterov = schedule({Optimizer::nesterov, 1.0, 0.0, 4}, 10);
    EXPECT_EQ(nesterov[0].mu, 0.0);
    EXPECT_GT(nesterov[1].mu, 0.2);
    EXPECT_GT(nesterov[3].mu, nesterov[1].mu);
    for (const auto& c : schedule({Optimizer::gradient_descent, 1.0, 0.0, 3}, 10))
        EXPECT_EQ(c.mu, 0.0);
}

TEST(LogisticRegression, PackingTilesSignedRowsAndReplicatesWeights) {
    Problem p;
    p.features = 3;
    p.x = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    p.y = {1, 0, 1};
    const Packing pk = Packing::make(3, 3, 8);  // block 4, 2 rows per ciphertext
    EXPECT_EQ(pk.block, 4u);
    EXPECT_EQ(pk.ciphertexts, 2u);
    const auto slots = pack_rows(p, pk);
    EXPECT_EQ(slots[0], (std::vector<double>{1, 1, 2, 3, -1, -4, -5, -6}));
    EXPECT_EQ(slots[1], (std::vector<double>{1, 7, 8, 9, 0, 0, 0, 0}));
    EXPECT_EQ(pack_weights({1, 2, 3, 4}, pk), (std::vector<double>{1, 2, 3, 4, 1, 2, 3, 4}));
}

TEST(LogisticRegression, PlanIsSecureAndRefusesWhatDoesNotFit) {
    const auto s = make_sigmoid("poly3", 8);
    const TrainingPlan plan =
        plan_training(455, 30, {Optimizer::nesterov, 1.0, 0.0, 4}, s, Mode::non_interactive, 0);
    EXPECT_FALSE(plan.parameters.allow_insecure);
    EXPECT_EQ(plan.per_iteration, 5);
    EXPECT_EQ(plan.levels, 1 + 3 * 5 + 1);
    EXPECT_GE(plan.max_noninteractive_iterations, 4);
    EXPECT_NO_THROW(ckks::Context::create(plan.parameters));
    try {
        plan_training(455, 30, {Optimizer::nesterov, 1.0, 0.0, 40}, s, Mode::non_interactive, 0);
        FAIL() << "40 iterations cannot fit";
    } catch (const LrError& e) {
        EXPECT_EQ(e.category(), ErrorCategory::parameters);
        EXPECT_NE(std::string(e.what()).find("client-aided"), std::string::npos);
    }
    // Client-aided: the chain only needs one segment.
    const TrainingPlan aided =
        plan_training(455, 30, {Optimizer::nesterov, 1.0, 0.0, 40}, s, Mode::client_aided, 2);
    EXPECT_EQ(aided.levels, 2 * 5 + 1);
}

// Encrypted == identical-arithmetic reference. Stated precision: 1e-3 absolute on every
// coefficient for the synthetic runs (about 10 bits; CKKS at a 30-bit scale), 1e-2 on WDBC.
TEST(EncryptedLogisticRegression, SyntheticGradientDescentAndNesterovMatchTheReference) {
    const Split data = split_and_standardize(synthetic_problem(400, 6, 11), 0.75, 5);
    struct Case {
        Optimizer optimizer;
        const char* sigmoid;
        int iterations;
    };
    for (const Case& c : {Case{Optimizer::gradient_descent, "poly3", 3},
                          Case{Optimizer::nesterov, "minimax:5", 3}}) {
        const Hyperparameters h{c.optimizer, 1.0, 0.5, c.iterations};
        const auto run =
            run_encrypted(data.train, h, c.sigmoid, 8, Mode::non_interactive, 0, toy_chain(12), 21);
        EXPECT_LT(max_abs_difference(run.weights, run.reference), 1e-3) << c.sigmoid;
        // and the model is a model: better than chance on held-out rows
        EXPECT_GT(evaluate(Model{run.weights}, data.test).accuracy, 0.7);
    }
}

TEST(EncryptedLogisticRegression, ClientAidedRefreshMatchesTheReference) {
    const Split data = split_and_standardize(synthetic_problem(300, 5, 12), 0.75, 6);
    const Hyperparameters h{Optimizer::nesterov, 1.0, 0.0, 5};
    const auto run =
        run_encrypted(data.train, h, "poly3", 8, Mode::client_aided, 2, toy_chain(12), 22);
    EXPECT_EQ(run.plan.levels, 2 * 5 + 1);  // one segment of two iterations, not five
    EXPECT_LT(max_abs_difference(run.weights, run.reference), 1e-3);
}

TEST(EncryptedLogisticRegression, TrainerRefusesToRunOutOfLevels) {
    const Split data = split_and_standardize(synthetic_problem(100, 3, 13), 0.75, 7);
    const auto s = make_sigmoid("poly3", 8);
    const Hyperparameters h{Optimizer::gradient_descent, 1.0, 0.0, 5};
    // Planned client-aided (a 2-iteration chain), run without a refresher: must stop, not corrupt.
    const TrainingPlan plan =
        plan_training(data.train.rows(), 3, h, s, Mode::client_aided, 2, toy_chain(12));
    Client client(plan, math::test_only_seed(3));
    auto keys = std::make_shared<const ckks::EvaluationKeys>(client.evaluation_keys());
    EncryptedTrainer trainer(client.context(), keys, plan, client.encrypt_rows(data.train));
    EXPECT_THROW(trainer.train(nullptr), LrError);
}

// WDBC at 128-bit security: the coefficients within 1e-2 of the identical-arithmetic reference
// (the bound), the accuracy that of the reference.
TEST(EncryptedLogisticRegression, WdbcMatchesTheReferenceAt128Bits) {
    const std::filesystem::path file =
        std::filesystem::path(henn::test::data_dir()) / "wdbc" / "breast_cancer.csv";
    if (!std::filesystem::exists(file))
        HENN_SKIP_WITHOUT_DATA("WDBC not found under " + file.string());
    const data::Table table = data::load_wdbc_table(file);
    Problem all;
    all.features = table.columns;
    all.x = table.features;
    for (auto label : table.labels) all.y.push_back(static_cast<int>(label));
    const Split data = split_and_standardize(all, 0.8, 1);
    // The demo's defaults: Nesterov, alpha 0.2, four iterations (what a 2^15 ring holds), the
    // study's cubic.
    const Hyperparameters h{Optimizer::nesterov, 0.2, 0.0, 4};
    const auto run = run_encrypted(data.train, h, "poly3", sigmoid_bound_from_data(data.train, h),
                                   Mode::non_interactive, 0, ChainOptions{}, 31);
    EXPECT_FALSE(run.plan.parameters.allow_insecure);
    EXPECT_LT(max_abs_difference(run.weights, run.reference), 1e-2);
    const double encrypted = evaluate(Model{run.weights}, data.test).accuracy;
    const double reference = evaluate(Model{run.reference}, data.test).accuracy;
    EXPECT_NEAR(encrypted, reference, 1.0 / static_cast<double>(data.test.rows()) + 1e-12);
    EXPECT_GT(encrypted, 0.9);
}

// The data module refuses malformed tables with the line number (the rows LR is trained on).
TEST(LogisticRegressionData, MalformedCsvRefusedWithTheLineNumber) {
    const auto dir = std::filesystem::temp_directory_path() / "henn_lr_csv_test";
    std::filesystem::create_directories(dir);
    auto error = [&](const std::string& name, const std::string& text, bool wdbc) -> std::string {
        std::ofstream(dir / name) << text;
        try {
            if (wdbc)
                data::load_wdbc_table(dir / name);
            else
                data::load_csv_table(dir / name);
        } catch (const data::DataError& e) {
            return e.what();
        }
        return "no error";
    };
    EXPECT_NE(error("a.csv", "2,2,a,b\n1,2,0\n1,2,3,1\n", true).find("line 3"), std::string::npos);
    EXPECT_NE(error("b.csv", "2,2,a,b\n1,2,0\n1,abc,1\n", true)
                  .find("line 3: not a finite number: 'abc'"),
              std::string::npos);
    EXPECT_NE(error("c.csv", "2,2,a,b\n1,2,0\n1,2,1,\n", true).find("line 3"), std::string::npos);
    EXPECT_NE(error("d.csv", "2,2,a,b\n1,,0\n3,4,1\n", true).find("line 2"), std::string::npos);
    EXPECT_NE(error("e.csv", "1,2,0\n1,2,0\n1,2\n", false).find("line 3"), std::string::npos);
    EXPECT_NE(error("f.csv", "1,2,0\n1,x2,0\n", false).find("line 2"), std::string::npos);
    EXPECT_NE(error("g.csv", "1,2,0\n1,2,0,\n", false).find("line 2"), std::string::npos);
    std::filesystem::remove_all(dir);
}

TEST(LrModel, MaxWeightDifferenceIsTheLargestGapAndRefusesOtherSizes) {
    const lr::Model a{{0.5, -1.0, 2.0}}, b{{0.25, -1.5, 2.0}};
    EXPECT_DOUBLE_EQ(lr::max_weight_difference(a, b), 0.5);
    EXPECT_DOUBLE_EQ(lr::max_weight_difference(a, a), 0.0);
    EXPECT_THROW(lr::max_weight_difference(a, lr::Model{{1.0}}), lr::LrError);
}
