// Latency packing in the CLI: `--packing auto`, and `henn bench latency`: one image through an
// encrypted network, BSGS with double hoisting against the naive diagonal method (one rotation
// per diagonal, no hoisting) on the same parameters and layout, alternately, as a ratio.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>

#include "command_registry.hpp"
#include "common_options.hpp"
#include "engine_common.hpp"
#include "henn/engine/client.hpp"
#include "henn/engine/latency.hpp"
#include "henn/engine/session.hpp"
#include "henn/math/ntt.hpp"
#include "henn/math/parallel.hpp"
#include "henn/math/vector_ops.hpp"

namespace henn::cli {

engine::Packing choose_packing(const std::string& packing, std::int64_t inputs) {
    if (packing == "batch") return engine::Packing::batch;
    if (packing == "latency") return engine::Packing::latency;
    if (packing != "auto")
        throw CommandFailure(ErrorCategory::usage, "--packing takes batch, latency or auto");
    return inputs <= kLatencyAutoMaxInputs ? engine::Packing::latency : engine::Packing::batch;
}

namespace {

struct LatencyBenchArgs {
    std::string model, data = "mnist", data_dir;
    int reps = 5, threads = 0, log_n = 0, scale_bits = 0, input_copies = 0;
    double precision = 12;
    bool naive = true, json = false;
};

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// One compiled variant with its keys and session.
struct Variant {
    engine::CompiledModelPtr compiled;
    std::unique_ptr<engine::Client> client;
    std::unique_ptr<engine::Session> session;
    std::uint64_t key_bytes = 0;
    std::int64_t key_switches = 0;
    std::vector<double> seconds, cpu_seconds;
    std::vector<double> output;

    explicit Variant(engine::CompiledModelPtr m) : compiled(std::move(m)) {
        client = std::make_unique<engine::Client>(compiled);
        const auto keys = client->evaluation_keys();
        key_bytes = engine::save_evaluation_keys(*compiled, keys).size();
        session = std::make_unique<engine::Session>(compiled, keys);
        for (const auto& s : compiled->stages()) key_switches += s.key_switches;
    }
};

const CommandRegistrar bench_latency_command(62, "bench latency", [](CLI::App& root) {
    auto a = std::make_shared<LatencyBenchArgs>();
    CLI::App* bench = command_group(root, "bench", "Benchmarks (median times of repeated runs)");
    auto* cmd = bench->add_subcommand("latency",
                                      "One image in latency packing: BSGS with double hoisting vs "
                                      "the naive diagonal method (and vs one copy of the input "
                                      "when the compiler chose copies), alternately");
    cmd->add_option("model", a->model, "ONNX model")->required()->check(CLI::ExistingFile);
    add_data_option(cmd, a->data);
    add_data_dir_option(cmd, a->data_dir, DataDirDefault::required,
                        "where the data set is (calibration and the test image)");
    cmd->add_option("--reps", a->reps, "runs of each method (median reported, default 5)")
        ->check(CLI::Range(1, 1000));
    cmd->add_option("--scale-bits", a->scale_bits, "bits of the scale (default: chosen)")
        ->check(CLI::Range(16, 58));
    cmd->add_option("--precision", a->precision,
                    "bits of output precision to plan for, relative to the largest output on the "
                    "calibration set (default 12)");
    cmd->add_option("--log-n", a->log_n, "ring degree 2^N (default: chosen)")
        ->check(CLI::Range(12, 16));
    add_input_copies_option(cmd, a->input_copies);
    add_threads_option(cmd, a->threads, "threads");
    cmd->add_flag("!--no-naive", a->naive, "skip the naive diagonal method");
    add_json_flag(cmd, a->json);
    cmd->callback([a] {
        using Clock = std::chrono::steady_clock;
        if (a->threads) math::set_thread_count(a->threads);
        const nn::Model model = import_model(a->model, "");
        engine::CompileOptions o = compile_options("real", a->scale_bits, a->log_n, a->precision,
                                                   a->data, a->data_dir, 512);
        o.packing = engine::Packing::latency;
        o.latency_input_copies = a->input_copies;
        auto t = Clock::now();
        Variant fast(engine::CompiledModel::compile(model, o));
        const double setup_seconds = std::chrono::duration<double>(Clock::now() - t).count();
        std::unique_ptr<Variant> naive;
        if (a->naive) {
            o.latency_naive_diagonals = true;
            naive = std::make_unique<Variant>(engine::CompiledModel::compile(model, o));
            if (naive->compiled->context()->parameter_hash() !=
                fast.compiled->context()->parameter_hash()) {
                throw CommandFailure(ErrorCategory::internal,
                                     "the naive variant compiled to other parameters");
            }
        }
        // With copies of the input, the same program on one copy, as the ratio in the same run.
        std::unique_ptr<Variant> one_copy;
        if (fast.compiled->latency_layout()->input_copies.size() > 1) {
            o.latency_naive_diagonals = false;
            o.latency_input_copies = 1;
            one_copy = std::make_unique<Variant>(engine::CompiledModel::compile(model, o));
        }
        const Samples test = load_samples(a->data, a->data_dir, false, 0, 1);
        const auto input = fast.client->encrypt(test.values, 1);
        const auto upload =
            engine::save_batches(*fast.compiled, input, engine::BundleKind::inputs).size();
        std::uint64_t download = 0;
        auto time_run = [&](Variant& v) {
            const auto batch = v.client->encrypt(test.values, 1).front();
            const auto start = Clock::now();
            const double cpu_start = math::process_cpu_seconds();
            auto out = v.session->run(batch);
            v.cpu_seconds.push_back(math::process_cpu_seconds() - cpu_start);
            v.seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
            download = engine::save_batches(*v.compiled, std::vector<engine::EncryptedBatch>{out},
                                            engine::BundleKind::outputs)
                           .size();
            v.output = v.client->decrypt(std::vector<engine::EncryptedBatch>{out});
        };
        for (int r = 0; r < a->reps; ++r) {
            time_run(fast);
            if (naive) time_run(*naive);
            if (one_copy) time_run(*one_copy);
        }
        const auto plain = fast.compiled->run_plain(
            std::span<const double>(test.values).first(fast.compiled->input_size()));
        auto bits = [&](const std::vector<double>& out) {
            double worst = 0;
            for (std::size_t i = 0; i < plain.size(); ++i)
                worst = std::max(worst, std::abs(out[i] - plain[i]));
            return worst > 0 ? -std::log2(worst) : 60.0;
        };
        auto label = [](const std::vector<double>& v) {
            return std::max_element(v.begin(), v.end()) - v.begin();
        };
        const double fast_s = median(fast.seconds);
        nlohmann::json j;
        const auto& ctx = *fast.compiled->context();
        j["model"] = a->model;
        j["log_n"] = ctx.log_n();
        j["log_qp"] = ctx.log_qp();
        j["security"] = static_cast<int>(ctx.security());
        j["slots_per_image"] = fast.compiled->latency_layout()->region;
        j["input_copies"] = fast.compiled->latency_layout()->input_copies.size();
        j["images_per_ciphertext"] = fast.compiled->batch_size();
        j["threads"] = math::thread_count();
        j["ntt_kernel"] = math::ntt_kernel_name();
        j["vector_kernel"] = math::vector_kernel_name();
        j["reps"] = a->reps;
        j["seconds_per_image"] = fast_s;
        j["cpu_seconds_per_image"] = median(fast.cpu_seconds);
        j["seconds_compile_and_keys"] = setup_seconds;
        j["key_switches"] = fast.key_switches;
        j["rotation_keys"] = fast.compiled->keys().rotations.size();
        j["eval_key_bytes"] = fast.key_bytes;
        j["bytes_up"] = upload;
        j["bytes_down"] = download;
        j["precision_bits"] = bits(fast.output);
        j["prediction_equals_plaintext"] = label(fast.output) == label(plain);
        for (const auto& s : fast.compiled->stages()) {
            j["stages"].push_back({{"name", s.name},
                                   {"kind", s.kind},
                                   {"key_switches", s.key_switches},
                                   {"detail", s.detail}});
        }
        if (naive) {
            const double naive_s = median(naive->seconds);
            j["seconds_per_image_naive"] = naive_s;
            j["cpu_seconds_per_image_naive"] = median(naive->cpu_seconds);
            j["speedup_vs_naive_cpu"] = median(naive->cpu_seconds) / median(fast.cpu_seconds);
            j["key_switches_naive"] = naive->key_switches;
            j["rotation_keys_naive"] = naive->compiled->keys().rotations.size();
            j["eval_key_bytes_naive"] = naive->key_bytes;
            j["precision_bits_naive"] = bits(naive->output);
            j["speedup_vs_naive"] = naive_s / fast_s;
        }
        if (one_copy) {
            j["seconds_per_image_one_copy"] = median(one_copy->seconds);
            j["cpu_seconds_per_image_one_copy"] = median(one_copy->cpu_seconds);
            j["speedup_vs_one_copy_cpu"] = median(one_copy->cpu_seconds) / median(fast.cpu_seconds);
            j["key_switches_one_copy"] = one_copy->key_switches;
            j["eval_key_bytes_one_copy"] = one_copy->key_bytes;
            j["images_per_ciphertext_one_copy"] = one_copy->compiled->batch_size();
            j["precision_bits_one_copy"] = bits(one_copy->output);
        }
        if (a->json) {
            std::cout << j.dump(2) << "\n";
            return;
        }
        std::printf(
            "%s, latency packing: N = 2^%d, log2(QP) = %.1f (%d-bit security), %lld slots per "
            "image, "
            "%d threads, kernels %s / %s\n",
            a->model.c_str(), ctx.log_n(), ctx.log_qp(), static_cast<int>(ctx.security()),
            static_cast<long long>(fast.compiled->latency_layout()->region), math::thread_count(),
            math::ntt_kernel_name(), math::vector_kernel_name());
        for (const auto& s : fast.compiled->stages()) {
            std::printf("    %-24s %-10s %s\n", s.name.c_str(), s.kind.c_str(), s.detail.c_str());
        }
        std::printf(
            "  BSGS + double hoisting: %.3f s per image (median of %d; %.3f CPU s), %lld key "
            "switches, %zu rotation keys, "
            "%.1f MB of evaluation keys, %.1f bits, prediction %s plaintext\n",
            fast_s, a->reps, median(fast.cpu_seconds), static_cast<long long>(fast.key_switches),
            fast.compiled->keys().rotations.size(), fast.key_bytes / 1e6, bits(fast.output),
            label(fast.output) == label(plain) ? "equals" : "DIFFERS from");
        if (naive) {
            const double naive_s = median(naive->seconds);
            std::printf(
                "  naive diagonals:        %.3f s per image (%.3f CPU s), %lld key switches, %zu "
                "rotation keys, %.1f MB, "
                "%.1f bits: BSGS is %.2fx faster\n",
                naive_s, median(naive->cpu_seconds), static_cast<long long>(naive->key_switches),
                naive->compiled->keys().rotations.size(), naive->key_bytes / 1e6,
                bits(naive->output), naive_s / fast_s);
        }
        if (one_copy) {
            std::printf(
                "  the input in one copy:  %.3f s per image (%.3f CPU s), %lld key switches, "
                "%.1f MB, %lld images per ciphertext: %zu copies are %.2fx faster (CPU)\n",
                median(one_copy->seconds), median(one_copy->cpu_seconds),
                static_cast<long long>(one_copy->key_switches), one_copy->key_bytes / 1e6,
                static_cast<long long>(one_copy->compiled->batch_size()),
                fast.compiled->latency_layout()->input_copies.size(),
                median(one_copy->cpu_seconds) / median(fast.cpu_seconds));
        }
        std::printf("  upload %.1f KB, download %.1f KB per request\n", upload / 1e3,
                    download / 1e3);
    });
});

}  // namespace
}  // namespace henn::cli
