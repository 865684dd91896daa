// henn bench engine: server-side throughput of an encrypted network, the blocked kernels against
// one evaluator call per weight (the naive loop), in the same run, as a ratio.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include "command_registry.hpp"
#include "common_options.hpp"
#include "engine_common.hpp"
#include "henn/engine/client.hpp"
#include "henn/engine/session.hpp"
#include "henn/math/ntt.hpp"
#include "henn/math/parallel.hpp"
#include "henn/math/vector_ops.hpp"

namespace henn::cli {
namespace {

struct BenchArgs {
    std::string model, data = "mnist", data_dir, slots = "auto";
    std::int64_t count = 0;
    int threads = 0, scale_bits = 0, log_n = 0;
    bool naive = false, json = false, lazy_relinearization = false;
};

const CommandRegistrar bench_engine_command(61, "bench engine", [](CLI::App& root) {
    auto a = std::make_shared<BenchArgs>();
    CLI::App* bench = command_group(root, "bench", "Benchmarks (median times of repeated runs)");
    auto* cmd = bench->add_subcommand(
        "engine",
        "Encrypted inference throughput: blocked kernels vs one evaluator call per weight");
    cmd->add_option("model", a->model, "ONNX model")->required()->check(CLI::ExistingFile);
    add_data_option(cmd, a->data);
    add_data_dir_option(cmd, a->data_dir, DataDirDefault::required, "where the data set is");
    cmd->add_option("--count", a->count, "images (default: one full batch)");
    cmd->add_option("--slots", a->slots, "auto | real | complex")
        ->check(CLI::IsMember({"auto", "real", "complex"}));
    cmd->add_option("--scale-bits", a->scale_bits, "bits of the scale (default: chosen)");
    cmd->add_option("--log-n", a->log_n, "ring degree 2^N (default: chosen)");
    cmd->add_flag("--lazy-relinearization", a->lazy_relinearization,
                  "squares between linear stages summed unrelinearized, one relinearization per "
                  "output of the next stage (batch packing; fewer key switches, a larger scale)");
    add_threads_option(cmd, a->threads, "threads");
    cmd->add_flag("--naive", a->naive,
                  "also run the naive loop (multiply_constant + add per weight) and compare");
    add_json_flag(cmd, a->json);
    cmd->callback([a] {
        using Clock = std::chrono::steady_clock;
        if (a->threads) math::set_thread_count(a->threads);
        const nn::Model model = import_model(a->model, "");
        engine::CompileOptions o =
            compile_options(a->slots, a->scale_bits, a->log_n, 12, a->data, a->data_dir, 512);
        o.lazy_relinearization = a->lazy_relinearization;
        const auto compiled = engine::CompiledModel::compile(model, o);
        const std::int64_t count =
            a->count > 0 ? std::min(a->count, compiled->batch_size()) : compiled->batch_size();
        // Test images repeated to fill the batch: the cost does not depend on the values.
        const Samples test = load_samples(a->data, a->data_dir, false, 0, count);
        std::vector<double> values;
        while (static_cast<std::int64_t>(values.size()) < count * compiled->input_size()) {
            values.insert(values.end(), test.values.begin(), test.values.end());
        }
        values.resize(static_cast<std::size_t>(count * compiled->input_size()));
        engine::Client client(compiled);
        engine::Session session(compiled, client.evaluation_keys());
        const auto batch = client.encrypt(values, count).front();
        std::vector<double> stage_seconds(compiled->stages().size(), 0.0);
        auto time_run = [&](bool naive, engine::EncryptedBatch& out) {
            engine::RunOptions r;
            r.reference_kernels = naive;
            const auto t = Clock::now();
            auto last = t;
            std::size_t last_stage = 0;
            if (!naive) {
                // Time spent per stage (a fused linear + activation pair reports as it goes).
                r.progress = [&](std::size_t stage, std::int64_t, std::int64_t) {
                    const auto now = Clock::now();
                    stage_seconds[std::max(stage, last_stage)] +=
                        std::chrono::duration<double>(now - last).count();
                    last = now;
                    last_stage = stage;
                };
            }
            out = session.run(batch, r);
            return std::chrono::duration<double>(Clock::now() - t).count();
        };
        engine::EncryptedBatch fast_out, naive_out;
        const double fast = time_run(false, fast_out);
        double naive = 0;
        bool identical = true;
        if (a->naive) {
            naive = time_run(true, naive_out);
            for (std::size_t i = 0; i < fast_out.ciphertexts.size(); ++i) {
                identical =
                    identical && fast_out.ciphertexts[i].polys == naive_out.ciphertexts[i].polys;
            }
        }
        const double n = static_cast<double>(count);
        nlohmann::json j;
        j["model"] = a->model;
        j["images"] = count;
        j["log_n"] = compiled->context()->log_n();
        j["slots"] = engine::to_string(compiled->slot_packing());
        j["lazy_relinearization"] = compiled->lazy_relinearization();
        j["threads"] = math::thread_count();
        j["ntt_kernel"] = math::ntt_kernel_name();
        j["vector_kernel"] = math::vector_kernel_name();
        j["seconds_infer"] = fast;
        j["images_per_second"] = n / fast;
        j["input_bytes_per_image"] = static_cast<double>(compiled->input_bytes_per_batch()) /
                                     static_cast<double>(compiled->batch_size());
        j["eval_key_bytes"] = compiled->evaluation_key_bytes();
        j["peak_rss_bytes"] = peak_rss_bytes();
        for (std::size_t k = 0; k < stage_seconds.size(); ++k) {
            j["stages"].push_back(
                {{"name", compiled->stages()[k].name}, {"seconds", stage_seconds[k]}});
        }
        if (a->naive) {
            j["seconds_infer_naive"] = naive;
            j["images_per_second_naive"] = n / naive;
            j["speedup_vs_naive"] = naive / fast;
            j["identical_to_naive"] = identical;
        }
        if (a->json) {
            std::cout << j.dump(2) << "\n";
        } else {
            std::printf("%s: %lld images, N = 2^%d, %s slots, %d threads, kernels %s / %s\n",
                        a->model.c_str(), static_cast<long long>(count),
                        compiled->context()->log_n(),
                        engine::to_string(compiled->slot_packing()).c_str(), math::thread_count(),
                        math::ntt_kernel_name(), math::vector_kernel_name());
            std::printf("  blocked kernels: %.2f s, %.0f images/s\n", fast, n / fast);
            for (std::size_t k = 0; k < stage_seconds.size(); ++k) {
                std::printf("    %-28s %6.2f s\n", compiled->stages()[k].name.c_str(),
                            stage_seconds[k]);
            }
            if (a->naive) {
                std::printf(
                    "  naive loop:      %.2f s, %.0f images/s (blocked is %.2fx faster; outputs "
                    "%s)\n",
                    naive, n / naive, naive / fast, identical ? "bit-identical" : "DIFFER");
            }
            std::printf(
                "  upload %.1f KB per image, evaluation keys %.2f MB, peak memory %.2f GB\n",
                j["input_bytes_per_image"].get<double>() / 1000,
                compiled->evaluation_key_bytes() / 1e6, peak_rss_bytes() / 1e9);
        }
        if (a->naive && !identical)
            throw CommandFailure(ErrorCategory::internal, "blocked and naive kernels disagree");
    });
});

}  // namespace
}  // namespace henn::cli
