// Server-side throughput of batch packing, repeated: henn_engine_throughput MODEL.onnx --data-dir D
// [--reps R] [--threads T] [--json]. Compiles the model as `henn bench engine` does (512 MNIST
// training images of calibration, 12 bits of target precision), encrypts one full batch of test
// images once, then runs Session::run on copies of it R times and prints, per run and as medians,
// wall-clock seconds and the process's CPU seconds (CLOCK_PROCESS_CPUTIME_ID: on a shared machine
// the CPU seconds move less than the wall clock), and images/s. Every run's outputs must be the
// same words (exit status 1 otherwise).
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "henn/data/data.hpp"
#include "henn/engine/client.hpp"
#include "henn/engine/compiled_model.hpp"
#include "henn/engine/session.hpp"
#include "henn/math/ntt.hpp"
#include "henn/math/parallel.hpp"
#include "henn/math/vector_ops.hpp"
#include "henn/onnx/onnx.hpp"

using namespace henn;

namespace {
double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}
}  // namespace

int main(int argc, char** argv) {
    std::string model_path, data_dir;
    int reps = 3, threads = 0;
    bool json = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--data-dir" && i + 1 < argc) {
            data_dir = argv[++i];
        } else if (a == "--reps" && i + 1 < argc) {
            reps = std::max(1, std::atoi(argv[++i]));
        } else if (a == "--threads" && i + 1 < argc) {
            threads = std::atoi(argv[++i]);
        } else if (a == "--json") {
            json = true;
        } else if (model_path.empty() && a[0] != '-') {
            model_path = a;
        } else {
            model_path.clear();
            break;
        }
    }
    if (model_path.empty() || data_dir.empty()) {
        std::cerr << "usage: henn_engine_throughput MODEL.onnx --data-dir DIR [--reps R] "
                     "[--threads T] [--json]\n";
        return 2;
    }
    if (threads > 0) math::set_thread_count(threads);
    const nn::Model model = onnx::import_onnx(model_path).model;
    const auto train = data::load_named_dataset("mnist", data_dir, data::Split::train).head(512);
    const auto test = data::load_named_dataset("mnist", data_dir, data::Split::test);
    engine::CompileOptions options;
    options.target_precision_bits = 12;
    options.calibration.assign(train.features.begin(), train.features.end());
    options.calibration_count = train.count();
    const auto compiled = engine::CompiledModel::compile(model, options);
    const std::int64_t count = compiled->batch_size();
    std::vector<double> values;
    while (static_cast<std::int64_t>(values.size()) < count * compiled->input_size())
        values.insert(values.end(), test.features.begin(), test.features.end());
    values.resize(static_cast<std::size_t>(count * compiled->input_size()));
    engine::Client client(compiled);
    engine::Session session(compiled, client.evaluation_keys());
    const auto batch = client.encrypt(values, count).front();

    std::vector<double> walls, cpus;
    engine::EncryptedBatch first;
    bool same = true;
    nlohmann::json runs = nlohmann::json::array();
    for (int r = 0; r < reps; ++r) {
        engine::EncryptedBatch input = batch;
        const double c0 = math::process_cpu_seconds();
        const auto t0 = std::chrono::steady_clock::now();
        engine::EncryptedBatch out = session.run(std::move(input));
        const double wall =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const double cpu = math::process_cpu_seconds() - c0;
        walls.push_back(wall);
        cpus.push_back(cpu);
        runs.push_back({{"seconds", wall}, {"cpu_seconds", cpu}});
        if (r == 0) {
            first = std::move(out);
        } else {
            for (std::size_t i = 0; i < out.ciphertexts.size(); ++i)
                same = same && out.ciphertexts[i].polys == first.ciphertexts[i].polys;
        }
        if (!json) {
            std::printf("run %d: %.3f s wall, %.3f s CPU, %.0f images/s\n", r + 1, wall, cpu,
                        static_cast<double>(count) / wall);
        }
    }
    const double wall = median(walls), cpu = median(cpus), n = static_cast<double>(count);
    nlohmann::json j{{"model", model_path},
                     {"images", count},
                     {"log_n", compiled->context()->log_n()},
                     {"threads", math::thread_count()},
                     {"ntt_kernel", math::ntt_kernel_name()},
                     {"vector_kernel", math::vector_kernel_name()},
                     {"median_seconds", wall},
                     {"median_cpu_seconds", cpu},
                     {"images_per_second", n / wall},
                     {"images_per_cpu_second", n / cpu},
                     {"runs", runs},
                     {"runs_identical", same}};
    if (json) {
        std::cout << j.dump(2) << "\n";
    } else {
        std::printf(
            "%s: %lld images, N = 2^%d, %d threads, kernels %s / %s: median %.3f s wall (%.0f "
            "images/s), %.3f s CPU (%.0f images per CPU second)%s\n",
            model_path.c_str(), static_cast<long long>(count), compiled->context()->log_n(),
            math::thread_count(), math::ntt_kernel_name(), math::vector_kernel_name(), wall,
            n / wall, cpu, n / cpu, same ? "" : "; RUNS DIFFER");
    }
    return same ? 0 : 1;
}
