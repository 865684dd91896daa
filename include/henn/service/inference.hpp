// Encrypted inference as a service: the server (`henn serve`) and the client API (`henn client`).
//
// The server publishes compiled models without their weights (CompiledModel::without_weights),
// keeps each client's evaluation keys in a per-replica cache keyed by a content hash (SHA-256,
// least recently used evicted, bounded in bytes), runs the engine on streamed input ciphertexts
// and streams the outputs back, re-randomized and noise-flooded (engine/model_privacy.hpp). A
// request naming a key hash this replica does not hold fails with FAILED_PRECONDITION and the
// trailing metadata "henn-error: unknown-keys"; the client then resends with the keys inline,
// so replicas share no state. Protocol: service/proto/inference.proto.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "henn/engine/client.hpp"
#include "henn/engine/compiled_model.hpp"
#include "henn/engine/model_privacy.hpp"
#include "henn/service/grpc_common.hpp"
#include "henn/service/inference.grpc.pb.h"

namespace henn::service {

// ---------------------------------------------------------------------------------------------
// Server

struct ServedModel {
    std::string name;
    engine::CompiledModelPtr model;  // with its weights: never sent
};

struct RequestEvent {
    std::string rpc, model, key_hash;  // key hash: first 16 hex digits
    grpc::StatusCode code = grpc::StatusCode::OK;
    std::string message;
    std::uint64_t bytes_received = 0, bytes_sent = 0;
    std::int64_t samples = 0;
    bool keys_inline = false, keys_cached = false;
    double seconds = 0;
};

struct InferenceServerOptions {
    // Keys plus inputs of one Infer call; must hold at least one batch of every model.
    std::uint64_t max_request_bytes = std::uint64_t{2} << 30;
    // Memory of the evaluation keys cached (all clients, all models); least recently used evicted.
    std::uint64_t key_cache_bytes = std::uint64_t{4} << 30;
    // Engine runs at once, and calls that may wait for one (beyond: RESOURCE_EXHAUSTED).
    int max_sessions = 2;
    int max_waiting = 16;
    // Longest an Infer call may take on the server, whatever deadline the client set.
    std::chrono::milliseconds max_request_time{std::chrono::minutes(10)};
    // Largest data chunk sent or accepted.
    std::uint32_t chunk_bytes = 1u << 20;
    // Output noise flooding in bits above the expected error (<= 0: re-randomization only).
    double flooding_bits = engine::kDefaultFloodingBits;
    // Called after every UploadKeys and Infer call (from the call's thread): what the server saw.
    std::function<void(const RequestEvent&)> on_request{};
};

// Default options with every limit checked against the models (throws ServiceError with what to
// change when a model's batch cannot fit a request or its keys the cache).
void validate_options(const InferenceServerOptions& options,
                      const std::vector<ServedModel>& models);

class InferenceService final : public henn::inference::v1::Inference::Service {
  public:
    InferenceService(std::vector<ServedModel> models, InferenceServerOptions options = {});
    ~InferenceService() override;

    grpc::Status ListModels(grpc::ServerContext*, const henn::inference::v1::ListModelsRequest*,
                            henn::inference::v1::ListModelsResponse*) override;
    grpc::Status GetModel(grpc::ServerContext*, const henn::inference::v1::GetModelRequest*,
                          grpc::ServerWriter<henn::inference::v1::Chunk>*) override;
    grpc::Status UploadKeys(grpc::ServerContext*,
                            grpc::ServerReader<henn::inference::v1::UploadKeysRequest>*,
                            henn::inference::v1::UploadKeysResponse*) override;
    grpc::Status Infer(grpc::ServerContext*,
                       grpc::ServerReaderWriter<henn::inference::v1::InferResponse,
                                                henn::inference::v1::InferRequest>*) override;
    grpc::Status Health(grpc::ServerContext*, const henn::inference::v1::HealthRequest*,
                        henn::inference::v1::HealthResponse*) override;
    grpc::Status Metrics(grpc::ServerContext*, const henn::inference::v1::MetricsRequest*,
                         henn::inference::v1::MetricsResponse*) override;

    henn::inference::v1::MetricsResponse metrics() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// True for 127.0.0.0/8, ::1 and localhost (with or without a port, IPv6 in brackets or not).
bool is_loopback_address(const std::string& address);
// Refuses plaintext listening on a non-loopback address unless `allow_insecure`.
void check_listen_policy(const ServerOptions& options, bool allow_insecure);

// ---------------------------------------------------------------------------------------------
// Client

// What a server needs from a client for one model: evaluation keys and a public key, never the
// secret key. The hash is the cache key on every replica.
struct KeyMaterial {
    std::vector<std::uint8_t> evaluation_keys;  // engine::save_evaluation_keys
    std::vector<std::uint8_t> public_key;       // ckks::save(PublicKey)
    std::string hash;                           // SHA-256 of both, 64 hex digits
};
KeyMaterial make_key_material(const engine::Client& client);
std::string key_material_hash(std::span<const std::uint8_t> evaluation_keys,
                              std::span<const std::uint8_t> public_key);

// Keys kept on the client's disk, one set per model hash: DIR/<hash>.secret (created with mode
// 0600 before anything is written, never sent), DIR/<hash>.evaluation and DIR/<hash>.public
// (sent to servers). The same keys, hence the same key hash, on every run.
struct StoredKeys {
    std::unique_ptr<engine::Client> client;
    KeyMaterial material;
    bool created = false;  // fresh keys were generated on this call
};
StoredKeys load_or_create_keys(const engine::CompiledModelPtr& model,
                               const std::filesystem::path& directory);

struct RemoteModelInfo {
    std::string name, model_hash, packing, slot_packing;
    std::uint64_t compiled_bytes = 0, evaluation_key_bytes = 0, input_bytes_per_batch = 0;
    std::int64_t input_size = 0, output_size = 0, batch_size = 0;
    int log_n = 0;
    double expected_precision_bits = 0, flooding_bits = 0, precision_after_flooding_bits = 0;
};

struct InferOptions {
    // Infer calls in flight at once (several replicas behind a balancer serve them in parallel).
    int concurrency = 1;
    // Batches per call (0: as many as fit the server's request limit).
    int batches_per_request = 1;
    // Retries of a call refused as busy or unavailable (server restarting), with backoff.
    int max_retries = 6;  // backoff from 0.2 s, doubling: about 13 s in all
    std::chrono::milliseconds call_timeout{std::chrono::minutes(10)};
    // Called after each finished call: samples done, samples in all.
    std::function<void(std::int64_t done, std::int64_t total)> progress{};
};

struct InferReport {
    std::vector<double> outputs;  // count x output_size
    std::int64_t samples = 0, batches = 0, requests = 0;
    // Seconds, summed over calls (with concurrency > 1 they overlap): client encryption, sending
    // keys and inputs, waiting for the server (queue + compute as the client sees it), the
    // server's own compute and queue time, receiving outputs, decryption; and wall-clock seconds
    // from the first call to the last reply. Serializing the ciphertexts is part of encryption
    // (seconds_serialize of seconds_encrypt) but happens inside the network wall, call by call,
    // on a thread of its own while the previous chunks are sent (so within seconds_upload).
    // seconds_total: wall clock from the start of encryption to the end of decryption.
    // seconds_server_receive / seconds_server_parse: the server's time from admission to the last
    // byte of a call (inputs parsed meanwhile) and the input parsing still left then.
    double seconds_encrypt = 0, seconds_serialize = 0, seconds_upload = 0, seconds_wait = 0,
           seconds_server = 0, seconds_server_queue = 0, seconds_server_receive = 0,
           seconds_server_parse = 0, seconds_download = 0, seconds_decrypt = 0,
           seconds_network_wall = 0, seconds_total = 0;
    std::uint64_t bytes_up = 0, bytes_down = 0, key_bytes_up = 0;
    int key_uploads =
        0;  // times a replica received keys it did not hold (first use, after eviction)
    int retries = 0;
};

class InferenceClient {
  public:
    explicit InferenceClient(const ChannelOptions& options);

    std::vector<RemoteModelInfo> list_models();
    std::uint64_t max_request_bytes();
    // The model without its weights, checked against the hash the server lists.
    engine::CompiledModelPtr fetch_model(const std::string& name);
    // Returns the key hash (the server's, equal to key.hash).
    std::string upload_keys(const std::string& model, const KeyMaterial& keys);

    // One Infer call on an inputs bundle (engine::save_batches): the outputs bundle. Resends with
    // the keys inline when the replica does not hold them (and keeps them inline until a few calls
    // in a row find them cached, so every replica behind a balancer gets them); retries busy and
    // unavailable servers with backoff.
    struct CallResult {
        std::vector<std::uint8_t> outputs;
        // seconds_serialize: spent serializing the inputs (infer_batches), within seconds_upload.
        double seconds_upload = 0, seconds_wait = 0, seconds_download = 0, seconds_server = 0,
               seconds_server_queue = 0, seconds_serialize = 0, seconds_server_receive = 0,
               seconds_server_parse = 0;
        std::uint64_t input_bytes = 0, key_bytes_sent = 0;
        int key_uploads = 0, retries = 0;
    };
    CallResult infer_bundle(const std::string& model, const KeyMaterial& keys,
                            std::span<const std::uint8_t> inputs, const InferOptions& options = {});
    // The same call on batches of `compiled` (the model fetched from this server): they are
    // serialized chunk by chunk while earlier chunks are sent (BundleWriter: the bundle of
    // engine::save_batches, ciphertexts uncompressed), never as one buffer.
    CallResult infer_batches(const std::string& model, const KeyMaterial& keys,
                             std::span<const engine::EncryptedBatch> batches,
                             const engine::CompiledModel& compiled,
                             const InferOptions& options = {});

    // Encrypts `count` samples, sends them in calls of whole batches, decrypts the outputs.
    InferReport infer(const std::string& model, const engine::Client& client,
                      const KeyMaterial& keys, std::span<const double> inputs, std::int64_t count,
                      const InferOptions& options = {});

    henn::inference::v1::HealthResponse health();
    henn::inference::v1::MetricsResponse metrics();

    // Test hook: the raw stub, for hostile-input tests.
    henn::inference::v1::Inference::Stub& stub() { return *stub_; }

  private:
    // Sends one data message (false: the stream closed).
    using Send = std::function<bool(std::string&&)>;
    // Writes a call's input bytes through Send; returns the seconds it spent serializing. Called
    // again for each attempt (retries, keys resent inline).
    using Producer = std::function<double(const Send&)>;
    CallResult call(const std::string& model, const KeyMaterial& keys, std::uint64_t input_bytes,
                    const Producer& produce, const InferOptions& options);

    ChannelOptions options_;
    std::shared_ptr<grpc::Channel> channel_;
    std::unique_ptr<henn::inference::v1::Inference::Stub> stub_;
    std::optional<std::uint64_t> max_request_bytes_;
    std::uint32_t chunk_bytes_ = 1u << 20;
    static constexpr int kInlineCallsAfterMiss = 4;
    std::atomic<int> inline_calls_left_{0};
};

}  // namespace henn::service
