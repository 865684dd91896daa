// The encrypted-inference client: key store, model fetch, key upload, streamed Infer calls with
// transparent re-upload and retries, and the whole encrypt -> infer -> decrypt pipeline.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <fstream>
#include <mutex>
#include <thread>

#include "henn/ckks/serialization.hpp"
#include "henn/engine/errors.hpp"
#include "henn/math/random.hpp"
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

std::vector<std::uint8_t> read_bytes(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw ServiceError("cannot read " + path.string(), grpc::StatusCode::FAILED_PRECONDITION);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Written to a temporary file created with its final mode, then renamed into place: a secret key
// is never readable by others, not even for a moment, and a crash leaves no half-written key.
void write_bytes(const std::filesystem::path& path, std::span<const std::uint8_t> bytes,
                 mode_t mode) {
    const std::filesystem::path temporary = path.string() + ".partial";
    std::filesystem::remove(temporary);
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        throw ServiceError("cannot create " + temporary.string(),
                           grpc::StatusCode::FAILED_PRECONDITION);
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (w <= 0) {
            ::close(fd);
            std::filesystem::remove(temporary);
            throw ServiceError("cannot write " + temporary.string(),
                               grpc::StatusCode::FAILED_PRECONDITION);
        }
        done += static_cast<std::size_t>(w);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
        throw ServiceError("cannot write " + temporary.string(),
                           grpc::StatusCode::FAILED_PRECONDITION);
    }
    std::filesystem::rename(temporary, path);
}

std::string trailing(const grpc::ClientContext& context, const std::string& key) {
    const auto& metadata = context.GetServerTrailingMetadata();
    const auto it = metadata.find(key);
    return it == metadata.end() ? std::string() : std::string(it->second.data(), it->second.size());
}

}  // namespace

KeyMaterial make_key_material(const engine::Client& client) {
    KeyMaterial k;
    k.evaluation_keys = engine::save_evaluation_keys(client.model(), client.evaluation_keys());
    k.public_key = ckks::save(*client.model().context(), client.public_key());
    k.hash = key_material_hash(k.evaluation_keys, k.public_key);
    return k;
}

StoredKeys load_or_create_keys(const engine::CompiledModelPtr& model,
                               const std::filesystem::path& directory) {
    std::filesystem::create_directories(directory);
    std::filesystem::permissions(directory, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::replace);
    const std::string stem = hex64(model->hash());
    const auto secret_path = directory / (stem + ".secret");
    const auto evaluation_path = directory / (stem + ".evaluation");
    const auto public_path = directory / (stem + ".public");
    StoredKeys stored;
    if (std::filesystem::exists(secret_path)) {
        struct stat st {};
        if (::stat(secret_path.c_str(), &st) != 0 || (st.st_mode & 077) != 0) {
            throw ServiceError(
                secret_path.string() +
                    " is readable by others: chmod 600 it (or delete it for new keys)",
                grpc::StatusCode::FAILED_PRECONDITION);
        }
        auto secret = read_bytes(secret_path);
        try {
            stored.client = std::make_unique<engine::Client>(model, secret);
        } catch (...) {
            math::secure_wipe(secret.data(), secret.size());
            throw;
        }
        math::secure_wipe(secret.data(), secret.size());
        if (std::filesystem::exists(evaluation_path) && std::filesystem::exists(public_path)) {
            stored.material.evaluation_keys = read_bytes(evaluation_path);
            stored.material.public_key = read_bytes(public_path);
            stored.material.hash =
                key_material_hash(stored.material.evaluation_keys, stored.material.public_key);
            return stored;
        }
    } else {
        stored.client = std::make_unique<engine::Client>(model);
        auto secret = stored.client->save_secret_key();
        write_bytes(secret_path, secret, 0600);
        math::secure_wipe(secret.data(), secret.size());
        stored.created = true;
    }
    stored.material = make_key_material(*stored.client);
    write_bytes(evaluation_path, stored.material.evaluation_keys, 0644);
    write_bytes(public_path, stored.material.public_key, 0644);
    return stored;
}

InferenceClient::InferenceClient(const ChannelOptions& options)
    : options_(options), channel_(connect(options)), stub_(v1::Inference::NewStub(channel_)) {}

std::vector<RemoteModelInfo> InferenceClient::list_models() {
    v1::ListModelsResponse response;
    auto context = make_context(options_.call_timeout);
    check(stub_->ListModels(context.get(), v1::ListModelsRequest(), &response), "ListModels");
    max_request_bytes_ = response.max_request_bytes();
    chunk_bytes_ = std::clamp<std::uint32_t>(response.chunk_bytes(), 1024, 4u << 20);
    std::vector<RemoteModelInfo> out;
    for (const auto& m : response.models()) {
        RemoteModelInfo i;
        i.name = m.name();
        i.model_hash = m.model_hash();
        i.packing = m.packing();
        i.slot_packing = m.slot_packing();
        i.compiled_bytes = m.compiled_bytes();
        i.evaluation_key_bytes = m.evaluation_key_bytes();
        i.input_bytes_per_batch = m.input_bytes_per_batch();
        i.input_size = m.input_size();
        i.output_size = m.output_size();
        i.batch_size = m.batch_size();
        i.log_n = m.log_n();
        i.expected_precision_bits = m.expected_precision_bits();
        i.flooding_bits = m.flooding_bits();
        i.precision_after_flooding_bits = m.precision_after_flooding_bits();
        out.push_back(std::move(i));
    }
    return out;
}

std::uint64_t InferenceClient::max_request_bytes() {
    if (!max_request_bytes_) list_models();
    return *max_request_bytes_;
}

engine::CompiledModelPtr InferenceClient::fetch_model(const std::string& name) {
    const auto models = list_models();
    const auto it = std::find_if(models.begin(), models.end(),
                                 [&](const RemoteModelInfo& m) { return m.name == name; });
    if (it == models.end()) {
        std::string known;
        for (const auto& m : models) known += (known.empty() ? "" : ", ") + m.name;
        throw ServiceError(
            "the server has no model named '" + name + "' (it serves: " + known + ")",
            grpc::StatusCode::NOT_FOUND);
    }
    auto context = make_context(options_.call_timeout);
    v1::GetModelRequest request;
    request.set_name(name);
    auto reader = stub_->GetModel(context.get(), request);
    std::vector<std::uint8_t> bytes;
    v1::Chunk chunk;
    while (reader->Read(&chunk)) {
        if (bytes.size() + chunk.data().size() > it->compiled_bytes) {
            context->TryCancel();
            reader->Finish();
            throw ServiceError("GetModel: more bytes than the model's announced size",
                               grpc::StatusCode::INVALID_ARGUMENT);
        }
        bytes.insert(bytes.end(), chunk.data().begin(), chunk.data().end());
    }
    check(reader->Finish(), "GetModel");
    auto model = engine::CompiledModel::load(bytes);
    if (hex64(model->hash()) != it->model_hash) {
        throw ServiceError("GetModel: the model received does not have the hash the server lists",
                           grpc::StatusCode::DATA_LOSS);
    }
    return model;
}

std::string InferenceClient::upload_keys(const std::string& model, const KeyMaterial& keys) {
    if (!max_request_bytes_) list_models();
    auto context = make_context(options_.call_timeout);
    v1::UploadKeysResponse response;
    auto writer = stub_->UploadKeys(context.get(), &response);
    v1::UploadKeysRequest header;
    header.mutable_header()->set_model(model);
    header.mutable_header()->set_evaluation_key_bytes(keys.evaluation_keys.size());
    header.mutable_header()->set_public_key_bytes(keys.public_key.size());
    bool open = writer->Write(header);
    for (const auto* part : {&keys.evaluation_keys, &keys.public_key}) {
        for (std::size_t at = 0; open && at < part->size(); at += chunk_bytes_) {
            v1::UploadKeysRequest data;
            data.set_data(part->data() + at,
                          std::min<std::size_t>(chunk_bytes_, part->size() - at));
            open = writer->Write(data);
        }
    }
    writer->WritesDone();
    check(writer->Finish(), "UploadKeys");
    if (response.key_hash() != keys.hash) {
        throw ServiceError("UploadKeys: the server computed another key hash",
                           grpc::StatusCode::DATA_LOSS);
    }
    return response.key_hash();
}

InferenceClient::CallResult InferenceClient::infer_bundle(const std::string& model,
                                                          const KeyMaterial& keys,
                                                          std::span<const std::uint8_t> inputs,
                                                          const InferOptions& options) {
    if (!max_request_bytes_) list_models();
    return call(
        model, keys, inputs.size(),
        [&](const Send& send) {
            for (std::size_t at = 0; at < inputs.size(); at += chunk_bytes_) {
                const auto part =
                    inputs.subspan(at, std::min<std::size_t>(chunk_bytes_, inputs.size() - at));
                if (!send(std::string(part.begin(), part.end()))) return 0.0;
            }
            return 0.0;
        },
        options);
}

InferenceClient::CallResult InferenceClient::infer_batches(
    const std::string& model, const KeyMaterial& keys,
    std::span<const engine::EncryptedBatch> batches, const engine::CompiledModel& compiled,
    const InferOptions& options) {
    if (!max_request_bytes_) list_models();
    const std::size_t chunk = chunk_bytes_;
    const std::uint64_t size = BundleWriter(compiled, batches, engine::BundleKind::inputs).size();
    // A serializer thread writes the bundle a chunk ahead of the sender (at most kAhead chunks
    // queued), so serialization overlaps the upload and, on the server, the parsing.
    return call(
        model, keys, size,
        [&](const Send& send) {
            constexpr std::size_t kAhead = 4;
            std::mutex mutex;
            std::condition_variable changed;
            std::deque<std::string> ready;
            bool finished = false, stop = false;
            std::exception_ptr error;
            double serialize = 0;
            std::thread serializer([&] {
                try {
                    BundleWriter writer(compiled, batches, engine::BundleKind::inputs);
                    std::string buffer;
                    bool more = true;
                    while (more || !buffer.empty()) {
                        const auto t = Clock::now();
                        more = more && writer.next(buffer, chunk);
                        serialize += seconds_since(t);
                        // Messages of exactly `chunk` bytes (the last one shorter).
                        const std::size_t take = std::min(chunk, buffer.size());
                        std::string part = buffer.substr(0, take);
                        buffer.erase(0, take);
                        if (part.empty()) break;
                        std::unique_lock lock(mutex);
                        changed.wait(lock, [&] { return stop || ready.size() < kAhead; });
                        if (stop) return;
                        ready.push_back(std::move(part));
                        changed.notify_all();
                    }
                } catch (...) {
                    std::lock_guard lock(mutex);
                    error = std::current_exception();
                }
                std::lock_guard lock(mutex);
                finished = true;
                changed.notify_all();
            });
            for (;;) {
                std::string part;
                {
                    std::unique_lock lock(mutex);
                    changed.wait(lock, [&] { return finished || !ready.empty(); });
                    if (ready.empty()) break;
                    part = std::move(ready.front());
                    ready.pop_front();
                    changed.notify_all();
                }
                if (!send(std::move(part))) break;
            }
            {
                std::lock_guard lock(mutex);
                stop = true;
                changed.notify_all();
            }
            serializer.join();
            if (error) std::rethrow_exception(error);
            return serialize;
        },
        options);
}

InferenceClient::CallResult InferenceClient::call(const std::string& model, const KeyMaterial& keys,
                                                  std::uint64_t input_bytes,
                                                  const Producer& produce,
                                                  const InferOptions& options) {
    CallResult result;
    // Behind a round-robin balancer the retry after an unknown-keys refusal may land on a replica
    // that already holds the keys while the one that refused still does not: keys go inline until
    // several calls in a row found them cached, so every replica gets them.
    bool send_keys = inline_calls_left_.load() > 0;
    int busy_retries = 0;
    for (;;) {
        auto context = make_context(options.call_timeout);
        auto stream = stub_->Infer(context.get());
        v1::InferRequest header;
        auto* h = header.mutable_header();
        h->set_model(model);
        h->set_key_hash(keys.hash);
        h->set_input_bytes(input_bytes);
        if (send_keys) {
            h->mutable_keys()->set_model(model);
            h->mutable_keys()->set_evaluation_key_bytes(keys.evaluation_keys.size());
            h->mutable_keys()->set_public_key_bytes(keys.public_key.size());
        }
        const auto t0 = Clock::now();
        bool open = stream->Write(header);
        auto send = [&](std::span<const std::uint8_t> bytes) {
            for (std::size_t at = 0; open && at < bytes.size(); at += chunk_bytes_) {
                v1::InferRequest part;
                part.set_data(bytes.data() + at,
                              std::min<std::size_t>(chunk_bytes_, bytes.size() - at));
                open = stream->Write(part);
            }
        };
        if (send_keys) {
            send(keys.evaluation_keys);
            send(keys.public_key);
        }
        double serialize = 0;
        try {
            if (open) {
                serialize = produce([&](std::string&& data) {
                    v1::InferRequest part;
                    part.set_data(std::move(data));
                    open = open && stream->Write(part);
                    return open;
                });
            }
        } catch (...) {  // the inputs could not be serialized: end the call before leaving
            context->TryCancel();
            stream->Finish();
            throw;
        }
        if (open) stream->WritesDone();
        const auto t1 = Clock::now();
        v1::InferResponse reply;
        std::vector<std::uint8_t> outputs;
        bool have_result = false;
        v1::InferResult info;
        Clock::time_point t2 = Clock::now();
        while (stream->Read(&reply)) {
            if (reply.has_result()) {
                if (have_result) break;
                have_result = true;
                info = reply.result();
                t2 = Clock::now();
                if (info.output_bytes() > (std::uint64_t{1} << 34)) break;
                outputs.reserve(info.output_bytes());
            } else if (have_result && outputs.size() + reply.data().size() <= info.output_bytes()) {
                outputs.insert(outputs.end(), reply.data().begin(), reply.data().end());
            } else {
                context->TryCancel();
                break;
            }
        }
        const grpc::Status status = stream->Finish();
        if (status.ok()) {
            if (!have_result || outputs.size() != info.output_bytes()) {
                throw ServiceError("Infer: the reply was cut short (" +
                                       std::to_string(outputs.size()) + " of " +
                                       std::to_string(info.output_bytes()) + " bytes)",
                                   grpc::StatusCode::DATA_LOSS);
            }
            result.outputs = std::move(outputs);
            result.input_bytes = input_bytes;
            result.seconds_upload += std::chrono::duration<double>(t1 - t0).count();
            result.seconds_serialize += serialize;
            result.seconds_wait += std::chrono::duration<double>(t2 - t1).count();
            result.seconds_download += seconds_since(t2);
            result.seconds_server += info.seconds_compute();
            result.seconds_server_queue += info.seconds_queued();
            result.seconds_server_receive += info.seconds_receive();
            result.seconds_server_parse += info.seconds_parse();
            if (send_keys) {
                result.key_bytes_sent += keys.evaluation_keys.size() + keys.public_key.size();
                if (!info.keys_cached()) ++result.key_uploads;
                if (info.keys_cached()) {
                    int left = inline_calls_left_.load();
                    while (left > 0 && !inline_calls_left_.compare_exchange_weak(left, left - 1)) {
                    }
                } else {
                    inline_calls_left_.store(kInlineCallsAfterMiss);
                }
            }
            return result;
        }
        const std::string reason = trailing(*context, "henn-error");
        if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION &&
            reason == "unknown-keys" && !send_keys) {
            send_keys =
                true;  // this replica has not seen the keys (or evicted them): resend inline
            inline_calls_left_.store(kInlineCallsAfterMiss);
            continue;
        }
        const bool transient =
            status.error_code() == grpc::StatusCode::UNAVAILABLE ||
            (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED && reason == "busy");
        if (transient && busy_retries < options.max_retries) {
            ++busy_retries;
            ++result.retries;
            std::this_thread::sleep_for(std::chrono::milliseconds(100) *
                                        (1 << std::min(busy_retries, 6)));
            send_keys = inline_calls_left_.load() > 0;
            continue;
        }
        check(status, "Infer");
    }
}

InferReport InferenceClient::infer(const std::string& model, const engine::Client& client,
                                   const KeyMaterial& keys, std::span<const double> inputs,
                                   std::int64_t count, const InferOptions& options) {
    const engine::CompiledModel& compiled = client.model();
    InferReport report;
    report.samples = count;
    const auto started = Clock::now();
    auto t = started;
    std::vector<engine::EncryptedBatch> batches = client.encrypt(inputs, count);
    report.seconds_encrypt = seconds_since(t);
    report.batches = static_cast<std::int64_t>(batches.size());

    std::size_t per_request = static_cast<std::size_t>(std::max(0, options.batches_per_request));
    if (per_request == 0) {
        const std::uint64_t key_bytes = keys.evaluation_keys.size() + keys.public_key.size();
        const std::uint64_t limit = max_request_bytes();
        const std::uint64_t budget = limit > key_bytes ? limit - key_bytes : 0;
        per_request = std::max<std::size_t>(
            1, budget / std::max<std::uint64_t>(1, compiled.input_bytes_per_batch()));
    }
    struct Group {
        std::size_t first = 0, count = 0;
        std::int64_t samples = 0;
        std::vector<std::uint8_t> outputs;
    };
    std::vector<Group> groups;
    for (std::size_t b = 0; b < batches.size(); b += per_request) {
        Group g;
        g.first = b;
        g.count = std::min(per_request, batches.size() - b);
        for (std::size_t i = 0; i < g.count; ++i) g.samples += batches[b + i].samples;
        groups.push_back(std::move(g));
    }
    report.requests = static_cast<std::int64_t>(groups.size());

    std::mutex mutex;
    std::atomic<std::size_t> next{0};
    std::atomic<bool> failed{false};
    std::exception_ptr error;
    std::int64_t done_samples = 0;
    const auto network_start = Clock::now();
    auto worker = [&] {
        for (;;) {
            const std::size_t g = next.fetch_add(1);
            if (g >= groups.size() || failed.load()) return;
            try {
                const auto group = std::span<const engine::EncryptedBatch>(batches).subspan(
                    groups[g].first, groups[g].count);
                CallResult call = infer_batches(model, keys, group, compiled, options);
                const std::uint64_t bytes_up = call.input_bytes;
                for (std::size_t i = 0; i < groups[g].count; ++i)
                    batches[groups[g].first + i] = engine::EncryptedBatch();
                std::lock_guard lock(mutex);
                report.seconds_encrypt += call.seconds_serialize;
                report.seconds_serialize += call.seconds_serialize;
                report.seconds_upload += call.seconds_upload;
                report.seconds_wait += call.seconds_wait;
                report.seconds_download += call.seconds_download;
                report.seconds_server += call.seconds_server;
                report.seconds_server_queue += call.seconds_server_queue;
                report.seconds_server_receive += call.seconds_server_receive;
                report.seconds_server_parse += call.seconds_server_parse;
                report.bytes_up += bytes_up;
                report.bytes_down += call.outputs.size();
                report.key_bytes_up += call.key_bytes_sent;
                report.key_uploads += call.key_uploads;
                report.retries += call.retries;
                groups[g].outputs = std::move(call.outputs);
                done_samples += groups[g].samples;
                if (options.progress) options.progress(done_samples, count);
            } catch (...) {
                std::lock_guard lock(mutex);
                if (!error) error = std::current_exception();
                failed.store(true);
                return;
            }
        }
    };
    const int threads = std::clamp(options.concurrency, 1, 64);
    std::vector<std::thread> pool;
    for (int i = 1; i < threads; ++i) pool.emplace_back(worker);
    worker();
    for (auto& thread : pool) thread.join();
    if (error) std::rethrow_exception(error);
    report.seconds_network_wall = seconds_since(network_start);

    t = Clock::now();
    std::vector<engine::EncryptedBatch> outputs;
    for (auto& g : groups) {
        auto part = engine::load_batches(compiled, g.outputs, engine::BundleKind::outputs);
        if (part.size() != g.count)
            throw ServiceError("Infer: the server returned another number of batches",
                               grpc::StatusCode::DATA_LOSS);
        std::int64_t samples = 0;
        for (const auto& b : part) samples += b.samples;
        if (samples != g.samples)
            throw ServiceError("Infer: the server returned another number of samples",
                               grpc::StatusCode::DATA_LOSS);
        for (auto& b : part) outputs.push_back(std::move(b));
        g.outputs = {};
    }
    report.outputs = client.decrypt(outputs);
    report.seconds_decrypt = seconds_since(t);
    report.seconds_total = seconds_since(started);
    return report;
}

v1::HealthResponse InferenceClient::health() {
    v1::HealthResponse response;
    auto context = make_context(options_.call_timeout);
    check(stub_->Health(context.get(), v1::HealthRequest(), &response), "Health");
    return response;
}

v1::MetricsResponse InferenceClient::metrics() {
    v1::MetricsResponse response;
    auto context = make_context(options_.call_timeout);
    check(stub_->Metrics(context.get(), v1::MetricsRequest(), &response), "Metrics");
    return response;
}

}  // namespace henn::service
