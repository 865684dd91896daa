// The server side of encrypted inference: runs a compiled model on encrypted batches with the
// client's evaluation keys only (it never sees a secret key). A Session is immutable after
// construction and const to run, so one instance serves many requests at once; each run keeps its
// state on its own stack (ncnn's Net/Extractor split, with the Session as the Net).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "henn/ckks/evaluator.hpp"
#include "henn/engine/client.hpp"
#include "henn/engine/compiled_model.hpp"

namespace henn::engine {

struct RunOptions {
    // Called after each chunk of work: stage index, outputs done in that stage, its width.
    std::function<void(std::size_t stage, std::int64_t done, std::int64_t total)> progress;
    // Called with every stage's outputs (tracing: the client decrypts and compares).
    std::function<void(std::size_t stage, const std::vector<ckks::Ciphertext>& outputs)> trace;
    // Set from another thread to stop a run; run() then throws EngineError("cancelled").
    const std::atomic<bool>* cancel = nullptr;
    // Outputs computed together per linear stage (and then activated at once): bounds memory.
    std::int64_t chunk = 64;
    // Linear stages as one evaluator call per weight (multiply_constant + add), the way a user
    // of a general HE library writes them: the reference the blocked kernel is tested and
    // benchmarked against (bit-identical results).
    bool reference_kernels = false;
};

class Session {
  public:
    // KeyMismatchError if the keys belong to another model or lack a key the program needs.
    Session(CompiledModelPtr model, const EvaluationKeyBundle& keys);

    const CompiledModel& model() const { return *model_; }

    // Validates the batch (model hash, count, level, scale, slots, sizes), then runs every stage.
    // Pass the batch by std::move to free the inputs as soon as the first stage has used them.
    EncryptedBatch run(EncryptedBatch inputs, const RunOptions& options = {}) const;

  private:
    // Latency packing (engine/latency_session.cpp): one ciphertext, one transform per linear stage.
    EncryptedBatch run_latency(EncryptedBatch inputs, const RunOptions& options) const;
    std::vector<ckks::Ciphertext> naive_linear(std::size_t stage,
                                               const std::vector<const ckks::Ciphertext*>& inputs,
                                               std::int64_t lo, std::int64_t hi) const;
    // relinearize = false leaves squares as 3-polynomial ciphertexts for the next linear stage to
    // sum and relinearize (detail::relinearized_by_consumer).
    std::vector<ckks::Ciphertext> activate(std::size_t stage, std::vector<ckks::Ciphertext> in,
                                           bool relinearize = true) const;
    ckks::Ciphertext square_complex(const ckks::Ciphertext& z, double beta, bool relinearize) const;
    ckks::Ciphertext square_real(const ckks::Ciphertext& x, double beta, bool relinearize) const;
    CompiledModelPtr model_;
    std::shared_ptr<const ckks::EvaluationKeys> keys_;
    ckks::Evaluator evaluator_;
    // NTT of X^(N/4) per prime: its square X^(N/2) is the constant i in every slot.
    std::vector<std::vector<ckks::u64>> quarter_ntt_;
};

}  // namespace henn::engine
