// The objects the engine bindings hand to Python (shared with remote.cpp).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "henn/engine/client.hpp"
#include "henn/engine/compiled_model.hpp"
#include "henn/engine/session.hpp"
#include "henn/nn/model.hpp"

namespace henn::python {

// The compiled model, plus the IR it came from when it was compiled in this process (for the
// float64 reference executor) and the compiler's warnings.
struct Compiled {
    engine::CompiledModelPtr model;
    std::shared_ptr<const nn::Model> ir;
    std::vector<std::string> warnings;
};
using CompiledPtr = std::shared_ptr<Compiled>;

// Ciphertexts of one or more batches, for inputs or outputs of one compiled model.
struct Encrypted {
    engine::CompiledModelPtr model;
    std::vector<engine::EncryptedBatch> batches;
    engine::BundleKind kind = engine::BundleKind::inputs;
    std::int64_t samples() const {
        std::int64_t s = 0;
        for (const auto& b : batches) s += b.samples;
        return s;
    }
};

struct EvaluationKeys {
    engine::CompiledModelPtr model;
    engine::EvaluationKeyBundle bundle;
};

struct Client {
    engine::CompiledModelPtr model;
    std::unique_ptr<engine::Client> client;
};

struct Session {
    engine::CompiledModelPtr model;
    std::unique_ptr<engine::Session> session;
};

}  // namespace henn::python
