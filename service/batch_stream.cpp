// Ciphertext bundles written and read a chunk at a time (the layout of engine::save_batches).
#include "henn/service/batch_stream.hpp"

#include <cstring>

#include "henn/ckks/serialization.hpp"
#include "henn/engine/errors.hpp"
#include "henn/service/grpc_common.hpp"

namespace henn::service {

namespace {

constexpr char kBatchMagic[8] = {'H', 'E', 'N', 'N', 'B', 'T', 'C', 'H'};
constexpr std::uint16_t kVersion = 1;
constexpr std::size_t kHeaderBytes = sizeof kBatchMagic + 2 + 1 + 8 + 8;
constexpr std::size_t kBatchHeaderBytes = 8 + 8;
constexpr std::size_t kLengthBytes = 8;

std::string hex(std::uint64_t h) {
    static const char* digits = "0123456789abcdef";
    std::string s(16, '0');
    for (int i = 15; i >= 0; --i, h >>= 4) s[i] = digits[h & 15];
    return s;
}

void check_model_hash(const engine::CompiledModel& model, std::uint64_t hash, const char* what) {
    if (hash != model.hash()) {
        throw engine::KeyMismatchError(std::string(what) + " belong to compiled model " +
                                       hex(hash) + ", not to this one (" + hex(model.hash()) +
                                       "); use the files made for this model");
    }
}

template <typename T>
void put(std::string& out, T v) {
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

template <typename T>
T get(std::span<const std::uint8_t> bytes, std::size_t at) {
    T v;
    std::memcpy(&v, bytes.data() + at, sizeof v);
    return v;
}

ckks::SaveOptions uncompressed() {
    ckks::SaveOptions o;
    o.compression = ckks::Compression::kNone;
    return o;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Writer

BundleWriter::BundleWriter(const engine::CompiledModel& model,
                           std::span<const engine::EncryptedBatch> batches, engine::BundleKind kind)
    : model_(model), batches_(batches), kind_(kind) {
    const ckks::Context& ctx = *model.context();
    size_ = kHeaderBytes;
    for (const auto& b : batches) {
        check_model_hash(model, b.model_hash, "these ciphertexts");
        size_ += kBatchHeaderBytes;
        for (const auto& ct : b.ciphertexts) {
            const auto shape = std::make_tuple(ct.level, ct.size(), ct.c1_seed.has_value());
            auto it = shape_bytes_.find(shape);
            if (it == shape_bytes_.end())
                it = shape_bytes_.emplace(shape, ckks::save(ctx, ct, uncompressed()).size()).first;
            size_ += kLengthBytes + it->second;
        }
    }
}

std::uint64_t BundleWriter::blob_size(const ckks::Ciphertext& ct) const {
    return shape_bytes_.at(std::make_tuple(ct.level, ct.size(), ct.c1_seed.has_value()));
}

bool BundleWriter::next(std::string& out, std::size_t chunk) {
    const std::size_t before = out.size();
    if (!header_done_) {
        out.append(kBatchMagic, sizeof kBatchMagic);
        put<std::uint16_t>(out, kVersion);
        put<std::uint8_t>(out, static_cast<std::uint8_t>(kind_));
        put<std::uint64_t>(out, model_.hash());
        put<std::uint64_t>(out, batches_.size());
        header_done_ = true;
    }
    const ckks::Context& ctx = *model_.context();
    while (out.size() < chunk && batch_ < batches_.size()) {
        const engine::EncryptedBatch& b = batches_[batch_];
        if (index_ == 0) {
            put<std::int64_t>(out, b.samples);
            put<std::uint64_t>(out, b.ciphertexts.size());
        }
        if (index_ < b.ciphertexts.size()) {
            const ckks::Ciphertext& ct = b.ciphertexts[index_];
            const auto blob = ckks::save(ctx, ct, uncompressed());
            if (blob.size() != blob_size(ct)) {
                throw ServiceError("ciphertext " + std::to_string(index_) + " of batch " +
                                       std::to_string(batch_) +
                                       " serializes to another size than the bundle announced",
                                   grpc::StatusCode::INTERNAL);
            }
            put<std::uint64_t>(out, blob.size());
            out.append(reinterpret_cast<const char*>(blob.data()), blob.size());
            ++index_;
        }
        if (index_ >= b.ciphertexts.size()) {
            ++batch_;
            index_ = 0;
        }
    }
    written_ += out.size() - before;
    if (batch_ == batches_.size() && written_ != size_) {
        throw ServiceError("the bundle came to " + std::to_string(written_) + " bytes, not the " +
                               std::to_string(size_) + " announced",
                           grpc::StatusCode::INTERNAL);
    }
    return out.size() > before;
}

// ---------------------------------------------------------------------------------------------
// Reader

BundleReader::BundleReader(const engine::CompiledModel& model, engine::BundleKind kind,
                           std::uint64_t total_bytes)
    : model_(model), kind_(kind), total_(total_bytes) {}

void BundleReader::fail(const std::string& message) const {
    throw engine::FormatError(std::string(kind_ == engine::BundleKind::inputs
                                              ? "input ciphertexts"
                                              : "output ciphertexts") +
                              ": " + message);
}

std::size_t BundleReader::need() const {
    switch (state_) {
        case State::header:
            return kHeaderBytes;
        case State::batch:
            return kBatchHeaderBytes;
        case State::length:
            return kLengthBytes;
        case State::blob:
            return static_cast<std::size_t>(blob_bytes_);
        case State::done:
            break;
    }
    return 0;
}

void BundleReader::feed(std::shared_ptr<const std::string> chunk, std::vector<Blob>& complete) {
    if (!chunk) return;
    std::span<const std::uint8_t> data(reinterpret_cast<const std::uint8_t*>(chunk->data()),
                                       chunk->size());
    if (data.size() > total_ - received_) {
        fail("more bytes than the " + std::to_string(total_) + " announced");
    }
    received_ += data.size();
    while (!data.empty()) {
        if (state_ == State::done) fail("trailing bytes");
        const std::size_t field = need();
        if (pending_.empty() && data.size() >= field) {
            consume(data.first(field), complete, chunk);
            data = data.subspan(field);
            continue;
        }
        const std::size_t take = std::min(field - pending_.size(), data.size());
        pending_.append(reinterpret_cast<const char*>(data.data()), take);
        data = data.subspan(take);
        if (pending_.size() == field) {
            auto owner = std::make_shared<const std::string>(std::move(pending_));
            pending_ = std::string();
            consume(std::span<const std::uint8_t>(
                        reinterpret_cast<const std::uint8_t*>(owner->data()), owner->size()),
                    complete, owner);
        }
    }
}

void BundleReader::consume(std::span<const std::uint8_t> field, std::vector<Blob>& complete,
                           const std::shared_ptr<const std::string>& owner) {
    framed_ += field.size();
    const std::uint64_t left = total_ - framed_;
    switch (state_) {
        case State::header: {
            if (std::memcmp(field.data(), kBatchMagic, sizeof kBatchMagic) != 0) {
                fail(std::string("not a ") +
                     (kind_ == engine::BundleKind::inputs ? "input" : "output") +
                     " ciphertexts bundle (bad magic bytes)");
            }
            const auto version = get<std::uint16_t>(field, 8);
            if (version != kVersion)
                fail("format version " + std::to_string(version) + " is not supported");
            const auto kind = get<std::uint8_t>(field, 10);
            if (kind != static_cast<std::uint8_t>(kind_)) {
                fail(std::string("these are ") +
                     (kind == 1   ? "input"
                      : kind == 2 ? "output"
                                  : "unknown") +
                     " ciphertexts, " +
                     (kind_ == engine::BundleKind::inputs ? "inputs" : "outputs") +
                     " were expected");
            }
            hash_ = get<std::uint64_t>(field, 11);
            check_model_hash(
                model_, hash_,
                kind_ == engine::BundleKind::inputs ? "input ciphertexts" : "output ciphertexts");
            batches_left_ = get<std::uint64_t>(field, 19);
            if (batches_left_ > (1u << 20) || batches_left_ > left / kBatchHeaderBytes) {
                fail("truncated or corrupt: batches (" + std::to_string(batches_left_) +
                     ") exceeds the " + std::to_string(left) + " bytes left");
            }
            state_ = batches_left_ > 0 ? State::batch : State::done;
            return;
        }
        case State::batch: {
            engine::EncryptedBatch b;
            b.model_hash = hash_;
            b.samples = get<std::int64_t>(field, 0);
            if (b.samples <= 0 || b.samples > model_.batch_size()) {
                fail("a batch of " + std::to_string(b.samples) + " samples (1.." +
                     std::to_string(model_.batch_size()) + " fit one batch)");
            }
            const auto n = get<std::uint64_t>(field, 8);
            if (n > (1u << 24) || n > left / kLengthBytes) {
                fail("truncated or corrupt: ciphertexts (" + std::to_string(n) + ") exceeds the " +
                     std::to_string(left) + " bytes left");
            }
            const auto expected = static_cast<std::uint64_t>(kind_ == engine::BundleKind::inputs
                                                                 ? model_.input_ciphertexts()
                                                                 : model_.output_ciphertexts());
            if (n != expected) {
                fail(std::to_string(n) + " ciphertexts per batch, the model needs " +
                     std::to_string(expected));
            }
            b.ciphertexts.resize(n);
            batches_.push_back(std::move(b));
            index_ = 0;
            if (n > 0) {
                state_ = State::length;
            } else {
                state_ = --batches_left_ > 0 ? State::batch : State::done;
            }
            return;
        }
        case State::length: {
            blob_bytes_ = get<std::uint64_t>(field, 0);
            if (blob_bytes_ > left) {
                fail("truncated or corrupt: ciphertext (" + std::to_string(blob_bytes_) +
                     ") exceeds the " + std::to_string(left) + " bytes left");
            }
            state_ = State::blob;
            if (blob_bytes_ == 0)
                consume({}, complete, owner);  // an empty blob: parse() refuses it
            return;
        }
        case State::blob: {
            engine::EncryptedBatch& b = batches_.back();
            complete.push_back({index_, &b.ciphertexts[index_], owner, field});
            if (++index_ < b.ciphertexts.size()) {
                state_ = State::length;
            } else {
                state_ = --batches_left_ > 0 ? State::batch : State::done;
            }
            return;
        }
        case State::done:
            fail("trailing bytes");
    }
}

void BundleReader::parse(const Blob& blob) {
    try {
        *blob.target = ckks::load_ciphertext(*model_.context(), blob.bytes);
    } catch (const std::exception& e) {
        fail("ciphertext " + std::to_string(blob.index) + ": " + e.what());
    }
}

std::vector<engine::EncryptedBatch> BundleReader::finish() {
    if (received_ != total_ || state_ != State::done) {
        fail("truncated: " + std::to_string(received_) + " of " + std::to_string(total_) +
             " bytes, the bundle not complete");
    }
    std::vector<engine::EncryptedBatch> out;
    out.reserve(batches_.size());
    for (auto& b : batches_) out.push_back(std::move(b));
    batches_.clear();
    return out;
}

}  // namespace henn::service
