// Subcommands register themselves at static-initialization time from their own .cpp file.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

#include "exit_codes.hpp"

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

// A parent subcommand shared by several files (e.g. `bench ckks` and `bench poly`): returns it
// if another file already added it, creates it otherwise.
inline CLI::App* command_group(CLI::App& root, const std::string& name,
                               const std::string& description) {
    for (CLI::App* sub : root.get_subcommands([](CLI::App*) { return true; })) {
        if (sub->get_name() == name) return sub;
    }
    CLI::App* group = root.add_subcommand(name, description);
    group->require_subcommand(1);
    return group;
}

// CommandFailure and the exit-code policy live in exit_codes.hpp.

}  // namespace henn::cli
