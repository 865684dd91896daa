// The encrypted-inference server: models without weights for clients, a per-replica key cache,
// admission control, cancellation of engine runs, output protection and metrics.
#include <omp.h>
#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <list>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "henn/ckks/errors.hpp"
#include "henn/ckks/serialization.hpp"
#include "henn/engine/errors.hpp"
#include "henn/engine/session.hpp"
#include "henn/math/parallel.hpp"
#include "henn/service/batch_stream.hpp"
#include "henn/service/inference.hpp"

namespace henn::service {

namespace v1 = henn::inference::v1;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string hex64(std::uint64_t h) {
    static const char* digits = "0123456789abcdef";
    std::string s(16, '0');
    for (int i = 15; i >= 0; --i, h >>= 4) s[i] = digits[h & 15];
    return s;
}

// A refusal with its status code (and, for the retryable ones, a machine-readable reason).
struct Refusal {
    grpc::StatusCode code;
    std::string message;
    std::string reason{};  // trailing metadata "henn-error"
};

// Appends a chunk to `out`, refusing more than `expected` bytes in all.
void append_chunk(std::vector<std::uint8_t>& out, std::string_view data, std::uint64_t expected,
                  const char* what) {
    if (out.size() + data.size() > expected) {
        throw Refusal{
            grpc::StatusCode::INVALID_ARGUMENT,
            std::string(what) + ": more bytes than the " + std::to_string(expected) + " announced"};
    }
    out.insert(out.end(), data.begin(), data.end());
}

// Input ciphertexts parsed while the request arrives: the reading thread frames each chunk
// (BundleReader::feed, no copy of a blob inside one chunk) and queues the blobs it completes; one
// parser thread loads them meanwhile; after the last byte, finish() loads what is left on the
// library's threads. On loopback the client serializes and sends while this thread parses, so
// little parsing is left when the last byte arrives.
class StreamingInputs {
  public:
    StreamingInputs(const engine::CompiledModel& model, std::uint64_t bytes)
        : reader_(model, engine::BundleKind::inputs, bytes), parser_([this] { work(); }) {}
    ~StreamingInputs() { stop(); }
    StreamingInputs(const StreamingInputs&) = delete;
    StreamingInputs& operator=(const StreamingInputs&) = delete;

    // FormatError / KeyMismatchError as soon as the framing (or an already parsed blob) is wrong.
    void feed(std::shared_ptr<const std::string> chunk) {
        std::vector<BundleReader::Blob> blobs;
        reader_.feed(std::move(chunk), blobs);
        {
            std::lock_guard lock(mutex_);
            if (error_) std::rethrow_exception(error_);
            for (auto& b : blobs) queue_.push_back(std::move(b));
        }
        if (!blobs.empty()) ready_.notify_one();
    }

    std::vector<engine::EncryptedBatch> finish() {
        stop();
        if (error_) std::rethrow_exception(error_);
        const std::vector<BundleReader::Blob> rest(queue_.begin(), queue_.end());
        queue_.clear();
        std::exception_ptr error;
#pragma omp parallel for schedule(dynamic) num_threads(math::thread_count())
        for (std::size_t i = 0; i < rest.size(); ++i) {
            try {
                reader_.parse(rest[i]);
            } catch (...) {
#pragma omp critical
                if (!error) error = std::current_exception();
            }
        }
        if (error) std::rethrow_exception(error);
        return reader_.finish();
    }

  private:
    void work() {
        // One thread: the limb loops inside a load run serially instead of forking a team per
        // ciphertext beside the threads that receive.
        omp_set_max_active_levels(0);
        for (;;) {
            BundleReader::Blob blob;
            {
                std::unique_lock lock(mutex_);
                ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
                if (stopping_ || error_) return;
                blob = std::move(queue_.front());
                queue_.pop_front();
            }
            try {
                reader_.parse(blob);
            } catch (...) {
                std::lock_guard lock(mutex_);
                if (!error_) error_ = std::current_exception();
                return;
            }
        }
    }
    void stop() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        ready_.notify_all();
        if (parser_.joinable()) parser_.join();
    }

    BundleReader reader_;
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<BundleReader::Blob> queue_;
    bool stopping_ = false;
    std::exception_ptr error_;
    std::thread parser_;  // last: starts once the members above exist
};

}  // namespace

std::string key_material_hash(std::span<const std::uint8_t> evaluation_keys,
                              std::span<const std::uint8_t> public_key) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    const bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
                    EVP_DigestUpdate(ctx, evaluation_keys.data(), evaluation_keys.size()) == 1 &&
                    EVP_DigestUpdate(ctx, public_key.data(), public_key.size()) == 1 &&
                    EVP_DigestFinal_ex(ctx, digest, &length) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) throw ServiceError("SHA-256 failed", grpc::StatusCode::INTERNAL);
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < length; ++i) {
        out.push_back(digits[digest[i] >> 4]);
        out.push_back(digits[digest[i] & 15]);
    }
    return out;
}

bool is_loopback_address(const std::string& address) {
    std::string host = address;
    if (!host.empty() && host.front() == '[') {
        host = host.substr(1, host.find(']') - 1);
    } else if (std::count(host.begin(), host.end(), ':') == 1) {
        host = host.substr(0, host.find(':'));
    }
    if (host.rfind("ipv4:", 0) == 0 || host.rfind("ipv6:", 0) == 0) host = host.substr(5);
    return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

void check_listen_policy(const ServerOptions& options, bool allow_insecure) {
    if (options.tls || allow_insecure || is_loopback_address(options.listen_address)) return;
    throw ServiceError(
        "refusing to listen without TLS on " + options.listen_address +
            ", which is not a loopback address: pass --tls-cert and --tls-key, or --insecure",
        grpc::StatusCode::FAILED_PRECONDITION);
}

void validate_options(const InferenceServerOptions& o, const std::vector<ServedModel>& models) {
    auto fail = [](const std::string& m) {
        throw ServiceError(m, grpc::StatusCode::INVALID_ARGUMENT);
    };
    if (models.empty()) fail("no model to serve");
    if (o.max_sessions < 1) fail("max sessions must be at least 1");
    if (o.max_waiting < 0) fail("max waiting must not be negative");
    if (o.chunk_bytes < 1024 || o.chunk_bytes > (16u << 20))
        fail("chunk bytes must be within 1 KiB .. 16 MiB");
    if (o.max_request_time.count() <= 0) fail("the request time limit must be positive");
    std::map<std::string, int> names;
    for (const auto& m : models) {
        if (m.name.empty() || !m.model) fail("a served model needs a name and a compiled model");
        if (++names[m.name] > 1) fail("model name '" + m.name + "' given twice");
        const std::uint64_t need =
            m.model->input_bytes_per_batch() + m.model->evaluation_key_bytes() * 2;
        if (need > o.max_request_bytes) {
            fail("model '" + m.name + "': one batch with its keys takes about " +
                 std::to_string(need) + " bytes, more than the request limit of " +
                 std::to_string(o.max_request_bytes) + "; raise --max-request-bytes");
        }
        if (m.model->evaluation_key_bytes() * 2 > o.key_cache_bytes) {
            fail("model '" + m.name + "': its evaluation keys do not fit the key cache (" +
                 std::to_string(o.key_cache_bytes) + " bytes); raise --key-cache-bytes");
        }
    }
}

// ---------------------------------------------------------------------------------------------

struct InferenceService::Impl {
    struct Model {
        std::string name;
        engine::CompiledModelPtr real, published;  // with and without weights
        std::string published_bytes;
    };
    struct Keys {
        std::string model;
        std::shared_ptr<const engine::Session> session;
        std::shared_ptr<const ckks::PublicKey> public_key;
        std::uint64_t bytes = 0;
    };

    InferenceServerOptions options;
    std::map<std::string, Model> models;
    Clock::time_point started = Clock::now();

    // Key cache: hash -> keys, most recently used first.
    mutable std::mutex cache_mutex;
    std::list<std::string> lru;
    std::unordered_map<std::string,
                       std::pair<std::shared_ptr<const Keys>, std::list<std::string>::iterator>>
        cache;
    std::uint64_t cache_bytes = 0;

    // Admission.
    std::mutex slot_mutex;
    std::condition_variable slot_free;
    int active = 0, waiting = 0;

    // Metrics.
    mutable std::mutex metrics_mutex;
    v1::MetricsResponse counters;
    std::vector<double> latencies;  // ring of the last kLatencyWindow successful Infer calls
    std::size_t latency_next = 0;
    static constexpr std::size_t kLatencyWindow = 4096;

    // Largest key material accepted for a model: twice its evaluation keys plus a public key of up
    // to 64 limbs (keys are parsed outside the session limit, so their size must be bounded here).
    static std::uint64_t key_limit(const Model& m) {
        return 2 * m.real->evaluation_key_bytes() +
               2 * 64 * m.real->context()->n() * sizeof(std::uint64_t);
    }

    const Model& model(const std::string& name) const {
        const auto it = models.find(name);
        if (it == models.end()) {
            std::string known;
            for (const auto& [n, m] : models) known += (known.empty() ? "" : ", ") + n;
            throw Refusal{grpc::StatusCode::NOT_FOUND,
                          "no model named '" + name + "' (served: " + known + ")"};
        }
        return it->second;
    }

    template <class F>
    void count(F&& f) {
        std::lock_guard lock(metrics_mutex);
        f(counters);
    }

    void notify(RequestEvent& event, const grpc::Status& status, Clock::time_point started) {
        if (!options.on_request) return;
        event.code = status.error_code();
        event.message = status.error_message();
        event.seconds = seconds_since(started);
        try {
            options.on_request(event);
        } catch (...) {
            // An observer's failure must not fail the call.
        }
    }

    grpc::Status finish(grpc::ServerContext* context, const char* rpc,
                        const std::function<void()>& body) {
        count([](v1::MetricsResponse& m) { m.set_requests(m.requests() + 1); });
        grpc::Status status;
        try {
            body();
            status = grpc::Status::OK;
        } catch (const Refusal& r) {
            if (!r.reason.empty()) context->AddTrailingMetadata("henn-error", r.reason);
            status = grpc::Status(r.code, std::string(rpc) + ": " + r.message);
        } catch (const engine::KeyMismatchError& e) {
            status = grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                  std::string(rpc) + ": " + e.what());
        } catch (const engine::FormatError& e) {
            status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                  std::string(rpc) + ": " + e.what());
        } catch (const ckks::Error& e) {
            status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                  std::string(rpc) + ": " + e.what());
        } catch (const std::bad_alloc&) {
            status = grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                  std::string(rpc) + ": out of memory");
        } catch (const std::exception& e) {
            status = grpc::Status(grpc::StatusCode::INTERNAL, std::string(rpc) + ": " + e.what());
        }
        const char* name = status_code_name(status.error_code());
        count([&](v1::MetricsResponse& m) { (*m.mutable_status_counts())[name] += 1; });
        return status;
    }

    // ---- key cache ----
    std::shared_ptr<const Keys> find_keys(const std::string& hash) {
        std::shared_ptr<const Keys> found;
        {
            std::lock_guard lock(cache_mutex);
            const auto it = cache.find(hash);
            if (it != cache.end()) {
                lru.splice(lru.begin(), lru, it->second.second);
                found = it->second.first;
            }
        }
        count([&](v1::MetricsResponse& m) {
            if (found)
                m.set_key_cache_hits(m.key_cache_hits() + 1);
            else
                m.set_key_cache_misses(m.key_cache_misses() + 1);
        });
        return found;
    }

    // Parses key material for `model` (the published model's hash is what the client's bundle
    // carries; the session runs the real model) and caches it.
    std::shared_ptr<const Keys> add_keys(const Model& model, const std::string& hash,
                                         std::span<const std::uint8_t> evaluation,
                                         std::span<const std::uint8_t> public_key) {
        engine::EvaluationKeyBundle bundle =
            engine::load_evaluation_keys(*model.published, evaluation);
        bundle.model_hash = model.real->hash();
        auto keys = std::make_shared<Keys>();
        keys->model = model.name;
        keys->session = std::make_shared<const engine::Session>(model.real, bundle);
        keys->public_key = std::make_shared<const ckks::PublicKey>(
            ckks::load_public_key(*model.real->context(), public_key));
        const ckks::Context& ctx = *model.real->context();
        std::uint64_t bytes = 0;
        if (bundle.keys->relinearization) bytes += bundle.keys->relinearization->key.bytes();
        bytes += bundle.keys->galois.bytes();
        bytes +=
            (keys->public_key->b.data.size() + keys->public_key->a.data.size()) * sizeof(ckks::u64);
        bytes += ctx.q_count() * ctx.n() * sizeof(ckks::u64);  // the session's own tables
        keys->bytes = bytes;
        if (bytes > options.key_cache_bytes) {
            throw Refusal{grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "these keys take " + std::to_string(bytes) +
                              " bytes, more than the whole key cache"};
        }
        std::uint64_t evicted = 0;
        {
            std::lock_guard lock(cache_mutex);
            const auto it = cache.find(hash);
            if (it != cache.end()) return it->second.first;  // another call added them meanwhile
            // Runs still using an evicted entry keep it alive until they finish.
            while (cache_bytes + bytes > options.key_cache_bytes && !lru.empty()) {
                const auto victim = cache.find(lru.back());
                cache_bytes -= victim->second.first->bytes;
                cache.erase(victim);
                lru.pop_back();
                ++evicted;
            }
            lru.push_front(hash);
            cache.emplace(hash, std::make_pair(std::shared_ptr<const Keys>(keys), lru.begin()));
            cache_bytes += bytes;
        }
        count([&](v1::MetricsResponse& m) {
            m.set_key_cache_evictions(m.key_cache_evictions() + evicted);
        });
        return keys;
    }

    // ---- admission ----
    class Slot {
      public:
        Slot() = default;
        explicit Slot(Impl* impl) : impl_(impl) {}
        Slot(Slot&& o) noexcept : impl_(std::exchange(o.impl_, nullptr)) {}
        ~Slot() { release(); }
        void release() {
            if (!impl_) return;
            {
                std::lock_guard lock(impl_->slot_mutex);
                --impl_->active;
            }
            impl_->slot_free.notify_one();
            impl_ = nullptr;
        }

      private:
        Impl* impl_ = nullptr;
    };

    Slot acquire(grpc::ServerContext* context, Clock::time_point deadline) {
        std::unique_lock lock(slot_mutex);
        if (active >= options.max_sessions) {
            if (waiting >= options.max_waiting) {
                count([](v1::MetricsResponse& m) { m.set_rejected_busy(m.rejected_busy() + 1); });
                throw Refusal{grpc::StatusCode::RESOURCE_EXHAUSTED,
                              "server busy: " + std::to_string(active) + " sessions running and " +
                                  std::to_string(waiting) + " waiting; retry later",
                              "busy"};
            }
            ++waiting;
            while (active >= options.max_sessions) {
                slot_free.wait_for(lock, std::chrono::milliseconds(20));
                if (context->IsCancelled() || Clock::now() > deadline) {
                    --waiting;
                    throw Refusal{grpc::StatusCode::DEADLINE_EXCEEDED,
                                  "the deadline passed while waiting for a session"};
                }
            }
            --waiting;
        }
        ++active;
        return Slot(this);
    }

    void record_latency(double seconds) {
        std::lock_guard lock(metrics_mutex);
        if (latencies.size() < kLatencyWindow)
            latencies.push_back(seconds);
        else
            latencies[latency_next] = seconds;
        latency_next = (latency_next + 1) % kLatencyWindow;
    }
};

InferenceService::InferenceService(std::vector<ServedModel> models, InferenceServerOptions options)
    : impl_(std::make_unique<Impl>()) {
    validate_options(options, models);
    impl_->options = options;
    for (auto& m : models) {
        Impl::Model entry;
        entry.name = m.name;
        entry.real = m.model;
        entry.published = m.model->without_weights();
        const auto bytes = entry.published->save();
        entry.published_bytes.assign(bytes.begin(), bytes.end());
        impl_->models.emplace(m.name, std::move(entry));
    }
    impl_->counters.set_key_cache_capacity_bytes(options.key_cache_bytes);
}

InferenceService::~InferenceService() = default;

grpc::Status InferenceService::ListModels(grpc::ServerContext* context,
                                          const v1::ListModelsRequest*,
                                          v1::ListModelsResponse* response) {
    return impl_->finish(context, "ListModels", [&] {
        for (const auto& [name, m] : impl_->models) {
            const engine::CompiledModel& c = *m.published;
            v1::ModelInfo* info = response->add_models();
            info->set_name(name);
            info->set_model_hash(hex64(c.hash()));
            info->set_compiled_bytes(m.published_bytes.size());
            info->set_input_size(c.input_size());
            info->set_output_size(c.output_size());
            info->set_batch_size(c.batch_size());
            info->set_log_n(c.context()->log_n());
            info->set_packing(engine::to_string(c.packing()));
            info->set_slot_packing(engine::to_string(c.slot_packing()));
            info->set_expected_precision_bits(m.real->expected_precision_bits());
            info->set_flooding_bits(std::max(0.0, impl_->options.flooding_bits));
            info->set_precision_after_flooding_bits(
                engine::precision_after_flooding(*m.real, impl_->options.flooding_bits));
            info->set_evaluation_key_bytes(c.evaluation_key_bytes());
            info->set_input_bytes_per_batch(c.input_bytes_per_batch());
        }
        response->set_max_request_bytes(impl_->options.max_request_bytes);
        response->set_chunk_bytes(impl_->options.chunk_bytes);
    });
}

grpc::Status InferenceService::GetModel(grpc::ServerContext* context,
                                        const v1::GetModelRequest* request,
                                        grpc::ServerWriter<v1::Chunk>* writer) {
    return impl_->finish(context, "GetModel", [&] {
        const auto& m = impl_->model(request->name());
        const std::string& bytes = m.published_bytes;
        const std::size_t chunk = impl_->options.chunk_bytes;
        for (std::size_t at = 0; at < bytes.size(); at += chunk) {
            v1::Chunk c;
            c.set_data(bytes.substr(at, chunk));
            if (!writer->Write(c))
                throw Refusal{grpc::StatusCode::CANCELLED, "the client went away"};
        }
        impl_->count(
            [&](v1::MetricsResponse& r) { r.set_bytes_sent(r.bytes_sent() + bytes.size()); });
    });
}

grpc::Status InferenceService::UploadKeys(grpc::ServerContext* context,
                                          grpc::ServerReader<v1::UploadKeysRequest>* reader,
                                          v1::UploadKeysResponse* response) {
    const auto started = Clock::now();
    RequestEvent event;
    event.rpc = "UploadKeys";
    event.keys_inline = true;
    const grpc::Status status = impl_->finish(context, "UploadKeys", [&] {
        v1::UploadKeysRequest message;
        if (!reader->Read(&message) || !message.has_header()) {
            throw Refusal{grpc::StatusCode::INVALID_ARGUMENT,
                          "the first message must be the key header"};
        }
        const v1::KeyHeader header = message.header();
        event.model = header.model();
        const auto& m = impl_->model(header.model());
        const std::uint64_t total = header.evaluation_key_bytes() + header.public_key_bytes();
        const std::uint64_t key_limit =
            std::min(impl_->options.max_request_bytes, Impl::key_limit(m));
        if (header.evaluation_key_bytes() == 0 || header.public_key_bytes() == 0 ||
            header.evaluation_key_bytes() > key_limit || header.public_key_bytes() > key_limit ||
            total > key_limit) {
            throw Refusal{grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "key sizes must be positive and at most " + std::to_string(key_limit) +
                              " bytes for this model"};
        }
        std::vector<std::uint8_t> bytes;
        while (reader->Read(&message)) {
            if (!message.has_data())
                throw Refusal{grpc::StatusCode::INVALID_ARGUMENT, "a second header"};
            append_chunk(bytes, message.data(), total, "keys");
        }
        if (context->IsCancelled())
            throw Refusal{grpc::StatusCode::CANCELLED, "cancelled by the client"};
        if (bytes.size() != total) {
            throw Refusal{grpc::StatusCode::INVALID_ARGUMENT,
                          "truncated keys: " + std::to_string(bytes.size()) + " of " +
                              std::to_string(total) + " bytes"};
        }
        impl_->count(
            [&](v1::MetricsResponse& r) { r.set_bytes_received(r.bytes_received() + total); });
        event.bytes_received = total;
        const std::span<const std::uint8_t> all(bytes);
        const auto evaluation = all.first(header.evaluation_key_bytes());
        const auto public_key = all.subspan(header.evaluation_key_bytes());
        const std::string hash = key_material_hash(evaluation, public_key);
        event.key_hash = hash.substr(0, 16);
        auto keys = impl_->find_keys(hash);
        event.keys_cached = keys != nullptr;
        if (!keys) keys = impl_->add_keys(m, hash, evaluation, public_key);
        if (keys->model != m.name) {
            throw Refusal{grpc::StatusCode::FAILED_PRECONDITION,
                          "these keys belong to model '" + keys->model + "'"};
        }
        response->set_key_hash(hash);
        response->set_cached_bytes(keys->bytes);
    });
    impl_->notify(event, status, started);
    return status;
}

grpc::Status InferenceService::Infer(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::InferResponse, v1::InferRequest>* stream) {
    const auto started = Clock::now();
    impl_->count([](v1::MetricsResponse& m) { m.set_infer_requests(m.infer_requests() + 1); });
    std::int64_t samples = 0;
    RequestEvent event;
    event.rpc = "Infer";
    const grpc::Status status = impl_->finish(context, "Infer", [&] {
        const Clock::time_point deadline = started + impl_->options.max_request_time;
        v1::InferRequest message;
        if (!stream->Read(&message) || !message.has_header()) {
            throw Refusal{grpc::StatusCode::INVALID_ARGUMENT,
                          "the first message must be the request header"};
        }
        const v1::InferHeader header = message.header();
        event.model = header.model();
        event.key_hash = header.key_hash().substr(0, 16);
        const auto& m = impl_->model(header.model());
        const std::uint64_t limit = impl_->options.max_request_bytes;
        const std::uint64_t key_bytes =
            header.keys().evaluation_key_bytes() + header.keys().public_key_bytes();
        const bool inline_keys = header.has_keys() && key_bytes > 0;
        if (header.input_bytes() == 0 || header.input_bytes() > limit ||
            header.keys().evaluation_key_bytes() > limit ||
            header.keys().public_key_bytes() > limit || header.input_bytes() + key_bytes > limit) {
            throw Refusal{grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "the request announces " +
                              std::to_string(header.input_bytes() + key_bytes) +
                              " bytes; the limit is " + std::to_string(limit)};
        }
        if (inline_keys && key_bytes > Impl::key_limit(m)) {
            throw Refusal{grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "inline keys larger than this model's keys can be"};
        }
        if (inline_keys &&
            (header.keys().evaluation_key_bytes() == 0 || header.keys().public_key_bytes() == 0)) {
            throw Refusal{grpc::StatusCode::INVALID_ARGUMENT,
                          "inline keys need both evaluation and public key bytes"};
        }
        if (inline_keys && header.keys().model() != header.model()) {
            throw Refusal{grpc::StatusCode::INVALID_ARGUMENT, "the inline keys name another model"};
        }
        std::shared_ptr<const Impl::Keys> keys;
        bool cached = false;
        if (!inline_keys) {
            keys = impl_->find_keys(header.key_hash());
            if (!keys) {
                throw Refusal{grpc::StatusCode::FAILED_PRECONDITION,
                              "unknown evaluation key hash '" + header.key_hash().substr(0, 64) +
                                  "' on this replica: upload the keys (or resend them inline)",
                              "unknown-keys"};
            }
            if (keys->model != m.name) {
                throw Refusal{
                    grpc::StatusCode::FAILED_PRECONDITION,
                    "these keys belong to model '" + keys->model + "', not '" + m.name + "'"};
            }
            cached = true;
        }
        // Admission before the payload is read: waiting calls hold no ciphertexts.
        Impl::Slot slot = impl_->acquire(context, deadline);
        const double queued = seconds_since(started);

        std::vector<std::uint8_t> key_buffer;
        key_buffer.reserve(key_bytes);  // announced and checked against the limits above
        // The inputs are parsed while they arrive (StreamingInputs); the keys come first.
        StreamingInputs inputs(*m.published, header.input_bytes());
        const std::uint64_t total = key_bytes + header.input_bytes();
        std::uint64_t received = 0;
        while (received < total && stream->Read(&message)) {
            if (!message.has_data())
                throw Refusal{grpc::StatusCode::INVALID_ARGUMENT, "a second header"};
            std::string& data = *message.mutable_data();
            if (data.size() > total - received) {
                throw Refusal{grpc::StatusCode::INVALID_ARGUMENT,
                              "more bytes than the " + std::to_string(total) + " announced"};
            }
            std::size_t used = 0;
            if (received < key_bytes) {
                used = std::min<std::uint64_t>(data.size(), key_bytes - received);
                key_buffer.insert(key_buffer.end(), data.begin(),
                                  data.begin() + static_cast<std::ptrdiff_t>(used));
            }
            received += data.size();
            if (used == 0) {
                inputs.feed(std::make_shared<const std::string>(std::move(data)));
            } else if (used < data.size()) {
                inputs.feed(std::make_shared<const std::string>(data.substr(used)));
            }
        }
        if (context->IsCancelled())
            throw Refusal{grpc::StatusCode::CANCELLED, "cancelled by the client"};
        const double receive = seconds_since(started) - queued;  // to the last byte
        if (received != total) {
            throw Refusal{grpc::StatusCode::INVALID_ARGUMENT,
                          "truncated request: " + std::to_string(received) + " of " +
                              std::to_string(total) + " bytes"};
        }
        impl_->count(
            [&](v1::MetricsResponse& r) { r.set_bytes_received(r.bytes_received() + total); });
        event.bytes_received = total;
        event.keys_inline = inline_keys;
        if (inline_keys) {
            const std::span<const std::uint8_t> all(key_buffer);
            const auto evaluation = all.first(header.keys().evaluation_key_bytes());
            const auto public_key = all.subspan(header.keys().evaluation_key_bytes());
            const std::string hash = key_material_hash(evaluation, public_key);
            keys = impl_->find_keys(hash);
            cached = keys != nullptr;
            if (!keys) keys = impl_->add_keys(m, hash, evaluation, public_key);
            if (keys->model != m.name) {
                throw Refusal{grpc::StatusCode::FAILED_PRECONDITION,
                              "these keys belong to model '" + keys->model + "'"};
            }
            key_buffer = {};
        }

        // The client's batches carry the published model's hash; the session runs the real one.
        const auto parse_start = Clock::now();
        auto batches = inputs.finish();
        const double parse = seconds_since(parse_start);
        const auto compute_start = Clock::now();
        std::atomic<bool> cancel{false}, done{false};
        std::thread watcher([&] {
            while (!done.load()) {
                if (context->IsCancelled() || Clock::now() > deadline) {
                    cancel.store(true);
                    return;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
        });
        std::vector<engine::EncryptedBatch> outputs;
        try {
            engine::RunOptions run;
            run.cancel = &cancel;
            engine::FloodingOptions flooding;
            flooding.bits = impl_->options.flooding_bits;
            for (auto& batch : batches) {
                samples += batch.samples;
                batch.model_hash = m.real->hash();
                engine::EncryptedBatch out = keys->session->run(std::move(batch), run);
                engine::protect_outputs(*m.real, *keys->public_key, out, flooding);
                out.model_hash = m.published->hash();
                outputs.push_back(std::move(out));
            }
        } catch (const engine::EngineError& e) {
            done.store(true);
            watcher.join();
            if (cancel.load()) {
                impl_->count([](v1::MetricsResponse& r) {
                    r.set_sessions_cancelled(r.sessions_cancelled() + 1);
                });
                if (context->IsCancelled())
                    throw Refusal{grpc::StatusCode::CANCELLED, "cancelled by the client"};
                throw Refusal{grpc::StatusCode::DEADLINE_EXCEEDED,
                              "the server's time limit for one request passed"};
            }
            throw;
        } catch (...) {
            done.store(true);
            watcher.join();
            throw;
        }
        done.store(true);
        watcher.join();
        batches.clear();
        const auto bytes = engine::save_batches(*m.published, outputs, engine::BundleKind::outputs);
        outputs.clear();
        const double compute = seconds_since(compute_start);
        slot.release();  // streaming the reply needs no CPU slot

        v1::InferResponse reply;
        auto* result = reply.mutable_result();
        result->set_output_bytes(bytes.size());
        result->set_seconds_queued(queued);
        result->set_seconds_compute(compute);
        result->set_seconds_receive(receive);
        result->set_seconds_parse(parse);
        result->set_samples(samples);
        result->set_keys_cached(cached);
        if (!stream->Write(reply))
            throw Refusal{grpc::StatusCode::CANCELLED, "the client went away"};
        const std::size_t chunk = impl_->options.chunk_bytes;
        for (std::size_t at = 0; at < bytes.size(); at += chunk) {
            v1::InferResponse part;
            part.set_data(bytes.data() + at, std::min(chunk, bytes.size() - at));
            if (!stream->Write(part))
                throw Refusal{grpc::StatusCode::CANCELLED, "the client went away"};
        }
        impl_->count(
            [&](v1::MetricsResponse& r) { r.set_bytes_sent(r.bytes_sent() + bytes.size()); });
        event.bytes_sent = bytes.size();
        event.keys_cached = cached;
    });
    event.samples = samples;
    impl_->notify(event, status, started);
    if (status.ok()) {
        impl_->record_latency(seconds_since(started));
        impl_->count([&](v1::MetricsResponse& r) {
            r.set_samples(r.samples() + static_cast<std::uint64_t>(samples));
        });
    } else {
        impl_->count([](v1::MetricsResponse& r) { r.set_infer_failures(r.infer_failures() + 1); });
    }
    return status;
}

grpc::Status InferenceService::Health(grpc::ServerContext* context, const v1::HealthRequest*,
                                      v1::HealthResponse* response) {
    return impl_->finish(context, "Health", [&] {
        response->set_status("SERVING");
        response->set_uptime_seconds(seconds_since(impl_->started));
        for (const auto& [name, m] : impl_->models) response->add_models(name);
    });
}

v1::MetricsResponse InferenceService::metrics() const {
    v1::MetricsResponse out;
    std::vector<double> sorted;
    {
        std::lock_guard lock(impl_->metrics_mutex);
        out = impl_->counters;
        sorted = impl_->latencies;
    }
    {
        std::lock_guard lock(impl_->cache_mutex);
        out.set_key_cache_bytes(impl_->cache_bytes);
        out.set_key_cache_entries(impl_->cache.size());
    }
    {
        std::lock_guard lock(impl_->slot_mutex);
        out.set_sessions_active(static_cast<std::uint32_t>(impl_->active));
        out.set_sessions_waiting(static_cast<std::uint32_t>(impl_->waiting));
    }
    std::sort(sorted.begin(), sorted.end());
    auto* latency = out.mutable_infer_latency();
    latency->set_count(sorted.size());
    if (!sorted.empty()) {
        auto at = [&](double q) {
            return sorted[std::min(sorted.size() - 1, static_cast<std::size_t>(
                                                          q * static_cast<double>(sorted.size())))];
        };
        latency->set_p50_seconds(at(0.50));
        latency->set_p95_seconds(at(0.95));
        latency->set_p99_seconds(at(0.99));
        latency->set_max_seconds(sorted.back());
    }
    return out;
}

grpc::Status InferenceService::Metrics(grpc::ServerContext* context, const v1::MetricsRequest*,
                                       v1::MetricsResponse* response) {
    return impl_->finish(context, "Metrics", [&] { *response = metrics(); });
}

}  // namespace henn::service
