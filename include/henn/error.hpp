// The root of every error henn's libraries throw. Each layer's typed errors (ckks::Error,
// engine::EngineError, nn::ModelError, ...) derive from henn::Error and carry a category, so a
// caller can tell a bad request from bad bytes from a bug without knowing every layer, and the
// CLI maps categories to exit codes in one place. Header-only so math and data can use it too.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace henn {

enum class ErrorCategory {
    usage,       // the caller asked for something that makes no sense (bad argument, bad option)
    parameters,  // the model or encryption parameters cannot work (insecure, too deep, unsupported)
    data,        // bytes or values that are not a valid object (corrupted, truncated, malformed)
    crypto,      // a cryptographic operation refused (levels, scales, missing keys, mixed objects)
    io,          // a file or device that cannot be read or written
    protocol,    // parties whose messages, keys or models do not belong together; a failed call
    internal,    // a broken invariant: a bug in henn
};

inline constexpr ErrorCategory kAllErrorCategories[] = {
    ErrorCategory::usage, ErrorCategory::parameters, ErrorCategory::data,     ErrorCategory::crypto,
    ErrorCategory::io,    ErrorCategory::protocol,   ErrorCategory::internal,
};

constexpr std::string_view category_name(ErrorCategory category) {
    switch (category) {
        case ErrorCategory::usage:
            return "usage";
        case ErrorCategory::parameters:
            return "parameters";
        case ErrorCategory::data:
            return "data";
        case ErrorCategory::crypto:
            return "crypto";
        case ErrorCategory::io:
            return "io";
        case ErrorCategory::protocol:
            return "protocol";
        case ErrorCategory::internal:
            return "internal";
    }
    return "internal";
}

// Still a std::runtime_error, so code that catches that keeps working.
class Error : public std::runtime_error {
  public:
    Error(ErrorCategory category, const std::string& message)
        : std::runtime_error(message), category_(category) {}
    ErrorCategory category() const noexcept { return category_; }

  private:
    ErrorCategory category_;
};

// For layers without typed errors of their own (math, approx, circuits, train): an argument
// outside the function's domain.
struct InvalidArgument : Error {
    explicit InvalidArgument(const std::string& message) : Error(ErrorCategory::usage, message) {}
};

// A broken invariant that no input should be able to cause.
struct InternalError : Error {
    explicit InternalError(const std::string& message) : Error(ErrorCategory::internal, message) {}
};

}  // namespace henn
