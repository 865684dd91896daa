// Every loader of untrusted bytes outside the CKKS layer (fuzz_loaders.cpp covers that one), as
// a name, a function that feeds it bytes, and valid seeds. Shared by the libFuzzer targets
// (fuzz_untrusted.cpp), the seed-corpus writer and the regression test in the normal suite
// (tests/fuzz/untrusted_bytes_test.cpp). The contract for every loader: accept the bytes or throw
// a henn::Error; anything else (another exception, a crash, a sanitizer report) is a bug.
#pragma once

#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "henn/error.hpp"

// The service's messages carry Paillier ciphertexts (SMLP) and engine bundles (inference): their
// loaders need those fixtures too.
#if defined(HENN_LOADERS_SERVICE)
#if !defined(HENN_LOADERS_PAILLIER)
#define HENN_LOADERS_PAILLIER
#endif
#if !defined(HENN_LOADERS_ENGINE)
#define HENN_LOADERS_ENGINE
#endif
#endif

#if defined(HENN_LOADERS_PAILLIER)
#include "henn/paillier/serialization.hpp"
#endif
#if defined(HENN_LOADERS_DATA)
#include "henn/data/data.hpp"
#endif
#if defined(HENN_LOADERS_NN)
#include "henn/nn/network_spec.hpp"
#endif
#if defined(HENN_LOADERS_ONNX)
#include "henn/onnx/onnx.hpp"
#endif
#if defined(HENN_LOADERS_ENGINE)
#include "henn/engine/client.hpp"
#include "henn/engine/compiled_model.hpp"
#include "henn/nn/model.hpp"
#endif
#if defined(HENN_LOADERS_SERVICE)
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <stdexcept>

#include "henn/service/inference.hpp"
#include "henn/service/smlp_service.hpp"
#include "henn/smlp/helper.hpp"
#endif

namespace henn::fuzz {

using Bytes = std::vector<std::uint8_t>;

struct UntrustedLoader {
    std::string name;
    std::function<void(std::span<const std::uint8_t>)> load;
    std::function<std::vector<Bytes>()> seeds;  // valid inputs, which load() must accept
    // Whether every proper prefix of a seed must be refused (false where a cut can leave a valid,
    // shorter input: a CSV cut at a line break, a protobuf message cut between two fields).
    bool prefixes_refused = true;
};

inline Bytes bytes_of(const std::string& text) {
    return Bytes(text.begin(), text.end());
}

inline Bytes read_bytes(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The path-based readers see the bytes through an anonymous in-memory file.
class MemoryFile {
  public:
    explicit MemoryFile(std::span<const std::uint8_t> bytes)
        : fd_(::memfd_create("henn-fuzz", MFD_CLOEXEC)) {
        if (fd_ < 0) throw InternalError("memfd_create failed");
        std::size_t done = 0;
        while (done < bytes.size()) {
            const ssize_t w = ::write(fd_, bytes.data() + done, bytes.size() - done);
            if (w <= 0) throw InternalError("memfd write failed");
            done += static_cast<std::size_t>(w);
        }
    }
    ~MemoryFile() { ::close(fd_); }
    MemoryFile(const MemoryFile&) = delete;
    MemoryFile& operator=(const MemoryFile&) = delete;
    std::filesystem::path path() const { return "/proc/self/fd/" + std::to_string(fd_); }

  private:
    int fd_;
};

inline Bytes gzip(const Bytes& raw) {
    z_stream stream{};
    if (deflateInit2(&stream, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        throw InternalError("deflateInit2 failed");
    }
    Bytes out(deflateBound(&stream, raw.size()) + 32);
    stream.next_in = const_cast<Bytef*>(raw.data());
    stream.avail_in = static_cast<uInt>(raw.size());
    stream.next_out = out.data();
    stream.avail_out = static_cast<uInt>(out.size());
    const int status = deflate(&stream, Z_FINISH);
    out.resize(stream.total_out);
    deflateEnd(&stream);
    if (status != Z_STREAM_END) throw InternalError("deflate failed");
    return out;
}

#if defined(HENN_LOADERS_PAILLIER)
// One 1024-bit key pair per process (test-only size: small inputs, fast loads).
struct PaillierFixture {
    paillier::KeyPair keys =
        paillier::generate_keypair({.modulus_bits = 1024, .allow_test_only_sizes = true});
    paillier::LoadOptions options{.allow_test_only_sizes = true, .max_batch = 64};
};
inline const PaillierFixture& paillier_fixture() {
    static const PaillierFixture fixture;
    return fixture;
}

inline std::vector<UntrustedLoader> paillier_loaders() {
    using namespace paillier;
    auto ciphertexts = [] {
        const auto& f = paillier_fixture();
        std::vector<Ciphertext> cts;
        for (long v : {0L, 1L, -5L, 123456789L})
            cts.push_back(f.keys.public_key.encrypt_signed(mpz_class(v)));
        return cts;
    };
    return {
        {"paillier_public_key",
         [](std::span<const std::uint8_t> b) {
             (void)load_public_key(b, paillier_fixture().options);
         },
         [] { return std::vector<Bytes>{serialize(paillier_fixture().keys.public_key)}; }},
        {"paillier_secret_key",
         [](std::span<const std::uint8_t> b) {
             (void)load_secret_key(b, paillier_fixture().options);
         },
         [] { return std::vector<Bytes>{serialize(paillier_fixture().keys.secret_key)}; }},
        {"paillier_ciphertext",
         [](std::span<const std::uint8_t> b) {
             (void)load_ciphertext(paillier_fixture().keys.public_key, b);
         },
         [ciphertexts] {
             const auto cts = ciphertexts();
             return std::vector<Bytes>{serialize(paillier_fixture().keys.public_key, cts[0]),
                                       serialize(paillier_fixture().keys.public_key, cts[3])};
         }},
        {"paillier_ciphertexts",
         [](std::span<const std::uint8_t> b) {
             (void)load_ciphertexts(paillier_fixture().keys.public_key, b,
                                    paillier_fixture().options);
         },
         [ciphertexts] {
             const auto cts = ciphertexts();
             return std::vector<Bytes>{
                 serialize(paillier_fixture().keys.public_key, std::span<const Ciphertext>(cts))};
         }},
    };
}
#endif

#if defined(HENN_LOADERS_DATA)
inline Bytes idx_bytes(std::uint8_t rank, const std::vector<std::uint32_t>& dims,
                       std::size_t values) {
    Bytes b{0, 0, 0x08, rank};
    for (std::uint32_t d : dims) {
        for (int shift = 24; shift >= 0; shift -= 8)
            b.push_back(static_cast<std::uint8_t>(d >> shift));
    }
    for (std::size_t i = 0; i < values; ++i) b.push_back(static_cast<std::uint8_t>(i * 37 % 256));
    return b;
}

inline std::vector<UntrustedLoader> data_loaders() {
    return {
        {"idx_images",
         [](std::span<const std::uint8_t> b) {
             MemoryFile file(b);
             (void)data::load_idx_images(file.path());
         },
         [] {
             const Bytes raw = idx_bytes(3, {2, 3, 4}, 24);
             return std::vector<Bytes>{raw, gzip(raw)};
         }},
        {"idx_labels",
         [](std::span<const std::uint8_t> b) {
             MemoryFile file(b);
             (void)data::load_idx_labels(file.path());
         },
         [] {
             Bytes raw = idx_bytes(1, {5}, 0);
             for (std::uint8_t v : {0, 1, 9, 3, 7}) raw.push_back(v);
             return std::vector<Bytes>{raw, gzip(raw)};
         }},
        {"csv_table",
         [](std::span<const std::uint8_t> b) {
             MemoryFile file(b);
             (void)data::load_csv_table(file.path());
         },
         [] {
             return std::vector<Bytes>{bytes_of("a,b,label\n0.5,1.25,0\n-3,4e2,1\n7,8,2\n"),
                                       bytes_of("1,2,0\n3,4,1\n")};
         },
         false},
        {"wdbc_table",
         [](std::span<const std::uint8_t> b) {
             MemoryFile file(b);
             (void)data::load_wdbc_table(file.path());
         },
         // No final newline: then every proper prefix is refused (a cut before "\n" would not be).
         [] {
             return std::vector<Bytes>{
                 bytes_of("3,2,malignant,benign\n1.5,2,0\n3,-4.25,1\n5,6e-3,1")};
         }},
    };
}
#endif

#if defined(HENN_LOADERS_NN)
inline std::vector<UntrustedLoader> nn_loaders() {
    return {
        {"network_spec",
         [](std::span<const std::uint8_t> b) {
             (void)nn::parse_network_spec(std::string(b.begin(), b.end()), "fuzz");
         },
         [] {
             return std::vector<Bytes>{
                 bytes_of(
                     R"({"name": "small", "input": [1, 28, 28], "classes": 10, "activation": "square",
 "layers": [{"type": "conv2d", "out": 5, "kernel": 5, "stride": 2, "padding": 1},
            {"type": "batchnorm"}, {"type": "activation"}, {"type": "avgpool", "kernel": 2},
            {"type": "flatten"}, {"type": "dropout", "p": 0.25}, {"type": "dense", "out": 10}]})"),
                 bytes_of(R"({"input": [30], "classes": 2, "layers": [{"type": "dense", "out": 8},
 {"type": "activation", "fn": "relu"}, {"type": "dense", "out": 2}]})")};
         }},
    };
}
#endif

#if defined(HENN_LOADERS_ONNX)
// Seeds: the ONNX fixtures of the test suite (exports of PyTorch).
inline std::vector<UntrustedLoader> onnx_loaders(const std::filesystem::path& fixtures) {
    return {
        {"onnx_model",
         [](std::span<const std::uint8_t> b) {
             onnx::OnnxImportOptions options;
             options.max_bytes = std::size_t{1} << 24;
             (void)onnx::import_onnx_bytes(b, options, "fuzz");
         },
         [fixtures] {
             std::vector<Bytes> seeds;
             for (const char* name : {"mlp.onnx", "cryptonets.onnx", "lenet_bn.onnx"}) {
                 seeds.push_back(read_bytes(fixtures / name));
             }
             return seeds;
         }},
    };
}
#endif

#if defined(HENN_LOADERS_ENGINE)
// A two-layer model compiled once per process, its client (fixed seed), and what the three
// engine loaders read: the compiled model, the evaluation-key bundle and a ciphertext bundle;
// and a small convolutional model in latency packing with two copies of its input (the layout
// the compiled-model loader reads last, in its version-4 form).
struct EngineFixture {
    engine::CompiledModelPtr model;
    std::unique_ptr<engine::Client> client;
    Bytes model_bytes, key_bytes, batch_bytes, latency_model_bytes;

    EngineFixture() {
        nn::Dense first, second;
        first.in_features = 4, first.out_features = 3, second.in_features = 3,
        second.out_features = 2;
        first.weight = {0.5, -0.25, 0.125, 0.75, -0.5, 0.25, 0.375, -0.125, 0.0625, 0.3, -0.2, 0.1};
        first.bias = {0.1, -0.1, 0.05};
        second.weight = {0.4, -0.3, 0.2, -0.1, 0.6, 0.5};
        second.bias = {0.0, 0.2};
        nn::Polynomial square;
        square.coefficients = {0, 0, 1};
        nn::Model network({4}, {{"fc1", first}, {"square", square}, {"fc2", second}});
        model = engine::CompiledModel::compile(network, {});
        client = std::make_unique<engine::Client>(engine::Client::with_test_only_seed(model, 7));
        model_bytes = model->save();
        key_bytes = engine::save_evaluation_keys(*model, client->evaluation_keys());
        const std::vector<double> inputs{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8};
        const auto batches = client->encrypt(inputs, 2);
        batch_bytes = engine::save_batches(*model, batches, engine::BundleKind::inputs);

        nn::Conv2d conv;
        conv.in_channels = 1, conv.out_channels = 2, conv.kernel_h = conv.kernel_w = 3;
        conv.weight = {0.5,  -0.25, 0.125, 0.75, -0.5, 0.25, 0.375, -0.125, 0.0625,
                       -0.3, 0.2,   0.1,   0.4,  -0.1, 0.6,  0.5,   -0.2,   0.05};
        conv.bias = {0.1, -0.1};
        nn::Dense dense;
        dense.in_features = 32, dense.out_features = 2;
        for (int i = 0; i < 64; ++i) dense.weight.push_back(((i * 37) % 11 - 5) / 20.0);
        dense.bias = {0.0, 0.1};
        nn::Model convolutional(
            {1, 6, 6},
            {{"conv", conv}, {"square", square}, {"flatten", nn::Flatten{}}, {"fc", dense}});
        engine::CompileOptions latency;
        latency.packing = engine::Packing::latency;
        latency.latency_input_copies = 2;
        latency_model_bytes = engine::CompiledModel::compile(convolutional, latency)->save();
    }
};
inline const EngineFixture& engine_fixture() {
    static const EngineFixture fixture;
    return fixture;
}

inline std::vector<UntrustedLoader> engine_loaders() {
    return {
        {"engine_compiled_model",
         [](std::span<const std::uint8_t> b) { (void)engine::CompiledModel::load(b); },
         [] {
             return std::vector<Bytes>{engine_fixture().model_bytes,
                                       engine_fixture().latency_model_bytes};
         }},
        {"engine_key_bundle",
         [](std::span<const std::uint8_t> b) {
             (void)engine::load_evaluation_keys(*engine_fixture().model, b);
         },
         [] { return std::vector<Bytes>{engine_fixture().key_bytes}; }},
        {"engine_ciphertext_bundle",
         [](std::span<const std::uint8_t> b) {
             (void)engine::load_batches(*engine_fixture().model, b, engine::BundleKind::inputs);
         },
         [] { return std::vector<Bytes>{engine_fixture().batch_bytes}; }},
    };
}
#endif

#if defined(HENN_LOADERS_SERVICE)
// The servers' handlers as a peer reaches them. A handler answers every request with a status:
// OK is an accepted input, INTERNAL or UNKNOWN means an untyped exception escaped the handler's
// validation (a bug, reported as std::logic_error so that the fuzzer and the regression test see
// it), any other code is a refusal (thrown as service::ServiceError, a henn::Error).
inline void check_status(const grpc::Status& status, const char* what) {
    if (status.ok()) return;
    if (status.error_code() == grpc::StatusCode::INTERNAL ||
        status.error_code() == grpc::StatusCode::UNKNOWN) {
        throw std::logic_error(std::string(what) + ": untyped failure: " + status.error_message());
    }
    throw service::ServiceError(status.error_message(), status.error_code());
}

template <class Message>
Message parse_message(std::span<const std::uint8_t> bytes, const char* what) {
    Message m;
    if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
        throw service::ServiceError(std::string("not a ") + what + " message",
                                    grpc::StatusCode::INVALID_ARGUMENT);
    }
    return m;
}

// A stream of messages as one input: each one is a little-endian u32 length, then its bytes.
inline void frame(Bytes& out, const std::string& message) {
    for (int shift = 0; shift < 32; shift += 8)
        out.push_back(static_cast<std::uint8_t>(message.size() >> shift));
    out.insert(out.end(), message.begin(), message.end());
}

template <class Message>
std::vector<Message> unframe(std::span<const std::uint8_t> bytes, const char* what) {
    std::vector<Message> messages;
    std::size_t at = 0;
    while (at < bytes.size()) {
        if (bytes.size() - at < 4)
            throw service::ServiceError("truncated frame", grpc::StatusCode::INVALID_ARGUMENT);
        std::uint64_t length = 0;
        for (int i = 0; i < 4; ++i) length |= std::uint64_t{bytes[at + i]} << (8 * i);
        at += 4;
        if (length > bytes.size() - at)
            throw service::ServiceError("truncated frame", grpc::StatusCode::INVALID_ARGUMENT);
        messages.push_back(parse_message<Message>(bytes.subspan(at, length), what));
        at += length;
    }
    return messages;
}

// S2's helper service over the Paillier fixture's secret key, called in process.
inline service::SmlpHelperService& smlp_helper_service() {
    static const smlp::Helper helper(paillier_fixture().keys.secret_key);
    static service::SmlpHelperService service(helper, {.allow_test_only_sizes = true});
    return service;
}

inline std::string paillier_batch(std::initializer_list<long> values) {
    const auto& pk = paillier_fixture().keys.public_key;
    std::vector<paillier::Ciphertext> cts;
    for (long v : values) cts.push_back(pk.encrypt(mpz_class(v)));
    const Bytes b = paillier::serialize(pk, std::span<const paillier::Ciphertext>(cts));
    return std::string(b.begin(), b.end());
}

inline Bytes message_bytes(const google::protobuf::MessageLite& m) {
    const std::string s = m.SerializeAsString();
    return Bytes(s.begin(), s.end());
}

// The inference server with the engine fixture's model as "m", behind an in-process channel.
struct InferenceFixture {
    engine::CompiledModelPtr published;
    std::unique_ptr<engine::Client> client;
    std::unique_ptr<service::InferenceService> service;
    std::unique_ptr<grpc::Server> server;
    std::unique_ptr<henn::inference::v1::Inference::Stub> stub;
    service::KeyMaterial keys;
    Bytes inputs;

    InferenceFixture() {
        const auto& e = engine_fixture();
        published = e.model->without_weights();
        client =
            std::make_unique<engine::Client>(engine::Client::with_test_only_seed(published, 11));
        keys = service::make_key_material(*client);
        const std::vector<double> values{0.1, -0.2, 0.3, 0.4, 0.5, 0.6, -0.7, 0.8};
        inputs = engine::save_batches(*published, client->encrypt(values, 2),
                                      engine::BundleKind::inputs);
        service::InferenceServerOptions options;
        options.max_request_time = std::chrono::seconds(60);
        service = std::make_unique<service::InferenceService>(
            std::vector<service::ServedModel>{{"m", e.model}}, options);
        grpc::ServerBuilder builder;
        builder.RegisterService(service.get());
        server = builder.BuildAndStart();
        if (!server) throw InternalError("the in-process inference server did not start");
        stub = henn::inference::v1::Inference::NewStub(
            server->InProcessChannel(grpc::ChannelArguments()));
    }
    ~InferenceFixture() { server->Shutdown(std::chrono::system_clock::now()); }
};
inline InferenceFixture& inference_fixture() {
    static InferenceFixture fixture;
    return fixture;
}

// Data chunks of `bytes` (64 KiB each), framed, as the client sends them.
template <class Message>
void frame_chunks(Bytes& out, std::span<const std::uint8_t> bytes) {
    for (std::size_t at = 0; at < bytes.size(); at += 65536) {
        Message m;
        const auto part = bytes.subspan(at, std::min<std::size_t>(65536, bytes.size() - at));
        m.set_data(std::string(part.begin(), part.end()));
        frame(out, m.SerializeAsString());
    }
}

inline std::vector<UntrustedLoader> service_loaders() {
    namespace s1 = henn::smlp::v1;
    namespace iv1 = henn::inference::v1;
    return {
        {"service_smlp_multiply",
         [](std::span<const std::uint8_t> b) {
             const auto request = parse_message<s1::MultiplyRequest>(b, "MultiplyRequest");
             grpc::ServerContext context;
             s1::MultiplyReply reply;
             check_status(smlp_helper_service().Multiply(&context, &request, &reply),
                          "S2 Multiply");
         },
         [] {
             s1::MultiplyRequest m;
             m.set_operand_bits(20);
             auto* elementwise = m.add_products();
             elementwise->set_kind(1);
             elementwise->set_left(paillier_batch({3, 5}));
             elementwise->set_right(paillier_batch({7, 11}));
             auto* matrix = m.add_products();
             matrix->set_kind(0);
             matrix->set_rows(1), matrix->set_inner(2), matrix->set_cols(1);
             matrix->set_left(paillier_batch({1, 2}));
             matrix->set_right(paillier_batch({3, 4}));
             return std::vector<Bytes>{message_bytes(m)};
         },
         false},
        {"service_smlp_relu",
         [](std::span<const std::uint8_t> b) {
             const auto request = parse_message<s1::ReluRequest>(b, "ReluRequest");
             grpc::ServerContext context;
             s1::ReluReply reply;
             check_status(smlp_helper_service().Relu(&context, &request, &reply), "S2 Relu");
         },
         [] {
             // value_bits 16, statistical_bits 40: probes r v + 2^56, carriers v + 2^16 + mask.
             s1::ReluRequest m;
             m.set_shift(4), m.set_value_bits(16), m.set_statistical_bits(40);
             m.set_probes(paillier_batch({(1L << 56) + 3 * 5, (1L << 56) - 7 * 9}));
             m.set_carriers(
                 paillier_batch({5 + (1L << 16) + 123456789L, -9 + (1L << 16) + 987654321L}));
             return std::vector<Bytes>{message_bytes(m)};
         },
         false},
        {"service_smlp_rescale",
         [](std::span<const std::uint8_t> b) {
             const auto request = parse_message<s1::RescaleRequest>(b, "RescaleRequest");
             grpc::ServerContext context;
             s1::RescaleReply reply;
             check_status(smlp_helper_service().Rescale(&context, &request, &reply), "S2 Rescale");
         },
         [] {
             s1::RescaleRequest m;
             m.set_value_bits(16), m.set_statistical_bits(40);
             m.add_shifts(3), m.add_shifts(5);
             m.set_values(paillier_batch({1000, 1L << 50}));
             return std::vector<Bytes>{message_bytes(m)};
         },
         false},
        {"service_inference_upload_keys",
         [](std::span<const std::uint8_t> b) {
             const auto messages = unframe<iv1::UploadKeysRequest>(b, "UploadKeysRequest");
             auto& f = inference_fixture();
             grpc::ClientContext context;
             context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
             iv1::UploadKeysResponse response;
             auto writer = f.stub->UploadKeys(&context, &response);
             for (const auto& m : messages) {
                 if (!writer->Write(m)) break;
             }
             writer->WritesDone();
             check_status(writer->Finish(), "UploadKeys");
         },
         [] {
             auto& f = inference_fixture();
             iv1::UploadKeysRequest header;
             header.mutable_header()->set_model("m");
             header.mutable_header()->set_evaluation_key_bytes(f.keys.evaluation_keys.size());
             header.mutable_header()->set_public_key_bytes(f.keys.public_key.size());
             Bytes out;
             frame(out, header.SerializeAsString());
             Bytes all = f.keys.evaluation_keys;
             all.insert(all.end(), f.keys.public_key.begin(), f.keys.public_key.end());
             frame_chunks<iv1::UploadKeysRequest>(out, all);
             return std::vector<Bytes>{out};
         }},
        {"service_inference_infer",
         [](std::span<const std::uint8_t> b) {
             const auto messages = unframe<iv1::InferRequest>(b, "InferRequest");
             auto& f = inference_fixture();
             grpc::ClientContext context;
             context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
             auto stream = f.stub->Infer(&context);
             for (const auto& m : messages) {
                 if (!stream->Write(m)) break;
             }
             stream->WritesDone();
             iv1::InferResponse response;
             while (stream->Read(&response)) {
             }
             check_status(stream->Finish(), "Infer");
         },
         [] {
             // Keys inline (the retry after UNKNOWN_KEYS): independent of the server's key cache.
             auto& f = inference_fixture();
             iv1::InferRequest header;
             auto* h = header.mutable_header();
             h->set_model("m");
             h->mutable_keys()->set_model("m");
             h->mutable_keys()->set_evaluation_key_bytes(f.keys.evaluation_keys.size());
             h->mutable_keys()->set_public_key_bytes(f.keys.public_key.size());
             h->set_input_bytes(f.inputs.size());
             Bytes out;
             frame(out, header.SerializeAsString());
             Bytes all = f.keys.evaluation_keys;
             all.insert(all.end(), f.keys.public_key.begin(), f.keys.public_key.end());
             all.insert(all.end(), f.inputs.begin(), f.inputs.end());
             frame_chunks<iv1::InferRequest>(out, all);
             return std::vector<Bytes>{out};
         }},
    };
}
#endif

}  // namespace henn::fuzz
