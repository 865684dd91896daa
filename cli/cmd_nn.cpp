// henn train | eval | inspect: models in plaintext (training with libtorch, ONNX in and out,
// the float64 reference executor, costs under encryption).
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "command_registry.hpp"
#include "common_options.hpp"
#include "henn/data/data.hpp"
#include "henn/nn/activation.hpp"
#include "henn/nn/analysis.hpp"
#include "henn/nn/network_spec.hpp"
#include "henn/nn/reference.hpp"
#include "henn/onnx/onnx.hpp"
#include "henn/train/train.hpp"

namespace henn::cli {
namespace {

using namespace henn::data;
using namespace henn::nn;
using namespace henn::onnx;
using namespace henn::train;

void print_evaluation(const Evaluation& e, const std::string& title) {
    std::printf("%s: accuracy %.2f%% (%lld/%lld)\n", title.c_str(), 100.0 * e.accuracy(),
                static_cast<long long>(e.correct), static_cast<long long>(e.total));
    std::printf("confusion matrix (rows: true class, columns: predicted)\n      ");
    for (std::size_t j = 0; j < e.confusion.size(); ++j) std::printf("%6zu", j);
    std::printf("\n");
    for (std::size_t i = 0; i < e.confusion.size(); ++i) {
        std::printf("%6zu", i);
        for (auto v : e.confusion[i]) std::printf("%6lld", static_cast<long long>(v));
        std::printf("\n");
    }
}

void draw_progress_bar(const BatchProgress& p) {
    constexpr int width = 30;
    const int filled = static_cast<int>(width * p.batch / std::max<std::int64_t>(p.batches, 1));
    std::fprintf(stderr, "\repoch %d/%d [%.*s%*s] %lld/%lld loss %.4f", p.epoch, p.epochs, filled,
                 "##############################", width - filled, "",
                 static_cast<long long>(p.batch), static_cast<long long>(p.batches), p.loss);
    std::fflush(stderr);
}

struct TrainArgs {
    std::string preset, spec_file, data = "mnist", data_dir, activation, out, history,
                                   preactivation_dir;
    TrainOptions options;
    std::int64_t train_limit = 0, test_limit = 0;
    bool no_augment = false, float64 = false, skip_test = false, quiet = false;
};

void run_train(const TrainArgs& a) {
    auto train = load_named_dataset(a.data, a.data_dir, Split::train);
    if (a.train_limit > 0) train = train.head(a.train_limit);
    NetworkSpec spec = !a.spec_file.empty()
                           ? load_network_spec(a.spec_file)
                           : preset_network(a.preset, train.sample_shape,
                                            std::max<std::int64_t>(train.num_classes, 2));
    if (!a.activation.empty()) spec.default_activation = parse_activation(a.activation);
    spdlog::info("network {} ({}), activation {}, data {}: {} training samples", spec.name,
                 a.spec_file.empty() ? "preset" : a.spec_file, to_string(spec.default_activation),
                 a.data, train.count());
    TrainOptions options = a.options;
    options.augment = !a.no_augment && train.sample_shape.size() == 3;
    // Progress is the CLI's: a bar within each epoch on a terminal, a log line per epoch.
    const bool bar = !a.quiet && isatty(STDERR_FILENO);
    options.progress = bar;
    options.on_batch = [](const BatchProgress& p) { draw_progress_bar(p); };
    if (!a.options.resume_path.empty())
        spdlog::info("resuming from the weights in {}", a.options.resume_path);
    auto result = train_network(spec, train, options, [&](const EpochRecord& r) {
        if (bar) std::fprintf(stderr, "\r%80s\r", "");
        const std::string validation =
            r.validated ? fmt::format("val loss {:.4f} acc {:.2f}%", r.validation_loss,
                                      100 * r.validation_accuracy)
                        : std::string("no validation split");
        spdlog::info("epoch {}/{}: loss {:.4f} acc {:.2f}% | {} | lr {:.2e} | {:.1f} s", r.epoch,
                     options.epochs, r.train_loss, 100 * r.train_accuracy, validation,
                     r.learning_rate, r.seconds);
    });
    if (result.stopped_early)
        spdlog::info("early stopping: no validation gain for {} epochs (best epoch {})",
                     options.patience, result.best_epoch);
    std::printf(
        "trained %zu epochs in %.1f s (%.1f s/epoch), best epoch %d\n", result.history.size(),
        result.seconds,
        result.seconds / static_cast<double>(std::max<std::size_t>(result.history.size(), 1)),
        result.best_epoch);
    for (const auto& s : result.pre_activation)
        std::printf(
            "pre-activation %s: min %.3f max %.3f mean %.3f std %.3f, %.3f%% outside the "
            "interval\n",
            s.layer.c_str(), s.min, s.max, s.mean, s.stddev, 100 * s.fraction_outside_interval);
    if (!a.preactivation_dir.empty()) {
        // One file of values per activation layer, the format `henn approx --samples` reads.
        std::filesystem::create_directories(a.preactivation_dir);
        for (const auto& s : result.pre_activation) {
            const auto path = std::filesystem::path(a.preactivation_dir) / (s.layer + ".txt");
            std::ofstream out(path);
            for (double v : s.samples) out << v << "\n";
            if (!out) throw CommandFailure(ErrorCategory::io, "cannot write " + path.string());
            std::printf("wrote %zu pre-activation samples to %s\n", s.samples.size(), path.c_str());
        }
    }
    auto model = result.model;
    if (!a.skip_test) {
        auto test = load_named_dataset(a.data, a.data_dir, Split::test);
        if (a.test_limit > 0) test = test.head(a.test_limit);
        const auto e = evaluate_reference(model, test);
        print_evaluation(
            e, "test (" + std::to_string(test.count()) + " samples, float64 reference executor)");
        auto metadata = model.metadata();
        char text[32];
        std::snprintf(text, sizeof text, "%.4f", e.accuracy());
        metadata["henn.test_accuracy"] = text;
        model = model.with_metadata(metadata);
    }
    if (!a.out.empty()) {
        OnnxExportOptions export_options;
        export_options.float64 = a.float64;
        export_onnx(model, a.out, export_options);
        std::printf("wrote %s\n", a.out.c_str());
    }
    if (!a.history.empty()) {
        nlohmann::json j;
        j["network"] = nlohmann::json::parse(to_json(spec));
        j["seconds"] = result.seconds;
        j["best_epoch"] = result.best_epoch;
        for (const auto& r : result.history)
            j["epochs"].push_back({{"epoch", r.epoch},
                                   {"train_loss", r.train_loss},
                                   {"train_accuracy", r.train_accuracy},
                                   {"validation_loss", r.validation_loss},
                                   {"validation_accuracy", r.validation_accuracy},
                                   {"learning_rate", r.learning_rate},
                                   {"seconds", r.seconds}});
        for (const auto& s : result.pre_activation)
            j["pre_activation"].push_back({{"layer", s.layer},
                                           {"min", s.min},
                                           {"max", s.max},
                                           {"mean", s.mean},
                                           {"stddev", s.stddev},
                                           {"outside_interval", s.fraction_outside_interval}});
        if (model.metadata().count("henn.test_accuracy"))
            j["test_accuracy"] = std::stod(model.metadata().at("henn.test_accuracy"));
        std::ofstream(a.history) << j.dump(2) << "\n";
    }
}

OnnxImportOptions import_options(bool keep, const std::string& replacement) {
    OnnxImportOptions o;
    o.keep_nonpolynomial = keep;
    if (!replacement.empty()) o.replacement = parse_activation(replacement);
    return o;
}

const CommandRegistrar train_command(40, "train", [](CLI::App& root) {
    auto args = std::make_shared<TrainArgs>();
    auto* cmd = root.add_subcommand("train", "Train a network (libtorch) and export it as ONNX");
    auto* preset =
        cmd->add_option("--preset", args->preset, "cryptonets | cryptodl-m1 | mlp | lenet5");
    auto* spec = cmd->add_option("--spec", args->spec_file,
                                 "JSON network description (see include/henn/nn/network_spec.hpp)")
                     ->check(CLI::ExistingFile);
    preset->excludes(spec);
    add_data_option(cmd, args->data);
    add_data_dir_option(cmd, args->data_dir);
    cmd->add_option(
        "--activation", args->activation,
        "relu | sigmoid | tanh | square | poly:METHOD:DEGREE:INTERVAL[:FUNCTION][:trainable] "
        "(default: the network's own)");
    cmd->add_option("--epochs", args->options.epochs)->capture_default_str();
    cmd->add_option("--batch-size", args->options.batch_size)->capture_default_str();
    cmd->add_option("--lr", args->options.learning_rate, "AdamW learning rate")
        ->capture_default_str();
    cmd->add_option("--weight-decay", args->options.weight_decay)->capture_default_str();
    cmd->add_option("--schedule", args->options.schedule, "cosine | step | constant")
        ->capture_default_str()
        ->check(CLI::IsMember({"cosine", "step", "constant"}));
    cmd->add_option("--validation", args->options.validation_fraction,
                    "fraction held out for early stopping")
        ->capture_default_str();
    cmd->add_option("--patience", args->options.patience,
                    "early stopping patience in epochs (0 = off)")
        ->capture_default_str();
    cmd->add_flag("--no-augment", args->no_augment, "no random shifts/rotations");
    add_quiet_flag(cmd, args->quiet);
    add_seed_option(cmd, args->options.seed);
    add_threads_option(cmd, args->options.threads);
    cmd->add_option("--checkpoint", args->options.checkpoint_path,
                    "save the best weights here (libtorch format)");
    cmd->add_option("--resume", args->options.resume_path,
                    "start from a checkpoint of the same network")
        ->check(CLI::ExistingFile);
    cmd->add_option("--train-limit", args->train_limit, "use only the first N training samples");
    cmd->add_option("--test-limit", args->test_limit, "evaluate on the first N test samples");
    cmd->add_flag("--skip-test", args->skip_test, "do not evaluate on the test set");
    cmd->add_flag("--float64", args->float64, "export double tensors instead of float");
    cmd->add_option("--history", args->history, "write per-epoch history and statistics as JSON");
    cmd->add_option("--out", args->out, "ONNX file to write");
    cmd->add_option("--preactivation-dir", args->preactivation_dir,
                    "write sampled pre-activation values per layer (for henn approx --samples)");
    cmd->callback([args] {
        if (args->preset.empty() && args->spec_file.empty())
            throw CommandFailure(ErrorCategory::usage, "train: give --preset or --spec");
        run_train(*args);
    });
});

nlohmann::json evaluation_json(const Evaluation& e) {
    return {{"samples", e.total},
            {"correct", e.correct},
            {"accuracy", e.accuracy()},
            {"confusion", e.confusion}};
}

struct EvalArgs {
    std::string model, data = "mnist", data_dir, split = "test", replacement;
    std::int64_t limit = 0;
    double input_mean = 0.0, input_std = 1.0;
    bool keep = false, json = false;
};

const CommandRegistrar eval_command(41, "eval", [](CLI::App& root) {
    auto args = std::make_shared<EvalArgs>();
    auto* cmd = root.add_subcommand(
        "eval", "Plaintext accuracy and confusion matrix of an ONNX model (float64 reference)");
    cmd->add_option("model", args->model, "ONNX file")->required()->check(CLI::ExistingFile);
    add_data_option(cmd, args->data);
    add_data_dir_option(cmd, args->data_dir);
    cmd->add_option("--split", args->split, "test | train")
        ->capture_default_str()
        ->check(CLI::IsMember({"test", "train"}));
    cmd->add_option("--limit", args->limit, "first N samples only");
    cmd->add_flag("--keep-activations", args->keep,
                  "keep Relu/Sigmoid/Tanh exact (plaintext baseline)");
    cmd->add_option("--replace-activations", args->replacement,
                    "polynomial replacing Relu/Sigmoid/Tanh on import");
    cmd->add_option(
        "--input-mean", args->input_mean,
        "inputs become (x - mean) / std, x in [0, 1] (default: metadata henn.input_mean or 0)");
    cmd->add_option("--input-std", args->input_std,
                    "see --input-mean (default: metadata henn.input_std or 1)");
    add_json_flag(cmd, args->json);
    cmd->callback([args] {
        auto imported = import_onnx(args->model, import_options(args->keep, args->replacement));
        for (const auto& w : imported.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
        auto data = load_named_dataset(args->data, args->data_dir,
                                       args->split == "train" ? Split::train : Split::test);
        if (args->limit > 0) data = data.head(args->limit);
        // Inputs are pixels in [0, 1] unless the model's metadata names a normalization
        // (x - mean) / std, e.g. torchvision's MNIST (0.1307, 0.3081).
        const auto& meta = imported.model.metadata();
        double mean = args->input_mean, stddev = args->input_std;
        auto number = [&](const std::string& key) {
            try {
                return std::stod(meta.at(key));
            } catch (const std::exception&) {
                throw CommandFailure(ErrorCategory::data, "eval: model metadata " + key + " = '" +
                                                              meta.at(key) + "' is not a number");
            }
        };
        if (meta.count("henn.input_mean") && args->input_mean == 0.0)
            mean = number("henn.input_mean");
        if (meta.count("henn.input_std") && args->input_std == 1.0)
            stddev = number("henn.input_std");
        if (!(stddev > 0.0))
            throw CommandFailure(ErrorCategory::usage,
                                 "eval: input standard deviation must be positive");
        if (mean != 0.0 || stddev != 1.0) {
            spdlog::info("normalizing inputs: (x - {}) / {}", mean, stddev);
            for (auto& v : data.features) v = static_cast<float>((v - mean) / stddev);
        }
        const Evaluation evaluation = evaluate_reference(imported.model, data);
        if (args->json) {
            nlohmann::json j = evaluation_json(evaluation);
            j["model"] = args->model;
            j["data"] = args->data;
            j["split"] = args->split;
            j["input_mean"] = mean;
            j["input_std"] = stddev;
            j["warnings"] = imported.warnings;
            std::cout << j.dump(2) << "\n";
            return;
        }
        print_evaluation(evaluation, args->model + " on " + args->data + " " + args->split + " (" +
                                         std::to_string(data.count()) + " samples)");
    });
});

struct InspectArgs {
    std::string model, replacement;
    bool keep = false, json = false;
};

nlohmann::json cost_json(const ModelCost& cost) {
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& l : cost.layers)
        layers.push_back({{"name", l.name},
                          {"kind", l.kind},
                          {"output_shape", l.output_shape},
                          {"parameters", l.parameters},
                          {"depth", l.depth},
                          {"ct_ct_multiplications", l.ct_ct_multiplications},
                          {"pt_ct_multiplications", l.pt_ct_multiplications},
                          {"encryptable", l.encryptable},
                          {"detail", l.detail}});
    return {{"layers", layers},
            {"parameters", cost.parameters},
            {"depth", cost.depth},
            {"ct_ct_multiplications", cost.ct_ct_multiplications},
            {"pt_ct_multiplications", cost.pt_ct_multiplications},
            {"encryptable", cost.encryptable}};
}

const CommandRegistrar inspect_command(42, "inspect", [](CLI::App& root) {
    auto args = std::make_shared<InspectArgs>();
    auto* cmd = root.add_subcommand(
        "inspect", "Layers, shapes, parameters, depth and multiplications under encryption");
    cmd->add_option("model", args->model, "ONNX file")->required()->check(CLI::ExistingFile);
    cmd->add_flag("--keep-activations", args->keep,
                  "show Relu/Sigmoid/Tanh as they are instead of replacing them");
    cmd->add_option("--replace-activations", args->replacement,
                    "polynomial replacing Relu/Sigmoid/Tanh on import");
    add_json_flag(cmd, args->json);
    cmd->callback([args] {
        auto imported = import_onnx(args->model, import_options(args->keep, args->replacement));
        if (args->json) {
            nlohmann::json j = cost_json(analyze(imported.model));
            j["model"] = args->model;
            j["opset"] = imported.opset;
            j["producer"] = imported.producer;
            j["input_shape"] = imported.model.input_shape();
            j["output_shape"] = imported.model.output_shape();
            j["metadata"] = imported.model.metadata();
            j["warnings"] = imported.warnings;
            std::cout << j.dump(2) << "\n";
            return;
        }
        std::printf("%s: ONNX opset %lld, producer %s\n", args->model.c_str(),
                    static_cast<long long>(imported.opset), imported.producer.c_str());
        for (const auto& w : imported.warnings) std::printf("warning: %s\n", w.c_str());
        std::printf("%s", describe(imported.model).c_str());
    });
});

}  // namespace
}  // namespace henn::cli
