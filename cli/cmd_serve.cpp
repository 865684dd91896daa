// henn serve: encrypted inference as a gRPC service (service/proto/inference.proto). Serves
// compiled models without ever sending their weights; clients' evaluation keys are cached per
// replica; outputs are re-randomized and noise-flooded before they leave.
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "command_registry.hpp"
#include "common_options.hpp"
#include "engine_common.hpp"
#include "henn/math/parallel.hpp"
#include "henn/service/grpc_common.hpp"
#include "henn/service/inference.hpp"

#ifdef HENN_CLI_HAS_ENGINE
namespace henn::cli {

std::vector<std::uint8_t> bundled_demo_model();  // generated from models/mnist_cryptonets.onnx

namespace {

struct ServeArgs {
    std::vector<std::string> models;
    std::string host = "127.0.0.1", tls_cert, tls_key, tls_client_ca, port_file, data_dir;
    int port = 50551, threads = 0, max_sessions = 2, max_waiting = 16;
    double request_timeout = 600, flooding_bits = engine::kDefaultFloodingBits;
    std::uint64_t max_request_bytes = std::uint64_t{2} << 30,
                  key_cache_bytes = std::uint64_t{4} << 30;
    bool insecure = false, demo = false, quiet = false;
};

void serve(const ServeArgs& a) {
    if (a.threads) math::set_thread_count(a.threads);
    std::vector<service::ServedModel> models;
    for (const auto& spec : a.models) {
        const auto eq = spec.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
            throw CommandFailure(ErrorCategory::usage,
                                 "--model takes NAME=model.henn, got '" + spec + "'");
        }
        models.push_back({spec.substr(0, eq), load_compiled(spec.substr(eq + 1))});
    }
    if (a.demo) {
        const std::string& dir = a.data_dir;
        std::printf(
            "henn serve --demo: compiling the bundled CryptoNets model (calibration: 512 MNIST "
            "training images)\n");
        const nn::Model model =
            import_model_bytes(bundled_demo_model(), "", "models/mnist_cryptonets.onnx");
        std::vector<std::string> warnings;
        models.push_back(
            {"mnist", engine::CompiledModel::compile(
                          model, compile_options("auto", 0, 0, 12, "mnist", dir, 512), &warnings)});
        for (const auto& w : warnings) spdlog::warn("{}", w);
    }
    if (models.empty())
        throw CommandFailure(ErrorCategory::usage,
                             "give at least one --model NAME=model.henn (or --demo)");

    service::InferenceServerOptions options;
    options.max_request_bytes = a.max_request_bytes;
    options.key_cache_bytes = a.key_cache_bytes;
    options.max_sessions = a.max_sessions;
    options.max_waiting = a.max_waiting;
    options.max_request_time =
        std::chrono::milliseconds(static_cast<std::int64_t>(a.request_timeout * 1000));
    options.flooding_bits = a.flooding_bits;
    std::mutex print_mutex;
    if (!a.quiet) {
        options.on_request = [&](const service::RequestEvent& e) {
            std::lock_guard lock(print_mutex);
            std::printf(
                "%s model=%s keys=%s%s %s: received %.2f MB, sent %.2f MB, %lld samples, %.2f "
                "s%s%s\n",
                e.rpc.c_str(), e.model.c_str(), e.key_hash.empty() ? "-" : e.key_hash.c_str(),
                e.keys_inline ? (e.keys_cached ? " (inline, cached)" : " (inline, new)")
                              : (e.keys_cached ? " (cached)" : ""),
                service::status_code_name(e.code), e.bytes_received / 1e6, e.bytes_sent / 1e6,
                static_cast<long long>(e.samples), e.seconds, e.message.empty() ? "" : ": ",
                e.message.c_str());
            std::fflush(stdout);
        };
    }
    try {
        service::validate_options(options, models);
    } catch (const service::ServiceError& e) {
        throw CommandFailure(ErrorCategory::usage, e.what());
    }

    service::ServerOptions server_options;
    server_options.listen_address =
        (a.host.find(':') != std::string::npos ? "[" + a.host + "]" : a.host) + ":" +
        std::to_string(a.port);
    // Every message is a chunk: nothing legitimate comes near this.
    server_options.max_message_bytes = 8 << 20;
    if (!a.tls_cert.empty() || !a.tls_key.empty()) {
        if (a.tls_cert.empty() || a.tls_key.empty())
            throw CommandFailure(ErrorCategory::usage, "--tls-cert and --tls-key go together");
        server_options.tls = service::ServerTls{a.tls_cert, a.tls_key, a.tls_client_ca};
    }
    try {
        service::check_listen_policy(server_options, a.insecure);
    } catch (const service::ServiceError& e) {
        throw CommandFailure(ErrorCategory::usage, e.what());
    }

    service::InferenceService service(std::move(models), options);
    // SIGINT and SIGTERM stop the server cleanly: blocked here (inherited by gRPC's threads) and
    // awaited by one thread.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    service::Server server(server_options, {&service});
    if (!a.port_file.empty()) {
        std::ofstream(a.port_file) << server.port() << "\n";
    }
    std::printf(
        "henn serve: listening on %s (%s), %d session(s) at once, %d thread(s) each, flooding %.1f "
        "bits\n",
        server.address().c_str(), server_options.tls ? "TLS" : "plaintext", a.max_sessions,
        math::thread_count(), std::max(0.0, a.flooding_bits));
    std::fflush(stdout);
    std::thread([&server, signals] {
        int received = 0;
        sigwait(&signals, &received);
        server.shutdown();
    }).detach();
    server.wait();
    const auto m = service.metrics();
    std::printf(
        "henn serve: stopped after %llu request(s), %llu inference(s) (%llu failed), %llu "
        "samples\n",
        static_cast<unsigned long long>(m.requests()),
        static_cast<unsigned long long>(m.infer_requests()),
        static_cast<unsigned long long>(m.infer_failures()),
        static_cast<unsigned long long>(m.samples()));
}

const CommandRegistrar serve_command(40, "serve", [](CLI::App& root) {
    auto a = std::make_shared<ServeArgs>();
    auto* cmd =
        root.add_subcommand("serve", "Serve compiled models for encrypted inference over gRPC");
    cmd->footer(std::string(kExitCodeTable) +
                "\nThe server never sends weights: clients get the model with weights zeroed. "
                "Outputs are re-randomized "
                "and flooded with noise --flooding-bits above the expected error (precision cost "
                "about that many bits). "
                "See docs/threat-model.md.");
    cmd->add_option("--model", a->models, "NAME=model.henn (repeatable)");
    cmd->add_option("--host", a->host, "address to listen on (default 127.0.0.1)");
    cmd->add_option("--port", a->port, "port (default 50551; 0: any free port)")
        ->check(CLI::Range(0, 65535));
    cmd->add_option("--port-file", a->port_file, "write the port listened on to this file");
    cmd->add_option("--tls-cert", a->tls_cert, "PEM certificate chain (TLS)")
        ->check(CLI::ExistingFile);
    cmd->add_option("--tls-key", a->tls_key, "PEM private key (TLS)")->check(CLI::ExistingFile);
    cmd->add_option("--tls-client-ca", a->tls_client_ca,
                    "require client certificates signed by this CA")
        ->check(CLI::ExistingFile);
    cmd->add_flag("--insecure", a->insecure, "allow plaintext on a non-loopback address");
    add_threads_option(cmd, a->threads, "threads per engine run");
    cmd->add_option("--max-sessions", a->max_sessions, "engine runs at once (default 2)")
        ->check(CLI::Range(1, 1024));
    cmd->add_option("--max-waiting", a->max_waiting,
                    "calls that may wait for a session (default 16)")
        ->check(CLI::Range(0, 100000));
    cmd->add_option("--max-request-bytes", a->max_request_bytes,
                    "keys + inputs of one call (default 2 GiB)");
    cmd->add_option("--key-cache-bytes", a->key_cache_bytes,
                    "memory for cached evaluation keys (default 4 GiB)");
    cmd->add_option("--request-timeout", a->request_timeout,
                    "seconds one inference may take (default 600)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--flooding-bits", a->flooding_bits,
                    "output noise, bits above the expected error (default " +
                        std::to_string(static_cast<int>(engine::kDefaultFloodingBits)) +
                        "; 0: re-randomization only)")
        ->check(CLI::Range(0.0, 30.0));
    cmd->add_flag("--demo", a->demo,
                  "also serve the bundled MNIST model as 'mnist' (compiled at start)");
    add_data_dir_option(cmd, a->data_dir, DataDirDefault::shared, "MNIST for --demo's calibration");
    add_quiet_flag(cmd, a->quiet, "do not print one line per request");
    cmd->callback([a] { serve(*a); });
});

}  // namespace
}  // namespace henn::cli
#endif
