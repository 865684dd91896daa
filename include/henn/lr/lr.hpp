// Logistic regression trained by gradient descent, in the three forms the encrypted trainer is
// judged against (all in double precision, no encryption here):
//  * train_float: ordinary LR with the true sigmoid (the accuracy baseline);
//  * train_reference: exactly the arithmetic the encrypted trainer performs (same sigmoid
//    polynomial, same packed rows y_i * [1, x_i], same constants and update order), so that the
//    gap between it and the encrypted run is CKKS error alone;
//  * the Schedule both of them follow.
//
// The update is the study's rule with L2 regularisation,
//   theta_j -= alpha * [(1/m) sum_i (sigmoid(theta . x_i) - y_i) x_ij + (lambda/m) theta_j],
// over all j including the bias. With z_i = (2 y_i - 1) [1, x_i] it reads
//   theta <- a theta + (alpha/m) sum_i sigmoid(-theta . z_i) z_i,   a = 1 - alpha lambda / m,
// which is the form packed CKKS evaluates (Kim et al. 2018). Nesterov's accelerated gradient:
//   theta_{t+1} = a v_t + g(v_t),  v_{t+1} = (1 + mu_t) theta_{t+1} - mu_t theta_t,
// with mu_t = (s_t - 1) / s_{t+1}, s_0 = 1, s_{t+1} = (1 + sqrt(1 + 4 s_t^2)) / 2 (mu_0 = 0).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "henn/approx/chebyshev.hpp"
#include "henn/error.hpp"

namespace henn::data {
struct Table;
}

namespace henn::lr {

struct LrError : ::henn::Error {
    explicit LrError(const std::string& message, ErrorCategory category = ErrorCategory::usage)
        : ::henn::Error(category, message) {}
};

// Rows of standardized features and 0/1 labels.
struct Problem {
    std::size_t features = 0;
    std::vector<double> x;  // rows x features, row-major
    std::vector<int> y;     // 0 or 1
    std::size_t rows() const { return y.size(); }
    void validate() const;  // throws LrError
};

// A deterministic synthetic problem: features N(0, 1) (clipped to [-4, 4]), labels drawn from a
// logistic model with fixed random weights. Same seed, same problem, on every platform.
Problem synthetic_problem(std::size_t rows, std::size_t features, std::uint64_t seed);

// A table read by data::load_csv_table or load_wdbc_table as a problem (labels must be 0 or 1;
// LrError, category data, otherwise).
Problem problem_from_table(const data::Table& table);

// Shuffles with `seed`, keeps round(rows * train_fraction) rows for training, standardizes both
// parts with the training part's statistics (data::Standardizer), clipping to +-clip.
struct Split {
    Problem train, test;
};
Split split_and_standardize(const Problem& all, double train_fraction, std::uint64_t seed,
                            double clip = 5.0);
// The same shuffle and cut without standardizing. train_fraction 1 keeps every row for training
// (test empty); otherwise both parts must be non-empty.
Split split_rows(const Problem& all, double train_fraction, std::uint64_t seed);

enum class Optimizer { gradient_descent, nesterov };
std::string optimizer_name(Optimizer optimizer);  // "gd", "nesterov"
Optimizer parse_optimizer(const std::string& name);

struct Hyperparameters {
    Optimizer optimizer = Optimizer::nesterov;
    double learning_rate = 1.0;  // alpha
    double l2 = 0.0;             // lambda
    int iterations = 4;
};

// The sigmoid replacement: p(u) on [-bound, bound] in the Chebyshev basis of that interval.
struct SigmoidApproximation {
    std::string name;  // e.g. "poly3 (0.5 + 0.197x - 0.004x^3)", "minimax:5 on [-8, 8]"
    approx::ChebyshevPolynomial p;  // on [-bound, bound]
    double bound = 8;
    int degree = 3;
    double max_error = 0;  // max |sigmoid - p| on the interval
    double evaluate(double u) const { return p.evaluate(u); }
};
// spec: "poly3" (the study's 0.5 + 0.197x - 0.004x^3), or "minimax:D" / "least-squares:D" with
// D in {3, 5, 7} (approx::approximate on [-bound, bound]). Throws LrError for anything else.
SigmoidApproximation make_sigmoid(const std::string& spec, double bound);
// An interval for the sigmoid from the data: 1.25 * the largest |theta_t . x_i| seen by float
// training with these hyperparameters (rounded up to an integer, at least 4). The client computes
// it on its own data before encrypting.
double sigmoid_bound_from_data(const Problem& train, const Hyperparameters& hyper);

// Per-iteration constants shared by the reference and the encrypted trainer.
struct StepConstants {
    double mu = 0;        // momentum of this step (0 for gradient descent)
    double gradient = 0;  // (1 + mu) * alpha / m: multiplies sigmoid(-v . z_i) z_i
    double keep = 0;      // (1 + mu) * (1 - alpha lambda / m): multiplies v_t
    double previous = 0;  // -mu: multiplies theta_t
};
std::vector<StepConstants> schedule(const Hyperparameters& hyper, std::size_t rows);

// The model [bias, w_1, ..., w_f].
struct Model {
    std::vector<double> weights;
    double score(const double* x, std::size_t features) const;  // bias + w . x
};

struct Metrics {
    double accuracy = 0;  // threshold 0 on the score
    double auc = 0;       // ROC area (ties counted half)
};
Metrics evaluate(const Model& model, const Problem& data);
// The largest |a_j - b_j| over the coefficients (bias included); LrError when the sizes differ.
double max_weight_difference(const Model& a, const Model& b);

// Ordinary LR with the true sigmoid: the study's rule (and Nesterov when asked), in double.
Model train_float(const Problem& train, const Hyperparameters& hyper);

// Exactly the encrypted trainer's arithmetic in double (see the top of this file).
Model train_reference(const Problem& train, const Hyperparameters& hyper,
                      const SigmoidApproximation& sigmoid);

// The packed layout: block = features + 1 padded to a power of two; row i of a ciphertext in
// slots [i * block, (i + 1) * block); rows_per_ciphertext = slots / block.
struct Packing {
    std::size_t features = 0;  // without the bias
    std::size_t block = 0;
    std::size_t slots = 0;
    std::size_t rows = 0;
    std::size_t rows_per_ciphertext = 0;
    std::size_t ciphertexts = 0;
    static Packing make(std::size_t rows, std::size_t features, std::size_t slots);
};
// The slot values of each ciphertext: z_i = (2 y_i - 1) [1, x_i, 0...] tiled; unused rows zero.
std::vector<std::vector<double>> pack_rows(const Problem& data, const Packing& packing);
// Rows to score: [1, x_i, 0...] tiled the same way, without labels (the labels of `data`, if any,
// are ignored).
std::vector<std::vector<double>> pack_features(const Problem& data, const Packing& packing);
// Scores read back from decrypted slots: row i's score at slot (i mod rows_per_ciphertext) *
// block of ciphertext i / rows_per_ciphertext.
std::vector<double> unpack_scores(const std::vector<std::vector<double>>& slots,
                                  const Packing& packing);
// The weights replicated into every block.
std::vector<double> pack_weights(const std::vector<double>& weights, const Packing& packing);
// The weights read back from block 0 of decrypted slots.
std::vector<double> unpack_weights(const std::vector<double>& slots, const Packing& packing);

}  // namespace henn::lr
