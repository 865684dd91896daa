// Scoring encrypted rows with a logistic-regression model, on the server.
//
// The client packs the rows to score as [1, x_i] (lr::pack_features: one row per block of the
// training packing, many rows per ciphertext) and encrypts them under its keys. The server holds
// the model either encrypted (theta from EncryptedTrainer, replicated in every block) or in the
// clear (its own model, replicated into a plaintext), and computes per ciphertext:
//   1. P = X (.) w, rescale                              (1 level)
//   2. rotate-and-sum over each block: slot i*block holds w . [1, x_i]
//      (circuits::rotate_and_sum, the training's hoisted inner sums)
//   3. mask keeping slot i*block of every block, rescale (1 level)
// so a scoring pass costs kScoringLevels levels of the model (and of the rows). The mask removes
// the partial sums the other slots hold after step 2: the client learns one score per row and
// nothing else about a server's plain model. The client decrypts and reads the scores with
// lr::unpack_scores; the probability is the logistic function of the score.
#pragma once

#include <span>
#include <vector>

#include "henn/ckks/encoder.hpp"
#include "henn/ckks/evaluator.hpp"
#include "henn/lr/lr.hpp"

namespace henn::lr {

inline constexpr int kScoringLevels = 2;

// The rotation steps scoring needs keys for (a subset of the training plan's rotation_steps).
std::vector<int> scoring_rotation_steps(const Packing& packing, std::size_t radix = 2);

// Encrypted rows (packed as pack_features with `packing`) times an encrypted model (weights
// replicated in every block, e.g. EncryptedTrainer::model()): one ciphertext of scores per row
// ciphertext. The model needs at least kScoringLevels levels (LrError, category crypto, names what
// it has otherwise); the rows are brought down to the model's level.
std::vector<ckks::Ciphertext> score_encrypted(const ckks::Evaluator& evaluator,
                                              const Packing& packing,
                                              std::span<const ckks::Ciphertext> rows,
                                              const ckks::Ciphertext& weights,
                                              std::size_t radix = 2);
// The same with a model in the clear ([bias, w_1, ..., w_f], encoded as a plaintext at the rows'
// level): the rows need kScoringLevels levels.
std::vector<ckks::Ciphertext> score_encrypted(const ckks::Evaluator& evaluator,
                                              const Packing& packing,
                                              std::span<const ckks::Ciphertext> rows,
                                              const std::vector<double>& weights,
                                              std::size_t radix = 2);

// The plaintext reference: model.score of every row (what the decrypted scores approximate).
std::vector<double> score_rows(const Model& model, const Problem& rows);
// The logistic function 1 / (1 + e^-u).
double probability(double score);

}  // namespace henn::lr
