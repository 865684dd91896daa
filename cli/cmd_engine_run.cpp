// henn run: compile, keygen, encrypt, infer, decrypt and the plaintext reference in one process.
#include <spdlog/spdlog.h>

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
#include "henn/engine/session.hpp"
#include "henn/math/parallel.hpp"
#include "henn/nn/reference.hpp"

namespace henn::cli {

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

std::int64_t argmax(const double* v, std::int64_t n) {
    return std::max_element(v, v + n) - v;
}
}  // namespace

EncryptedEvaluation evaluate_encrypted(const engine::CompiledModelPtr& compiled,
                                       const nn::Model* model, const Samples& samples, bool trace,
                                       bool progress) {
    EncryptedEvaluation e;
    e.samples = samples.count;
    auto t = Clock::now();
    engine::Client client(compiled);
    const auto keys = client.evaluation_keys();
    e.seconds_keygen = seconds_since(t);
    e.eval_key_bytes = engine::save_evaluation_keys(*compiled, keys).size();
    engine::Session session(compiled, keys);  // the server's side: evaluation keys only

    // One batch is encrypted, measured and run at a time, so memory holds one batch of inputs.
    const std::int64_t per_batch = compiled->batch_size();
    e.batches = (samples.count + per_batch - 1) / per_batch;
    double bytes_up = 0;

    const auto& stages = compiled->stages();
    std::vector<engine::EncryptedBatch> outputs;
    ProgressBar bar("encrypted inference", progress);
    double infer = 0;
    std::vector<std::vector<std::vector<double>>> plain;  // [sample][stage][value] for the trace
    for (std::int64_t b = 0; b < e.batches; ++b) {
        t = Clock::now();
        const std::int64_t first = b * per_batch,
                           count = std::min(per_batch, samples.count - first);
        auto inputs =
            client.encrypt(std::span<const double>(samples.values)
                               .subspan(static_cast<std::size_t>(first * compiled->input_size()),
                                        static_cast<std::size_t>(count * compiled->input_size())),
                           count);
        e.seconds_encrypt += seconds_since(t);
        bytes_up += static_cast<double>(engine::saved_batches_bytes(*compiled, inputs));
        engine::RunOptions o;
        o.progress = [&](std::size_t stage, std::int64_t done, std::int64_t total) {
            bar.update(stage, stages.size(), done, total);
        };
        if (trace && b == 0) {
            // The shadow-precision debugger: decrypt each stage and compare with the plaintext
            // program.
            const std::int64_t n = std::min<std::int64_t>(count, 256);
            plain.assign(static_cast<std::size_t>(n), {});
            for (std::int64_t j = 0; j < n; ++j) {
                compiled->run_plain(
                    std::span<const double>(samples.values)
                        .subspan(j * compiled->input_size(), compiled->input_size()),
                    &plain[j]);
            }
            o.trace = [&, n](std::size_t stage, const std::vector<ckks::Ciphertext>& outs) {
                const auto values = client.decrypt_stage(stage, outs, n);
                EncryptedEvaluation::TraceRow row;
                row.stage = stages[stage].name;
                row.level = outs.empty() ? 0 : outs[0].level;
                row.log2_scale = outs.empty() ? 0 : std::log2(outs[0].scale);
                for (std::size_t i = 0; i < values.size(); ++i) {
                    for (std::int64_t j = 0; j < n; ++j) {
                        row.max_error =
                            std::max(row.max_error, std::abs(values[i][j] - plain[j][stage][i]));
                        row.max_abs = std::max(row.max_abs, std::abs(plain[j][stage][i]));
                    }
                }
                row.bits = row.max_error > 0 ? -std::log2(row.max_error) : 60;
                e.trace.push_back(row);
            };
        }
        t = Clock::now();
        for (auto& batch : inputs) outputs.push_back(session.run(std::move(batch), o));
        infer += seconds_since(t);
    }
    bar.finish();
    e.seconds_infer = infer;
    e.bytes_up_per_sample = bytes_up / static_cast<double>(samples.count);
    e.bytes_down_per_sample = static_cast<double>(engine::saved_batches_bytes(*compiled, outputs)) /
                              static_cast<double>(samples.count);
    t = Clock::now();
    const auto decrypted = client.decrypt(outputs);
    e.seconds_decrypt = seconds_since(t);

    std::vector<double> reference;
    if (model != nullptr) {
        e.reference = "model";
        reference = nn::run_reference_batch(*model, samples.values, samples.count);
    } else {
        e.reference = "compiled program";
        reference.reserve(static_cast<std::size_t>(samples.count * compiled->output_size()));
        for (std::int64_t i = 0; i < samples.count; ++i) {
            const auto out = compiled->run_plain(
                std::span<const double>(samples.values)
                    .subspan(static_cast<std::size_t>(i * compiled->input_size()),
                             compiled->input_size()));
            reference.insert(reference.end(), out.begin(), out.end());
        }
    }
    const std::int64_t width = compiled->output_size();
    std::int64_t correct = 0, plain_correct = 0, agree = 0;
    std::vector<double> bits(static_cast<std::size_t>(samples.count));
    for (std::int64_t i = 0; i < samples.count; ++i) {
        const auto enc = argmax(decrypted.data() + i * width, width);
        const auto ref = argmax(reference.data() + i * width, width);
        correct += enc == samples.labels[i];
        plain_correct += ref == samples.labels[i];
        agree += enc == ref;
        double worst = 0;
        for (std::int64_t o = 0; o < width; ++o)
            worst = std::max(worst, std::abs(decrypted[i * width + o] - reference[i * width + o]));
        bits[i] = worst > 0 ? -std::log2(worst) : 60;
    }
    const double n = static_cast<double>(samples.count);
    e.accuracy = correct / n;
    e.plaintext_accuracy = plain_correct / n;
    e.agreement = agree / n;
    std::sort(bits.begin(), bits.end());
    e.precision_bits_min = bits.front();
    e.precision_bits_median = bits[bits.size() / 2];
    e.peak_rss = peak_rss_bytes();
    return e;
}

nlohmann::json evaluation_json(const engine::CompiledModel& compiled,
                               const EncryptedEvaluation& e) {
    nlohmann::json j;
    j["images"] = e.samples;
    j["batches"] = e.batches;
    j["batch_size"] = compiled.batch_size();
    j["accuracy"] = e.accuracy;
    j["plaintext_accuracy"] = e.plaintext_accuracy;
    j["agreement"] = e.agreement;
    j["seconds_keygen"] = e.seconds_keygen;
    j["seconds_encrypt"] = e.seconds_encrypt;
    j["seconds_infer"] = e.seconds_infer;
    j["seconds_decrypt"] = e.seconds_decrypt;
    j["images_per_second"] = static_cast<double>(e.samples) / e.seconds_infer;
    j["seconds_per_image"] = e.seconds_infer / static_cast<double>(e.samples);
    j["packing"] = engine::to_string(compiled.packing());
    j["reference"] = e.reference;
    std::int64_t key_switches = 0;
    for (const auto& s : compiled.stages()) key_switches += s.key_switches;
    j["key_switches_per_batch"] = key_switches;
    j["bytes_up_per_image"] = e.bytes_up_per_sample;
    j["bytes_down_per_image"] = e.bytes_down_per_sample;
    j["eval_key_bytes"] = e.eval_key_bytes;
    j["precision_bits_min"] = e.precision_bits_min;
    j["precision_bits_median"] = e.precision_bits_median;
    j["expected_precision_bits"] = compiled.expected_precision_bits();
    j["peak_rss_bytes"] = e.peak_rss;
    j["log_n"] = compiled.context()->log_n();
    j["depth"] = compiled.depth();
    j["slots"] = engine::to_string(compiled.slot_packing());
    j["threads"] = math::thread_count();
    for (const auto& r : e.trace) {
        j["trace"].push_back({{"stage", r.stage},
                              {"level", r.level},
                              {"log2_scale", r.log2_scale},
                              {"max_error", r.max_error},
                              {"bits", r.bits},
                              {"max_abs", r.max_abs}});
    }
    return j;
}

void print_evaluation(const engine::CompiledModel& compiled, const EncryptedEvaluation& e) {
    std::printf("encrypted inference on %lld images (%lld batch(es) of up to %lld, %d threads)\n",
                static_cast<long long>(e.samples), static_cast<long long>(e.batches),
                static_cast<long long>(compiled.batch_size()), math::thread_count());
    std::printf("  accuracy %.2f%% (plaintext %s %.2f%%), agreement with plaintext %.2f%%\n",
                100 * e.accuracy, e.reference.c_str(), 100 * e.plaintext_accuracy,
                100 * e.agreement);
    std::printf("  precision of the logits: worst %.1f bits, median %.1f bits (expected %.1f)\n",
                e.precision_bits_min, e.precision_bits_median, compiled.expected_precision_bits());
    std::printf(
        "  client: keys %.2f s, encrypt %.2f s, decrypt %.2f s; server: infer %.2f s = %.0f "
        "images/s (%.3f s per image)\n",
        e.seconds_keygen, e.seconds_encrypt, e.seconds_decrypt, e.seconds_infer,
        static_cast<double>(e.samples) / e.seconds_infer,
        e.seconds_infer / static_cast<double>(e.samples));
    std::printf(
        "  upload %.1f KB per image, download %.2f KB per image, evaluation keys %.2f MB, peak "
        "memory %.2f GB\n",
        e.bytes_up_per_sample / 1000, e.bytes_down_per_sample / 1000, e.eval_key_bytes / 1e6,
        e.peak_rss / 1e9);
    if (!e.trace.empty()) {
        std::printf(
            "trace (first batch, up to 256 images): per stage, decrypted vs plaintext program\n");
        std::printf("  %-36s %5s %10s %12s %12s %6s\n", "stage", "level", "log2 scale",
                    "max |value|", "max error", "bits");
        for (const auto& r : e.trace) {
            std::printf("  %-36s %5d %10.2f %12.4g %12.3g %6.1f\n", r.stage.c_str(), r.level,
                        r.log2_scale, r.max_abs, r.max_error, r.bits);
        }
    }
}

namespace {

struct CompileArgsRun {
    std::string model, data = "mnist", data_dir, activation, slots = "auto", packing = "batch";
    std::int64_t count = 0, offset = 0, calibration_count = 512;
    int scale_bits = 0, log_n = 0, threads = 0, input_copies = 0;
    double precision = 12;
    bool json = false, trace = false, lazy_relinearization = false;
};

const CommandRegistrar run_command(25, "run", [](CLI::App& root) {
    auto a = std::make_shared<CompileArgsRun>();
    auto* cmd = root.add_subcommand(
        "run", "Compile, encrypt, infer, decrypt and compare with plaintext, in one process");
    cmd->add_option("model", a->model,
                    "ONNX model, or a model compiled by `henn compile` (then the compile options "
                    "do not apply and the plaintext reference is the compiled program)")
        ->required()
        ->check(CLI::ExistingFile);
    add_data_option(cmd, a->data);
    add_data_dir_option(cmd, a->data_dir, DataDirDefault::required, "where the data set is");
    cmd->add_option("--count", a->count, "test images (default: one batch)");
    cmd->add_option("--offset", a->offset, "first test image");
    cmd->add_option(
           "--packing", a->packing,
           "batch | latency | auto (latency for at most 16 images, batch otherwise; default batch)")
        ->check(CLI::IsMember({"batch", "latency", "auto"}));
    cmd->add_option("--slots", a->slots, "auto | real | complex")
        ->check(CLI::IsMember({"auto", "real", "complex"}));
    cmd->add_option("--calibration-count", a->calibration_count,
                    "training images used for calibration (default 512)");
    cmd->add_option("--scale-bits", a->scale_bits, "bits of the scale (default: chosen)")
        ->check(CLI::Range(16, 58));
    cmd->add_option("--precision", a->precision,
                    "bits of output precision to plan for, relative to the largest output on the "
                    "calibration set (default 12)");
    cmd->add_option("--log-n", a->log_n, "ring degree 2^N (default: chosen)")
        ->check(CLI::Range(12, 16));
    cmd->add_option("--activation", a->activation,
                    "replacement for ReLU/sigmoid/tanh in imported models");
    cmd->add_flag("--lazy-relinearization", a->lazy_relinearization,
                  "squares between linear stages summed unrelinearized, one relinearization per "
                  "output of the next stage (batch packing; fewer key switches, a larger scale)");
    add_input_copies_option(cmd, a->input_copies);
    add_threads_option(cmd, a->threads, "threads");
    cmd->add_flag("--trace", a->trace,
                  "per stage: level, scale, error of the decrypted values against plaintext");
    add_json_flag(cmd, a->json);
    cmd->callback([a, cmd] {
        if (a->threads) math::set_thread_count(a->threads);
        if (is_compiled_model_file(a->model)) {
            for (const char* flag :
                 {"--packing", "--slots", "--calibration-count", "--scale-bits", "--precision",
                  "--log-n", "--activation", "--lazy-relinearization", "--input-copies"}) {
                if (cmd->get_option(flag)->count() > 0) {
                    throw CommandFailure(ErrorCategory::usage,
                                         std::string(flag) + " applies when compiling; " +
                                             a->model + " is already compiled");
                }
            }
            const auto compiled = load_compiled(a->model);
            if (!a->json) std::cout << compiled->summary();
            const Samples test = load_samples(a->data, a->data_dir, false, a->offset,
                                              a->count > 0 ? a->count : compiled->batch_size());
            const auto e = evaluate_encrypted(compiled, nullptr, test, a->trace, !a->json);
            if (a->json) {
                std::cout << evaluation_json(*compiled, e).dump(2) << "\n";
            } else {
                print_evaluation(*compiled, e);
            }
            return;
        }
        const nn::Model model = import_model(a->model, a->activation);
        engine::CompileOptions o = compile_options(a->slots, a->scale_bits, a->log_n, a->precision,
                                                   a->data, a->data_dir, a->calibration_count);
        o.packing = choose_packing(a->packing, a->count);
        o.lazy_relinearization = a->lazy_relinearization;
        o.latency_input_copies = a->input_copies;
        std::vector<std::string> warnings;
        const auto t = std::chrono::steady_clock::now();
        const auto compiled = engine::CompiledModel::compile(model, o, &warnings);
        const double compile_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
        for (const auto& w : warnings) spdlog::warn("{}", w);
        if (!a->json) std::cout << compiled->summary();
        const Samples test = load_samples(a->data, a->data_dir, false, a->offset,
                                          a->count > 0 ? a->count : compiled->batch_size());
        const auto e = evaluate_encrypted(compiled, &model, test, a->trace, !a->json);
        if (a->json) {
            auto j = evaluation_json(*compiled, e);
            j["seconds_compile"] = compile_seconds;
            std::cout << j.dump(2) << "\n";
        } else {
            print_evaluation(*compiled, e);
        }
    });
});

}  // namespace
}  // namespace henn::cli
