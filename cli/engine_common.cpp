#include "engine_common.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>

#include "command_registry.hpp"
#include "henn/ckks/errors.hpp"
#include "henn/data/data.hpp"
#include "henn/engine/errors.hpp"
#include "henn/files.hpp"
#include "henn/onnx/onnx.hpp"

namespace henn::cli {

std::vector<std::uint8_t> read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw CommandFailure(ErrorCategory::io, "cannot read " + path.string());
    std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                    std::istreambuf_iterator<char>());
    return bytes;
}

void write_file(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes,
                bool private_file, bool overwrite) {
    if (!overwrite && std::filesystem::exists(path)) {
        throw CommandFailure(ErrorCategory::usage,
                             path.string() + " exists; remove it or pass --force");
    }
    // One helper for every file henn writes: a secret key has mode 0600 before its first byte.
    try {
        write_file_atomically(path, bytes,
                              private_file ? FileAccess::owner_only : FileAccess::shared);
    } catch (const Error& e) {
        throw CommandFailure(e.category(), e.what());
    }
}

Samples load_samples(const std::string& name, const std::filesystem::path& dir, bool train_split,
                     std::int64_t offset, std::int64_t count) {
    const data::Dataset set =
        data::load_named_dataset(name, dir, train_split ? data::Split::train : data::Split::test);
    if (offset < 0 || offset >= set.count()) {
        throw CommandFailure(ErrorCategory::usage,
                             "--offset " + std::to_string(offset) + " is outside the " +
                                 std::to_string(set.count()) + " samples of " + name);
    }
    Samples s;
    s.count = count <= 0 ? set.count() - offset : std::min(count, set.count() - offset);
    const std::int64_t size = set.sample_size();
    s.values.assign(set.features.begin() + offset * size,
                    set.features.begin() + (offset + s.count) * size);
    s.labels.assign(set.labels.begin() + offset, set.labels.begin() + offset + s.count);
    return s;
}

engine::CompileOptions compile_options(const std::string& slots, int scale_bits, int log_n,
                                       double precision, const std::string& data,
                                       const std::filesystem::path& dir,
                                       std::int64_t calibration_count) {
    engine::CompileOptions o;
    o.slot_packing = slots == "real"      ? engine::SlotPacking::real
                     : slots == "complex" ? engine::SlotPacking::complex
                                          : engine::SlotPacking::automatic;
    o.scale_bits = scale_bits;
    o.log_n = log_n;
    o.target_precision_bits = precision;
    if (!data.empty()) {
        Samples s = load_samples(data, dir, true, 0, calibration_count);
        o.calibration = std::move(s.values);
        o.calibration_count = s.count;
    }
    return o;
}

namespace {
onnx::OnnxImportOptions import_options(const std::string& replacement) {
    onnx::OnnxImportOptions o;
    if (!replacement.empty()) o.replacement = nn::parse_activation(replacement);
    return o;
}
}  // namespace

nn::Model import_model(const std::filesystem::path& path, const std::string& replacement) {
    auto imported = onnx::import_onnx(path, import_options(replacement));
    for (const auto& w : imported.warnings) spdlog::warn("{}", w);
    return imported.model;
}

nn::Model import_model_bytes(const std::vector<std::uint8_t>& bytes, const std::string& replacement,
                             const std::string& source) {
    auto imported = onnx::import_onnx_bytes(bytes, import_options(replacement), source);
    for (const auto& w : imported.warnings) spdlog::warn("{}", w);
    return imported.model;
}

bool is_compiled_model_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    char magic[8] = {};
    in.read(magic, sizeof magic);
    return in.gcount() == sizeof magic && std::memcmp(magic, "HENNMODL", sizeof magic) == 0;
}

engine::CompiledModelPtr load_compiled(const std::filesystem::path& path) {
    try {
        return engine::CompiledModel::load(read_file(path));
    } catch (const engine::FormatError& e) {
        throw CommandFailure(e.category(), path.string() + ": " + e.what());
    }
}

std::uint64_t peak_rss_bytes() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<std::uint64_t>(usage.ru_maxrss) * 1024;
}

ProgressBar::ProgressBar(std::string title, bool enabled)
    : title_(std::move(title)), enabled_(enabled && isatty(2)) {}

void ProgressBar::update(std::size_t stage, std::size_t stages, std::int64_t done,
                         std::int64_t total) {
    if (!enabled_) return;
    const double overall =
        (static_cast<double>(stage) +
         static_cast<double>(done) / static_cast<double>(std::max<std::int64_t>(total, 1))) /
        static_cast<double>(std::max<std::size_t>(stages, 1));
    const int width = 30, filled = static_cast<int>(overall * width);
    std::fprintf(stderr, "\r%s [%s%s] %3.0f%%  stage %zu/%zu", title_.c_str(),
                 std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
                 100 * overall, stage + 1, stages);
    std::fflush(stderr);
}

void ProgressBar::finish() {
    if (enabled_) std::fprintf(stderr, "\r%*s\r", 80, "");
}

}  // namespace henn::cli
