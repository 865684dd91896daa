// henn demo: encrypted MNIST end to end with the bundled model (models/mnist_cryptonets.onnx,
// trained by scripts/train_demo_model.py): compile, keys, encrypt test images, infer on the
// ciphertexts with evaluation keys only, decrypt, compare with plaintext.
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "command_registry.hpp"
#include "common_options.hpp"
#include "engine_common.hpp"
#include "henn/engine/compiled_model.hpp"
#include "henn/math/parallel.hpp"

#ifdef HENN_CLI_HAS_ENGINE
namespace henn::cli {

void run_ckks_demo();                            // cmd_demo.cpp
std::vector<std::uint8_t> bundled_demo_model();  // generated from models/mnist_cryptonets.onnx

namespace {

struct DemoArgs {
    std::string data_dir;
    std::int64_t count = 0;
    int threads = 0;
    bool json = false, ckks = false, trace = false;
};

const CommandRegistrar demo_command(1, "demo", [](CLI::App& root) {
    auto a = std::make_shared<DemoArgs>();
    auto* cmd = root.add_subcommand(
        "demo", "Encrypted MNIST: a bundled CryptoNets-style model on encrypted test images");
    add_data_dir_option(cmd, a->data_dir, DataDirDefault::shared, "where MNIST is");
    cmd->add_option("--count", a->count, "test images (default: one batch)")
        ->check(CLI::Range(1, 10000));
    add_threads_option(cmd, a->threads, "threads");
    cmd->add_flag("--trace", a->trace, "per stage: level, scale and error against plaintext");
    add_json_flag(cmd, a->json);
    cmd->add_flag("--ckks", a->ckks,
                  "the CKKS basics instead: a polynomial and a rotation on one vector");
    cmd->callback([a] {
        if (a->ckks) return run_ckks_demo();
        if (a->threads) math::set_thread_count(a->threads);
        const std::string& dir = a->data_dir;
        if (!std::filesystem::exists(dir)) {
            throw CommandFailure(ErrorCategory::data,
                                 "MNIST not found in " + dir + "; pass --data-dir DIR");
        }
        const nn::Model model =
            import_model_bytes(bundled_demo_model(), "", "models/mnist_cryptonets.onnx");
        const engine::CompileOptions o = compile_options("auto", 0, 0, 12, "mnist", dir, 512);
        std::vector<std::string> warnings;
        const auto compiled = engine::CompiledModel::compile(model, o, &warnings);
        for (const auto& w : warnings) spdlog::warn("{}", w);
        if (!a->json) std::cout << compiled->summary();
        const Samples test = load_samples(
            "mnist", dir, false, 0,
            a->count ? a->count : std::min<std::int64_t>(compiled->batch_size(), 10000));
        const auto e = evaluate_encrypted(compiled, &model, test, a->trace, !a->json);
        if (a->json) {
            std::cout << evaluation_json(*compiled, e).dump(2) << "\n";
        } else {
            print_evaluation(*compiled, e);
        }
        // The demo is also a check: encrypted predictions must match plaintext ones.
        if (e.agreement < 0.99)
            throw CommandFailure(ErrorCategory::internal,
                                 "encrypted predictions disagree with plaintext");
    });
});

}  // namespace
}  // namespace henn::cli
#endif
