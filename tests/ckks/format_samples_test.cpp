// Files written by the current CKKS format (version 1), committed under tests/fixtures/formats:
// they must keep loading, decrypt to the values they were made from, and save back to the same
// bytes, so a change of the serializer that breaks old files fails here. To write them again
// (only for a deliberate new format version, with a new directory):
//   HENN_WRITE_FORMAT_SAMPLES=1 ./henn_ckks_format_tests
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "henn/ckks/encoder.hpp"
#include "henn/ckks/encryptor.hpp"
#include "henn/ckks/evaluator.hpp"
#include "henn/ckks/serialization.hpp"

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
    ParametersLiteral lit;
    lit.log_n = 6;
    lit.log_q = {40, 30};
    lit.log_p = {45};
    lit.log_default_scale = 30;
    lit.allow_insecure = true;
    const ContextPtr ctx = Context::create(lit);
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

}  // namespace
}  // namespace henn::ckks
