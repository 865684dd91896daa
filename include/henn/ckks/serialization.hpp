// Versioned binary serialization of CKKS objects.
//
// Every blob starts with a 36-byte header: magic "HENN", format version, object type, the
// parameter hash of the context it belongs to, compression (none or zstd), flags (seeded), the
// payload's size and its stored size. Residues are bit-packed to the width of their prime.
// Secret-key ciphertexts and key-switching keys can store their uniform half as a 32-byte seed.
//
// Loaders treat their input as untrusted: every size, range and parameter is checked and any
// inconsistency is a SerializationError with a readable message, never a crash.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "henn/ckks/keys.hpp"
#include "henn/ckks/objects.hpp"
#include "henn/ckks/parameters.hpp"

namespace henn::ckks {

// Version 1: every object. Version 2: key-switching keys (relinearization key, Galois keys and
// the evaluation-key bundle) that may stop below the top level: each key carries its level
// (u32) before its digit count, and holds the digits and limbs of that level only. Keys are
// written as version 2 only when one of them is below the top level, so full keys keep their
// version-1 bytes (readable by older builds); both versions load.
inline constexpr std::uint16_t kFormatVersion = 1;
inline constexpr std::uint16_t kLevelledKeysFormatVersion = 2;
inline constexpr std::size_t kHeaderSize = 36;

enum class ObjectType : std::uint16_t {
    kParameters = 1,
    kPlaintext = 2,
    kCiphertext = 3,
    kSecretKey = 4,
    kPublicKey = 5,
    kRelinearizationKey = 6,
    kGaloisKeys = 7,
    // Relinearization key (optional) and Galois keys (rotations, conjugation) in one blob.
    kEvaluationKeys = 8,
};
// The highest ObjectType: read_header refuses types outside [1, kLastObjectType].
inline constexpr ObjectType kLastObjectType = ObjectType::kEvaluationKeys;

enum class Compression : std::uint8_t { kNone = 0, kZstd = 1 };

struct SaveOptions {
    Compression compression = Compression::kZstd;
    int zstd_level = 3;
    // Store c_1 / a_d as their seed when the object has one (and c_1 still matches it).
    bool seeded = true;
};

struct LoadOptions {
    // Refuse payloads larger than this (protects against decompression bombs).
    std::uint64_t max_payload_bytes = std::uint64_t{16} << 30;
    // Accept serialized parameters below the security level (they must say so themselves).
    bool allow_insecure_parameters = false;
};

// The header of a blob, validated for form only (magic, version, known type and compression;
// version 2 only for the key-switching key types).
struct BlobHeader {
    std::uint16_t version;
    ObjectType type;
    std::uint64_t parameter_hash;
    Compression compression;
    bool seeded;
    std::uint64_t payload_size;
    std::uint64_t stored_size;
};
BlobHeader read_header(std::span<const std::uint8_t> bytes);

std::vector<std::uint8_t> save_parameters(const Context& context, const SaveOptions& options = {});
ContextPtr load_parameters(std::span<const std::uint8_t> bytes, const LoadOptions& options = {});

std::vector<std::uint8_t> save(const Context& context, const Ciphertext& ct,
                               const SaveOptions& options = {});
std::vector<std::uint8_t> save(const Context& context, const Plaintext& pt,
                               const SaveOptions& options = {});
std::vector<std::uint8_t> save(const Context& context, const SecretKey& sk,
                               const SaveOptions& options = {});
std::vector<std::uint8_t> save(const Context& context, const PublicKey& pk,
                               const SaveOptions& options = {});
std::vector<std::uint8_t> save(const Context& context, const RelinearizationKey& rk,
                               const SaveOptions& options = {});
std::vector<std::uint8_t> save(const Context& context, const GaloisKeys& gk,
                               const SaveOptions& options = {});
// Everything an evaluator needs in one file: the relinearization key when present, then the
// Galois keys. Seeded (when options.seeded) only if every key still matches its seed.
std::vector<std::uint8_t> save(const Context& context, const EvaluationKeys& keys,
                               const SaveOptions& options = {});

Ciphertext load_ciphertext(const Context& context, std::span<const std::uint8_t> bytes,
                           const LoadOptions& options = {});
Plaintext load_plaintext(const Context& context, std::span<const std::uint8_t> bytes,
                         const LoadOptions& options = {});
SecretKey load_secret_key(const Context& context, std::span<const std::uint8_t> bytes,
                          const LoadOptions& options = {});
PublicKey load_public_key(const Context& context, std::span<const std::uint8_t> bytes,
                          const LoadOptions& options = {});
RelinearizationKey load_relinearization_key(const Context& context,
                                            std::span<const std::uint8_t> bytes,
                                            const LoadOptions& options = {});
GaloisKeys load_galois_keys(const Context& context, std::span<const std::uint8_t> bytes,
                            const LoadOptions& options = {});
EvaluationKeys load_evaluation_keys(const Context& context, std::span<const std::uint8_t> bytes,
                                    const LoadOptions& options = {});

}  // namespace henn::ckks
