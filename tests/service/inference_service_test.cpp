// Encrypted inference as a service over loopback: results against the in-process engine, key
// re-upload, hostile input, cancellation, eviction, output flooding, listening policy.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include "henn/ckks/serialization.hpp"
#include "henn/engine/session.hpp"
#include "henn/nn/model.hpp"
#include "henn/service/inference.hpp"
#include "random_values.hpp"

using namespace henn;
using namespace henn::service;
namespace v1 = henn::inference::v1;

namespace {

using henn::test::random_vector;

nn::Dense dense(std::int64_t in, std::int64_t out, std::mt19937_64& rng) {
    nn::Dense d;
    d.in_features = in;
    d.out_features = out;
    d.weight = random_vector(static_cast<std::size_t>(in * out), rng, -0.4, 0.4);
    d.bias = random_vector(static_cast<std::size_t>(out), rng, -0.2, 0.2);
    return d;
}

// A small network (6 -> 5 -> x^2 -> 2) at the smallest 128-bit parameters; `log_n` forces another
// ring (other parameters, same shapes).
engine::CompiledModelPtr tiny_model(std::uint64_t seed, int log_n = 0,
                                    engine::Packing packing = engine::Packing::batch) {
    std::mt19937_64 rng(seed);
    nn::Polynomial square;
    square.coefficients = {0.1, 0.2, 1};
    const nn::Model model({6},
                          {{"fc1", dense(6, 5, rng)}, {"sq", square}, {"fc2", dense(5, 2, rng)}});
    engine::CompileOptions options;
    options.log_n = log_n;
    options.packing = packing;
    options.calibration = random_vector(6 * 32, rng, 0, 1);
    options.calibration_count = 32;
    return engine::CompiledModel::compile(model, options);
}

const engine::CompiledModelPtr& model_a() {
    static const auto m = tiny_model(1);
    return m;
}

struct Running {
    std::unique_ptr<InferenceService> service;
    std::unique_ptr<Server> server;
    Running(std::vector<ServedModel> models, InferenceServerOptions options) {
        service = std::make_unique<InferenceService>(std::move(models), options);
        ServerOptions listen;
        listen.listen_address = "127.0.0.1:0";
        listen.max_message_bytes = 8 << 20;
        server = std::make_unique<Server>(listen, std::vector<grpc::Service*>{service.get()});
    }
    ChannelOptions channel() const {
        ChannelOptions c;
        c.address = server->address();
        c.max_message_bytes = 64 << 20;
        c.call_timeout = std::chrono::seconds(60);
        return c;
    }
};

InferenceServerOptions small_options() {
    InferenceServerOptions o;
    o.max_request_bytes = 256u << 20;
    o.key_cache_bytes = 1u << 30;
    o.max_sessions = 2;
    return o;
}

// Polls until the server has no session running (a cancelled or failed call must free its slot).
bool sessions_drain(InferenceService& service) {
    for (int i = 0; i < 500; ++i) {
        const auto m = service.metrics();
        if (m.sessions_active() == 0 && m.sessions_waiting() == 0) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

struct RawCall {
    grpc::Status status;
    std::string reason;  // trailing "henn-error"
};

// One Infer call written by hand: a header, then `data` in chunks of `chunk` bytes.
RawCall raw_infer(v1::Inference::Stub& stub, const v1::InferHeader& header, const std::string& data,
                  std::size_t chunk = 1 << 20, bool send_header = true) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    auto stream = stub.Infer(&context);
    bool open = true;
    if (send_header) {
        v1::InferRequest h;
        *h.mutable_header() = header;
        open = stream->Write(h);
    }
    for (std::size_t at = 0; open && at < data.size(); at += chunk) {
        v1::InferRequest part;
        part.set_data(data.substr(at, chunk));
        open = stream->Write(part);
    }
    stream->WritesDone();
    v1::InferResponse reply;
    while (stream->Read(&reply)) {
    }
    RawCall r;
    r.status = stream->Finish();
    const auto& trailers = context.GetServerTrailingMetadata();
    if (const auto it = trailers.find("henn-error"); it != trailers.end())
        r.reason.assign(it->second.data(), it->second.size());
    return r;
}

std::string as_string(const std::vector<std::uint8_t>& bytes) {
    return std::string(bytes.begin(), bytes.end());
}

// Ten samples of the tiny model in one call, served within 30 s (after a fault, the proof that
// the server's session slot was freed).
void expect_a_small_call_served(InferenceClient& client, const engine::CompiledModel& published,
                                const engine::Client& engine_client, const KeyMaterial& keys,
                                const std::vector<double>& inputs) {
    const auto small = engine::save_batches(
        published, engine_client.encrypt(std::span<const double>(inputs).first(60), 10),
        engine::BundleKind::inputs);
    InferOptions quick;
    quick.call_timeout = std::chrono::seconds(30);
    EXPECT_NO_THROW(client.infer_bundle("tiny", keys, small, quick));
}

// A client of a served model (its keys made, not uploaded) and `count` random samples in [0, 1]
// (random stream `input_seed`) encrypted into one input bundle: the start of a raw call.
struct PreparedCall {
    engine::CompiledModelPtr published;
    engine::Client engine_client;
    KeyMaterial keys;
    std::vector<double> inputs;
    std::string bundle;
};
PreparedCall prepare_call(InferenceClient& client, const std::string& model,
                          std::uint64_t client_seed, std::int64_t count, std::uint64_t input_seed) {
    auto published = client.fetch_model(model);
    auto engine_client = engine::Client::with_test_only_seed(published, client_seed);
    KeyMaterial keys = make_key_material(engine_client);
    std::mt19937_64 rng(input_seed);
    auto inputs =
        random_vector(static_cast<std::size_t>(count * published->input_size()), rng, 0, 1);
    std::string bundle = as_string(engine::save_batches(
        *published, engine_client.encrypt(inputs, count), engine::BundleKind::inputs));
    return {std::move(published), std::move(engine_client), std::move(keys), std::move(inputs),
            std::move(bundle)};
}

double worst_error(const std::vector<double>& a, const std::vector<double>& b) {
    double worst = 0;
    for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
    return worst;
}

}  // namespace

TEST(InferenceService, PublishedModelHasNoWeights) {
    const auto published = model_a()->without_weights();
    EXPECT_NE(published->hash(), model_a()->hash());
    EXPECT_EQ(published->context()->parameter_hash(), model_a()->context()->parameter_hash());
    EXPECT_EQ(published->input_size(), model_a()->input_size());
    EXPECT_EQ(published->batch_size(), model_a()->batch_size());
    bool any_weight = false;
    for (const auto& stage : published->stages()) {
        if (const auto* l = std::get_if<engine::LinearStage>(&stage.op)) {
            for (double w : l->weight) any_weight = any_weight || w != 0;
            for (double b : l->bias) any_weight = any_weight || b != 0;
        }
    }
    EXPECT_FALSE(any_weight);
    // The real model has weights, so the check above can fail.
    bool real_weight = false;
    for (const auto& stage : model_a()->stages()) {
        if (const auto* l = std::get_if<engine::LinearStage>(&stage.op)) {
            for (double w : l->weight) real_weight = real_weight || w != 0;
        }
    }
    EXPECT_TRUE(real_weight);
}

TEST(InferenceService, LoopbackRoundTripEqualsInProcessSession) {
    auto options = small_options();
    options.flooding_bits = 0;  // re-randomization only: the results must match the engine's
    Running server({{"tiny", model_a()}}, options);
    InferenceClient client(server.channel());
    const auto models = client.list_models();
    ASSERT_EQ(models.size(), 1u);
    EXPECT_EQ(models[0].name, "tiny");
    const auto published = client.fetch_model("tiny");
    EXPECT_EQ(published->hash(), model_a()->without_weights()->hash());

    const std::int64_t count = model_a()->batch_size() + 37;  // two batches, the last one partial
    std::mt19937_64 rng(5);
    const auto inputs = random_vector(static_cast<std::size_t>(count * 6), rng, 0, 1);
    const auto remote_client = engine::Client::with_test_only_seed(published, 11);
    const KeyMaterial keys = make_key_material(remote_client);
    EXPECT_EQ(client.upload_keys("tiny", keys), keys.hash);
    InferOptions infer_options;
    infer_options.concurrency = 2;
    const InferReport report =
        client.infer("tiny", remote_client, keys, inputs, count, infer_options);
    ASSERT_EQ(report.outputs.size(), static_cast<std::size_t>(count * 2));
    EXPECT_EQ(report.batches, 2);
    EXPECT_EQ(report.requests, 2);
    EXPECT_EQ(report.key_uploads, 0);  // uploaded above
    // The server's own split of each call: receiving (inputs parsed meanwhile), what parsing had
    // left after the last byte, compute; the inputs were serialized while they were sent.
    EXPECT_GT(report.seconds_server_receive, 0);
    EXPECT_GT(report.seconds_server_parse, 0);
    EXPECT_GT(report.seconds_serialize, 0);

    // In process: the same model with its weights, the engine's own client and session.
    const auto local_client = engine::Client::with_test_only_seed(model_a(), 11);
    engine::Session session(model_a(), local_client.evaluation_keys());
    std::vector<engine::EncryptedBatch> outs;
    for (auto& b : local_client.encrypt(inputs, count)) outs.push_back(session.run(std::move(b)));
    const auto local = local_client.decrypt(outs);
    std::vector<double> plain;
    for (std::int64_t i = 0; i < count; ++i) {
        const auto y = model_a()->run_plain(
            std::span<const double>(inputs).subspan(static_cast<std::size_t>(i * 6), 6));
        plain.insert(plain.end(), y.begin(), y.end());
    }
    const double bits_remote = -std::log2(worst_error(report.outputs, plain));
    const double bits_local = -std::log2(worst_error(local, plain));
    const double bits_between = -std::log2(worst_error(report.outputs, local));
    EXPECT_GE(bits_remote, model_a()->expected_precision_bits() - 1) << "local " << bits_local;
    EXPECT_GE(bits_between, model_a()->expected_precision_bits() - 1);
    EXPECT_GE(bits_remote, bits_local - 1.5);

    const auto m = server.service->metrics();
    EXPECT_EQ(m.infer_requests(), 2u);
    EXPECT_EQ(m.infer_failures(), 0u);
    EXPECT_EQ(m.samples(), static_cast<std::uint64_t>(count));
    EXPECT_EQ(m.infer_latency().count(), 2u);
    EXPECT_GT(m.bytes_received(), 0u);
    EXPECT_GT(m.bytes_sent(), 0u);
    EXPECT_EQ(client.health().status(), "SERVING");
}

TEST(InferenceService, LatencyPackingRoundTrip) {
    // The service uses the engine's public API only, so the single-image packing works unchanged.
    const auto latency = tiny_model(3, 0, engine::Packing::latency);
    ASSERT_EQ(latency->packing(), engine::Packing::latency);
    auto options = small_options();
    options.flooding_bits = 0;
    Running server({{"latency", latency}}, options);
    InferenceClient client(server.channel());
    const auto published = client.fetch_model("latency");
    EXPECT_EQ(published->packing(), engine::Packing::latency);
    const std::int64_t count = 3;
    std::mt19937_64 rng(4);
    const auto inputs = random_vector(static_cast<std::size_t>(count * 6), rng, 0, 1);
    const auto engine_client = engine::Client::with_test_only_seed(published, 13);
    const InferReport report =
        client.infer("latency", engine_client, make_key_material(engine_client), inputs, count);
    ASSERT_EQ(report.outputs.size(), static_cast<std::size_t>(count * 2));
    std::vector<double> plain;
    for (std::int64_t i = 0; i < count; ++i) {
        const auto y = latency->run_plain(
            std::span<const double>(inputs).subspan(static_cast<std::size_t>(i * 6), 6));
        plain.insert(plain.end(), y.begin(), y.end());
    }
    EXPECT_GE(-std::log2(worst_error(report.outputs, plain)),
              latency->expected_precision_bits() - 1);
    EXPECT_EQ(report.key_uploads, 1);
}

TEST(InferenceService, OutputFloodingAddsTheStatedNoise) {
    auto options = small_options();
    options.flooding_bits = 6;
    Running server({{"tiny", model_a()}}, options);
    InferenceClient client(server.channel());
    const auto published = client.fetch_model("tiny");
    const std::int64_t count = model_a()->batch_size();
    std::mt19937_64 rng(6);
    const auto inputs = random_vector(static_cast<std::size_t>(count * 6), rng, 0, 1);
    const auto remote_client = engine::Client::with_test_only_seed(published, 12);
    const InferReport report =
        client.infer("tiny", remote_client, make_key_material(remote_client), inputs, count);
    double sum2 = 0;
    for (std::int64_t i = 0; i < count; ++i) {
        const auto y = model_a()->run_plain(
            std::span<const double>(inputs).subspan(static_cast<std::size_t>(i * 6), 6));
        for (int o = 0; o < 2; ++o) {
            const double e = report.outputs[static_cast<std::size_t>(i * 2 + o)] -
                             y[static_cast<std::size_t>(o)];
            sum2 += e * e;
        }
    }
    const double measured = std::sqrt(sum2 / static_cast<double>(count * 2));
    const double stated = engine::flooding_stddev(*model_a(), 6);
    // Thousands of samples: the measured deviation is within a few percent of the stated one
    // (the computation's own error is 2^-6 of it).
    EXPECT_GT(measured, 0.85 * stated);
    EXPECT_LT(measured, 1.15 * stated);
    const auto listed = client.list_models();
    EXPECT_NEAR(listed[0].precision_after_flooding_bits,
                model_a()->expected_precision_bits() - 0.5 * std::log2(1 + std::exp2(12)), 1e-9);
}

TEST(InferenceService, UnknownKeyHashIsResentInlineOnEveryReplica) {
    Running a({{"tiny", model_a()}}, small_options());
    Running b({{"tiny", model_a()}}, small_options());
    InferenceClient ca(a.channel()), cb(b.channel());
    const auto published = ca.fetch_model("tiny");
    const auto client = engine::Client::with_test_only_seed(published, 21);
    const KeyMaterial keys = make_key_material(client);
    std::mt19937_64 rng(7);
    const auto inputs = random_vector(6 * 10, rng, 0, 1);
    const auto batches = client.encrypt(inputs, 10);
    const auto bundle = engine::save_batches(*published, batches, engine::BundleKind::inputs);

    // The raw status first: FAILED_PRECONDITION with the machine-readable reason.
    v1::InferHeader header;
    header.set_model("tiny");
    header.set_key_hash(keys.hash);
    header.set_input_bytes(bundle.size());
    const RawCall raw = raw_infer(ca.stub(), header, as_string(bundle));
    EXPECT_EQ(raw.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
        << raw.status.error_message();
    EXPECT_EQ(raw.reason, "unknown-keys");

    auto first = ca.infer_bundle("tiny", keys, bundle);
    EXPECT_EQ(first.key_uploads, 1);
    auto again = ca.infer_bundle("tiny", keys, bundle);
    EXPECT_EQ(again.key_uploads, 0);
    auto other = cb.infer_bundle("tiny", keys, bundle);  // another replica: sent once there too
    EXPECT_EQ(other.key_uploads, 1);
    const auto decoded = client.decrypt(
        engine::load_batches(*published, other.outputs, engine::BundleKind::outputs));
    EXPECT_EQ(decoded.size(), 20u);
    // Explicit upload gives the same hash the client computed.
    EXPECT_EQ(cb.upload_keys("tiny", keys), keys.hash);
    EXPECT_EQ(a.service->metrics().key_cache_entries(), 1u);
}

TEST(InferenceService, HostileInputGetsStatusesAndTheServerKeepsServing) {
    const auto foreign =
        tiny_model(1, model_a()->context()->log_n() + 1);  // same shapes, other parameters
    const auto other = tiny_model(2);
    Running server({{"tiny", model_a()}, {"other", other}}, small_options());
    InferenceClient client(server.channel());
    const auto published = client.fetch_model("tiny");
    const auto engine_client = engine::Client::with_test_only_seed(published, 31);
    const KeyMaterial keys = make_key_material(engine_client);
    EXPECT_EQ(client.upload_keys("tiny", keys), keys.hash);
    std::mt19937_64 rng(8);
    const auto inputs = random_vector(6 * 4, rng, 0, 1);
    const auto bundle = engine::save_batches(*published, engine_client.encrypt(inputs, 4),
                                             engine::BundleKind::inputs);
    auto& stub = client.stub();
    v1::InferHeader header;
    header.set_model("tiny");
    header.set_key_hash(keys.hash);
    header.set_input_bytes(bundle.size());

    // No header.
    EXPECT_EQ(raw_infer(stub, header, as_string(bundle), 1 << 20, false).status.error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
    // Unknown model.
    auto h = header;
    h.set_model("nope");
    EXPECT_EQ(raw_infer(stub, h, as_string(bundle)).status.error_code(),
              grpc::StatusCode::NOT_FOUND);
    // Announced size beyond the limit.
    h = header;
    h.set_input_bytes(std::uint64_t{1} << 40);
    EXPECT_EQ(raw_infer(stub, h, "").status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    // Truncated: half the announced bytes.
    EXPECT_EQ(
        raw_infer(stub, header, as_string(bundle).substr(0, bundle.size() / 2)).status.error_code(),
        grpc::StatusCode::INVALID_ARGUMENT);
    // More bytes than announced.
    EXPECT_EQ(raw_infer(stub, header, as_string(bundle) + "extra").status.error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
    // One message beyond the server's message limit (8 MiB here).
    h = header;
    h.set_input_bytes(9u << 20);
    const auto big = raw_infer(stub, h, std::string(9u << 20, 'x'), 9u << 20).status.error_code();
    EXPECT_TRUE(big == grpc::StatusCode::RESOURCE_EXHAUSTED ||
                big == grpc::StatusCode::INVALID_ARGUMENT)
        << service::status_code_name(big);
    // Garbage of the announced size.
    std::string garbage = as_string(bundle);
    for (std::size_t i = 0; i < garbage.size(); i += 7)
        garbage[i] = static_cast<char>(garbage[i] ^ 0x5a);
    EXPECT_EQ(raw_infer(stub, header, garbage).status.error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
    // Ciphertexts of another model.
    const auto other_client = engine::Client::with_test_only_seed(other->without_weights(), 32);
    const auto other_bundle = as_string(engine::save_batches(
        *other->without_weights(), other_client.encrypt(inputs, 4), engine::BundleKind::inputs));
    h = header;
    h.set_input_bytes(other_bundle.size());
    EXPECT_EQ(raw_infer(stub, h, other_bundle).status.error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
    // Ciphertexts under other parameters, relabelled with this model's hash.
    const auto foreign_public = foreign->without_weights();
    const auto foreign_client = engine::Client::with_test_only_seed(foreign_public, 33);
    std::string foreign_bundle = as_string(engine::save_batches(
        *foreign_public, foreign_client.encrypt(inputs, 4), engine::BundleKind::inputs));
    const std::uint64_t our_hash = published->hash();
    std::memcpy(foreign_bundle.data() + 11, &our_hash,
                sizeof our_hash);  // magic 8, version 2, kind 1
    h = header;
    h.set_input_bytes(foreign_bundle.size());
    const auto foreign_status = raw_infer(stub, h, foreign_bundle).status;
    EXPECT_TRUE(foreign_status.error_code() == grpc::StatusCode::INVALID_ARGUMENT ||
                foreign_status.error_code() == grpc::StatusCode::FAILED_PRECONDITION)
        << foreign_status.error_message();
    // Keys made for another model, uploaded under this one.
    const KeyMaterial other_keys = make_key_material(other_client);
    try {
        client.upload_keys("tiny", other_keys);
        ADD_FAILURE() << "keys of another model were accepted";
    } catch (const ServiceError& e) {
        EXPECT_EQ(e.code, grpc::StatusCode::FAILED_PRECONDITION) << e.what();
    }
    // Keys of model "other" used for "tiny".
    EXPECT_EQ(client.upload_keys("other", other_keys), other_keys.hash);
    h = header;
    h.set_key_hash(other_keys.hash);
    EXPECT_EQ(raw_infer(stub, h, as_string(bundle)).status.error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
    // Keys announced far larger than this model's can be.
    {
        grpc::ClientContext context;
        v1::UploadKeysResponse response;
        auto writer = stub.UploadKeys(&context, &response);
        v1::UploadKeysRequest r;
        r.mutable_header()->set_model("tiny");
        r.mutable_header()->set_evaluation_key_bytes(200u << 20);
        r.mutable_header()->set_public_key_bytes(keys.public_key.size());
        writer->Write(r);
        writer->WritesDone();
        EXPECT_EQ(writer->Finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    }
    // Truncated keys.
    {
        grpc::ClientContext context;
        v1::UploadKeysResponse response;
        auto writer = stub.UploadKeys(&context, &response);
        v1::UploadKeysRequest r;
        r.mutable_header()->set_model("tiny");
        r.mutable_header()->set_evaluation_key_bytes(keys.evaluation_keys.size());
        r.mutable_header()->set_public_key_bytes(keys.public_key.size());
        writer->Write(r);
        r.set_data(as_string(keys.evaluation_keys).substr(0, 100));
        writer->Write(r);
        writer->WritesDone();
        EXPECT_EQ(writer->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    }

    // The server still serves a valid request, and counted the failures.
    const auto ok = client.infer_bundle("tiny", keys, bundle);
    const auto outputs = engine_client.decrypt(
        engine::load_batches(*published, ok.outputs, engine::BundleKind::outputs));
    EXPECT_EQ(outputs.size(), 8u);
    EXPECT_TRUE(sessions_drain(*server.service));
    EXPECT_GE(server.service->metrics().infer_failures(), 10u);
}

TEST(InferenceService, CancellationAndDeadlineFreeTheSession) {
    auto options = small_options();
    options.max_sessions = 1;
    options.max_waiting = 0;
    Running server({{"tiny", model_a()}}, options);
    InferenceClient client(server.channel());
    // Many batches in one call: a run long enough to be cancelled in the middle.
    const auto call = prepare_call(client, "tiny", 41, model_a()->batch_size() * 24, 9);
    const auto& [published, engine_client, keys, inputs, bundle] = call;
    client.upload_keys("tiny", keys);
    v1::InferHeader header;
    header.set_model("tiny");
    header.set_key_hash(keys.hash);
    header.set_input_bytes(bundle.size());

    {
        const std::uint64_t before = server.service->metrics().bytes_received();
        grpc::ClientContext context;
        auto stream = client.stub().Infer(&context);
        v1::InferRequest h;
        *h.mutable_header() = header;
        stream->Write(h);
        for (std::size_t at = 0; at < bundle.size(); at += 1 << 20) {
            v1::InferRequest part;
            part.set_data(bundle.substr(at, 1 << 20));
            stream->Write(part);
        }
        stream->WritesDone();
        // Wait until the server has read the whole request (it then parses and runs), then give up.
        for (int i = 0;
             i < 30000 && server.service->metrics().bytes_received() < before + bundle.size();
             ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        context.TryCancel();
        EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
    }
    ASSERT_TRUE(sessions_drain(*server.service));
    EXPECT_EQ(server.service->metrics().sessions_cancelled(), 1u)
        << "the engine run was not stopped mid-way";

    // A deadline shorter than the run: DEADLINE_EXCEEDED, and the slot is freed again.
    {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(400));
        auto stream = client.stub().Infer(&context);
        v1::InferRequest h;
        *h.mutable_header() = header;
        bool open = stream->Write(h);
        for (std::size_t at = 0; open && at < bundle.size(); at += 1 << 20) {
            v1::InferRequest part;
            part.set_data(bundle.substr(at, 1 << 20));
            open = stream->Write(part);
        }
        stream->WritesDone();
        v1::InferResponse reply;
        while (stream->Read(&reply)) {
        }
        EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
    }
    ASSERT_TRUE(sessions_drain(*server.service));
    // With one session slot, this would wait forever if a slot had leaked.
    expect_a_small_call_served(client, *published, engine_client, keys, inputs);
}

// A client that goes away in the middle of its stream, while uploading or while downloading the
// reply, frees its session; the next call is served.
TEST(InferenceService, AClientGoneMidStreamFreesItsSession) {
    auto options = small_options();
    options.max_sessions = 1;
    options.max_waiting = 0;
    options.chunk_bytes = 4096;  // a reply of many chunks, so the client can leave in the middle
    Running server({{"tiny", model_a()}}, options);
    InferenceClient client(server.channel());
    const auto call = prepare_call(client, "tiny", 43, model_a()->batch_size() * 3, 10);
    const auto& [published, engine_client, keys, inputs, bundle] = call;
    client.upload_keys("tiny", keys);
    ASSERT_GT(bundle.size(), 4u << 10);
    v1::InferHeader header;
    header.set_model("tiny");
    header.set_key_hash(keys.hash);
    header.set_input_bytes(bundle.size());
    const auto failures = [&] { return server.service->metrics().infer_failures(); };

    {  // Half of the inputs sent, then the client is gone.
        const auto before = failures();
        grpc::ClientContext context;
        auto stream = client.stub().Infer(&context);
        v1::InferRequest h;
        *h.mutable_header() = header;
        ASSERT_TRUE(stream->Write(h));
        v1::InferRequest part;
        part.set_data(bundle.substr(0, bundle.size() / 2));
        ASSERT_TRUE(stream->Write(part));
        // The server admits the call before reading its payload: wait for the session, then leave.
        for (int i = 0; i < 5000 && server.service->metrics().sessions_active() == 0; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        EXPECT_EQ(server.service->metrics().sessions_active(), 1u);
        context.TryCancel();
        EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
        ASSERT_TRUE(sessions_drain(*server.service));
        for (int i = 0; i < 5000 && failures() == before; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        EXPECT_EQ(failures(), before + 1);
    }
    {  // The whole request sent, the first chunk of the reply read, then the client is gone.
        // (Whether the server's last writes fail or were already buffered by gRPC is a race, so
        // only the freed session is asserted here.)
        grpc::ClientContext context;
        auto stream = client.stub().Infer(&context);
        v1::InferRequest h;
        *h.mutable_header() = header;
        ASSERT_TRUE(stream->Write(h));
        for (std::size_t at = 0; at < bundle.size(); at += 1 << 20) {
            v1::InferRequest part;
            part.set_data(bundle.substr(at, 1 << 20));
            ASSERT_TRUE(stream->Write(part));
        }
        stream->WritesDone();
        v1::InferResponse reply;
        ASSERT_TRUE(stream->Read(&reply));
        ASSERT_TRUE(reply.has_result());
        ASSERT_GT(reply.result().output_bytes(), 4u * options.chunk_bytes);
        ASSERT_TRUE(stream->Read(&reply));  // one chunk of the outputs
        context.TryCancel();
        stream->Finish();
        ASSERT_TRUE(sessions_drain(*server.service));
    }
    // With one session slot and no waiting room, a leaked slot would refuse this call.
    expect_a_small_call_served(client, *published, engine_client, keys, inputs);
}

TEST(InferenceService, FullKeyCacheEvictsLeastRecentlyUsed) {
    // Size the cache from one key set: room for one, not two.
    std::uint64_t one = 0;
    {
        Running probe({{"tiny", model_a()}}, small_options());
        InferenceClient c(probe.channel());
        const auto published = c.fetch_model("tiny");
        const auto k = make_key_material(engine::Client::with_test_only_seed(published, 50));
        c.upload_keys("tiny", k);
        one = probe.service->metrics().key_cache_bytes();
    }
    ASSERT_GT(one, 0u);
    auto options = small_options();
    options.key_cache_bytes = one * 3 / 2;
    options.max_request_bytes = std::max<std::uint64_t>(options.max_request_bytes, 0);
    Running server({{"tiny", model_a()}}, options);
    InferenceClient client(server.channel());
    const auto published = client.fetch_model("tiny");
    const auto alice = engine::Client::with_test_only_seed(published, 51);
    const auto bob = engine::Client::with_test_only_seed(published, 52);
    const KeyMaterial alice_keys = make_key_material(alice), bob_keys = make_key_material(bob);
    std::mt19937_64 rng(10);
    const auto inputs = random_vector(6 * 3, rng, 0, 1);
    const auto alice_in =
        engine::save_batches(*published, alice.encrypt(inputs, 3), engine::BundleKind::inputs);
    const auto bob_in =
        engine::save_batches(*published, bob.encrypt(inputs, 3), engine::BundleKind::inputs);

    EXPECT_EQ(client.infer_bundle("tiny", alice_keys, alice_in).key_uploads, 1);
    EXPECT_EQ(client.infer_bundle("tiny", bob_keys, bob_in).key_uploads, 1);  // evicts alice
    auto m = server.service->metrics();
    EXPECT_EQ(m.key_cache_entries(), 1u);
    EXPECT_EQ(m.key_cache_evictions(), 1u);
    EXPECT_LE(m.key_cache_bytes(), options.key_cache_bytes);
    // Alice's next call finds no keys, resends them and succeeds; her results are still right.
    const auto again = client.infer_bundle("tiny", alice_keys, alice_in);
    EXPECT_EQ(again.key_uploads, 1);
    const auto out =
        alice.decrypt(engine::load_batches(*published, again.outputs, engine::BundleKind::outputs));
    for (int i = 0; i < 3; ++i) {
        const auto y = model_a()->run_plain(
            std::span<const double>(inputs).subspan(static_cast<std::size_t>(i * 6), 6));
        EXPECT_NEAR(out[static_cast<std::size_t>(i * 2)], y[0], 0.05);
    }
    EXPECT_EQ(server.service->metrics().key_cache_evictions(), 2u);
}

TEST(InferenceService, KeysAreStoredPrivatelyAndReused) {
    const auto dir =
        std::filesystem::temp_directory_path() / ("henn-keys-test-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    const auto published = model_a()->without_weights();
    const auto first = load_or_create_keys(published, dir);
    EXPECT_TRUE(first.created);
    const auto second = load_or_create_keys(published, dir);
    EXPECT_FALSE(second.created);
    EXPECT_EQ(first.material.hash, second.material.hash);  // same keys: uploaded once per replica
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() == ".secret") {
            struct stat st {};
            ASSERT_EQ(::stat(entry.path().c_str(), &st), 0);
            EXPECT_EQ(st.st_mode & 0777, 0600u);
            std::filesystem::permissions(entry.path(), std::filesystem::perms::others_read,
                                         std::filesystem::perm_options::add);
        }
    }
    EXPECT_THROW(load_or_create_keys(published, dir),
                 ServiceError);  // a secret key others can read is refused
    std::filesystem::remove_all(dir);
}

TEST(InferenceService, PlaintextListeningOnlyOnLoopbackUnlessInsecure) {
    EXPECT_TRUE(is_loopback_address("127.0.0.1:50551"));
    EXPECT_TRUE(is_loopback_address("[::1]:50551"));
    EXPECT_TRUE(is_loopback_address("localhost:1"));
    EXPECT_FALSE(is_loopback_address("0.0.0.0:50551"));
    EXPECT_FALSE(is_loopback_address("[::]:50551"));
    EXPECT_FALSE(is_loopback_address("10.1.2.3:50551"));
    ServerOptions o;
    o.listen_address = "0.0.0.0:50551";
    EXPECT_THROW(check_listen_policy(o, false), ServiceError);
    EXPECT_NO_THROW(check_listen_policy(o, true));
    o.tls = ServerTls{"cert.pem", "key.pem", ""};
    EXPECT_NO_THROW(check_listen_policy(o, false));
    o = ServerOptions();
    o.listen_address = "127.0.0.1:0";
    EXPECT_NO_THROW(check_listen_policy(o, false));
}

TEST(InferenceService, LimitsAreCheckedAgainstTheModels) {
    InferenceServerOptions o = small_options();
    o.max_request_bytes = 1000;
    EXPECT_THROW((InferenceService({{"tiny", model_a()}}, o)), ServiceError);
    o = small_options();
    o.key_cache_bytes = 1000;
    EXPECT_THROW((InferenceService({{"tiny", model_a()}}, o)), ServiceError);
    EXPECT_THROW((InferenceService({{"tiny", model_a()}, {"tiny", model_a()}}, small_options())),
                 ServiceError);
}
