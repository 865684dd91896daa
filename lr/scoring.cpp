#include "henn/lr/scoring.hpp"

#include <cmath>
#include <exception>
#include <optional>
#include <string>

#include "henn/circuits/rotate_sum.hpp"

namespace henn::lr {

namespace {

double prime(const ckks::Context& context, int level) {
    return static_cast<double>(context.q()[static_cast<std::size_t>(level)].value());
}

void check_rows(const ckks::Context& context, const Packing& packing,
                std::span<const ckks::Ciphertext> rows) {
    if (rows.size() != packing.ciphertexts)
        throw LrError("expected " + std::to_string(packing.ciphertexts) +
                          " ciphertexts of rows to score, got " + std::to_string(rows.size()),
                      ErrorCategory::protocol);
    if (packing.slots != context.max_slots())
        throw LrError("the scoring packing does not fill the ring's slots", ErrorCategory::usage);
    for (const auto& ct : rows)
        if (ct.slots != packing.slots || ct.size() != 2 ||
            ct.parameter_hash != context.parameter_hash())
            throw LrError("a ciphertext of rows has the wrong slots, size or parameters",
                          ErrorCategory::protocol);
}

// Steps 2 and 3 for each product (already rescaled, at level l): inner sums, then the mask at
// scale q_l so the rescale keeps the product's scale.
template <class Product>
std::vector<ckks::Ciphertext> finish(const ckks::Evaluator& ev, const Packing& packing,
                                     std::size_t count, int level, Product&& product,
                                     std::size_t radix) {
    const ckks::Context& context = *ev.context();
    const ckks::Encoder encoder(ev.context());
    std::vector<double> mask(packing.slots, 0.0);
    for (std::size_t b = 0; b < packing.rows_per_ciphertext; ++b) mask[b * packing.block] = 1.0;
    const ckks::Plaintext mask_plain =
        encoder.encode(mask, level, prime(context, level), packing.slots);
    std::vector<std::optional<ckks::Ciphertext>> out(count);
    std::exception_ptr failure;
    const auto n = static_cast<long>(count);
#pragma omp parallel for schedule(dynamic, 1) if (n > 1)
    for (long c = 0; c < n; ++c) {
        try {
            ckks::Ciphertext p = product(static_cast<std::size_t>(c));
            p = circuits::rotate_and_sum(ev, p, packing.block, 1, radix);
            out[static_cast<std::size_t>(c)] = ev.rescale(ev.multiply_plain(p, mask_plain));
        } catch (...) {
#pragma omp critical(henn_lr_scoring_failure)
            if (!failure) failure = std::current_exception();
        }
    }
    if (failure) std::rethrow_exception(failure);
    std::vector<ckks::Ciphertext> result;
    result.reserve(count);
    for (auto& ct : out) result.push_back(std::move(*ct));
    return result;
}

}  // namespace

std::vector<int> scoring_rotation_steps(const Packing& packing, std::size_t radix) {
    return circuits::rotate_and_sum_steps(packing.block, 1, packing.slots, radix);
}

std::vector<ckks::Ciphertext> score_encrypted(const ckks::Evaluator& ev, const Packing& packing,
                                              std::span<const ckks::Ciphertext> rows,
                                              const ckks::Ciphertext& weights, std::size_t radix) {
    const ckks::Context& context = *ev.context();
    check_rows(context, packing, rows);
    if (weights.slots != packing.slots || weights.size() != 2 ||
        weights.parameter_hash != context.parameter_hash())
        throw LrError("the encrypted model has the wrong slots, size or parameters",
                      ErrorCategory::protocol);
    const int level = weights.level;
    if (level < kScoringLevels)
        throw LrError("the encrypted model is at level " + std::to_string(level) +
                          "; scoring needs " + std::to_string(kScoringLevels) +
                          " (make keys with scoring levels, or train fewer iterations)",
                      ErrorCategory::crypto);
    for (const auto& ct : rows)
        if (ct.level < level)
            throw LrError("a ciphertext of rows is below the model's level", ErrorCategory::crypto);
    return finish(
        ev, packing, rows.size(), level - 1,
        [&](std::size_t c) {
            const ckks::Ciphertext& x = rows[c];
            const ckks::Ciphertext at = x.level == level ? x : ev.drop_level(x, level);
            return ev.rescale(ev.multiply_relin(at, weights));
        },
        radix);
}

std::vector<ckks::Ciphertext> score_encrypted(const ckks::Evaluator& ev, const Packing& packing,
                                              std::span<const ckks::Ciphertext> rows,
                                              const std::vector<double>& weights,
                                              std::size_t radix) {
    const ckks::Context& context = *ev.context();
    check_rows(context, packing, rows);
    for (double w : weights)
        if (!std::isfinite(w)) throw LrError("non-finite model weight", ErrorCategory::data);
    const int level = rows[0].level;
    for (const auto& ct : rows)
        if (ct.level != level)
            throw LrError("the ciphertexts of rows are at different levels",
                          ErrorCategory::protocol);
    if (level < kScoringLevels)
        throw LrError("the rows are at level " + std::to_string(level) + "; scoring needs " +
                          std::to_string(kScoringLevels),
                      ErrorCategory::crypto);
    const ckks::Encoder encoder(ev.context());
    const ckks::Plaintext w =
        encoder.encode(pack_weights(weights, packing), level, prime(context, level), packing.slots);
    return finish(
        ev, packing, rows.size(), level - 1,
        [&](std::size_t c) { return ev.rescale(ev.multiply_plain(rows[c], w)); }, radix);
}

std::vector<double> score_rows(const Model& model, const Problem& rows) {
    std::vector<double> out(rows.x.size() / std::max<std::size_t>(rows.features, 1));
    for (std::size_t i = 0; i < out.size(); ++i)
        out[i] = model.score(&rows.x[i * rows.features], rows.features);
    return out;
}

double probability(double score) {
    return 1.0 / (1.0 + std::exp(-score));
}

}  // namespace henn::lr
