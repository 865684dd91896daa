// Logistic regression trained on CKKS ciphertexts (Kim et al. 2018's packing).
//
// The client packs its standardized rows as z_i = (2 y_i - 1) [1, x_i] (lr::Packing: one row per
// block of `block` slots, many rows per ciphertext), encrypts them and sends them with evaluation
// keys. The server runs the iterations of lr::schedule on the ciphertexts; one iteration from the
// weights v (replicated in every block), level l:
//   1. P = Z (.) v, rescale                                  (1 level)
//   2. rotate-and-sum over each block: slot i*block holds v . z_i
//   3. mask slot i*block with 1/bound, rescale               (1 level)
//   4. rotate-and-sum backwards: v . z_i / bound in the whole block
//   5. the sigmoid polynomial q(t) = gradient * p(-bound t) at an exact scale  (its depth)
//   6. G = q (.) Z, rescale                                  (1 level)
//   7. sum the ciphertexts, rotate-and-sum across the blocks: the gradient replicated
//   8. v' = keep * v + G + previous * theta  (constants folded into rescales at spare levels)
//      theta' = (v' + mu theta) / (1 + mu)                   (1 more level, Nesterov only)
// The first iteration starts from v = theta = 0, so its gradient is p(0) * gradient * sum_i z_i:
// one constant product, one level.
//
// Modes. Non-interactive: every iteration runs on the server; the chain (128-bit secure, enforced)
// bounds how many (plan_training computes it). Client-aided refresh: every `refresh_every`
// iterations the server sends (v, theta) to the client, which decrypts and re-encrypts them at the
// top level (Refresher). Bootstrapping, when the ckks layer has it, plugs in at the same place: a
// Refresher that refreshes the ciphertexts on the server.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "henn/ckks/encoder.hpp"
#include "henn/ckks/encryptor.hpp"
#include "henn/ckks/evaluator.hpp"
#include "henn/ckks/keys.hpp"
#include "henn/lr/lr.hpp"

namespace henn::lr {

enum class Mode { non_interactive, client_aided };

struct ChainOptions {
    int log_n = 0;          // 0: the smallest ring in [2^13, 2^16] that fits the rows' chain
    int scale_bits = 30;    // the scale and the size of every rescaling prime
    int first_bits = 40;    // q_0: holds the final weights at scale 2^scale_bits
    int special_bits = 40;  // primes of P (above any key-switching digit's product)
    int digits = 4;         // key-switching digits (dnum)
    std::size_t radix = 2;  // rotate-and-sum radix (2: fewest rotation keys)
    // Levels kept after the last iteration, so the encrypted model can still score encrypted rows
    // (lr::kScoringLevels = 2: the product with the rows and the mask; 0: none).
    int scoring_levels = 0;
    // Tests only: use ring log_n (must be set) whatever its security, and mark the parameters
    // insecure (ParametersLiteral::allow_insecure). Never set by the CLI.
    bool test_only_insecure = false;
};

// Levels one iteration consumes for this sigmoid: 3 + the polynomial's depth.
int levels_per_iteration(const SigmoidApproximation& sigmoid);
// Levels a run of `iterations` needs (from zero weights when from_zero, else from fresh weights).
int levels_needed(int iterations, Optimizer optimizer, int per_iteration, bool from_zero);
// The most rescaling primes a ring of 2^log_n holds at 128-bit security with these options.
int max_levels(int log_n, const ChainOptions& options);

struct TrainingPlan {
    Hyperparameters hyper;
    SigmoidApproximation sigmoid;
    Packing packing;
    Mode mode = Mode::non_interactive;
    int refresh_every = 0;  // client-aided: iterations between refreshes
    ChainOptions chain;
    ckks::ParametersLiteral parameters;
    int levels = 0;                         // rescaling primes in the chain
    int per_iteration = 0;                  // levels per iteration after the first
    int max_noninteractive_iterations = 0;  // what this chain allows without a refresh
                                            // (keeping chain.scoring_levels spare)
    std::vector<int> rotation_steps;        // the Galois keys the server needs
    std::string describe() const;
};

// Chooses the chain for the run; throws LrError (category parameters) when a non-interactive run
// of hyper.iterations does not fit any secure ring up to 2^16, naming the most that fits.
TrainingPlan plan_training(std::size_t rows, std::size_t features, const Hyperparameters& hyper,
                           const SigmoidApproximation& sigmoid, Mode mode, int refresh_every,
                           const ChainOptions& chain = {});

// What the server holds between iterations: v (where the next gradient is taken) and theta
// (the model); `zero` before the first iteration (no ciphertexts yet).
struct WeightsState {
    bool zero = true;
    int iteration = 0;
    std::optional<ckks::Ciphertext> v, theta;
};

// Refreshes the weights' levels when the chain runs out. Client-aided: the client decrypts and
// re-encrypts (it learns the intermediate weights; the server learns nothing). Bootstrapping would
// implement the same interface on the server.
class Refresher {
  public:
    virtual ~Refresher() = default;
    virtual void refresh(WeightsState& state) = 0;
};

struct IterationReport {
    int iteration = 0;       // 1-based, after the step
    int level = 0;           // v's level after it
    double seconds = 0;      // wall time of the step
    double cpu_seconds = 0;  // process CPU time of the step (all threads)
    bool refreshed_before = false;
};

// The server: evaluation keys and encrypted rows only.
class EncryptedTrainer {
  public:
    EncryptedTrainer(ckks::ContextPtr context, std::shared_ptr<const ckks::EvaluationKeys> keys,
                     TrainingPlan plan, std::vector<ckks::Ciphertext> rows);

    const WeightsState& state() const { return state_; }
    void set_state(WeightsState state);
    // Whether one more iteration fits the levels left (including theta's level for Nesterov).
    bool can_step() const;
    // One iteration; throws LrError when !can_step().
    void step();
    // All planned iterations. In client-aided mode `refresher` is asked every refresh_every
    // iterations (and whenever the levels run out); a non-interactive run never refreshes, and a
    // run that does not fit throws LrError.
    void train(Refresher* refresher,
               const std::function<void(const IterationReport&)>& progress = {});
    // theta after the last iteration.
    const ckks::Ciphertext& model() const;

  private:
    ckks::ContextPtr context_;
    ckks::Evaluator evaluator_;
    ckks::Encoder encoder_;
    TrainingPlan plan_;
    std::vector<StepConstants> schedule_;
    std::vector<ckks::Ciphertext> rows_;
    ckks::Ciphertext row_sum_;  // sum of the row ciphertexts (the first iteration's gradient)
    WeightsState state_;
    int since_refresh_ = 0;
};

// The most iterations a non-interactive run of this plan's configuration can hold in its chain
// (keeping the plan's scoring levels spare).
int max_iterations_in_chain(const TrainingPlan& plan);
// The plan for running `iterations` (<= the chain's capacity) instead of plan.hyper.iterations on
// the same parameters and keys; throws LrError (category parameters) saying how many fit
// otherwise.
TrainingPlan with_iterations(const TrainingPlan& plan, int iterations);

// The client: keys, packing, encryption of rows and weights, decryption of the model.
class Client {
  public:
    explicit Client(const TrainingPlan& plan);
    // Deterministic keys and encryption: tests only.
    Client(const TrainingPlan& plan, const math::Seed& test_only_seed);
    // A secret key made before (read from the client's file), under `context` (the plan's
    // parameters; LrError, category protocol, if the key or the context belongs to others).
    Client(const TrainingPlan& plan, ckks::ContextPtr context, ckks::SecretKey secret_key);

    const ckks::ContextPtr& context() const { return context_; }
    const TrainingPlan& plan() const { return plan_; }
    const ckks::SecretKey& secret_key() const { return keygen_->secret_key(); }
    ckks::EvaluationKeys evaluation_keys();
    ckks::PublicKey public_key();
    std::vector<ckks::Ciphertext> encrypt_rows(const Problem& train) const;
    // Rows to score, [1, x_i] without labels, in the plan's blocks (lr::pack_features).
    std::vector<ckks::Ciphertext> encrypt_features(const Problem& rows) const;
    // Weights replicated in every block, encrypted at the top level and the default scale.
    ckks::Ciphertext encrypt_weights(const std::vector<double>& weights) const;
    std::vector<double> decrypt_weights(const ckks::Ciphertext& ct) const;
    // Scores from score_encrypted (lr/scoring.hpp), one per row of `packing`.
    std::vector<double> decrypt_scores(std::span<const ckks::Ciphertext> scores,
                                       const Packing& packing) const;
    // Client-aided refresh: decrypts v and theta and re-encrypts them at the top level.
    void refresh(WeightsState& state) const;

  private:
    void make_tools(const math::Seed* test_only_seed);
    TrainingPlan plan_;
    ckks::ContextPtr context_;
    std::unique_ptr<ckks::KeyGenerator> keygen_;
    std::unique_ptr<ckks::Encoder> encoder_;
    std::unique_ptr<ckks::Encryptor> encryptor_;
    std::unique_ptr<ckks::Decryptor> decryptor_;
};

// A Refresher calling the client directly (one process; the demo refreshes over gRPC instead).
class LocalClientRefresher : public Refresher {
  public:
    explicit LocalClientRefresher(const Client& client) : client_(client) {}
    void refresh(WeightsState& state) override { client_.refresh(state); }

  private:
    const Client& client_;
};

}  // namespace henn::lr
