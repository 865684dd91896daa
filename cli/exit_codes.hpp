// The one place where error categories become exit statuses. `henn --help` prints the table.
#pragma once

#include <exception>
#include <filesystem>
#include <string>
#include <system_error>

#include "henn/error.hpp"

namespace henn::cli {

// The documented status of each category (the only exit-status ladder of the CLI).
constexpr int exit_code_for(ErrorCategory category) {
    switch (category) {
        case ErrorCategory::usage:
            return 2;
        case ErrorCategory::parameters:
            return 3;
        case ErrorCategory::data:
            return 4;
        case ErrorCategory::io:
            return 4;
        case ErrorCategory::protocol:
            return 5;
        case ErrorCategory::crypto:
            return 6;
        case ErrorCategory::internal:
            return 70;
    }
    return 70;
}

inline constexpr const char* kExitCodeTable =
    "Exit status: 0 success; 2 usage (bad flags, arguments or choices); 3 parameters (the model or "
    "the\n"
    "encryption parameters cannot work: insecure, too deep, unsupported operator); 4 data or io "
    "(a\n"
    "file that cannot be read or written, or bytes that are not a valid object); 5 protocol "
    "(keys,\n"
    "model and ciphertexts that do not belong together, a failed remote call); 6 crypto (a\n"
    "homomorphic operation refused: levels, scales, missing keys); 70 internal (a bug in henn).";

// Thrown by a command to end with its category's exit status and a message on stderr.
struct CommandFailure : Error {
    int exit_code;
    CommandFailure(ErrorCategory category, const std::string& message)
        : Error(category, message), exit_code(exit_code_for(category)) {}
};

// The status and the line for stderr for an exception that reached main().
struct ExitReport {
    int code;
    std::string message;
};

inline ExitReport exit_report(const std::exception& error) {
    if (const auto* failure = dynamic_cast<const CommandFailure*>(&error)) {
        return {failure->exit_code, std::string("henn: ") + error.what()};
    }
    if (const auto* typed = dynamic_cast<const Error*>(&error)) {
        const ErrorCategory category = typed->category();
        const char* prefix =
            category == ErrorCategory::internal ? "henn: internal error: " : "henn: error: ";
        return {exit_code_for(category), prefix + std::string(error.what())};
    }
    if (dynamic_cast<const std::filesystem::filesystem_error*>(&error) != nullptr) {
        return {exit_code_for(ErrorCategory::io), std::string("henn: error: ") + error.what()};
    }
    // Anything untyped escaped a library: a bug by definition.
    return {exit_code_for(ErrorCategory::internal),
            std::string("henn: internal error: ") + error.what()};
}

}  // namespace henn::cli
