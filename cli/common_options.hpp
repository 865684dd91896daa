// The options several commands share, declared once so that a flag means the same everywhere:
//   --json        the report as one JSON document on stdout (text otherwise)
//   --threads N   worker threads of this process
//   --data-dir D  where the data sets are (default: $HENN_DATA_DIR when set)
//   --seed S      seed of every random choice the command makes (split, initial weights, order)
//   -q, --quiet   no progress output on stderr
//   --data NAME   a named data set (mnist, fashion-mnist, wdbc), never a file: files are --csv
//   --input-copies N  latency packing: copies of the input the client encrypts
// and the deprecated names of renamed options. Options live in a struct owned by the command's
// registration (a shared_ptr captured by its callback), never in function-local statics.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

namespace henn::cli {

inline CLI::Option* add_json_flag(
    CLI::App* cmd, bool& json, const std::string& help = "Report as one JSON document on stdout") {
    return cmd->add_flag("--json", json, help);
}

// `threads` 0 before the call means "all cores" (shown in the help instead of a number).
inline CLI::Option* add_threads_option(CLI::App* cmd, int& threads,
                                       const std::string& help = "Worker threads of this process") {
    CLI::Option* option =
        cmd->add_option("--threads", threads, threads > 0 ? help : help + " (default: all cores)")
            ->check(CLI::Range(1, 1024));
    if (threads > 0) option->capture_default_str();
    return option;
}

// Latency packing: copies of the input the client encrypts (CompileOptions::latency_input_copies).
inline CLI::Option* add_input_copies_option(CLI::App* cmd, int& copies) {
    return cmd
        ->add_option("--input-copies", copies,
                     "latency packing: copies of the input the client encrypts, so that a first "
                     "convolution's output channels share diagonals (default 0: chosen by the "
                     "cost model; 1: a single copy)")
        ->check(CLI::Range(0, 64));
}

// Where --data-dir comes from when the flag is not given.
enum class DataDirDefault {
    required,  // $HENN_DATA_DIR, else the flag is required
    optional,  // $HENN_DATA_DIR, else none (the command works without data)
    shared,    // $HENN_DATA_DIR, else ../shared/data (the demos, which run without flags)
};
inline constexpr const char* kSharedDataDir = "../shared/data";

inline CLI::Option* add_data_dir_option(CLI::App* cmd, std::string& dir,
                                        DataDirDefault fallback = DataDirDefault::required,
                                        const std::string& help = "Directory of the data sets") {
    const char* env = std::getenv("HENN_DATA_DIR");
    const bool from_env = env != nullptr && *env != '\0';
    const std::string shown = fallback == DataDirDefault::shared
                                  ? " (default: $HENN_DATA_DIR, else ../shared/data)"
                                  : " (default: $HENN_DATA_DIR)";
    CLI::Option* option =
        cmd->add_option("--data-dir", dir, help + shown)->check(CLI::ExistingDirectory);
    if (from_env) {
        dir = env;
    } else if (fallback == DataDirDefault::shared) {
        dir = kSharedDataDir;
    } else if (fallback == DataDirDefault::required) {
        option->required();
    }
    return option;
}

// The named data sets of data::load_named_dataset.
inline const std::vector<std::string>& data_set_names() {
    static const std::vector<std::string> names = {"mnist", "fashion-mnist", "wdbc"};
    return names;
}

// --data NAME: one of `names` (default: all the named data sets). A file name gets a message
// that points to --csv instead of a bare "not in the set".
inline CLI::Option* add_data_option(CLI::App* cmd, std::string& data,
                                    const std::string& help = "Data set",
                                    const std::vector<std::string>& names = data_set_names()) {
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : " | ") + n;
    CLI::Validator member(
        [names, list](std::string& value) -> std::string {
            for (const auto& n : names)
                if (value == n) return {};
            const bool looks_like_file =
                value.find('/') != std::string::npos || value.find('.') != std::string::npos;
            return "--data names a data set (" + list + "), not '" + value + "'" +
                   (looks_like_file
                        ? "; a table file goes with --csv FILE where a command reads one"
                        : "");
        },
        list, "DATA SET");
    CLI::Option* option = cmd->add_option("--data", data, help + ": " + list)->check(member);
    if (!data.empty()) option->capture_default_str();
    return option;
}

inline CLI::Option* add_seed_option(CLI::App* cmd, std::uint64_t& seed) {
    return cmd
        ->add_option("--seed", seed, "Seed of the command's random choices (same seed, same run)")
        ->capture_default_str();
}

inline CLI::Option* add_quiet_flag(CLI::App* cmd, bool& quiet,
                                   const std::string& help = "No progress output on stderr") {
    return cmd->add_flag("-q,--quiet", quiet, help);
}

// A renamed option keeps its old name for a release: it sets the same variable and warns on
// stderr that the name is deprecated.
template <typename T>
CLI::Option* add_deprecated_option(CLI::App* cmd, const std::string& old_name,
                                   const std::string& new_name, T& target) {
    return cmd->add_option(old_name, target, "Deprecated: use " + new_name)
        ->each([old_name, new_name](const std::string&) {
            std::cerr << "henn: warning: " << old_name << " is deprecated; use " << new_name
                      << "\n";
        });
}
inline CLI::Option* add_deprecated_flag(CLI::App* cmd, const std::string& old_name,
                                        const std::string& new_name, bool& target) {
    return cmd->add_flag_callback(
        old_name,
        [&target, old_name, new_name] {
            target = true;
            std::cerr << "henn: warning: " << old_name << " is deprecated; use " << new_name
                      << "\n";
        },
        "Deprecated: use " + new_name);
}

// --csv FILE: a table read from a file (smlp, lr). Before --data meant a data-set name
// everywhere, these commands took the file as --data: that name still works for a file, with a
// deprecation warning; anything else gets a message that names --csv.
inline CLI::Option* add_csv_option(CLI::App* cmd, std::string& csv, const std::string& help) {
    CLI::Option* option = cmd->add_option("--csv", csv, help)->check(CLI::ExistingFile);
    add_deprecated_option(cmd, "--data", "--csv", csv)
        ->check(CLI::Validator(
            [](std::string& value) -> std::string {
                if (std::filesystem::is_regular_file(value)) return {};
                return "'" + value +
                       "' is not a file: give the table with --csv FILE (--data "
                       "names a data set in other commands)";
            },
            "FILE", "deprecated CSV path"));
    return option;
}

}  // namespace henn::cli
