// Files written by the current CKKS format (version 1), committed under tests/fixtures/formats:
// they must keep loading, decrypt to the values they were made from, and save back to the same
// bytes, so a change of the serializer that breaks old files fails here. To write them again
// (only for a deliberate new format version, with a new directory):
//   HENN_WRITE_FORMAT_SAMPLES=1 ./henn_ckks_format_tests
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "henn/ckks/encoder.hpp"
#include "henn/ckks/encryptor.hpp"
#include "henn/ckks/evaluator.hpp"
#include "henn/ckks/serialization.hpp"

#include "ckks_fixture.hpp"

namespace henn::ckks {
namespace {

const std::filesystem::path kDir = HENN_FORMAT_SAMPLES_DIR;
const std::vector<double> kValues = {0.5, -0.25, 1.0, 0.125};

std::vector<std::uint8_t> read(const std::string& name) {
    std::ifstream in(kDir / name, std::ios::binary);
    EXPECT_TRUE(in) << "missing sample " << (kDir / name);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A toy ring (N = 2^6, explicitly insecure) keeps the samples a few kilobytes.
void write_samples() {
    const ContextPtr ctx = Context::create(test::toy_params());
    KeyGenerator keygen(ctx, math::test_only_seed(2026));
    const Encoder encoder(ctx);
    const Encryptor encryptor(ctx, keygen.public_key());
    const SaveOptions plain{Compression::kNone, 1, false};
    std::filesystem::create_directories(kDir);
    auto write = [](const std::string& name, const std::vector<std::uint8_t>& bytes) {
        std::ofstream(kDir / name, std::ios::binary)
            .write(reinterpret_cast<const char*>(bytes.data()),
                   static_cast<std::streamsize>(bytes.size()));
    };
    write("ckks_v1_parameters.bin", save_parameters(*ctx, plain));
    write("ckks_v1_secret_key.bin", save(*ctx, keygen.secret_key(), plain));
    write("ckks_v1_public_key.bin", save(*ctx, keygen.public_key(), plain));
    write("ckks_v1_relinearization_key.bin", save(*ctx, keygen.relinearization_key(), plain));
    write("ckks_v1_galois_keys.bin", save(*ctx, keygen.galois_keys({1}, true), plain));
    write("ckks_v1_ciphertext.bin", save(*ctx, encryptor.encrypt(encoder.encode(kValues)), plain));
    write("ckks_v1_ciphertext_zstd.bin",
          save(*ctx, encryptor.encrypt(encoder.encode(kValues)), SaveOptions{}));
}

TEST(FormatSamples, CkksVersion1FilesStillLoad) {
    if (std::getenv("HENN_WRITE_FORMAT_SAMPLES") != nullptr) write_samples();
    LoadOptions options;
    options.allow_insecure_parameters = true;
    const ContextPtr ctx = load_parameters(read("ckks_v1_parameters.bin"), options);
    ASSERT_EQ(ctx->log_n(), 6);
    const SaveOptions plain{Compression::kNone, 1, false};
    EXPECT_EQ(save_parameters(*ctx, plain), read("ckks_v1_parameters.bin"));

    const SecretKey secret = load_secret_key(*ctx, read("ckks_v1_secret_key.bin"), options);
    EXPECT_EQ(save(*ctx, secret, plain), read("ckks_v1_secret_key.bin"));
    const PublicKey pk = load_public_key(*ctx, read("ckks_v1_public_key.bin"), options);
    EXPECT_EQ(save(*ctx, pk, plain), read("ckks_v1_public_key.bin"));
    auto keys = std::make_shared<EvaluationKeys>();
    keys->relinearization =
        load_relinearization_key(*ctx, read("ckks_v1_relinearization_key.bin"), options);
    EXPECT_EQ(save(*ctx, *keys->relinearization, plain), read("ckks_v1_relinearization_key.bin"));
    keys->galois = load_galois_keys(*ctx, read("ckks_v1_galois_keys.bin"), options);
    EXPECT_EQ(save(*ctx, keys->galois, plain), read("ckks_v1_galois_keys.bin"));

    const Encoder encoder(ctx);
    const Decryptor decryptor(ctx, secret);
    const Evaluator evaluator(ctx, keys);
    for (const char* name : {"ckks_v1_ciphertext.bin", "ckks_v1_ciphertext_zstd.bin"}) {
        const Ciphertext ct = load_ciphertext(*ctx, read(name), options);
        std::vector<double> got = encoder.decode_real(decryptor.decrypt(ct));
        got.resize(kValues.size());
        EXPECT_GT(precision(got, kValues).min_bits, 15.0) << name;
        // The loaded keys still work: a product and a rotation of the old ciphertext.
        std::vector<double> rotated_square = encoder.decode_real(
            decryptor.decrypt(evaluator.rotate(evaluator.rescale(evaluator.square_relin(ct)), 1)));
        rotated_square.resize(kValues.size());
        const std::vector<double> expected = {0.0625, 1.0, 0.015625, 0.0};
        EXPECT_GT(precision(rotated_square, expected).min_bits, 10.0) << name;
    }
    EXPECT_EQ(save(*ctx, load_ciphertext(*ctx, read("ckks_v1_ciphertext.bin"), options), plain),
              read("ckks_v1_ciphertext.bin"));
}

// Version 2: key-switching keys that stop below the top level (level 0 of the toy ring). The
// unseeded samples are the version-1 sample keys dropped to level 0 (KeySwitchKey::at_level); the
// seeded bundle was made once from the sample secret key and must re-expand from its seed to the
// same limbs in every later build. Written once (without touching the version-1 files) by
//   HENN_WRITE_LEVELLED_KEY_SAMPLES=1 ./henn_ckks_format_tests
TEST(FormatSamples, CkksVersion2LevelledKeysStillLoad) {
    LoadOptions options;
    options.allow_insecure_parameters = true;
    const ContextPtr ctx = load_parameters(read("ckks_v1_parameters.bin"), options);
    const SecretKey secret = load_secret_key(*ctx, read("ckks_v1_secret_key.bin"), options);
    const RelinearizationKey rk1 =
        load_relinearization_key(*ctx, read("ckks_v1_relinearization_key.bin"), options);
    const GaloisKeys gk1 = load_galois_keys(*ctx, read("ckks_v1_galois_keys.bin"), options);
    const SaveOptions plain{Compression::kNone, 1, false};
    const SaveOptions seeded{Compression::kNone, 1, true};
    if (std::getenv("HENN_WRITE_LEVELLED_KEY_SAMPLES") != nullptr) {
        auto write = [](const std::string& name, const std::vector<std::uint8_t>& bytes) {
            std::ofstream(kDir / name, std::ios::binary)
                .write(reinterpret_cast<const char*>(bytes.data()),
                       static_cast<std::streamsize>(bytes.size()));
        };
        write("ckks_v2_relinearization_key.bin", save(*ctx, rk1.at_level(*ctx, 0), plain));
        GaloisKeys dropped;
        dropped.parameter_hash = gk1.parameter_hash;
        for (const auto& [element, key] : gk1.keys)
            dropped.keys.emplace(element, key.at_level(*ctx, 0));
        write("ckks_v2_galois_keys.bin", save(*ctx, dropped, plain));
        KeyGenerator keygen(ctx, secret);
        EvaluationKeys bundle;
        bundle.relinearization = keygen.relinearization_key(0);
        bundle.galois = keygen.levelled_galois_keys({{1, 0}, {2, 1}}, true, 0);
        write("ckks_v2_evaluation_keys_seeded.bin", save(*ctx, bundle, seeded));
    }

    const auto rk_bytes = read("ckks_v2_relinearization_key.bin");
    EXPECT_EQ(read_header(rk_bytes).version, kLevelledKeysFormatVersion);
    const RelinearizationKey rk = load_relinearization_key(*ctx, rk_bytes, options);
    EXPECT_EQ(rk.key.level(*ctx), 0);
    EXPECT_EQ(rk.key.b, rk1.at_level(*ctx, 0).key.b);
    EXPECT_EQ(rk.key.a, rk1.at_level(*ctx, 0).key.a);
    EXPECT_EQ(save(*ctx, rk, plain), rk_bytes);
    const auto gk_bytes = read("ckks_v2_galois_keys.bin");
    EXPECT_EQ(read_header(gk_bytes).version, kLevelledKeysFormatVersion);
    const GaloisKeys gk = load_galois_keys(*ctx, gk_bytes, options);
    ASSERT_EQ(gk.keys.size(), gk1.keys.size());
    for (const auto& [element, key] : gk1.keys) {
        ASSERT_TRUE(gk.has(element));
        EXPECT_EQ(gk.keys.at(element).b, key.at_level(*ctx, 0).b);
        EXPECT_EQ(gk.keys.at(element).a, key.at_level(*ctx, 0).a);
    }
    EXPECT_EQ(save(*ctx, gk, plain), gk_bytes);
    const auto bundle_bytes = read("ckks_v2_evaluation_keys_seeded.bin");
    const BlobHeader h = read_header(bundle_bytes);
    EXPECT_EQ(h.version, kLevelledKeysFormatVersion);
    EXPECT_TRUE(h.seeded);
    const EvaluationKeys bundle = load_evaluation_keys(*ctx, bundle_bytes, options);
    EXPECT_EQ(save(*ctx, bundle, seeded), bundle_bytes);  // the seed re-expands to the same limbs
    ASSERT_TRUE(bundle.relinearization.has_value());
    EXPECT_EQ(bundle.relinearization->key.level(*ctx), 0);
    EXPECT_EQ(bundle.galois.keys.at(ctx->galois_element_for_rotation(2)).level(*ctx), 1);

    // The keys work at level 0: the old ciphertext dropped there, rotated and conjugated; a
    // product at a small scale relinearized. Against the values the samples were made from.
    const Encoder encoder(ctx);
    const Decryptor decryptor(ctx, secret);
    auto keys = std::make_shared<EvaluationKeys>(bundle);
    const Evaluator evaluator(ctx, keys);
    const Ciphertext ct =
        evaluator.drop_level(load_ciphertext(*ctx, read("ckks_v1_ciphertext.bin"), options), 0);
    auto decoded = [&](const Ciphertext& c) {
        std::vector<double> v = encoder.decode_real(decryptor.decrypt(c));
        v.resize(kValues.size());
        return v;
    };
    const std::vector<double> rotated = {-0.25, 1.0, 0.125, 0.0};
    EXPECT_GT(precision(decoded(evaluator.rotate(ct, 1)), rotated).min_bits, 15.0);
    EXPECT_GT(precision(decoded(evaluator.conjugate(ct)), kValues).min_bits, 15.0);
    const Encryptor encryptor(ctx, secret);
    const Ciphertext small = encryptor.encrypt(encoder.encode(kValues, 0, std::ldexp(1.0, 18)));
    const std::vector<double> squares = {0.25, 0.0625, 1.0, 0.015625};
    EXPECT_GT(precision(decoded(evaluator.square_relin(small)), squares).min_bits, 8.0);
    // The dropped version-1 keys give the same words as the full ones at level 0.
    auto dropped_keys = std::make_shared<EvaluationKeys>();
    dropped_keys->relinearization = rk;
    dropped_keys->galois = gk;
    auto full_keys = std::make_shared<EvaluationKeys>();
    full_keys->relinearization = rk1;
    full_keys->galois = gk1;
    const Evaluator dropped_eval(ctx, dropped_keys), full_eval(ctx, full_keys);
    EXPECT_EQ(dropped_eval.rotate(ct, 1).polys, full_eval.rotate(ct, 1).polys);
    EXPECT_EQ(dropped_eval.square_relin(small).polys, full_eval.square_relin(small).polys);
}

}  // namespace
}  // namespace henn::ckks
