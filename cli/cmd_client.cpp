// henn client: the data owner's side of encrypted inference as a service. Keys are generated and
// kept locally (secret key mode 0600, never sent); evaluation keys go to the server once per
// replica; inputs are encrypted, streamed, and the outputs decrypted here.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "command_registry.hpp"
#include "common_options.hpp"
#include "engine_common.hpp"
#include "henn/math/parallel.hpp"
#include "henn/service/grpc_common.hpp"
#include "henn/service/inference.hpp"

#ifdef HENN_CLI_HAS_ENGINE
namespace henn::cli {
namespace {

struct ClientArgs {
    std::string server = "127.0.0.1:50551", tls_ca, tls_server_name, keys_dir;
    double timeout = 600;
    // infer
    std::string model = "mnist", data = "mnist", data_dir;
    std::int64_t count = 0, offset = 0;
    int concurrency = 1, batches_per_request = 1, threads = 0;
    bool json = false, logits = false, demo = false;
};

std::string default_keys_dir() {
    if (const char* cache = std::getenv("XDG_CACHE_HOME")) return std::string(cache) + "/henn/keys";
    if (const char* home = std::getenv("HOME")) return std::string(home) + "/.cache/henn/keys";
    return ".henn-keys";
}

service::ChannelOptions channel(const ClientArgs& a) {
    service::ChannelOptions o;
    o.address = a.server;
    if (!a.tls_ca.empty()) o.tls = service::ChannelTls{a.tls_ca, "", "", a.tls_server_name};
    o.max_message_bytes = 8 << 20;
    o.call_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(a.timeout * 1000));
    return o;
}

void list_models(const ClientArgs& a) {
    service::InferenceClient client(channel(a));
    const auto models = client.list_models();
    if (a.json) {
        nlohmann::json j = nlohmann::json::array();
        for (const auto& m : models) {
            j.push_back({{"name", m.name},
                         {"model_hash", m.model_hash},
                         {"input_size", m.input_size},
                         {"output_size", m.output_size},
                         {"batch_size", m.batch_size},
                         {"log_n", m.log_n},
                         {"packing", m.packing},
                         {"slots", m.slot_packing},
                         {"expected_precision_bits", m.expected_precision_bits},
                         {"flooding_bits", m.flooding_bits},
                         {"precision_after_flooding_bits", m.precision_after_flooding_bits},
                         {"eval_key_bytes", m.evaluation_key_bytes},
                         {"input_bytes_per_batch", m.input_bytes_per_batch},
                         {"compiled_bytes", m.compiled_bytes}});
        }
        std::cout << nlohmann::json{{"models", j},
                                    {"max_request_bytes", client.max_request_bytes()}}
                         .dump(2)
                  << "\n";
        return;
    }
    for (const auto& m : models) {
        std::printf(
            "%s  hash %s  %lld -> %lld, %lld samples per batch, N = 2^%d, %s packing (%s slots), "
            "precision %.1f bits "
            "(%.1f after %.1f bits of flooding), keys %.1f MB, %.1f MB per batch\n",
            m.name.c_str(), m.model_hash.c_str(), static_cast<long long>(m.input_size),
            static_cast<long long>(m.output_size), static_cast<long long>(m.batch_size), m.log_n,
            m.packing.c_str(), m.slot_packing.c_str(), m.expected_precision_bits,
            m.precision_after_flooding_bits, m.flooding_bits, m.evaluation_key_bytes / 1e6,
            m.input_bytes_per_batch / 1e6);
    }
}

void health(const ClientArgs& a) {
    service::InferenceClient client(channel(a));
    const auto h = client.health();
    if (a.json) {
        nlohmann::json j{{"status", h.status()}, {"uptime_seconds", h.uptime_seconds()}};
        for (const auto& m : h.models()) j["models"].push_back(m);
        std::cout << j.dump(2) << "\n";
    } else {
        std::printf("%s, up %.0f s, models:", h.status().c_str(), h.uptime_seconds());
        for (const auto& m : h.models()) std::printf(" %s", m.c_str());
        std::printf("\n");
    }
}

void metrics(const ClientArgs& a) {
    service::InferenceClient client(channel(a));
    const auto m = client.metrics();
    nlohmann::json j{{"requests", m.requests()},
                     {"infer_requests", m.infer_requests()},
                     {"infer_failures", m.infer_failures()},
                     {"samples", m.samples()},
                     {"bytes_received", m.bytes_received()},
                     {"bytes_sent", m.bytes_sent()},
                     {"key_cache_hits", m.key_cache_hits()},
                     {"key_cache_misses", m.key_cache_misses()},
                     {"key_cache_evictions", m.key_cache_evictions()},
                     {"key_cache_bytes", m.key_cache_bytes()},
                     {"key_cache_entries", m.key_cache_entries()},
                     {"key_cache_capacity_bytes", m.key_cache_capacity_bytes()},
                     {"sessions_active", m.sessions_active()},
                     {"sessions_waiting", m.sessions_waiting()},
                     {"sessions_cancelled", m.sessions_cancelled()},
                     {"rejected_busy", m.rejected_busy()},
                     {"infer_latency",
                      {{"count", m.infer_latency().count()},
                       {"p50_seconds", m.infer_latency().p50_seconds()},
                       {"p95_seconds", m.infer_latency().p95_seconds()},
                       {"p99_seconds", m.infer_latency().p99_seconds()},
                       {"max_seconds", m.infer_latency().max_seconds()}}}};
    for (const auto& [code, n] : m.status_counts()) j["status_counts"][code] = n;
    std::cout << j.dump(2) << "\n";
}

std::int64_t argmax(const double* v, std::int64_t n) {
    return std::max_element(v, v + n) - v;
}

void infer(const ClientArgs& a) {
    if (a.threads) math::set_thread_count(a.threads);
    const std::string& data_dir = a.data_dir;
    service::InferenceClient client(channel(a));
    const auto started = std::chrono::steady_clock::now();
    const auto compiled = client.fetch_model(a.model);
    const auto keys = service::load_or_create_keys(
        compiled, a.keys_dir.empty() ? default_keys_dir() : a.keys_dir);
    const double seconds_keys =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const Samples samples = load_samples(a.data, data_dir, false, a.offset,
                                         a.count > 0 ? a.count : compiled->batch_size());
    if (samples.count > 0 && static_cast<std::int64_t>(samples.values.size()) !=
                                 samples.count * compiled->input_size()) {
        throw CommandFailure(
            ErrorCategory::data,
            "the data set's samples have " +
                std::to_string(samples.values.size() / static_cast<std::size_t>(samples.count)) +
                " values; model '" + a.model + "' takes " + std::to_string(compiled->input_size()));
    }
    service::InferOptions options;
    options.concurrency = a.concurrency;
    options.batches_per_request = a.batches_per_request;
    options.call_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(a.timeout * 1000));
    ProgressBar bar("encrypted inference over the network", !a.json);
    options.progress = [&](std::int64_t done, std::int64_t total) {
        bar.update(0, 1, done, total);
    };
    const auto r =
        client.infer(a.model, *keys.client, keys.material, samples.values, samples.count, options);
    bar.finish();

    const std::int64_t width = compiled->output_size();
    std::vector<std::int64_t> predictions(static_cast<std::size_t>(samples.count));
    std::int64_t correct = 0;
    for (std::int64_t i = 0; i < samples.count; ++i) {
        predictions[i] = argmax(r.outputs.data() + i * width, width);
        correct += predictions[i] == samples.labels[i];
    }
    const double n = static_cast<double>(samples.count);
    const double accuracy = samples.count ? correct / n : 0;
    const auto models = client.list_models();
    const auto info = std::find_if(models.begin(), models.end(),
                                   [&](const auto& m) { return m.name == a.model; });

    if (a.json) {
        nlohmann::json j;
        j["model"] = a.model;
        j["server"] = a.server;
        j["images"] = samples.count;
        j["batches"] = r.batches;
        j["batch_size"] = compiled->batch_size();
        j["requests"] = r.requests;
        j["accuracy"] = accuracy;
        j["seconds_keygen"] = seconds_keys;
        j["keys_created"] = keys.created;
        j["seconds_encrypt"] = r.seconds_encrypt;
        j["seconds_serialize"] = r.seconds_serialize;
        j["seconds_upload"] = r.seconds_upload;
        j["seconds_wait"] = r.seconds_wait;
        j["seconds_server"] = r.seconds_server;
        j["seconds_server_queue"] = r.seconds_server_queue;
        j["seconds_server_receive"] = r.seconds_server_receive;
        j["seconds_server_parse"] = r.seconds_server_parse;
        j["seconds_download"] = r.seconds_download;
        j["seconds_decrypt"] = r.seconds_decrypt;
        j["seconds_network_wall"] = r.seconds_network_wall;
        j["seconds_total"] = r.seconds_total;
        j["seconds_infer"] = r.seconds_network_wall;
        j["images_per_second"] = n / r.seconds_network_wall;
        j["server_images_per_second"] = n / r.seconds_server;
        j["bytes_up_per_image"] = static_cast<double>(r.bytes_up) / n;
        j["bytes_down_per_image"] = static_cast<double>(r.bytes_down) / n;
        j["eval_key_bytes"] = keys.material.evaluation_keys.size();
        j["key_bytes_uploaded"] = r.key_bytes_up;
        j["key_uploads"] = r.key_uploads;
        j["retries"] = r.retries;
        j["expected_precision_bits"] = compiled->expected_precision_bits();
        if (info != models.end()) {
            j["flooding_bits"] = info->flooding_bits;
            j["precision_after_flooding_bits"] = info->precision_after_flooding_bits;
        }
        j["peak_rss_bytes"] = peak_rss_bytes();
        j["log_n"] = compiled->context()->log_n();
        j["slots"] = engine::to_string(compiled->slot_packing());
        j["predictions"] = predictions;
        if (a.logits) j["logits"] = r.outputs;
        std::cout << j.dump(2) << "\n";
        return;
    }
    std::printf(
        "encrypted inference at %s, model '%s': %lld images in %lld call(s) of up to %lld "
        "batch(es) of %lld\n",
        a.server.c_str(), a.model.c_str(), static_cast<long long>(samples.count),
        static_cast<long long>(r.requests),
        static_cast<long long>(std::max(1, a.batches_per_request)),
        static_cast<long long>(compiled->batch_size()));
    std::printf("  predictions:");
    for (std::int64_t i = 0; i < std::min<std::int64_t>(samples.count, 32); ++i)
        std::printf(" %lld", static_cast<long long>(predictions[i]));
    std::printf("%s\n", samples.count > 32 ? " ..." : "");
    std::printf("  accuracy %.2f%% (%lld of %lld)\n", 100 * accuracy,
                static_cast<long long>(correct), static_cast<long long>(samples.count));
    std::printf(
        "  keys: %s in %.2f s (secret key stays here), evaluation keys %.2f MB, sent %d time(s) "
        "(%.2f MB)\n",
        keys.created ? "generated" : "loaded", seconds_keys,
        keys.material.evaluation_keys.size() / 1e6, r.key_uploads, r.key_bytes_up / 1e6);
    std::printf(
        "  seconds: encrypt %.2f, upload %.2f, server %.2f (queued %.2f), download %.2f, decrypt "
        "%.2f; network wall "
        "%.2f = %.0f images/s\n",
        r.seconds_encrypt, r.seconds_upload, r.seconds_server, r.seconds_server_queue,
        r.seconds_download, r.seconds_decrypt, r.seconds_network_wall, n / r.seconds_network_wall);
    std::printf("  wire: %.1f KB up and %.2f KB down per image", r.bytes_up / n / 1000,
                r.bytes_down / n / 1000);
    if (info != models.end()) {
        std::printf("; outputs flooded by %.1f bits (expected precision %.1f -> %.1f bits)",
                    info->flooding_bits, info->expected_precision_bits,
                    info->precision_after_flooding_bits);
    }
    std::printf("\n");
    if (r.retries) std::printf("  %d call(s) retried (server busy or unavailable)\n", r.retries);
}

const CommandRegistrar client_command(41, "client", [](CLI::App& root) {
    auto a = std::make_shared<ClientArgs>();
    auto* cmd = root.add_subcommand("client", "Encrypted inference on a remote `henn serve`");
    cmd->add_option("--server", a->server, "HOST:PORT (default 127.0.0.1:50551)");
    cmd->add_option("--tls-ca", a->tls_ca,
                    "PEM of the CA that signed the server's certificate (TLS)")
        ->check(CLI::ExistingFile);
    cmd->add_option("--tls-server-name", a->tls_server_name,
                    "expected name in the server's certificate");
    cmd->add_option("--keys-dir", a->keys_dir, "where keys are kept (default ~/.cache/henn/keys)");
    cmd->add_option("--timeout", a->timeout, "seconds per call (default 600)")
        ->check(CLI::PositiveNumber);
    cmd->add_flag("--demo", a->demo,
                  "encrypted MNIST against a `henn serve --demo` (1,000 test images)");
    add_data_dir_option(cmd, a->data_dir, DataDirDefault::shared, "MNIST for --demo");

    auto* models =
        cmd->add_subcommand("models", "List the models served and their public parameters");
    add_json_flag(models, a->json);
    models->callback([a] { list_models(*a); });
    auto* h = cmd->add_subcommand("health", "Is the server up, and what does it serve");
    add_json_flag(h, a->json);
    h->callback([a] { health(*a); });
    auto* m = cmd->add_subcommand(
        "metrics", "Server-side counters: requests, bytes, latency, key cache (JSON)");
    m->callback([a] { metrics(*a); });

    auto* i =
        cmd->add_subcommand("infer", "Encrypt a data set's test samples, infer remotely, decrypt");
    i->add_option("--model", a->model, "served model name (default mnist)");
    add_data_option(i, a->data);
    add_data_dir_option(i, a->data_dir, DataDirDefault::shared, "where the data set is");
    i->add_option("--count", a->count, "test samples (default: one batch)");
    i->add_option("--offset", a->offset, "first test sample");
    i->add_option("--concurrency", a->concurrency, "calls in flight at once (default 1)")
        ->check(CLI::Range(1, 64));
    i->add_option("--batches-per-request", a->batches_per_request,
                  "batches per call (default 1; 0: as many as fit)")
        ->check(CLI::Range(0, 1 << 20));
    add_threads_option(i, a->threads, "client threads for encryption");
    i->add_flag("--logits", a->logits, "with --json: the decrypted outputs too");
    add_json_flag(i, a->json,
                  "report as JSON (same field names as `henn run --json` where they apply)");
    i->callback([a] { infer(*a); });

    cmd->callback([a, cmd] {
        if (!a->demo) {
            if (cmd->get_subcommands().empty()) throw CLI::CallForHelp();
            return;
        }
        std::printf("henn client --demo: encrypted MNIST against %s\n", a->server.c_str());
        ClientArgs d = *a;
        d.model = "mnist";
        d.count = 1000;
        std::printf(
            "what the server publishes (no weights: they are zeroed in the model it sends):\n");
        list_models(d);
        infer(d);
        std::printf(
            "what crossed the wire: evaluation and public keys (once per replica), ciphertexts "
            "both ways; "
            "never the secret key, the images, the labels or the predictions.\n"
            "what the server saw: its own log lines (model, key hash, bytes, timings).\n");
    });
});

}  // namespace
}  // namespace henn::cli
#endif
