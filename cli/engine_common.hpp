// Shared by the encrypted-inference commands (compile, keygen, encrypt, infer, decrypt, run,
// demo): file I/O with the right permissions, data loading, reports.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "henn/engine/compiled_model.hpp"
#include "henn/nn/model.hpp"

namespace henn::cli {

// Errors: library errors reach main() and exit by category (exit_codes.hpp); the helpers below
// throw CommandFailure with a category.

std::vector<std::uint8_t> read_file(const std::filesystem::path& path);
// Written to a new file beside `path` and renamed into place; `private_file` gives mode 0600 and
// refuses to replace an existing file unless `overwrite`.
void write_file(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes,
                bool private_file = false, bool overwrite = true);

// "mnist:DIR" or "fashion-mnist:DIR" (training split) into count x size values.
struct Samples {
    std::vector<double> values;
    std::vector<std::int64_t> labels;
    std::int64_t count = 0;
};
Samples load_samples(const std::string& data, const std::filesystem::path& dir, bool train_split,
                     std::int64_t offset, std::int64_t count);

// Compile options shared by compile, run, bench engine and demo: "auto" | "real" | "complex"
// slots, scale bits and ring (0: chosen), target precision, and `calibration_count` training
// samples of data set `data` under `dir` (none when `data` is empty).
engine::CompileOptions compile_options(const std::string& slots, int scale_bits, int log_n,
                                       double precision, const std::string& data,
                                       const std::filesystem::path& dir,
                                       std::int64_t calibration_count);

// --packing: "batch", "latency", or "auto", which picks latency for at most
// kLatencyAutoMaxInputs inputs (a batch costs the same for 1 or thousands of samples; latency
// packing costs per sample) and batch otherwise. `inputs` 0: unknown (compile), auto is latency.
inline constexpr std::int64_t kLatencyAutoMaxInputs = 16;
engine::Packing choose_packing(const std::string& packing, std::int64_t inputs);

// The model from an ONNX file (activations replaced by polynomials, with warnings on stderr).
nn::Model import_model(const std::filesystem::path& path, const std::string& replacement);
nn::Model import_model_bytes(const std::vector<std::uint8_t>& bytes, const std::string& replacement,
                             const std::string& source);

// Whether the file begins as a compiled model does (`henn compile`), not as ONNX.
bool is_compiled_model_file(const std::filesystem::path& path);
engine::CompiledModelPtr load_compiled(const std::filesystem::path& path);

// Peak resident memory of this process so far.
std::uint64_t peak_rss_bytes();

// A one-line progress bar on stderr when it is a terminal (nothing otherwise).
class ProgressBar {
  public:
    explicit ProgressBar(std::string title, bool enabled = true);
    void update(std::size_t stage, std::size_t stages, std::int64_t done, std::int64_t total);
    void finish();

  private:
    std::string title_;
    bool enabled_;
};

}  // namespace henn::cli

namespace henn::cli {

// Everything `henn run` and `henn demo` do after compiling: keys, encryption, server-side
// inference, decryption, and the float64 reference on the same samples.
struct EncryptedEvaluation {
    std::int64_t samples = 0, batches = 0;
    double accuracy = 0, plaintext_accuracy = 0, agreement = 0;
    double seconds_keygen = 0, seconds_encrypt = 0, seconds_infer = 0, seconds_decrypt = 0;
    double bytes_up_per_sample = 0, bytes_down_per_sample = 0;
    std::uint64_t eval_key_bytes = 0, peak_rss = 0;
    double precision_bits_min = 0, precision_bits_median = 0;
    struct TraceRow {
        std::string stage;
        int level = 0;
        double log2_scale = 0, max_error = 0, bits = 0, max_abs = 0;
    };
    std::vector<TraceRow> trace;
    std::string reference;  // "model" (nn reference executor) or "compiled program"
};
// The plaintext reference is `model` run by the nn reference executor, or, for a model that came
// compiled (no nn::Model at hand, `model` null), the compiled program run in plaintext.
EncryptedEvaluation evaluate_encrypted(const engine::CompiledModelPtr& compiled,
                                       const nn::Model* model, const Samples& samples, bool trace,
                                       bool progress);
void print_evaluation(const engine::CompiledModel& compiled, const EncryptedEvaluation& e);
nlohmann::json evaluation_json(const engine::CompiledModel& compiled, const EncryptedEvaluation& e);

}  // namespace henn::cli
