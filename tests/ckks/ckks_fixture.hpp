// A complete CKKS setup for tests: deterministic keys and encryption randomness, plaintext
// references, precision in bits.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <complex>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "henn/ckks/encoder.hpp"
#include "henn/ckks/encryptor.hpp"
#include "henn/ckks/evaluator.hpp"
#include "henn/ckks/keys.hpp"

namespace henn::test {

using Complex = std::complex<double>;

struct CkksSetup {
    ckks::ContextPtr context;
    std::unique_ptr<ckks::KeyGenerator> keygen;
    std::unique_ptr<ckks::Encoder> encoder;
    std::unique_ptr<ckks::Encryptor> encryptor;
    std::unique_ptr<ckks::Decryptor> decryptor;
    std::unique_ptr<ckks::Evaluator> evaluator;
    std::shared_ptr<ckks::EvaluationKeys> keys;

    CkksSetup(const ckks::ParametersLiteral& lit, const std::vector<int>& rotation_steps,
              bool conjugation = true, std::uint64_t seed = 1, bool secret_key_encryption = false) {
        context = ckks::Context::create(lit);
        keygen = std::make_unique<ckks::KeyGenerator>(context, math::test_only_seed(seed));
        encoder = std::make_unique<ckks::Encoder>(context);
        if (secret_key_encryption) {
            encryptor = std::make_unique<ckks::Encryptor>(context, keygen->secret_key());
        } else {
            encryptor = std::make_unique<ckks::Encryptor>(context, keygen->public_key());
        }
        encryptor->use_test_only_seed(math::test_only_seed(seed + 1000));
        decryptor = std::make_unique<ckks::Decryptor>(context, keygen->secret_key());
        keys = std::make_shared<ckks::EvaluationKeys>(
            keygen->evaluation_keys(rotation_steps, conjugation));
        evaluator = std::make_unique<ckks::Evaluator>(context, keys);
    }

    ckks::Ciphertext encrypt(const std::vector<Complex>& values, int level = -1) const {
        return encryptor->encrypt(encoder->encode(values, level));
    }
    std::vector<Complex> decrypt(const ckks::Ciphertext& ct) const {
        return encoder->decode(decryptor->decrypt(ct));
    }
};

inline std::vector<Complex> random_complex(std::size_t count, std::uint64_t seed,
                                           double bound = 1.0) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> dist(-bound, bound);
    std::vector<Complex> v(count);
    for (auto& x : v) x = {dist(rng), dist(rng)};
    return v;
}

// The toy ring of the fuzz targets and the committed format samples (N = 2^6, explicitly
// insecure: small blobs, fast loads); the same literal as fuzz/fuzz_context.hpp.
inline ::henn::ckks::ParametersLiteral toy_params() {
    ::henn::ckks::ParametersLiteral lit;
    lit.log_n = 6;
    lit.log_q = {40, 30};
    lit.log_p = {45};
    lit.log_default_scale = 30;
    lit.allow_insecure = true;
    return lit;
}

// `blob` with 1 to 4 bits flipped, half of them in the first `header` bytes (the header and the
// first fields, where validation matters most).
inline std::vector<std::uint8_t> with_flipped_bits(std::vector<std::uint8_t> blob,
                                                   std::size_t header, std::mt19937_64& rng) {
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
        const std::size_t pos =
            (rng() & 1) ? rng() % std::min(header, blob.size()) : rng() % blob.size();
        blob[pos] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
    }
    return blob;
}

// Asserts the precision of the worst slot and the mean precision (-log2 of the mean absolute
// error), in bits, and reports the statistics.
#define HENN_EXPECT_PRECISION(actual, expected, required_min_bits, required_mean_bits) \
    do {                                                                               \
        auto henn_stats =                                                              \
            ::henn::ckks::precision(std::span<const ::henn::test::Complex>(actual),    \
                                    std::span<const ::henn::test::Complex>(expected)); \
        EXPECT_GE(henn_stats.min_bits, (required_min_bits))                            \
            << "precision bits: min " << henn_stats.min_bits << ", median "            \
            << henn_stats.median_bits << ", mean " << henn_stats.mean_bits;            \
        EXPECT_GE(henn_stats.mean_bits, (required_mean_bits))                          \
            << "precision bits: min " << henn_stats.min_bits << ", median "            \
            << henn_stats.median_bits << ", mean " << henn_stats.mean_bits;            \
    } while (0)

}  // namespace henn::test
