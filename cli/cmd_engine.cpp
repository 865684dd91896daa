// henn compile | keygen | encrypt | infer | decrypt | run: encrypted inference, one step at a time
// (client and server as separate commands) or all in one process with the plaintext reference.
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "command_registry.hpp"
#include "common_options.hpp"
#include "engine_common.hpp"
#include "henn/engine/client.hpp"
#include "henn/engine/compiled_model.hpp"
#include "henn/engine/errors.hpp"
#include "henn/engine/latency.hpp"
#include "henn/engine/session.hpp"
#include "henn/math/parallel.hpp"
#include "henn/nn/reference.hpp"

namespace henn::cli {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

// Options shared by compile and run: what the compiler needs.
struct CompileArgs {
    std::string packing = "batch", slots = "auto", calibration, activation;
    std::int64_t calibration_count = 512;
    int scale_bits = 0, log_n = 0, security = 128;
    double precision = 12;
    bool lazy_relinearization = false;
    int input_copies = 0;
};

void add_compile_options(CLI::App* cmd, CompileArgs& a) {
    cmd->add_option("--packing", a.packing,
                    "batch (one sample per slot, thousands per ciphertext) | latency (one sample "
                    "per ciphertext, "
                    "every layer one rotation-based linear transform) | auto (latency: compile "
                    "does not know the "
                    "number of inputs)")
        ->check(CLI::IsMember({"batch", "latency", "auto"}));
    cmd->add_option(
           "--slots", a.slots,
           "auto | real | complex: one or two samples per slot (complex needs degree <= 2)")
        ->check(CLI::IsMember({"auto", "real", "complex"}));
    cmd->add_option("--calibration", a.calibration,
                    "NAME:DIR, e.g. mnist:../shared/data: training samples that bound every value "
                    "of the network");
    cmd->add_option("--calibration-count", a.calibration_count, "calibration samples (default 512)")
        ->check(CLI::Range(1, 100000));
    cmd->add_option("--scale-bits", a.scale_bits,
                    "bits of the scale (default: the smallest meeting --precision)")
        ->check(CLI::Range(16, 58));
    cmd->add_option("--precision", a.precision,
                    "bits of output precision to plan for, relative to the largest output on the "
                    "calibration set (default 12)")
        ->check(CLI::Range(1.0, 40.0));
    cmd->add_option("--log-n", a.log_n, "ring degree 2^N (default: the smallest secure one)")
        ->check(CLI::Range(12, 16));
    cmd->add_option("--security", a.security, "128 | 192 | 256 bits")
        ->check(CLI::IsMember({128, 192, 256}));
    cmd->add_flag("--lazy-relinearization", a.lazy_relinearization,
                  "squares between linear stages summed unrelinearized, one relinearization per "
                  "output of the next stage (batch packing; fewer key switches, a larger scale)");
    cmd->add_option(
        "--activation", a.activation,
        "replacement for ReLU/sigmoid/tanh in imported models (default poly:least-squares:2:4)");
    add_input_copies_option(cmd, a.input_copies);
}

engine::CompiledModelPtr compile_model(const nn::Model& model, const CompileArgs& a) {
    std::string data, dir;
    if (!a.calibration.empty()) {
        const auto colon = a.calibration.find(':');
        if (colon == std::string::npos)
            throw CommandFailure(ErrorCategory::usage,
                                 "--calibration takes NAME:DIR, e.g. mnist:../shared/data");
        data = a.calibration.substr(0, colon);
        dir = a.calibration.substr(colon + 1);
    }
    engine::CompileOptions o = compile_options(a.slots, a.scale_bits, a.log_n, a.precision, data,
                                               dir, a.calibration_count);
    o.security = static_cast<ckks::SecurityLevel>(a.security);
    o.packing = choose_packing(a.packing, 0);
    o.lazy_relinearization = a.lazy_relinearization;
    o.latency_input_copies = a.input_copies;
    std::vector<std::string> warnings;
    auto compiled = engine::CompiledModel::compile(model, o, &warnings);
    for (const auto& w : warnings) spdlog::warn("{}", w);
    return compiled;
}

nlohmann::json summary_json(const engine::CompiledModel& m) {
    const ckks::Context& ctx = *m.context();
    nlohmann::json j;
    j["log_n"] = ctx.log_n();
    j["log_qp"] = ctx.log_qp();
    j["security"] = static_cast<int>(ctx.security());
    std::vector<int> q, p;
    for (const auto& x : ctx.q()) q.push_back(static_cast<int>(std::bit_width(x.value())));
    for (const auto& x : ctx.p()) p.push_back(static_cast<int>(std::bit_width(x.value())));
    j["q_bits"] = q;
    j["p_bits"] = p;
    j["depth"] = m.depth();
    j["packing"] = engine::to_string(m.packing());
    j["slots"] = engine::to_string(m.slot_packing());
    j["batch_size"] = m.batch_size();
    j["lazy_relinearization"] = m.lazy_relinearization();
    j["relinearization_key"] = m.keys().relinearization;
    j["conjugation_key"] = m.keys().conjugation;
    j["rotation_keys"] = m.keys().rotations;
    if (m.latency_layout()) {
        j["slots_per_sample"] = m.latency_layout()->region;
        j["input_copies"] = m.latency_layout()->input_copies.size();
    }
    j["eval_key_bytes"] = m.evaluation_key_bytes();
    j["input_bytes_per_batch"] = m.input_bytes_per_batch();
    j["expected_precision_bits"] = m.expected_precision_bits();
    for (const auto& s : m.stages()) {
        j["stages"].push_back({{"name", s.name},
                               {"kind", s.kind},
                               {"level_in", s.level_in},
                               {"level_out", s.level_out},
                               {"log2_scale_out", std::log2(s.scale_out)},
                               {"depth", s.depth},
                               {"ct_multiplications", s.ct_multiplications},
                               {"multiply_accumulates", s.multiply_accumulates},
                               {"key_switches", s.key_switches},
                               {"max_abs_out", s.max_abs_out},
                               {"detail", s.detail}});
    }
    return j;
}

// ---------------------------------------------------------------------------------------------

const CommandRegistrar compile_command(20, "compile", [](CLI::App& root) {
    struct Args {
        std::string model, out;
        bool json = false;
        CompileArgs c;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = root.add_subcommand("compile",
                                    "Compile an ONNX model into an encrypted program (model.henn)");
    cmd->add_option("model", a->model, "ONNX model")->required()->check(CLI::ExistingFile);
    cmd->add_option("-o,--out", a->out, "compiled model to write (.henn)")->required();
    add_compile_options(cmd, a->c);
    add_json_flag(cmd, a->json, "print the plan as JSON");
    cmd->callback([a] {
        const auto compiled = compile_model(import_model(a->model, a->c.activation), a->c);
        write_file(a->out, compiled->save());
        if (a->json) {
            auto j = summary_json(*compiled);
            j["out"] = a->out;
            std::cout << j.dump(2) << "\n";
        } else {
            std::cout << compiled->summary() << "wrote " << a->out << "\n";
        }
    });
});

const CommandRegistrar keygen_command(21, "keygen", [](CLI::App& root) {
    struct Args {
        std::string model, out;
        bool force = false, json = false;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = root.add_subcommand(
        "keygen", "Client: make the keys of a compiled model (secret.key, evaluation.keys)");
    cmd->add_option("model", a->model, "compiled model (.henn)")
        ->required()
        ->check(CLI::ExistingFile);
    cmd->add_option("--out", a->out, "directory for secret.key (mode 0600) and evaluation.keys")
        ->required();
    cmd->add_flag("--force", a->force, "replace an existing secret key");
    add_json_flag(cmd, a->json);
    cmd->callback([a] {
        const auto compiled = load_compiled(a->model);
        engine::Client client(compiled);
        const std::filesystem::path dir(a->out);
        auto secret = client.save_secret_key();
        write_file(dir / "secret.key", secret, /*private_file=*/true, a->force);
        std::fill(secret.begin(), secret.end(), std::uint8_t{0});
        const auto keys = engine::save_evaluation_keys(*compiled, client.evaluation_keys());
        write_file(dir / "evaluation.keys", keys);
        if (a->json) {
            std::cout << nlohmann::json{{"secret_key", (dir / "secret.key").string()},
                                        {"evaluation_keys", (dir / "evaluation.keys").string()},
                                        {"eval_key_bytes", keys.size()}}
                             .dump(2)
                      << "\n";
        } else {
            std::printf(
                "wrote %s (mode 0600; keep it on the client)\nwrote %s (%.2f MiB; send it to the "
                "server)\n",
                (dir / "secret.key").c_str(), (dir / "evaluation.keys").c_str(),
                keys.size() / 1048576.0);
        }
    });
});

const CommandRegistrar encrypt_command(22, "encrypt", [](CLI::App& root) {
    struct Args {
        std::string model, key, data = "mnist", data_dir, out;
        std::int64_t count = 0, offset = 0;
        bool json = false;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = root.add_subcommand("encrypt",
                                    "Client: encrypt samples of a data set for a compiled model");
    cmd->add_option("model", a->model, "compiled model (.henn)")
        ->required()
        ->check(CLI::ExistingFile);
    cmd->add_option("--key", a->key, "secret.key from henn keygen")
        ->required()
        ->check(CLI::ExistingFile);
    add_data_option(cmd, a->data);
    add_data_dir_option(cmd, a->data_dir, DataDirDefault::required, "where the data set is");
    cmd->add_option("--count", a->count, "samples (default: all)");
    cmd->add_option("--offset", a->offset, "first sample of the test split");
    cmd->add_option("-o,--out", a->out, "ciphertexts to write")->required();
    add_json_flag(cmd, a->json);
    cmd->callback([a] {
        const auto compiled = load_compiled(a->model);
        engine::Client client(compiled, read_file(a->key));
        const Samples s = load_samples(a->data, a->data_dir, false, a->offset, a->count);
        const auto t = Clock::now();
        const auto batches = client.encrypt(s.values, s.count);
        const auto bytes = engine::save_batches(*compiled, batches, engine::BundleKind::inputs);
        const double secs = seconds_since(t);
        write_file(a->out, bytes);
        if (a->json) {
            std::cout << nlohmann::json{{"samples", s.count},
                                        {"batches", batches.size()},
                                        {"bytes", bytes.size()},
                                        {"bytes_per_sample",
                                         static_cast<double>(bytes.size()) / s.count},
                                        {"seconds", secs}}
                             .dump(2)
                      << "\n";
        } else {
            std::printf(
                "encrypted %lld samples in %zu batch(es), %.1f s; wrote %s (%.1f MiB, %.0f bytes "
                "per sample)\n",
                static_cast<long long>(s.count), batches.size(), secs, a->out.c_str(),
                bytes.size() / 1048576.0, static_cast<double>(bytes.size()) / s.count);
        }
    });
});

const CommandRegistrar infer_command(23, "infer", [](CLI::App& root) {
    struct Args {
        std::string model, keys, in, out;
        int threads = 0;
        bool json = false;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = root.add_subcommand(
        "infer", "Server: run a compiled model on encrypted inputs (no secret key needed)");
    cmd->add_option("model", a->model, "compiled model (.henn)")
        ->required()
        ->check(CLI::ExistingFile);
    cmd->add_option("--keys", a->keys, "evaluation.keys from henn keygen")
        ->required()
        ->check(CLI::ExistingFile);
    cmd->add_option("--in", a->in, "input ciphertexts from henn encrypt")
        ->required()
        ->check(CLI::ExistingFile);
    cmd->add_option("-o,--out", a->out, "output ciphertexts to write")->required();
    add_threads_option(cmd, a->threads, "threads");
    add_json_flag(cmd, a->json);
    cmd->callback([a] {
        if (a->threads) math::set_thread_count(a->threads);
        const auto compiled = load_compiled(a->model);
        engine::Session session(compiled,
                                engine::load_evaluation_keys(*compiled, read_file(a->keys)));
        auto inputs = engine::load_batches(*compiled, read_file(a->in), engine::BundleKind::inputs);
        std::vector<engine::EncryptedBatch> outputs;
        std::int64_t samples = 0;
        ProgressBar bar("infer", !a->json);
        const auto t = Clock::now();
        for (auto& b : inputs) {
            engine::RunOptions o;
            o.progress = [&](std::size_t stage, std::int64_t done, std::int64_t total) {
                bar.update(stage, compiled->stages().size(), done, total);
            };
            samples += b.samples;
            outputs.push_back(session.run(std::move(b), o));
        }
        const double secs = seconds_since(t);
        bar.finish();
        write_file(a->out, engine::save_batches(*compiled, outputs, engine::BundleKind::outputs));
        if (a->json) {
            std::cout << nlohmann::json{{"samples", samples},
                                        {"seconds_infer", secs},
                                        {"samples_per_second", samples / secs},
                                        {"peak_rss_bytes", peak_rss_bytes()}}
                             .dump(2)
                      << "\n";
        } else {
            std::printf("inferred %lld samples in %.2f s (%.0f samples/s); wrote %s\n",
                        static_cast<long long>(samples), secs, samples / secs, a->out.c_str());
        }
    });
});

const CommandRegistrar decrypt_command(24, "decrypt", [](CLI::App& root) {
    struct Args {
        std::string model, key, in, data, data_dir;
        std::int64_t offset = 0;
        bool logits = false, json = false;
    };
    auto a = std::make_shared<Args>();
    auto* cmd =
        root.add_subcommand("decrypt", "Client: decrypt outputs into predicted labels (or logits)");
    cmd->add_option("model", a->model, "compiled model (.henn)")
        ->required()
        ->check(CLI::ExistingFile);
    cmd->add_option("--key", a->key, "secret.key from henn keygen")
        ->required()
        ->check(CLI::ExistingFile);
    cmd->add_option("--in", a->in, "output ciphertexts from henn infer")
        ->required()
        ->check(CLI::ExistingFile);
    cmd->add_flag("--logits", a->logits, "print every output value, not only the label");
    add_data_option(cmd, a->data,
                    "with --data-dir: compare with this data set's labels (test split)");
    add_data_dir_option(cmd, a->data_dir, DataDirDefault::optional, "where the data set is");
    cmd->add_option("--offset", a->offset, "first sample, as given to henn encrypt");
    add_json_flag(cmd, a->json, "predictions as JSON");
    cmd->callback([a] {
        const auto compiled = load_compiled(a->model);
        engine::Client client(compiled, read_file(a->key));
        const auto outputs =
            engine::load_batches(*compiled, read_file(a->in), engine::BundleKind::outputs);
        const auto values = client.decrypt(outputs);
        const std::int64_t width = compiled->output_size();
        const std::int64_t count = static_cast<std::int64_t>(values.size()) / width;
        std::vector<std::int64_t> labels(static_cast<std::size_t>(count));
        for (std::int64_t i = 0; i < count; ++i) {
            labels[i] =
                std::max_element(values.begin() + i * width, values.begin() + (i + 1) * width) -
                (values.begin() + i * width);
        }
        Samples truth;
        if (!a->data.empty() && !a->data_dir.empty())
            truth = load_samples(a->data, a->data_dir, false, a->offset, count);
        std::int64_t correct = 0;
        for (std::int64_t i = 0; i < std::min<std::int64_t>(count, truth.count); ++i)
            correct += labels[i] == truth.labels[i];
        if (a->json) {
            nlohmann::json j;
            j["samples"] = count;
            j["labels"] = labels;
            if (a->logits) j["logits"] = values;
            if (truth.count)
                j["accuracy"] = static_cast<double>(correct) / static_cast<double>(truth.count);
            std::cout << j.dump(2) << "\n";
            return;
        }
        for (std::int64_t i = 0; i < count; ++i) {
            std::printf("%lld", static_cast<long long>(labels[i]));
            if (a->logits) {
                for (std::int64_t o = 0; o < width; ++o)
                    std::printf(" %.6f", values[i * width + o]);
            }
            std::printf("\n");
        }
        if (truth.count)
            std::printf("accuracy %.2f%% (%lld/%lld)\n", 100.0 * correct / truth.count,
                        static_cast<long long>(correct), static_cast<long long>(truth.count));
    });
});

}  // namespace
}  // namespace henn::cli
