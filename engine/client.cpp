#include "henn/engine/client.hpp"
#include "henn/engine/latency.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <map>

#include "henn/ckks/errors.hpp"
#include "henn/ckks/serialization.hpp"
#include "henn/engine/errors.hpp"
#include "henn/math/parallel.hpp"
#include "wire.hpp"

namespace henn::engine {
namespace {

constexpr char kBatchMagic[8] = {'H', 'E', 'N', 'N', 'B', 'T', 'C', 'H'};
constexpr char kKeysMagic[8] = {'H', 'E', 'N', 'N', 'E', 'K', 'E', 'Y'};
constexpr char kSecretMagic[8] = {'H', 'E', 'N', 'N', 'S', 'K', 'E', 'Y'};
constexpr std::uint16_t kVersion = 1;

std::string hex(std::uint64_t h) {
    static const char* digits = "0123456789abcdef";
    std::string s(16, '0');
    for (int i = 15; i >= 0; --i, h >>= 4) s[i] = digits[h & 15];
    return s;
}

void check_model_hash(const CompiledModel& model, std::uint64_t hash, const char* what) {
    if (hash != model.hash()) {
        throw KeyMismatchError(std::string(what) + " belong to compiled model " + hex(hash) +
                               ", not to this one (" + hex(model.hash()) +
                               "); use the files made for this model");
    }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Bundles

std::vector<std::uint8_t> save_batches(const CompiledModel& model,
                                       std::span<const EncryptedBatch> batches, BundleKind kind) {
    const ckks::Context& ctx = *model.context();
    std::vector<std::vector<std::vector<std::uint8_t>>> blobs(batches.size());
    std::size_t total = sizeof kBatchMagic + 2 + 1 + 8 + 8;
    for (std::size_t k = 0; k < batches.size(); ++k) {
        const EncryptedBatch& b = batches[k];
        check_model_hash(model, b.model_hash, "these ciphertexts");
        blobs[k].resize(b.ciphertexts.size());
#pragma omp parallel for schedule(dynamic) num_threads(math::thread_count())
        for (std::size_t i = 0; i < blobs[k].size(); ++i)
            blobs[k][i] = ckks::save(ctx, b.ciphertexts[i]);
        total += 8 + 8;
        for (const auto& blob : blobs[k]) total += 8 + blob.size();
    }
    detail::Writer w;
    w.bytes().reserve(total);  // one allocation: a batch bundle is tens of megabytes
    w.raw(kBatchMagic, sizeof kBatchMagic);
    w.u16(kVersion);
    w.u8(static_cast<std::uint8_t>(kind));
    w.u64(model.hash());
    w.u64(batches.size());
    for (std::size_t k = 0; k < batches.size(); ++k) {
        w.i64(batches[k].samples);
        w.u64(batches[k].ciphertexts.size());
        for (auto& blob : blobs[k]) {
            w.blob(blob);
            blob = {};
        }
    }
    return std::move(w.bytes());
}

std::uint64_t saved_batches_bytes(const CompiledModel& model,
                                  std::span<const EncryptedBatch> batches) {
    // The layout of save_batches: magic, version, kind, model hash, batch count; per batch the
    // sample and ciphertext counts; per ciphertext a length and its blob.
    std::uint64_t total = sizeof kBatchMagic + 2 + 1 + 8 + 8;
    const ckks::Context& ctx = *model.context();
    for (const auto& b : batches) {
        check_model_hash(model, b.model_hash, "these ciphertexts");
        total += 8 + 8;
        std::uint64_t blobs = 0;
        const auto count = static_cast<std::int64_t>(b.ciphertexts.size());
#pragma omp parallel for schedule(dynamic) num_threads(math::thread_count()) reduction(+ : blobs)
        for (std::int64_t i = 0; i < count; ++i)
            blobs += 8 + ckks::save(ctx, b.ciphertexts[static_cast<std::size_t>(i)]).size();
        total += blobs;
    }
    return total;
}

std::vector<EncryptedBatch> load_batches(const CompiledModel& model,
                                         std::span<const std::uint8_t> bytes, BundleKind kind) {
    const char* what = kind == BundleKind::inputs ? "input ciphertexts" : "output ciphertexts";
    detail::Reader r(bytes, what);
    r.expect_magic(kBatchMagic, sizeof kBatchMagic);
    const auto version = r.u16("version");
    if (version != kVersion)
        r.fail("format version " + std::to_string(version) + " is not supported");
    const auto stored_kind = r.u8("kind");
    if (stored_kind != static_cast<std::uint8_t>(kind)) {
        r.fail(std::string("these are ") +
               (stored_kind == 1   ? "input"
                : stored_kind == 2 ? "output"
                                   : "unknown") +
               " ciphertexts, " + (kind == BundleKind::inputs ? "inputs" : "outputs") +
               " were expected");
    }
    const auto hash = r.u64("model hash");
    check_model_hash(model, hash, what);
    const auto count = r.count("batches", 16, 1 << 20);
    const std::uint64_t expected = static_cast<std::uint64_t>(
        kind == BundleKind::inputs ? model.input_ciphertexts() : model.output_ciphertexts());
    const ckks::Context& ctx = *model.context();
    std::vector<EncryptedBatch> batches(count);
    for (auto& b : batches) {
        b.model_hash = hash;
        b.samples = r.i64("samples");
        if (b.samples <= 0 || b.samples > model.batch_size()) {
            r.fail("a batch of " + std::to_string(b.samples) + " samples (1.." +
                   std::to_string(model.batch_size()) + " fit one batch)");
        }
        const auto n = r.count("ciphertexts", 8, 1 << 24);
        if (n != expected) {
            r.fail(std::to_string(n) + " ciphertexts per batch, the model needs " +
                   std::to_string(expected));
        }
        std::vector<std::span<const std::uint8_t>> blobs(n);
        for (auto& blob : blobs) blob = r.blob("ciphertext");
        b.ciphertexts.resize(n);
        std::string error;
#pragma omp parallel for schedule(dynamic) num_threads(math::thread_count())
        for (std::size_t i = 0; i < n; ++i) {
            try {
                b.ciphertexts[i] = ckks::load_ciphertext(ctx, blobs[i]);
            } catch (const std::exception& e) {
#pragma omp critical
                if (error.empty()) error = "ciphertext " + std::to_string(i) + ": " + e.what();
            }
        }
        if (!error.empty()) r.fail(error);
    }
    if (!r.done()) r.fail("trailing bytes");
    return batches;
}

std::vector<std::uint8_t> save_evaluation_keys(const CompiledModel& model,
                                               const EvaluationKeyBundle& keys) {
    check_model_hash(model, keys.model_hash, "these evaluation keys");
    if (!keys.keys) throw KeyMismatchError("no evaluation keys to save");
    const ckks::Context& ctx = *model.context();
    detail::Writer w;
    w.raw(kKeysMagic, sizeof kKeysMagic);
    w.u16(kVersion);
    w.u64(model.hash());
    w.u8(keys.keys->relinearization.has_value());
    if (keys.keys->relinearization) w.blob(ckks::save(ctx, *keys.keys->relinearization));
    w.blob(ckks::save(ctx, keys.keys->galois));
    return std::move(w.bytes());
}

EvaluationKeyBundle load_evaluation_keys(const CompiledModel& model,
                                         std::span<const std::uint8_t> bytes) {
    detail::Reader r(bytes, "evaluation keys");
    r.expect_magic(kKeysMagic, sizeof kKeysMagic);
    const auto version = r.u16("version");
    if (version != kVersion)
        r.fail("format version " + std::to_string(version) + " is not supported");
    EvaluationKeyBundle out;
    out.model_hash = r.u64("model hash");
    check_model_hash(model, out.model_hash, "these evaluation keys");
    const ckks::Context& ctx = *model.context();
    auto keys = std::make_shared<ckks::EvaluationKeys>();
    try {
        if (r.u8("relinearization flag"))
            keys->relinearization =
                ckks::load_relinearization_key(ctx, r.blob("relinearization key"));
        keys->galois = ckks::load_galois_keys(ctx, r.blob("Galois keys"));
    } catch (const ckks::Error& e) {
        r.fail(e.what());
    }
    if (!r.done()) r.fail("trailing bytes");
    out.keys = std::move(keys);
    return out;
}

// ---------------------------------------------------------------------------------------------
// Client

Client::Client(CompiledModelPtr model, std::unique_ptr<ckks::KeyGenerator> keygen, bool test_seeded,
               std::uint64_t seed)
    : model_(std::move(model)), keygen_(std::move(keygen)), encoder_(model_->context()) {
    encryptor_ = std::make_unique<ckks::Encryptor>(model_->context(), keygen_->secret_key());
    if (test_seeded) {
        math::Seed s{};
        for (int i = 0; i < 8; ++i) s[i] = static_cast<std::uint8_t>((seed >> (8 * i)) ^ 0xa5);
        encryptor_->use_test_only_seed(s);
    }
    decryptor_ = std::make_unique<ckks::Decryptor>(model_->context(), keygen_->secret_key());
}

Client::Client(CompiledModelPtr model)
    : Client(model, std::make_unique<ckks::KeyGenerator>(model->context()), false, 0) {}

Client Client::with_test_only_seed(CompiledModelPtr model, std::uint64_t seed) {
    math::Seed s{};
    for (int i = 0; i < 8; ++i) s[i] = static_cast<std::uint8_t>(seed >> (8 * i));
    auto keygen = std::make_unique<ckks::KeyGenerator>(model->context(), s);
    return Client(model, std::move(keygen), true, seed);
}

namespace {
std::unique_ptr<ckks::KeyGenerator> keygen_from_bytes(const CompiledModelPtr& model,
                                                      std::span<const std::uint8_t> bytes) {
    detail::Reader r(bytes, "secret key");
    r.expect_magic(kSecretMagic, sizeof kSecretMagic);
    const auto version = r.u16("version");
    if (version != kVersion)
        r.fail("format version " + std::to_string(version) + " is not supported");
    check_model_hash(*model, r.u64("model hash"), "this secret key");
    const auto blob = r.blob("key");
    if (!r.done()) r.fail("trailing bytes");
    try {
        return std::make_unique<ckks::KeyGenerator>(model->context(),
                                                    ckks::load_secret_key(*model->context(), blob));
    } catch (const ckks::Error& e) {
        r.fail(e.what());
    }
}
}  // namespace

Client::Client(CompiledModelPtr model, std::span<const std::uint8_t> secret_key)
    : Client(model, keygen_from_bytes(model, secret_key), false, 0) {}

EvaluationKeyBundle Client::evaluation_keys() const {
    // Each key only down to the level it is used at (latency packing; make_evaluation_keys).
    if (!eval_keys_) eval_keys_ = make_evaluation_keys(*model_, *keygen_);
    return {model_->hash(), eval_keys_};
}

std::vector<std::uint8_t> Client::save_secret_key() const {
    detail::Writer w;
    w.raw(kSecretMagic, sizeof kSecretMagic);
    w.u16(kVersion);
    w.u64(model_->hash());
    std::vector<std::uint8_t> blob = ckks::save(*model_->context(), keygen_->secret_key());
    w.blob(blob);
    std::fill(blob.begin(), blob.end(), std::uint8_t{0});
    return std::move(w.bytes());
}

std::vector<EncryptedBatch> Client::encrypt(std::span<const double> inputs,
                                            std::int64_t count) const {
    if (model_->packing() == Packing::latency) return encrypt_latency(inputs, count);
    const std::int64_t features = model_->input_size(), batch = model_->batch_size();
    if (count <= 0 || static_cast<std::int64_t>(inputs.size()) != count * features) {
        throw FormatError("encrypt: " + std::to_string(inputs.size()) + " values are not " +
                          std::to_string(count) + " samples of " + std::to_string(features));
    }
    const std::size_t slots = model_->context()->max_slots();
    const bool complex = model_->slot_packing() == SlotPacking::complex;
    const int level = model_->input_level();
    const double scale = model_->input_scale();
    std::vector<EncryptedBatch> out;
    for (std::int64_t first = 0; first < count; first += batch) {
        EncryptedBatch b;
        b.model_hash = model_->hash();
        b.samples = std::min(batch, count - first);
        b.ciphertexts.resize(static_cast<std::size_t>(features));
        auto value = [&](std::int64_t sample, std::int64_t f) {
            return sample < b.samples
                       ? inputs[static_cast<std::size_t>((first + sample) * features + f)]
                       : 0.0;
        };
#pragma omp parallel for schedule(dynamic) num_threads(math::thread_count())
        for (std::int64_t f = 0; f < features; ++f) {
            ckks::Plaintext pt;
            if (complex) {
                std::vector<std::complex<double>> v(slots);
                for (std::size_t j = 0; j < slots; ++j) {
                    v[j] = {value(static_cast<std::int64_t>(j), f),
                            value(static_cast<std::int64_t>(j + slots), f)};
                }
                pt = encoder_.encode(v, level, scale);
            } else {
                std::vector<double> v(slots);
                for (std::size_t j = 0; j < slots; ++j)
                    v[j] = value(static_cast<std::int64_t>(j), f);
                pt = encoder_.encode(v, level, scale);
            }
            b.ciphertexts[f] = encryptor_->encrypt(pt);
        }
        out.push_back(std::move(b));
    }
    return out;
}

std::vector<std::vector<double>> Client::decrypt_values(std::span<const ckks::Ciphertext> cts,
                                                        std::int64_t samples) const {
    const std::size_t slots = model_->context()->max_slots();
    const bool complex = model_->slot_packing() == SlotPacking::complex;
    std::vector<std::vector<double>> out(cts.size());
    std::string error;
#pragma omp parallel for schedule(dynamic) num_threads(math::thread_count())
    for (std::size_t i = 0; i < cts.size(); ++i) {
        try {
            const auto decoded = encoder_.decode(decryptor_->decrypt(cts[i]));
            auto& v = out[i];
            v.resize(static_cast<std::size_t>(samples));
            for (std::int64_t j = 0; j < samples; ++j) {
                const auto s = static_cast<std::size_t>(j);
                v[s] = s < slots ? decoded[s].real() : (complex ? decoded[s - slots].imag() : 0.0);
            }
        } catch (const std::exception& e) {
#pragma omp critical
            if (error.empty()) error = e.what();
        }
    }
    if (!error.empty()) throw KeyMismatchError("decrypt: " + error);
    return out;
}

std::vector<double> Client::decrypt(std::span<const EncryptedBatch> outputs) const {
    if (model_->packing() == Packing::latency) return decrypt_latency(outputs);
    const std::int64_t width = model_->output_size();
    std::vector<double> out;
    for (const auto& b : outputs) {
        check_model_hash(*model_, b.model_hash, "these outputs");
        if (static_cast<std::int64_t>(b.ciphertexts.size()) != width) {
            throw FormatError("decrypt: " + std::to_string(b.ciphertexts.size()) +
                              " ciphertexts, the model has " + std::to_string(width) + " outputs");
        }
        if (b.samples <= 0 || b.samples > model_->batch_size())
            throw FormatError("decrypt: bad sample count");
        const auto values = decrypt_values(b.ciphertexts, b.samples);
        const std::size_t base = out.size();
        out.resize(base + static_cast<std::size_t>(b.samples * width));
        for (std::int64_t j = 0; j < b.samples; ++j) {
            for (std::int64_t o = 0; o < width; ++o) out[base + j * width + o] = values[o][j];
        }
    }
    return out;
}

}  // namespace henn::engine
