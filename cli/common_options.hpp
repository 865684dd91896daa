// The options several commands share, declared once so that a flag means the same everywhere:
//   --json        the report as one JSON document on stdout (text otherwise)
//   --threads N   worker threads of this process
//   --data-dir D  where the data sets are (default: $HENN_DATA_DIR when set)
//   --seed S      seed of every random choice the command makes (split, initial weights, order)
//   -q, --quiet   no progress output on stderr
// and the deprecated names of renamed options.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>

namespace henn::cli {

inline CLI::Option* add_json_flag(CLI::App* cmd, bool& json) {
    return cmd->add_flag("--json", json, "Report as one JSON document on stdout");
}

inline CLI::Option* add_threads_option(CLI::App* cmd, int& threads) {
    return cmd->add_option("--threads", threads, "Worker threads of this process")
        ->capture_default_str()
        ->check(CLI::Range(1, 1024));
}

// Required unless $HENN_DATA_DIR gives a default.
inline CLI::Option* add_data_dir_option(CLI::App* cmd, std::string& dir) {
    CLI::Option* option = cmd->add_option("--data-dir", dir, "Directory of the data sets (default: $HENN_DATA_DIR)")
                              ->check(CLI::ExistingDirectory);
    if (const char* env = std::getenv("HENN_DATA_DIR"); env != nullptr && *env != '\0') {
        dir = env;
    } else {
        option->required();
    }
    return option;
}

inline CLI::Option* add_seed_option(CLI::App* cmd, std::uint64_t& seed) {
    return cmd->add_option("--seed", seed, "Seed of the command's random choices (same seed, same run)")
        ->capture_default_str();
}

inline CLI::Option* add_quiet_flag(CLI::App* cmd, bool& quiet) {
    return cmd->add_flag("-q,--quiet", quiet, "No progress output on stderr");
}

// A renamed option keeps its old name for a release: it sets the same variable and warns on
// stderr that the name is deprecated.
template <typename T>
CLI::Option* add_deprecated_option(CLI::App* cmd, const std::string& old_name, const std::string& new_name,
                                   T& target) {
    return cmd->add_option(old_name, target, "Deprecated: use " + new_name)
        ->each([old_name, new_name](const std::string&) {
            std::cerr << "henn: warning: " << old_name << " is deprecated; use " << new_name << "\n";
        });
}
inline CLI::Option* add_deprecated_flag(CLI::App* cmd, const std::string& old_name, const std::string& new_name,
                                        bool& target) {
    return cmd->add_flag_callback(
        old_name,
        [&target, old_name, new_name] {
            target = true;
            std::cerr << "henn: warning: " << old_name << " is deprecated; use " << new_name << "\n";
        },
        "Deprecated: use " + new_name);
}

}  // namespace henn::cli
