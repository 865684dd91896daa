// Versioned binary format for Paillier keys and ciphertexts.
//
// Every blob starts with a 16-byte header: magic "HPAI", version (u8), type (u8), two zero bytes,
// payload size (u64 little-endian), which must equal the bytes that follow. Integers are
// fixed-width big-endian. Loaders validate everything (sizes, ranges, primality of secret
// factors, ciphertexts in Z*_{n^2}) and throw PaillierError naming the problem; they never crash.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "henn/paillier/paillier.hpp"

namespace henn::paillier {

inline constexpr std::uint8_t kFormatVersion = 1;

enum class BlobType : std::uint8_t {
    public_key = 1,
    secret_key = 2,
    ciphertext = 3,
    ciphertext_batch = 4,
};

struct LoadOptions {
    bool allow_test_only_sizes = false;
    // Upper bound on the number of ciphertexts a batch may announce.
    std::size_t max_batch = 1u << 24;
};

std::vector<std::uint8_t> serialize(const PublicKey& key);
std::vector<std::uint8_t> serialize(const SecretKey& key);
std::vector<std::uint8_t> serialize(const PublicKey& key, const Ciphertext& c);
std::vector<std::uint8_t> serialize(const PublicKey& key, std::span<const Ciphertext> batch);

PublicKey load_public_key(std::span<const std::uint8_t> bytes, const LoadOptions& options = {});
SecretKey load_secret_key(std::span<const std::uint8_t> bytes, const LoadOptions& options = {});
Ciphertext load_ciphertext(const PublicKey& key, std::span<const std::uint8_t> bytes);
std::vector<Ciphertext> load_ciphertexts(const PublicKey& key, std::span<const std::uint8_t> bytes,
                                         const LoadOptions& options = {});

// Whole-file helpers (throw PaillierError when the file cannot be read or written).
std::vector<std::uint8_t> read_file(const std::string& path);
void write_file(const std::string& path, std::span<const std::uint8_t> bytes,
                bool owner_only = false);

}  // namespace henn::paillier
