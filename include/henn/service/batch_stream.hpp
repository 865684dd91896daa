// Ciphertext bundles on the wire, piece by piece: the layout of engine::save_batches (magic
// "HENNBTCH", version 1, kind, model hash, batch count; per batch its sample and ciphertext
// counts; per ciphertext a length and a ckks blob), written and read a chunk at a time so that a
// client serializes while it sends and a server parses while it receives.
//
// BundleWriter stores every ciphertext uncompressed (zstd gains nothing on ciphertexts, which look
// random, and costs a context per blob on both sides); engine::load_batches reads its bytes.
// BundleReader reads any bundle engine::save_batches writes, with the same checks and the same
// errors as engine::load_batches (FormatError, KeyMismatchError for another model's hash).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "henn/engine/client.hpp"
#include "henn/engine/compiled_model.hpp"

namespace henn::service {

class BundleWriter {
  public:
    // The batches must outlive the writer. Ciphertexts of one shape (level, polynomial count,
    // seeded c_1) serialize to the same size, so the total is known after one ciphertext of each
    // shape; a ciphertext that then differs fails next() with ServiceError (INTERNAL).
    BundleWriter(const engine::CompiledModel& model,
                 std::span<const engine::EncryptedBatch> batches, engine::BundleKind kind);

    // Bytes of the whole bundle.
    std::uint64_t size() const { return size_; }
    // Appends the next bytes to `out` until it holds at least `chunk` bytes or the bundle ends (a
    // ciphertext blob is appended whole); false once everything was written.
    bool next(std::string& out, std::size_t chunk);

  private:
    std::uint64_t blob_size(const ckks::Ciphertext& ct) const;
    const engine::CompiledModel& model_;
    std::span<const engine::EncryptedBatch> batches_;
    engine::BundleKind kind_;
    std::map<std::tuple<int, std::size_t, bool>, std::uint64_t> shape_bytes_;
    std::uint64_t size_ = 0, written_ = 0;
    bool header_done_ = false;
    std::size_t batch_ = 0, index_ = 0;
};

class BundleReader {
  public:
    // A ciphertext blob framed but not parsed yet: parse() it, from any thread.
    struct Blob {
        std::size_t index = 0;                     // within its batch
        ckks::Ciphertext* target = nullptr;        // where parse() puts it
        std::shared_ptr<const std::string> owner;  // keeps `bytes` alive
        std::span<const std::uint8_t> bytes;
    };

    // `total_bytes`: the announced size of the bundle (bounds every count read from it).
    BundleReader(const engine::CompiledModel& model, engine::BundleKind kind,
                 std::uint64_t total_bytes);

    // Frames the next bytes of the bundle and appends the ciphertext blobs they complete to
    // `complete` (a blob inside one chunk stays in that chunk, no copy). FormatError or
    // KeyMismatchError as soon as the framing is wrong.
    void feed(std::shared_ptr<const std::string> chunk, std::vector<Blob>& complete);
    // Loads one framed blob into its batch; blobs of one reader may be parsed concurrently.
    void parse(const Blob& blob);
    // After the last byte and every blob parsed: the batches (FormatError if the bundle is
    // incomplete or longer than its content).
    std::vector<engine::EncryptedBatch> finish();

  private:
    enum class State { header, batch, length, blob, done };
    std::size_t need() const;
    void consume(std::span<const std::uint8_t> field, std::vector<Blob>& complete,
                 const std::shared_ptr<const std::string>& owner);
    [[noreturn]] void fail(const std::string& message) const;

    const engine::CompiledModel& model_;
    engine::BundleKind kind_;
    std::uint64_t total_ = 0, received_ = 0, framed_ = 0;
    State state_ = State::header;
    std::string pending_;  // a field or blob split across chunks
    std::uint64_t blob_bytes_ = 0, batches_left_ = 0, hash_ = 0;
    std::deque<engine::EncryptedBatch> batches_;  // stable addresses while blobs are parsed
    std::size_t index_ = 0;                       // next ciphertext of the current batch
};

}  // namespace henn::service
