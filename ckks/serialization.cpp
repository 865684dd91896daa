#include "henn/ckks/serialization.hpp"

#include <zstd.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <string>

#include "henn/ckks/errors.hpp"
#include "henn/math/bytes.hpp"
#include "internal.hpp"

namespace henn::ckks {

namespace {

static_assert(std::endian::native == std::endian::little, "henn's wire format is little-endian");

constexpr std::uint8_t kMagic[4] = {'H', 'E', 'N', 'N'};
constexpr std::uint8_t kFlagSeeded = 1;

[[noreturn]] void fail(const std::string& message) {
    throw SerializationError(message);
}

// ----- writing and reading: math::ByteWriter / ByteReader, plus CKKS's bit-packed residues -----

class Writer : public math::ByteWriter {
  public:
    // Values below 2^bits, bit-packed (math::pack_bits).
    void packed(const std::uint64_t* values, std::size_t count, int bits) {
        const std::size_t start = grow(math::packed_bytes(count, bits));
        math::pack_bits(values, count, bits, bytes().data() + start);
    }
};

class Reader : public math::ByteReader {
  public:
    explicit Reader(std::span<const std::uint8_t> bytes) : math::ByteReader(bytes, ckks::fail) {}
    void packed(std::uint64_t* values, std::size_t count, int bits, std::uint64_t modulus) {
        math::unpack_bits(bytes(math::packed_bytes(count, bits)).data(), count, bits, values);
        bool unreduced = false;
        for (std::size_t i = 0; i < count; ++i) unreduced |= values[i] >= modulus;
        if (unreduced) ckks::fail("a residue is not reduced modulo its prime (corrupted data)");
    }
};

const char* type_name(ObjectType type) {
    switch (type) {
        case ObjectType::kParameters:
            return "parameters";
        case ObjectType::kPlaintext:
            return "plaintext";
        case ObjectType::kCiphertext:
            return "ciphertext";
        case ObjectType::kSecretKey:
            return "secret key";
        case ObjectType::kPublicKey:
            return "public key";
        case ObjectType::kRelinearizationKey:
            return "relinearization key";
        case ObjectType::kGaloisKeys:
            return "Galois keys";
        case ObjectType::kEvaluationKeys:
            return "evaluation keys";
    }
    return "unknown object";
}

std::vector<std::uint8_t> finish(ObjectType type, std::uint64_t hash, bool seeded,
                                 std::vector<std::uint8_t> payload, const SaveOptions& options,
                                 std::uint16_t version = kFormatVersion) {
    std::vector<std::uint8_t> compressed;
    const Compression compression = options.compression;
    if (compression == Compression::kZstd) {
        compressed.resize(ZSTD_compressBound(payload.size()));
        const std::size_t size = ZSTD_compress(compressed.data(), compressed.size(), payload.data(),
                                               payload.size(), options.zstd_level);
        if (ZSTD_isError(size))
            throw SerializationError(std::string("zstd compression failed: ") +
                                     ZSTD_getErrorName(size));
        compressed.resize(size);
    }
    const std::span<const std::uint8_t> stored = compression == Compression::kZstd
                                                     ? std::span<const std::uint8_t>(compressed)
                                                     : std::span<const std::uint8_t>(payload);
    Writer w;
    w.bytes().reserve(kHeaderSize + stored.size());
    w.raw(kMagic, 4);
    w.u16(version);
    w.u16(static_cast<std::uint16_t>(type));
    w.u64(hash);
    w.u8(static_cast<std::uint8_t>(compression));
    w.u8(seeded ? kFlagSeeded : 0);
    w.u16(0);  // reserved
    w.u64(payload.size());
    w.u64(stored.size());
    w.raw(stored);
    if (type == ObjectType::kSecretKey) {  // leave no stray copy of the secret behind
        math::secure_wipe(payload.data(), payload.size());
        math::secure_wipe(compressed.data(), compressed.size());
    }
    return std::move(w.bytes());
}

// The largest payload a well-formed object of this type can have under `ctx` (Galois key sets
// and evaluation-key bundles are bounded only by the caller's limit).
std::uint64_t max_payload_for(ObjectType type, const Context* ctx) {
    if (ctx == nullptr) return 4096;  // parameters: at most 120 primes and a few fields
    const std::uint64_t n = ctx->n(), q = ctx->q_count(), qp = ctx->q_count() + ctx->p_count();
    const std::uint64_t digits = ctx->digit_count(ctx->max_level());
    const std::uint64_t slack = 256;
    switch (type) {
        case ObjectType::kCiphertext:
            return 3 * q * n * 8 + slack;
        case ObjectType::kPlaintext:
            return q * n * 8 + slack;
        case ObjectType::kSecretKey:
            return qp * n * 8 + slack;
        case ObjectType::kPublicKey:
            return 2 * qp * n * 8 + slack;
        case ObjectType::kRelinearizationKey:
            return 2 * digits * qp * n * 8 + slack;
        default:
            return ~std::uint64_t{0};
    }
}

// An object's payload: a view of the caller's bytes when stored uncompressed, else decompressed
// into `owned` (which `view` then shows).
struct Payload {
    std::vector<std::uint8_t> owned;
    std::span<const std::uint8_t> view;
};

// Checks the header against what the caller expects and returns the (decompressed) payload.
Payload open_blob(std::span<const std::uint8_t> bytes, ObjectType expected, const Context* context,
                  const LoadOptions& options, bool& seeded, std::uint16_t* version = nullptr) {
    const BlobHeader h = read_header(bytes);
    if (version != nullptr) *version = h.version;
    if (h.type != expected) {
        fail(std::string("expected a serialized ") + type_name(expected) + ", found a " +
             type_name(h.type));
    }
    if (context != nullptr && h.parameter_hash != context->parameter_hash()) {
        fail(std::string("the ") + type_name(expected) +
             " was made under different parameters than this context");
    }
    const std::uint64_t limit =
        std::min(options.max_payload_bytes, max_payload_for(expected, context));
    if (h.payload_size > limit) {
        fail("payload of " + std::to_string(h.payload_size) + " bytes exceeds the " +
             std::to_string(limit) + " bytes a " + type_name(expected) + " can have here");
    }
    seeded = h.seeded;
    const auto stored = bytes.subspan(kHeaderSize);
    if (h.compression == Compression::kNone) {
        if (h.stored_size != h.payload_size)
            fail("uncompressed data whose stored and payload sizes differ");
        return Payload{{}, stored};
    }
    const unsigned long long frame_size = ZSTD_getFrameContentSize(stored.data(), stored.size());
    if (frame_size == ZSTD_CONTENTSIZE_ERROR || frame_size == ZSTD_CONTENTSIZE_UNKNOWN ||
        frame_size != h.payload_size) {
        fail("compressed data is corrupted or does not match the declared size");
    }
    // Residues barely compress; a huge ratio means a forged frame, refused before allocating.
    if (h.payload_size > h.stored_size * 1024 + 4096)
        fail("implausible compression ratio (corrupted data)");
    Payload payload;
    payload.owned.resize(h.payload_size);
    const std::size_t got =
        ZSTD_decompress(payload.owned.data(), payload.owned.size(), stored.data(), stored.size());
    if (ZSTD_isError(got) || got != h.payload_size) {
        fail(std::string("zstd decompression failed: ") +
             (ZSTD_isError(got) ? ZSTD_getErrorName(got) : "size mismatch"));
    }
    payload.view = payload.owned;
    return payload;
}

// ----- polynomials -----

// Writes limbs [0, limbs) of `poly`, limb i being reduced modulo qp[qp_index(level, i)].
void write_poly(Writer& w, const Context& ctx, const RnsPoly& poly, int level) {
    for (std::size_t i = 0; i < poly.limbs; ++i) {
        const auto& q = ctx.qp()[detail::qp_index(ctx, level, i)];
        w.packed(poly.limb(i), poly.n, q.bits());
    }
}

RnsPoly read_poly(Reader& r, const Context& ctx, std::size_t limbs, int level) {
    RnsPoly poly(ctx.n(), limbs);
    for (std::size_t i = 0; i < limbs; ++i) {
        const auto& q = ctx.qp()[detail::qp_index(ctx, level, i)];
        r.packed(poly.limb(i), ctx.n(), q.bits(), q.value());
    }
    return poly;
}

int read_level(Reader& r, const Context& ctx) {
    const std::uint32_t level = r.u32();
    if (level > static_cast<std::uint32_t>(ctx.max_level())) {
        fail("level " + std::to_string(level) + " is above the top level " +
             std::to_string(ctx.max_level()));
    }
    return static_cast<int>(level);
}

double read_scale(Reader& r) {
    const double scale = r.f64();
    if (!std::isfinite(scale) || scale < 1.0 || scale > std::ldexp(1.0, 1500))
        fail("invalid scale");
    return scale;
}

std::size_t read_slots(Reader& r, const Context& ctx) {
    const std::uint64_t slots = r.u64();
    if (slots == 0 || slots > ctx.max_slots() || (slots & (slots - 1)) != 0) {
        fail("invalid slot count " + std::to_string(slots));
    }
    return static_cast<std::size_t>(slots);
}

// Whether `poly` is still the expansion of `seed` (a seeded object whose part was changed must not
// be saved as its seed). The first coefficients of every limb decide: an operation that changed
// the polynomial changed them all, and expanding the whole seed again would double the cost of
// saving a fresh ciphertext.
// `permutation`: the poly is held permuted (KeySwitchKey::permuted_for); its coefficient k as made
// is held at permutation[k].
bool seed_matches(const Context& ctx, const math::Seed& seed, std::uint64_t stream_base,
                  const RnsPoly& poly, int level, const std::uint32_t* permutation = nullptr) {
    constexpr std::size_t kCheckedCoefficients = 32;
    const std::size_t count = std::min<std::size_t>(kCheckedCoefficients, poly.n);
    u64 made[kCheckedCoefficients];
    for (std::size_t i = 0; i < poly.limbs; ++i) {
        const std::size_t index = detail::qp_index(ctx, level, i);
        const u64* prefix = poly.limb(i);
        if (permutation != nullptr) {
            for (std::size_t k = 0; k < count; ++k) made[k] = prefix[permutation[k]];
            prefix = made;
        }
        math::Prng prng(seed, stream_base + index);
        if (!math::uniform_prefix_matches(prng, ctx.qp()[index], prefix, count)) return false;
    }
    return true;
}

bool is_key_type(ObjectType type) {
    return type == ObjectType::kRelinearizationKey || type == ObjectType::kGaloisKeys ||
           type == ObjectType::kEvaluationKeys;
}

// A key-switching key: [version 2: u32 level], u32 digit count, the b_d, then the seed or the a_d,
// each polynomial over q_0..q_level then P (version 1: the top level).
void write_switch_key(Writer& w, const Context& ctx, const KeySwitchKey& key, bool seeded,
                      bool levelled) {
    const int level = key.max_level(ctx.p_count());
    if (levelled) w.u32(static_cast<std::uint32_t>(level));
    w.u32(static_cast<std::uint32_t>(key.b.size()));
    for (std::size_t d = 0; d < key.b.size(); ++d) write_poly(w, ctx, key.b[d], level);
    if (seeded) {
        w.raw(key.a_seed->data(), key.a_seed->size());
    } else {
        for (const auto& a : key.a) write_poly(w, ctx, a, level);
    }
}

KeySwitchKey read_switch_key(Reader& r, const Context& ctx, bool seeded, bool levelled) {
    int level = ctx.max_level();
    if (levelled) {
        const std::uint32_t stored = r.u32();
        if (stored > static_cast<std::uint32_t>(ctx.max_level())) {
            fail("a key-switching key for level " + std::to_string(stored) +
                 ", above the top level " + std::to_string(ctx.max_level()));
        }
        level = static_cast<int>(stored);
    }
    const std::uint32_t digits = r.u32();
    const std::size_t expected = ctx.digit_count(level);
    if (digits != expected) {
        fail("a key-switching key for level " + std::to_string(level) + " has " +
             std::to_string(digits) + " digits; these parameters need " + std::to_string(expected));
    }
    const std::size_t limbs = static_cast<std::size_t>(level) + 1 + ctx.p_count();
    KeySwitchKey key;
    for (std::size_t d = 0; d < digits; ++d) key.b.push_back(read_poly(r, ctx, limbs, level));
    if (seeded) {
        math::Seed seed;
        r.raw(seed.data(), seed.size());
        key.a_seed = seed;
        // Streams per prime index: a key stopped at `level` expands to the same limbs as the
        // top-level key made from the same seed.
        for (std::size_t d = 0; d < digits; ++d) {
            RnsPoly a(ctx.n(), limbs);
            detail::sample_uniform_ntt(ctx, seed, detail::kKeyStreamBase * (d + 1), a, level);
            key.a.push_back(std::move(a));
        }
    } else {
        for (std::size_t d = 0; d < digits; ++d) key.a.push_back(read_poly(r, ctx, limbs, level));
    }
    return key;
}

bool switch_key_seed_valid(const Context& ctx, const KeySwitchKey& key) {
    if (!key.a_seed) return false;
    const int level = key.max_level(ctx.p_count());
    const std::vector<std::uint32_t> permutation =
        key.permuted_for == 1 ? std::vector<std::uint32_t>{}
                              : detail::galois_permutation(ctx, key.permuted_for);
    for (std::size_t d = 0; d < key.a.size(); ++d) {
        if (!seed_matches(ctx, *key.a_seed, detail::kKeyStreamBase * (d + 1), key.a[d], level,
                          permutation.empty() ? nullptr : permutation.data()))
            return false;
    }
    return true;
}

// Any level from 0 to the top: the digits of that level, each over q_0..q_level then P.
void check_switch_key_shape(const Context& ctx, const KeySwitchKey& key) {
    const int level = key.max_level(ctx.p_count());
    if (key.b.empty() || level < 0 || level > ctx.max_level()) {
        throw MismatchError("key-switching key has the wrong shape for these parameters (" +
                            std::to_string(key.b.empty() ? 0 : key.b[0].limbs) + " limbs)");
    }
    const std::size_t limbs = static_cast<std::size_t>(level) + 1 + ctx.p_count();
    if (key.a.size() != key.b.size() || key.b.size() != ctx.digit_count(level)) {
        throw MismatchError("key-switching key for level " + std::to_string(level) + " has " +
                            std::to_string(key.b.size()) + " digits, that level needs " +
                            std::to_string(ctx.digit_count(level)));
    }
    for (std::size_t d = 0; d < key.b.size(); ++d) {
        for (const RnsPoly* p : {&key.a[d], &key.b[d]}) {
            if (p->limbs != limbs || p->n != ctx.n() || p->data.size() != p->n * p->limbs)
                throw MismatchError("key-switching key has the wrong shape for these parameters");
        }
    }
}

bool below_top(const Context& ctx, const KeySwitchKey& key) {
    return key.max_level(ctx.p_count()) < ctx.max_level();
}

// A Galois key set: u32 count, then per key its element (u64) and its key-switching key.
void write_galois_keys(Writer& w, const Context& ctx, const GaloisKeys& gk, bool seeded,
                       bool levelled) {
    w.u32(static_cast<std::uint32_t>(gk.keys.size()));
    for (const auto& [element, key] : gk.keys) {
        w.u64(element);
        if (key.permuted_for == 1) {
            write_switch_key(w, ctx, key, seeded, levelled);
        } else {
            if (key.permuted_for != element)
                throw MismatchError("a Galois key is held permuted for another element");
            write_switch_key(w, ctx, detail::key_as_made(ctx, key), seeded, levelled);
        }
    }
}

GaloisKeys read_galois_keys(Reader& r, const Context& ctx, bool seeded, bool levelled) {
    GaloisKeys gk;
    gk.parameter_hash = ctx.parameter_hash();
    const std::uint32_t count = r.u32();
    if (count > ctx.n()) fail("more Galois keys than there are Galois elements");
    for (std::uint32_t i = 0; i < count; ++i) {
        const std::uint64_t element = r.u64();
        if (element % 2 == 0 || element >= 2 * ctx.n() || element == 1) {
            fail("invalid Galois element " + std::to_string(element));
        }
        if (gk.keys.count(element))
            fail("Galois element " + std::to_string(element) + " appears twice");
        KeySwitchKey key = read_switch_key(r, ctx, seeded, levelled);
        detail::permute_key_for_galois(ctx, key, element);
        gk.keys.emplace(element, std::move(key));
    }
    return gk;
}

}  // namespace

BlobHeader read_header(std::span<const std::uint8_t> bytes) {
    if (bytes.size() < kHeaderSize) {
        fail("truncated data: " + std::to_string(bytes.size()) + " bytes is shorter than the " +
             std::to_string(kHeaderSize) + "-byte header");
    }
    if (std::memcmp(bytes.data(), kMagic, 4) != 0) fail("not a henn object (bad magic number)");
    Reader r(bytes.subspan(4, kHeaderSize - 4));
    BlobHeader h{};
    h.version = r.u16();
    if (h.version != kFormatVersion && h.version != kLevelledKeysFormatVersion) {
        fail("unsupported format version " + std::to_string(h.version) +
             " (this build reads versions " + std::to_string(kFormatVersion) + " and " +
             std::to_string(kLevelledKeysFormatVersion) + ")");
    }
    const std::uint16_t type = r.u16();
    if (type < 1 || type > static_cast<std::uint16_t>(kLastObjectType)) {
        fail("unknown object type " + std::to_string(type));
    }
    h.type = static_cast<ObjectType>(type);
    if (h.version == kLevelledKeysFormatVersion && !is_key_type(h.type)) {
        fail(std::string("format version ") + std::to_string(h.version) +
             " holds key-switching keys only, not a " + type_name(h.type));
    }
    h.parameter_hash = r.u64();
    const std::uint8_t compression = r.u8();
    if (compression > 1) fail("unknown compression " + std::to_string(compression));
    h.compression = static_cast<Compression>(compression);
    const std::uint8_t flags = r.u8();
    if ((flags & ~kFlagSeeded) != 0) fail("unknown flags");
    h.seeded = (flags & kFlagSeeded) != 0;
    if (r.u16() != 0) fail("reserved header bytes are not zero");
    h.payload_size = r.u64();
    h.stored_size = r.u64();
    if (h.stored_size != bytes.size() - kHeaderSize) {
        fail("the header declares " + std::to_string(h.stored_size) + " stored bytes but " +
             std::to_string(bytes.size() - kHeaderSize) + " follow (truncated or padded data)");
    }
    return h;
}

// ----- parameters -----

std::vector<std::uint8_t> save_parameters(const Context& ctx, const SaveOptions& options) {
    Writer w;
    w.u32(static_cast<std::uint32_t>(ctx.log_n()));
    w.u32(static_cast<std::uint32_t>(ctx.q_count()));
    for (const auto& q : ctx.q()) w.u64(q.value());
    w.u32(static_cast<std::uint32_t>(ctx.p_count()));
    for (const auto& p : ctx.p()) w.u64(p.value());
    w.f64(ctx.literal().log_default_scale);
    w.u16(static_cast<std::uint16_t>(ctx.security()));
    w.u8(ctx.insecure() ? 1 : 0);
    return finish(ObjectType::kParameters, ctx.parameter_hash(), false, std::move(w.bytes()),
                  options);
}

ContextPtr load_parameters(std::span<const std::uint8_t> bytes, const LoadOptions& options) {
    bool seeded = false;
    const auto payload = open_blob(bytes, ObjectType::kParameters, nullptr, options, seeded);
    Reader r(payload.view);
    ParametersLiteral lit;
    const std::uint32_t log_n = r.u32();
    if (log_n < 2 || log_n > 17) fail("invalid ring degree 2^" + std::to_string(log_n));
    lit.log_n = static_cast<int>(log_n);
    const std::uint32_t q_count = r.u32();
    if (q_count == 0 || q_count > 60) fail("invalid number of Q primes");
    for (std::uint32_t i = 0; i < q_count; ++i) lit.q.push_back(r.u64());
    const std::uint32_t p_count = r.u32();
    if (p_count > 60) fail("invalid number of P primes");
    for (std::uint32_t i = 0; i < p_count; ++i) lit.p.push_back(r.u64());
    lit.log_default_scale = r.f64();
    const std::uint16_t security = r.u16();
    if (security != 128 && security != 192 && security != 256) fail("invalid security level");
    lit.security = static_cast<SecurityLevel>(security);
    const std::uint8_t insecure = r.u8();
    if (insecure > 1) fail("invalid insecure flag");
    r.expect_end();
    if (insecure == 1 && !options.allow_insecure_parameters) {
        fail(
            "the serialized parameters are below their security level; load them with "
            "allow_insecure_parameters");
    }
    lit.allow_insecure = insecure == 1 && options.allow_insecure_parameters;
    ContextPtr ctx;
    try {
        ctx = Context::create(lit);
    } catch (const ParameterError& e) {
        fail(std::string("invalid serialized parameters: ") + e.what());
    }
    if (read_header(bytes).parameter_hash != ctx->parameter_hash()) fail("parameter hash mismatch");
    return ctx;
}

// ----- ciphertexts and plaintexts -----

std::vector<std::uint8_t> save(const Context& ctx, const Ciphertext& ct,
                               const SaveOptions& options) {
    detail::check_hash(ctx, ct.parameter_hash, "the ciphertext");
    if (ct.size() < 2 || ct.size() > 3) throw MismatchError("a ciphertext has 2 or 3 polynomials");
    for (const auto& p : ct.polys) {
        if (p.limbs != static_cast<std::size_t>(ct.level) + 1 || p.n != ctx.n()) {
            throw MismatchError("malformed ciphertext: limb count and level disagree");
        }
    }
    const bool seeded =
        options.seeded && ct.c1_seed && seed_matches(ctx, *ct.c1_seed, 0, ct.polys[1], ct.level);
    Writer w;
    std::size_t expected_bytes = 64;
    for (std::size_t i = 0; i <= static_cast<std::size_t>(ct.level); ++i)
        expected_bytes += math::packed_bytes(ctx.n(), ctx.qp()[i].bits());
    w.bytes().reserve(expected_bytes * ct.size());
    w.u32(static_cast<std::uint32_t>(ct.level));
    w.f64(ct.scale);
    w.u64(ct.slots);
    w.u8(static_cast<std::uint8_t>(ct.size()));
    for (std::size_t p = 0; p < ct.size(); ++p) {
        if (p == 1 && seeded) {
            w.raw(ct.c1_seed->data(), ct.c1_seed->size());
        } else {
            write_poly(w, ctx, ct.polys[p], ct.level);
        }
    }
    return finish(ObjectType::kCiphertext, ctx.parameter_hash(), seeded, std::move(w.bytes()),
                  options);
}

Ciphertext load_ciphertext(const Context& ctx, std::span<const std::uint8_t> bytes,
                           const LoadOptions& options) {
    bool seeded = false;
    const auto payload = open_blob(bytes, ObjectType::kCiphertext, &ctx, options, seeded);
    Reader r(payload.view);
    Ciphertext ct;
    ct.parameter_hash = ctx.parameter_hash();
    ct.level = read_level(r, ctx);
    ct.scale = read_scale(r);
    ct.slots = read_slots(r, ctx);
    const std::uint8_t size = r.u8();
    if (size < 2 || size > 3)
        fail("a ciphertext has 2 or 3 polynomials, not " + std::to_string(size));
    for (std::uint8_t p = 0; p < size; ++p) {
        if (p == 1 && seeded) {
            math::Seed seed;
            r.raw(seed.data(), seed.size());
            RnsPoly c1(ctx.n(), ct.level + 1);
            detail::sample_uniform_ntt(ctx, seed, 0, c1, ct.level);
            ct.polys.push_back(std::move(c1));
            ct.c1_seed = seed;
        } else {
            ct.polys.push_back(read_poly(r, ctx, ct.level + 1, ct.level));
        }
    }
    r.expect_end();
    return ct;
}

std::vector<std::uint8_t> save(const Context& ctx, const Plaintext& pt,
                               const SaveOptions& options) {
    detail::check_hash(ctx, pt.parameter_hash, "the plaintext");
    if (pt.poly.limbs != static_cast<std::size_t>(pt.level) + 1 || pt.poly.n != ctx.n()) {
        throw MismatchError("malformed plaintext: limb count and level disagree");
    }
    Writer w;
    w.u32(static_cast<std::uint32_t>(pt.level));
    w.f64(pt.scale);
    w.u64(pt.slots);
    write_poly(w, ctx, pt.poly, pt.level);
    return finish(ObjectType::kPlaintext, ctx.parameter_hash(), false, std::move(w.bytes()),
                  options);
}

Plaintext load_plaintext(const Context& ctx, std::span<const std::uint8_t> bytes,
                         const LoadOptions& options) {
    bool seeded = false;
    const auto payload = open_blob(bytes, ObjectType::kPlaintext, &ctx, options, seeded);
    if (seeded) fail("a plaintext cannot be seeded");
    Reader r(payload.view);
    Plaintext pt;
    pt.parameter_hash = ctx.parameter_hash();
    pt.level = read_level(r, ctx);
    pt.scale = read_scale(r);
    pt.slots = read_slots(r, ctx);
    pt.poly = read_poly(r, ctx, pt.level + 1, pt.level);
    r.expect_end();
    return pt;
}

// ----- keys -----

std::vector<std::uint8_t> save(const Context& ctx, const SecretKey& sk,
                               const SaveOptions& options) {
    detail::check_hash(ctx, sk.parameter_hash(), "the secret key");
    Writer w;
    write_poly(w, ctx, sk.poly(), ctx.max_level());
    auto blob =
        finish(ObjectType::kSecretKey, ctx.parameter_hash(), false, std::move(w.bytes()), options);
    math::secure_wipe(w.bytes().data(), w.bytes().size());
    return blob;
}

SecretKey load_secret_key(const Context& ctx, std::span<const std::uint8_t> bytes,
                          const LoadOptions& options) {
    bool seeded = false;
    auto payload = open_blob(bytes, ObjectType::kSecretKey, &ctx, options, seeded);
    if (seeded) fail("a secret key cannot be seeded");
    Reader r(payload.view);
    SecretKey sk(read_poly(r, ctx, ctx.q_count() + ctx.p_count(), ctx.max_level()),
                 ctx.parameter_hash());
    r.expect_end();
    math::secure_wipe(payload.owned.data(), payload.owned.size());
    return sk;
}

std::vector<std::uint8_t> save(const Context& ctx, const PublicKey& pk,
                               const SaveOptions& options) {
    detail::check_hash(ctx, pk.parameter_hash, "the public key");
    const std::size_t limbs = ctx.q_count() + ctx.p_count();
    if (pk.a.limbs != limbs || pk.b.limbs != limbs) throw MismatchError("malformed public key");
    Writer w;
    write_poly(w, ctx, pk.b, ctx.max_level());
    write_poly(w, ctx, pk.a, ctx.max_level());
    return finish(ObjectType::kPublicKey, ctx.parameter_hash(), false, std::move(w.bytes()),
                  options);
}

PublicKey load_public_key(const Context& ctx, std::span<const std::uint8_t> bytes,
                          const LoadOptions& options) {
    bool seeded = false;
    const auto payload = open_blob(bytes, ObjectType::kPublicKey, &ctx, options, seeded);
    if (seeded) fail("a public key cannot be seeded");
    Reader r(payload.view);
    const std::size_t limbs = ctx.q_count() + ctx.p_count();
    PublicKey pk;
    pk.parameter_hash = ctx.parameter_hash();
    pk.b = read_poly(r, ctx, limbs, ctx.max_level());
    pk.a = read_poly(r, ctx, limbs, ctx.max_level());
    r.expect_end();
    return pk;
}

std::vector<std::uint8_t> save(const Context& ctx, const RelinearizationKey& rk,
                               const SaveOptions& options) {
    detail::check_hash(ctx, rk.parameter_hash, "the relinearization key");
    check_switch_key_shape(ctx, rk.key);
    const bool seeded = options.seeded && switch_key_seed_valid(ctx, rk.key);
    const bool levelled = below_top(ctx, rk.key);
    Writer w;
    write_switch_key(w, ctx, rk.key, seeded, levelled);
    return finish(ObjectType::kRelinearizationKey, ctx.parameter_hash(), seeded,
                  std::move(w.bytes()), options,
                  levelled ? kLevelledKeysFormatVersion : kFormatVersion);
}

RelinearizationKey load_relinearization_key(const Context& ctx, std::span<const std::uint8_t> bytes,
                                            const LoadOptions& options) {
    bool seeded = false;
    std::uint16_t version = 0;
    const auto payload =
        open_blob(bytes, ObjectType::kRelinearizationKey, &ctx, options, seeded, &version);
    Reader r(payload.view);
    RelinearizationKey rk;
    rk.parameter_hash = ctx.parameter_hash();
    rk.key = read_switch_key(r, ctx, seeded, version == kLevelledKeysFormatVersion);
    r.expect_end();
    return rk;
}

std::vector<std::uint8_t> save(const Context& ctx, const GaloisKeys& gk,
                               const SaveOptions& options) {
    if (!gk.keys.empty()) detail::check_hash(ctx, gk.parameter_hash, "the Galois keys");
    bool seeded = options.seeded, levelled = false;
    for (const auto& [element, key] : gk.keys) {
        check_switch_key_shape(ctx, key);
        seeded = seeded && switch_key_seed_valid(ctx, key);
        levelled = levelled || below_top(ctx, key);
    }
    Writer w;
    write_galois_keys(w, ctx, gk, seeded, levelled);
    return finish(ObjectType::kGaloisKeys, ctx.parameter_hash(), seeded, std::move(w.bytes()),
                  options, levelled ? kLevelledKeysFormatVersion : kFormatVersion);
}

GaloisKeys load_galois_keys(const Context& ctx, std::span<const std::uint8_t> bytes,
                            const LoadOptions& options) {
    bool seeded = false;
    std::uint16_t version = 0;
    const auto payload = open_blob(bytes, ObjectType::kGaloisKeys, &ctx, options, seeded, &version);
    Reader r(payload.view);
    GaloisKeys gk = read_galois_keys(r, ctx, seeded, version == kLevelledKeysFormatVersion);
    r.expect_end();
    return gk;
}

// ----- evaluation keys: u8 (1 when a relinearization key follows), that key, the Galois keys
// (version 2 when any of them stops below the top level) -----

std::vector<std::uint8_t> save(const Context& ctx, const EvaluationKeys& keys,
                               const SaveOptions& options) {
    bool seeded = options.seeded, levelled = false;
    if (keys.relinearization) {
        detail::check_hash(ctx, keys.relinearization->parameter_hash, "the relinearization key");
        check_switch_key_shape(ctx, keys.relinearization->key);
        seeded = seeded && switch_key_seed_valid(ctx, keys.relinearization->key);
        levelled = below_top(ctx, keys.relinearization->key);
    }
    if (!keys.galois.keys.empty())
        detail::check_hash(ctx, keys.galois.parameter_hash, "the Galois keys");
    for (const auto& [element, key] : keys.galois.keys) {
        check_switch_key_shape(ctx, key);
        seeded = seeded && switch_key_seed_valid(ctx, key);
        levelled = levelled || below_top(ctx, key);
    }
    Writer w;
    w.u8(keys.relinearization ? 1 : 0);
    if (keys.relinearization) write_switch_key(w, ctx, keys.relinearization->key, seeded, levelled);
    write_galois_keys(w, ctx, keys.galois, seeded, levelled);
    return finish(ObjectType::kEvaluationKeys, ctx.parameter_hash(), seeded, std::move(w.bytes()),
                  options, levelled ? kLevelledKeysFormatVersion : kFormatVersion);
}

EvaluationKeys load_evaluation_keys(const Context& ctx, std::span<const std::uint8_t> bytes,
                                    const LoadOptions& options) {
    bool seeded = false;
    std::uint16_t version = 0;
    const auto payload =
        open_blob(bytes, ObjectType::kEvaluationKeys, &ctx, options, seeded, &version);
    const bool levelled = version == kLevelledKeysFormatVersion;
    Reader r(payload.view);
    EvaluationKeys keys;
    const std::uint8_t has_relinearization = r.u8();
    if (has_relinearization > 1)
        fail("invalid relinearization-key flag " + std::to_string(has_relinearization));
    if (has_relinearization == 1) {
        RelinearizationKey rk;
        rk.parameter_hash = ctx.parameter_hash();
        rk.key = read_switch_key(r, ctx, seeded, levelled);
        keys.relinearization = std::move(rk);
    }
    keys.galois = read_galois_keys(r, ctx, seeded, levelled);
    r.expect_end();
    return keys;
}

}  // namespace henn::ckks
