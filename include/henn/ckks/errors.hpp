// Typed errors of the CKKS layer; each message says what was wrong and how to fix it.
#pragma once

#include <stdexcept>
#include <string>

namespace henn::ckks {

struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Invalid or insecure parameters.
struct ParameterError : Error {
    using Error::Error;
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
    using Error::Error;
};

}  // namespace henn::ckks
