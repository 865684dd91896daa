#include "henn/paillier/serialization.hpp"

#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "henn/files.hpp"
#include "henn/math/bytes.hpp"

namespace henn::paillier {

namespace {
constexpr std::uint8_t kMagic[4] = {'H', 'P', 'A', 'I'};
constexpr std::size_t kHeaderBytes = 16;

const char* type_name(BlobType type) {
    switch (type) {
        case BlobType::public_key:
            return "public key";
        case BlobType::secret_key:
            return "secret key";
        case BlobType::ciphertext:
            return "ciphertext";
        case BlobType::ciphertext_batch:
            return "ciphertext batch";
    }
    return "unknown";
}

// The header (magic, version, type, payload size) and fixed-width big-endian integers on top of
// the shared byte writer and reader (henn/math/bytes.hpp).
class Writer {
  public:
    explicit Writer(BlobType type) {
        out_.raw(kMagic, 4);
        out_.u8(kFormatVersion);
        out_.u8(static_cast<std::uint8_t>(type));
        out_.u16(0);
        out_.u64(0);  // payload size, set by finish()
    }
    void u32(std::uint32_t v) { out_.u32(v); }
    void u64(std::uint64_t v) { out_.u64(v); }
    // Fixed-width big-endian; the caller guarantees 0 <= v < 256^width.
    void integer(const mpz_class& v, std::size_t width) {
        const std::size_t start = out_.grow(width);
        std::size_t count = 0;
        const std::size_t used = (mpz_sizeinbase(v.get_mpz_t(), 2) + 7) / 8;
        if (v != 0)
            mpz_export(&out_.bytes()[start + width - used], &count, 1, 1, 1, 0, v.get_mpz_t());
    }
    std::vector<std::uint8_t> finish() {
        std::vector<std::uint8_t> bytes = out_.take();
        const std::uint64_t payload = bytes.size() - kHeaderBytes;
        for (int i = 0; i < 8; ++i) bytes[8 + i] = static_cast<std::uint8_t>(payload >> (8 * i));
        return bytes;
    }

  private:
    math::ByteWriter out_;
};

class Reader {
  public:
    Reader(std::span<const std::uint8_t> bytes, BlobType expected)
        : what_(type_name(expected)), in_(bytes, [what = what_](const std::string& problem) {
              throw PaillierError("paillier: " + what + ": " + problem, ErrorCategory::data);
          }) {
        if (bytes.size() < kHeaderBytes)
            throw PaillierError("paillier: " + what_ + ": truncated header (" +
                                    std::to_string(bytes.size()) + " bytes)",
                                ErrorCategory::data);
        std::uint8_t magic[4];
        in_.raw(magic, 4);
        if (std::memcmp(magic, kMagic, 4) != 0)
            throw PaillierError("paillier: " + what_ + ": bad magic (not a henn Paillier blob)",
                                ErrorCategory::data);
        const std::uint8_t version = in_.u8();
        if (version != kFormatVersion)
            throw PaillierError(
                "paillier: " + what_ + ": unsupported format version " + std::to_string(version),
                ErrorCategory::data);
        const std::uint8_t type = in_.u8();
        if (type != static_cast<std::uint8_t>(expected))
            throw PaillierError(
                "paillier: expected a " + what_ + ", found blob type " + std::to_string(type),
                ErrorCategory::data);
        if (in_.u16() != 0)
            throw PaillierError("paillier: " + what_ + ": reserved header bytes are not zero",
                                ErrorCategory::data);
        const std::uint64_t payload = in_.u64();
        if (payload != in_.remaining())
            throw PaillierError("paillier: " + what_ + ": header announces " +
                                    std::to_string(payload) + " payload bytes, found " +
                                    std::to_string(in_.remaining()),
                                ErrorCategory::data);
    }
    std::uint32_t u32() { return in_.u32(); }
    std::uint64_t u64() { return in_.u64(); }
    mpz_class integer(std::size_t width) {
        const std::span<const std::uint8_t> digits = in_.bytes(width);
        mpz_class v;
        if (width > 0) mpz_import(v.get_mpz_t(), width, 1, 1, 1, 0, digits.data());
        return v;
    }
    std::size_t remaining() const { return in_.remaining(); }
    void done() const {
        if (remaining() != 0)
            throw PaillierError(
                "paillier: " + what_ + ": " + std::to_string(remaining()) + " trailing bytes",
                ErrorCategory::data);
    }
    const std::string& what() const { return what_; }

  private:
    std::string what_;
    math::ByteReader in_;
};

unsigned read_modulus_bits(Reader& reader, const LoadOptions& options) {
    const std::uint32_t bits = reader.u32();
    if (!is_accepted_modulus_size(bits, options.allow_test_only_sizes))
        throw PaillierError("paillier: " + reader.what() + ": modulus size " +
                                std::to_string(bits) + " not accepted",
                            ErrorCategory::data);
    return bits;
}
}  // namespace

std::vector<std::uint8_t> serialize(const PublicKey& key) {
    Writer writer(BlobType::public_key);
    writer.u32(key.modulus_bits());
    writer.integer(key.n(), key.modulus_bits() / 8);
    return writer.finish();
}

std::vector<std::uint8_t> serialize(const SecretKey& key) {
    const unsigned bits = key.public_key().modulus_bits();
    Writer writer(BlobType::secret_key);
    writer.u32(bits);
    writer.integer(key.p(), bits / 16);
    writer.integer(key.q(), bits / 16);
    return writer.finish();
}

std::vector<std::uint8_t> serialize(const PublicKey& key, const Ciphertext& c) {
    Writer writer(BlobType::ciphertext);
    writer.integer(c.value, key.ciphertext_bytes());
    return writer.finish();
}

std::vector<std::uint8_t> serialize(const PublicKey& key, std::span<const Ciphertext> batch) {
    Writer writer(BlobType::ciphertext_batch);
    writer.u64(batch.size());
    for (const Ciphertext& c : batch) writer.integer(c.value, key.ciphertext_bytes());
    return writer.finish();
}

PublicKey load_public_key(std::span<const std::uint8_t> bytes, const LoadOptions& options) {
    Reader reader(bytes, BlobType::public_key);
    const unsigned bits = read_modulus_bits(reader, options);
    if (reader.remaining() != bits / 8)
        throw PaillierError("paillier: public key: modulus field has wrong size",
                            ErrorCategory::data);
    mpz_class n = reader.integer(bits / 8);
    reader.done();
    return PublicKey(std::move(n), bits);
}

SecretKey load_secret_key(std::span<const std::uint8_t> bytes, const LoadOptions& options) {
    Reader reader(bytes, BlobType::secret_key);
    const unsigned bits = read_modulus_bits(reader, options);
    if (reader.remaining() != 2 * (bits / 16))
        throw PaillierError("paillier: secret key: prime fields have wrong size",
                            ErrorCategory::data);
    mpz_class p = reader.integer(bits / 16);
    mpz_class q = reader.integer(bits / 16);
    reader.done();
    SecretKey key(p, q, bits);
    wipe(p);
    wipe(q);
    return key;
}

Ciphertext load_ciphertext(const PublicKey& key, std::span<const std::uint8_t> bytes) {
    Reader reader(bytes, BlobType::ciphertext);
    if (reader.remaining() != key.ciphertext_bytes())
        throw PaillierError("paillier: ciphertext: size does not match the key",
                            ErrorCategory::data);
    Ciphertext c{reader.integer(key.ciphertext_bytes())};
    reader.done();
    key.check_ciphertext(c);
    return c;
}

std::vector<Ciphertext> load_ciphertexts(const PublicKey& key, std::span<const std::uint8_t> bytes,
                                         const LoadOptions& options) {
    Reader reader(bytes, BlobType::ciphertext_batch);
    const std::uint64_t count = reader.u64();
    if (count > options.max_batch)
        throw PaillierError("paillier: ciphertext batch: " + std::to_string(count) +
                                " ciphertexts exceed the limit of " +
                                std::to_string(options.max_batch),
                            ErrorCategory::data);
    if (reader.remaining() / key.ciphertext_bytes() != count ||
        reader.remaining() % key.ciphertext_bytes() != 0)
        throw PaillierError("paillier: ciphertext batch: announces " + std::to_string(count) +
                                " ciphertexts but holds " + std::to_string(reader.remaining()) +
                                " bytes",
                            ErrorCategory::data);
    std::vector<Ciphertext> batch;
    batch.reserve(count);
    for (std::uint64_t i = 0; i < count; ++i) {
        batch.push_back(Ciphertext{reader.integer(key.ciphertext_bytes())});
        try {
            key.check_ciphertext(batch.back());
        } catch (const PaillierError& e) {
            throw PaillierError(
                std::string(e.what()) + " (batch element " + std::to_string(i) + ")",
                ErrorCategory::data);
        }
    }
    reader.done();
    return batch;
}

std::vector<std::uint8_t> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw PaillierError("paillier: cannot open " + path, ErrorCategory::io);
    std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                    std::istreambuf_iterator<char>());
    if (in.bad()) throw PaillierError("paillier: cannot read " + path, ErrorCategory::io);
    return bytes;
}

void write_file(const std::string& path, std::span<const std::uint8_t> bytes, bool owner_only) {
    try {
        write_file_atomically(path, bytes,
                              owner_only ? FileAccess::owner_only : FileAccess::shared);
    } catch (const Error& e) {
        throw PaillierError("paillier: " + std::string(e.what()), e.category());
    }
}

}  // namespace henn::paillier
