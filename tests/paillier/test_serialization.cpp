#include <gtest/gtest.h>

#include <random>

#include "henn/paillier/serialization.hpp"
#include "test_keys.hpp"

namespace henn::paillier {
namespace {

using testing::test_keys;
const LoadOptions kTestLoad{.allow_test_only_sizes = true};

TEST(PaillierSerialization, KeysRoundTrip) {
    const auto& [pk, sk] = test_keys();
    const PublicKey pk2 = load_public_key(serialize(pk), kTestLoad);
    EXPECT_EQ(pk2.n(), pk.n());
    const SecretKey sk2 = load_secret_key(serialize(sk), kTestLoad);
    EXPECT_EQ(sk2.public_key().n(), pk.n());
    EXPECT_EQ(sk2.decrypt(pk.encrypt(77)), 77);
    // Test-only sizes are refused unless asked for.
    EXPECT_THROW(load_public_key(serialize(pk)), PaillierError);
}

TEST(PaillierSerialization, CiphertextsRoundTrip) {
    const auto& [pk, sk] = test_keys();
    const Ciphertext c = pk.encrypt(12345);
    const auto bytes = serialize(pk, c);
    EXPECT_EQ(bytes.size(), 16 + pk.ciphertext_bytes());
    EXPECT_EQ(sk.decrypt(load_ciphertext(pk, bytes)), 12345);

    std::vector<Ciphertext> batch;
    for (int i = 0; i < 5; ++i) batch.push_back(pk.encrypt(i));
    const auto batch_bytes = serialize(pk, std::span<const Ciphertext>(batch));
    const auto loaded = load_ciphertexts(pk, batch_bytes);
    ASSERT_EQ(loaded.size(), 5u);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(sk.decrypt(loaded[i]), i);
    EXPECT_TRUE(load_ciphertexts(pk, serialize(pk, std::span<const Ciphertext>())).empty());
}

TEST(PaillierSerialization, RejectsCorruptHeaders) {
    const auto& pk = test_keys().public_key;
    const auto good = serialize(pk);
    auto expect_rejected = [&](std::vector<std::uint8_t> bytes, const char* needle) {
        try {
            load_public_key(bytes, kTestLoad);
            ADD_FAILURE() << "accepted corrupt bytes (" << needle << ")";
        } catch (const PaillierError& e) {
            EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
        }
    };
    expect_rejected({}, "truncated header");
    auto bad_magic = good;
    bad_magic[0] = 'X';
    expect_rejected(bad_magic, "bad magic");
    auto bad_version = good;
    bad_version[4] = 9;
    expect_rejected(bad_version, "version");
    auto wrong_type = good;
    wrong_type[5] = static_cast<std::uint8_t>(BlobType::ciphertext);
    expect_rejected(wrong_type, "expected a public key");
    auto truncated = good;
    truncated.pop_back();
    expect_rejected(truncated, "payload bytes");
    auto trailing = good;
    trailing.push_back(0);
    expect_rejected(trailing, "payload bytes");
    auto bad_bits = good;
    bad_bits[16] = 0x01;  // modulus bits field
    expect_rejected(bad_bits, "modulus size");
    auto even_modulus = good;
    const std::size_t last = even_modulus.size() - 1;
    even_modulus.at(last) = static_cast<std::uint8_t>(even_modulus.at(last) & 0xfe);
    expect_rejected(even_modulus, "even");
}

TEST(PaillierSerialization, RejectsInvalidSecretKeysAndCiphertexts) {
    const auto& [pk, sk] = test_keys();
    auto bytes = serialize(sk);
    bytes.back() ^= 0x02;  // q + or - 2: no longer the prime
    EXPECT_THROW(load_secret_key(bytes, kTestLoad), PaillierError);

    auto c_bytes = serialize(pk, pk.encrypt(1));
    std::fill(c_bytes.begin() + 16, c_bytes.end(), 0);
    EXPECT_THROW(load_ciphertext(pk, c_bytes), PaillierError);  // zero
    std::fill(c_bytes.begin() + 16, c_bytes.end(), 0xff);
    EXPECT_THROW(load_ciphertext(pk, c_bytes), PaillierError);  // >= n^2

    std::vector<Ciphertext> batch{pk.encrypt(1), pk.encrypt(2)};
    auto batch_bytes = serialize(pk, std::span<const Ciphertext>(batch));
    batch_bytes[16] = 3;  // announces 3, holds 2
    EXPECT_THROW(load_ciphertexts(pk, batch_bytes), PaillierError);
    batch_bytes[16] = 2;
    batch_bytes[23] = 0x7f;  // absurd count
    EXPECT_THROW(load_ciphertexts(pk, batch_bytes), PaillierError);
}

TEST(PaillierSerialization, RandomBytesNeverCrashLoaders) {
    const auto& pk = test_keys().public_key;
    const auto templates = {serialize(pk), serialize(test_keys().secret_key),
                            serialize(pk, pk.encrypt(3))};
    std::mt19937 rng(7);
    int rejected = 0;
    for (const auto& base : templates) {
        for (int trial = 0; trial < 150; ++trial) {
            auto bytes = base;
            // Flip a few bytes, sometimes in the header, sometimes truncate.
            const int flips = 1 + static_cast<int>(rng() % 4);
            for (int f = 0; f < flips; ++f)
                bytes[rng() % (trial % 3 == 0 ? 16 : bytes.size())] ^= 1 + rng() % 255;
            if (trial % 5 == 0) bytes.resize(rng() % bytes.size());
            try {
                load_public_key(bytes, kTestLoad);
            } catch (const PaillierError&) {
                ++rejected;
            }
            try {
                load_secret_key(bytes, kTestLoad);
            } catch (const PaillierError&) {
                ++rejected;
            }
            try {
                load_ciphertext(pk, bytes);
            } catch (const PaillierError&) {
                ++rejected;
            }
            try {
                load_ciphertexts(pk, bytes);
            } catch (const PaillierError&) {
                ++rejected;
            }
        }
    }
    EXPECT_GT(rejected, 1500);
}

}  // namespace
}  // namespace henn::paillier
