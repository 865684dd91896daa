// Typed errors of the encrypted-inference engine. Each message names the layer, file or object
// at fault and what would fix it.
#pragma once

#include <string>

#include "henn/error.hpp"

namespace henn::engine {

// Every error of this layer; category parameters unless a subclass says otherwise.
struct EngineError : ::henn::Error {
    explicit EngineError(const std::string& message,
                         ErrorCategory category = ErrorCategory::parameters)
        : ::henn::Error(category, message) {}
};

// The model cannot be compiled: an operator with no encrypted form, a depth no 128-bit
// parameters allow, calibration data of the wrong shape.
struct CompileError : EngineError {
    explicit CompileError(const std::string& message)
        : EngineError(message, ErrorCategory::parameters) {}
};

// Keys, compiled model and ciphertexts that do not belong together (another model, other
// parameters, missing evaluation keys).
struct KeyMismatchError : EngineError {
    explicit KeyMismatchError(const std::string& message)
        : EngineError(message, ErrorCategory::protocol) {}
};

// Bytes that are not a valid compiled model, key bundle or ciphertext bundle, or inputs of the
// wrong count or shape.
struct FormatError : EngineError {
    explicit FormatError(const std::string& message) : EngineError(message, ErrorCategory::data) {}
};

}  // namespace henn::engine
