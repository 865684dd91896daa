// Files written by the current Paillier format (version 1), committed under
// tests/fixtures/formats (a 1024-bit, test-only key): they must keep loading, decrypt to the
// values they hold, and serialize back to the same bytes. To write them again (only for a
// deliberate new format version): HENN_WRITE_FORMAT_SAMPLES=1 ./test_paillier_format
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "henn/paillier/serialization.hpp"

namespace henn::paillier {
namespace {

const std::filesystem::path kDir = HENN_FORMAT_SAMPLES_DIR;
const std::vector<long> kValues = {123456789, -42, 0};

std::vector<std::uint8_t> read(const std::string& name) {
    std::ifstream in(kDir / name, std::ios::binary);
    EXPECT_TRUE(in) << "missing sample " << (kDir / name);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_samples() {
    const KeyPair keys = generate_keypair({.modulus_bits = 1024, .allow_test_only_sizes = true});
    std::vector<Ciphertext> cts;
    for (long v : kValues) cts.push_back(keys.public_key.encrypt_signed(mpz_class(v)));
    std::filesystem::create_directories(kDir);
    auto write = [](const std::string& name, const std::vector<std::uint8_t>& bytes) {
        std::ofstream(kDir / name, std::ios::binary)
            .write(reinterpret_cast<const char*>(bytes.data()),
                   static_cast<std::streamsize>(bytes.size()));
    };
    write("paillier_v1_public_key.bin", serialize(keys.public_key));
    write("paillier_v1_secret_key.bin", serialize(keys.secret_key));
    write("paillier_v1_ciphertext.bin", serialize(keys.public_key, cts[0]));
    write("paillier_v1_ciphertexts.bin",
          serialize(keys.public_key, std::span<const Ciphertext>(cts)));
}

TEST(PaillierFormatSamples, Version1FilesStillLoad) {
    if (std::getenv("HENN_WRITE_FORMAT_SAMPLES") != nullptr) write_samples();
    const LoadOptions options{.allow_test_only_sizes = true};
    const PublicKey pk = load_public_key(read("paillier_v1_public_key.bin"), options);
    EXPECT_EQ(pk.modulus_bits(), 1024u);
    EXPECT_EQ(serialize(pk), read("paillier_v1_public_key.bin"));
    const SecretKey sk = load_secret_key(read("paillier_v1_secret_key.bin"), options);
    EXPECT_EQ(serialize(sk), read("paillier_v1_secret_key.bin"));
    EXPECT_EQ(sk.public_key().n(), pk.n());

    const Ciphertext one = load_ciphertext(pk, read("paillier_v1_ciphertext.bin"));
    EXPECT_EQ(sk.decrypt_signed(one), mpz_class(kValues[0]));
    EXPECT_EQ(serialize(pk, one), read("paillier_v1_ciphertext.bin"));
    const std::vector<Ciphertext> batch =
        load_ciphertexts(pk, read("paillier_v1_ciphertexts.bin"), options);
    ASSERT_EQ(batch.size(), kValues.size());
    for (std::size_t i = 0; i < kValues.size(); ++i)
        EXPECT_EQ(sk.decrypt_signed(batch[i]), mpz_class(kValues[i]));
    EXPECT_EQ(serialize(pk, std::span<const Ciphertext>(batch)),
              read("paillier_v1_ciphertexts.bin"));
}

}  // namespace
}  // namespace henn::paillier
