// Typed errors of the CKKS layer; each message says what was wrong and how to fix it.
#pragma once

#include <string>

#include "henn/error.hpp"

namespace henn::ckks {

// Every error of this layer; category crypto unless a subclass says otherwise.
struct Error : ::henn::Error {
    explicit Error(const std::string& message, ErrorCategory category = ErrorCategory::crypto)
        : ::henn::Error(category, message) {}
};

// Invalid or insecure parameters.
struct ParameterError : Error {
    explicit ParameterError(const std::string& message)
        : Error(message, ErrorCategory::parameters) {}
};

// Operands at different levels, or an operation that needs a level the ciphertext lacks.
struct LevelError : Error {
    using Error::Error;
};

// Operands whose scales differ, or a scale out of range.
struct ScaleError : Error {
    using Error::Error;
};

// An evaluation key (relinearization or Galois) that the key set does not hold.
struct MissingKeyError : Error {
    using Error::Error;
};

// Objects made under different parameters, or of the wrong shape.
struct MismatchError : Error {
    using Error::Error;
};

// Bytes that are not a valid serialized object (corrupted, truncated, wrong type or version).
struct SerializationError : Error {
    explicit SerializationError(const std::string& message) : Error(message, ErrorCategory::data) {}
};

}  // namespace henn::ckks
