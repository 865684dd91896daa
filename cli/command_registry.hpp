// Subcommands register themselves at static-initialization time from their own .cpp file.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace henn::cli {

// Adds one or more subcommands to the root app. `order` sorts them in --help.
using CommandSetup = std::function<void(CLI::App& root)>;

struct RegisteredCommand {
    int order;
    std::string name;
    CommandSetup setup;
};

std::vector<RegisteredCommand>& command_registry();

struct CommandRegistrar {
    CommandRegistrar(int order, std::string name, CommandSetup setup) {
        command_registry().push_back({order, std::move(name), std::move(setup)});
    }
};

// Thrown by a command to end with a given exit status and a message on stderr.
struct CommandFailure : std::runtime_error {
    int exit_code;
    CommandFailure(int code, const std::string& message)
        : std::runtime_error(message), exit_code(code) {}
};

}  // namespace henn::cli
