// Model privacy for encrypted inference as a service: what the server does so that a client
// learns its predictions but not the weights behind them.
//
// 1. The client never receives the weights: it works with CompiledModel::without_weights(), the
//    same parameters, plan and shapes with every weight and bias set to zero (its own hash).
// 2. Before outputs leave the server, protect_outputs() re-randomizes each output ciphertext with
//    a fresh public-key encryption of zero (so c1 is no longer a function of the weights and the
//    client's input randomness) and floods c0 with Gaussian noise `bits` above the error the
//    compiled model expects at its outputs (so the error the client decrypts is dominated by noise
//    independent of the weights). Precision cost: about `bits` bits (precision_after_flooding()).
//    Both are absolute: bits of the outputs' error, as `henn run` measures it.
//
// docs/threat-model.md says what this protects and what it does not.
#pragma once

#include <cstdint>
#include <optional>

#include "henn/ckks/keys.hpp"
#include "henn/engine/client.hpp"
#include "henn/engine/compiled_model.hpp"
#include "henn/math/random.hpp"

namespace henn::engine {

// Default flooding: the added noise is 2^kDefaultFloodingBits times the expected output error.
inline constexpr double kDefaultFloodingBits = 4;

// Standard deviation of the flooding noise in output units (what one decrypted output moves by):
// 2^bits times the standard deviation of the outputs' error that the compiled model expects
// (expected_precision_bits() is an absolute bound of ten such deviations).
double flooding_stddev(const CompiledModel& model, double bits);
// The expected output precision in bits after flooding: expected_precision_bits() minus
// log2(sqrt(1 + 4^bits)).
double precision_after_flooding(const CompiledModel& model, double bits);

struct FloodingOptions {
    double bits = kDefaultFloodingBits;  // <= 0: re-randomize only, no extra noise
    // Deterministic noise for tests only; the OS otherwise.
    std::optional<math::Seed> test_only_seed{};
};

// Re-randomizes and floods every ciphertext of `outputs` (outputs of `model`, size-2 ciphertexts
// at the last stage's level). `public_key` is the client's (Client::public_key()); KeyMismatchError
// when it was made under other parameters.
void protect_outputs(const CompiledModel& model, const ckks::PublicKey& public_key,
                     EncryptedBatch& outputs, const FloodingOptions& options = {});

}  // namespace henn::engine
