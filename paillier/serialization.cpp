#include "henn/paillier/serialization.hpp"

#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <iterator>

namespace henn::paillier {

namespace {
constexpr std::uint8_t kMagic[4] = {'H', 'P', 'A', 'I'};
constexpr std::size_t kHeaderBytes = 16;

const char* type_name(BlobType type) {
    switch (type) {
        case BlobType::public_key: return "public key";
        case BlobType::secret_key: return "secret key";
        case BlobType::ciphertext: return "ciphertext";
        case BlobType::ciphertext_batch: return "ciphertext batch";
    }
    return "unknown";
}

class Writer {
public:
    explicit Writer(BlobType type) : bytes_(kHeaderBytes, 0) {
        std::memcpy(bytes_.data(), kMagic, 4);
        bytes_[4] = kFormatVersion;
        bytes_[5] = static_cast<std::uint8_t>(type);
    }
    void u32(std::uint32_t v) {
        for (int i = 0; i < 4; ++i) bytes_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }
    void u64(std::uint64_t v) {
        for (int i = 0; i < 8; ++i) bytes_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }
    // Fixed-width big-endian; the caller guarantees 0 <= v < 256^width.
    void integer(const mpz_class& v, std::size_t width) {
        const std::size_t start = bytes_.size();
        bytes_.resize(start + width, 0);
        std::size_t count = 0;
        const std::size_t used = (mpz_sizeinbase(v.get_mpz_t(), 2) + 7) / 8;
        if (v != 0) mpz_export(&bytes_[start + width - used], &count, 1, 1, 1, 0, v.get_mpz_t());
    }
    std::vector<std::uint8_t> finish() {
        const std::uint64_t payload = bytes_.size() - kHeaderBytes;
        for (int i = 0; i < 8; ++i) bytes_[8 + i] = static_cast<std::uint8_t>(payload >> (8 * i));
        return std::move(bytes_);
    }

private:
    std::vector<std::uint8_t> bytes_;
};

class Reader {
public:
    Reader(std::span<const std::uint8_t> bytes, BlobType expected) : bytes_(bytes) {
        const std::string what = type_name(expected);
        if (bytes_.size() < kHeaderBytes)
            throw PaillierError("paillier: " + what + ": truncated header (" +
                                std::to_string(bytes_.size()) + " bytes)");
        if (std::memcmp(bytes_.data(), kMagic, 4) != 0)
            throw PaillierError("paillier: " + what + ": bad magic (not a henn Paillier blob)");
        if (bytes_[4] != kFormatVersion)
            throw PaillierError("paillier: " + what + ": unsupported format version " +
                                std::to_string(bytes_[4]));
        if (bytes_[5] != static_cast<std::uint8_t>(expected))
            throw PaillierError("paillier: expected a " + what + ", found blob type " +
                                std::to_string(bytes_[5]));
        if (bytes_[6] != 0 || bytes_[7] != 0)
            throw PaillierError("paillier: " + what + ": reserved header bytes are not zero");
        std::uint64_t payload = 0;
        for (int i = 0; i < 8; ++i) payload |= std::uint64_t{bytes_[8 + i]} << (8 * i);
        if (payload != bytes_.size() - kHeaderBytes)
            throw PaillierError("paillier: " + what + ": header announces " +
                                std::to_string(payload) + " payload bytes, found " +
                                std::to_string(bytes_.size() - kHeaderBytes));
        position_ = kHeaderBytes;
        what_ = what;
    }
    void need(std::size_t count) const {
        if (count > bytes_.size() - position_)
            throw PaillierError("paillier: " + what_ + ": truncated payload");
    }
    std::uint32_t u32() {
        need(4);
        std::uint32_t v = 0;
        for (int i = 0; i < 4; ++i) v |= std::uint32_t{bytes_[position_++]} << (8 * i);
        return v;
    }
    std::uint64_t u64() {
        need(8);
        std::uint64_t v = 0;
        for (int i = 0; i < 8; ++i) v |= std::uint64_t{bytes_[position_++]} << (8 * i);
        return v;
    }
    mpz_class integer(std::size_t width) {
        need(width);
        mpz_class v;
        if (width > 0) mpz_import(v.get_mpz_t(), width, 1, 1, 1, 0, &bytes_[position_]);
        position_ += width;
        return v;
    }
    std::size_t remaining() const { return bytes_.size() - position_; }
    void done() const {
        if (remaining() != 0)
            throw PaillierError("paillier: " + what_ + ": " + std::to_string(remaining()) +
                                " trailing bytes");
    }
    const std::string& what() const { return what_; }

private:
    std::span<const std::uint8_t> bytes_;
    std::size_t position_ = 0;
    std::string what_;
};

unsigned read_modulus_bits(Reader& reader, const LoadOptions& options) {
    const std::uint32_t bits = reader.u32();
    if (!is_accepted_modulus_size(bits, options.allow_test_only_sizes))
        throw PaillierError("paillier: " + reader.what() + ": modulus size " +
                            std::to_string(bits) + " not accepted");
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
        throw PaillierError("paillier: public key: modulus field has wrong size");
    mpz_class n = reader.integer(bits / 8);
    reader.done();
    return PublicKey(std::move(n), bits);
}

SecretKey load_secret_key(std::span<const std::uint8_t> bytes, const LoadOptions& options) {
    Reader reader(bytes, BlobType::secret_key);
    const unsigned bits = read_modulus_bits(reader, options);
    if (reader.remaining() != 2 * (bits / 16))
        throw PaillierError("paillier: secret key: prime fields have wrong size");
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
        throw PaillierError("paillier: ciphertext: size does not match the key");
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
                            " ciphertexts exceed the limit of " + std::to_string(options.max_batch));
    if (reader.remaining() / key.ciphertext_bytes() != count ||
        reader.remaining() % key.ciphertext_bytes() != 0)
        throw PaillierError("paillier: ciphertext batch: announces " + std::to_string(count) +
                            " ciphertexts but holds " + std::to_string(reader.remaining()) +
                            " bytes");
    std::vector<Ciphertext> batch;
    batch.reserve(count);
    for (std::uint64_t i = 0; i < count; ++i) {
        batch.push_back(Ciphertext{reader.integer(key.ciphertext_bytes())});
        try {
            key.check_ciphertext(batch.back());
        } catch (const PaillierError& e) {
            throw PaillierError(std::string(e.what()) + " (batch element " + std::to_string(i) + ")");
        }
    }
    reader.done();
    return batch;
}

std::vector<std::uint8_t> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw PaillierError("paillier: cannot open " + path);
    std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                    std::istreambuf_iterator<char>());
    if (in.bad()) throw PaillierError("paillier: cannot read " + path);
    return bytes;
}

void write_file(const std::string& path, std::span<const std::uint8_t> bytes, bool owner_only) {
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        if (!out) throw PaillierError("paillier: cannot write " + path);
        if (owner_only) ::chmod(path.c_str(), S_IRUSR | S_IWUSR);
        out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
        if (!out) throw PaillierError("paillier: cannot write " + path);
    }
}

}  // namespace henn::paillier
