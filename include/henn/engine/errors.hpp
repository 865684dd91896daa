// Typed errors of the encrypted-inference engine. Each message names the layer, file or object
// at fault and what would fix it.
#pragma once

#include <stdexcept>
#include <string>

namespace henn::engine {

struct EngineError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// The model cannot be compiled: an operator with no encrypted form, a depth no 128-bit
// parameters allow, calibration data of the wrong shape.
struct CompileError : EngineError {
    using EngineError::EngineError;
};

// Keys, compiled model and ciphertexts that do not belong together (another model, other
// parameters, missing evaluation keys).
struct KeyMismatchError : EngineError {
    using EngineError::EngineError;
};

// Bytes that are not a valid compiled model, key bundle or ciphertext bundle, or inputs of the
// wrong count or shape.
struct FormatError : EngineError {
    using EngineError::EngineError;
};

}  // namespace henn::engine
