#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <iostream>
#include <memory>

#include "command_registry.hpp"

namespace henn::cli {
std::vector<RegisteredCommand>& command_registry() {
    static std::vector<RegisteredCommand> commands;
    return commands;
}
}  // namespace henn::cli

int main(int argc, char** argv) {
    using namespace henn::cli;
    CLI::App app{"henn: homomorphically encrypted neural networks"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "henn 0.1.0");
    app.footer(kExitCodeTable);
    // Logs and warnings go to stderr: stdout carries the reports (text or --json) only.
    spdlog::set_default_logger(std::make_shared<spdlog::logger>(
        "", std::make_shared<spdlog::sinks::stderr_color_sink_mt>()));
    spdlog::set_level(spdlog::level::info);
    app.add_flag_callback(
        "-v,--verbose", [] { spdlog::set_level(spdlog::level::debug); },
        "Log progress at debug level");

    auto& commands = command_registry();
    std::sort(commands.begin(), commands.end(),
              [](const auto& a, const auto& b) { return a.order < b.order; });
    for (const auto& command : commands) command.setup(app);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // --help and --version exit 0; every parse or validation error is a usage error (2).
        const int code = app.exit(e);
        return code == 0 ? 0 : 2;
    } catch (const std::exception& e) {
        // Every other failure is mapped by category in one place (exit_codes.hpp).
        const ExitReport report = exit_report(e);
        std::cerr << report.message << "\n";
        return report.code;
    }
    return 0;
}
