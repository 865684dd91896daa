// A model compiled into an encrypted program (batch packing: one sample per slot, one
// ciphertext per neuron).
//
// Compilation folds every run of consecutive linear layers (Conv2d, pooling, Flatten, Dense,
// their biases) into one sparse matrix, so a run costs one level and one rescale; polynomial
// activations keep their own stages. From the model's depth, a calibration set and the target
// precision it chooses the smallest secure CKKS parameters, then checks the plan by a simulated
// run over levels, scales and value bounds before any key exists.
//
// A CompiledModel is immutable and shared: the client, any number of sessions and the server
// hold the same object. It serializes to a versioned, validated blob (`.henn`), so a server
// loads it without the ONNX file.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "henn/ckks/parameters.hpp"
#include "henn/nn/model.hpp"

namespace henn::ckks {
class ConstantMatrix;
struct Ciphertext;
}  // namespace henn::ckks

namespace henn::engine {

struct LatencyLayout;  // henn/engine/latency.hpp
class LatencyProgram;  // private to henn_engine

// batch: one sample per slot, one ciphertext per value; latency: one sample in one ciphertext
// (henn/engine/latency.hpp).
enum class Packing { batch, latency };
// How samples fill the slots: `real` puts one sample in each slot; `complex` puts two (real and
// imaginary parts, nGraph-HE2's packing), which halves the ciphertexts of a batch but needs a
// conjugation key for products; it is used when every activation has degree <= 2.
enum class SlotPacking { automatic, real, complex };

std::string to_string(Packing packing);
std::string to_string(SlotPacking packing);

struct CompileOptions {
    Packing packing = Packing::batch;
    SlotPacking slot_packing = SlotPacking::automatic;
    ckks::SecurityLevel security = ckks::SecurityLevel::k128;
    // Bits of the scale (and of the primes rescaled by); 0 chooses from target_precision_bits.
    int scale_bits = 0;
    // Bits of precision wanted on the outputs, relative to their range: the planned absolute error
    // is 2^-bits times the largest |output| on the calibration set (or 1 if that is smaller).
    // expected_precision_bits() reports the absolute figure.
    double target_precision_bits = 12;
    // Ring degree 2^log_n; 0 chooses the smallest secure one.
    int log_n = 0;
    // Calibration samples (count x model input size, C-major), e.g. 512 training images: they
    // bound every intermediate value and check the activations' intervals. Empty: inputs are
    // assumed in [0, 1] and bounds come from the weights alone (looser, larger parameters).
    std::vector<double> calibration;
    std::int64_t calibration_count = 0;
    // Latency packing only: linear stages by the naive diagonal method (one rotation per
    // diagonal, no hoisting), the reference that benchmarks compare BSGS against.
    bool latency_naive_diagonals = false;
    // Latency packing only: copies of the input the client encrypts (LatencyLayout::input_copies)
    // so that a first convolution's output channels share diagonals; 0 chooses by the cost model,
    // 1 is none. More copies than the first stage's output channels, or than fit the slots, is a
    // CompileError.
    int latency_input_copies = 0;
    // Batch packing only: a square between two linear stages is not relinearized; the next
    // linear stage sums the 3-polynomial squares and relinearizes each of its outputs (CryptoNets:
    // 100 + 10 relinearizations instead of 845 + 100). The rescale of an unrelinearized square
    // rounds a term that decrypts times s^2, about 6-7 bits of noise, so the compiler picks a
    // larger scale for the same precision (more bytes uploaded), and the consumer's products run
    // over three polynomials instead of two. Measured in docs/benchmarks.md: worth it where key
    // switching is slow relative to the products (AVX2), off by default.
    bool lazy_relinearization = false;
};

// A stage of the encrypted program.
struct LinearStage {
    std::int64_t inputs = 0, outputs = 0;
    // Compressed rows: row r holds entries [row_begin[r], row_begin[r+1]).
    std::vector<std::size_t> row_begin;
    std::vector<std::uint32_t> column;
    std::vector<double> weight;
    std::vector<double> bias;
};
struct ActivationStage {
    std::vector<double> coefficients;         // power basis, ascending
    double interval_lo = 0, interval_hi = 0;  // where the polynomial is meant to be valid
    std::int64_t width = 0;
};

struct StagePlan {
    std::string name;  // the IR layers fused into this stage, joined by '+'
    std::string kind;  // "linear" or "polynomial"
    std::variant<LinearStage, ActivationStage> op;
    int level_in = 0, level_out = 0;
    double scale_in = 0, scale_out = 0;
    // Largest |value| seen on the calibration set at the stage's output (and input, for
    // activations), and the range of activation inputs.
    double max_abs_out = 0;
    double input_min = 0, input_max = 0;
    double input_rms = 0;  // root mean square of the stage's inputs (compile time only, not saved)
    double input_rms_max = 0;  // the largest one sample's input RMS (compile time only, not saved)
    bool has_dense = false;    // a dense layer is fused in (compile time only, not saved)
    int depth = 0;
    std::int64_t ct_multiplications = 0;  // ciphertext products over the whole stage
    std::int64_t key_switches = 0;
    std::int64_t multiply_accumulates = 0;  // nonzero weights of a linear stage
    std::string detail;
};

struct KeyRequirements {
    bool relinearization = false;
    bool conjugation = false;
    std::vector<int> rotations;  // none in batch packing
    // Latency packing: step -> the highest level it is used at (its key stops there:
    // make_evaluation_keys).
    std::map<int, int> rotation_levels;
};

class CompiledModel {
  public:
    // Compiles; warnings (e.g. a calibration value outside an activation's interval, naming the
    // layer) are appended to `warnings`. Throws CompileError.
    static std::shared_ptr<const CompiledModel> compile(
        const nn::Model& model, const CompileOptions& options,
        std::vector<std::string>* warnings = nullptr);

    // Versioned, validated serialization. load() treats the bytes as untrusted: FormatError on
    // anything malformed, CompileError if the stored parameters are not secure.
    std::vector<std::uint8_t> save() const;
    static std::shared_ptr<const CompiledModel> load(std::span<const std::uint8_t> bytes);
    // What a remote client needs (model_privacy.hpp): the same parameters, plan and shapes with
    // every weight and bias set to zero. Its hash differs; a server maps between the two.
    std::shared_ptr<const CompiledModel> without_weights() const;

    // The model's input shape, output count and metadata (name, producer) as compiled.
    const nn::Shape& input_shape() const { return input_shape_; }
    const std::map<std::string, std::string>& metadata() const { return metadata_; }
    const ckks::ContextPtr& context() const { return context_; }
    const std::vector<StagePlan>& stages() const { return stages_; }
    const KeyRequirements& keys() const { return keys_; }
    Packing packing() const { return packing_; }
    // Latency packing: where every value sits in the slots (null in batch packing).
    const LatencyLayout* latency_layout() const { return latency_layout_.get(); }
    const LatencyProgram* latency_program() const { return latency_program_.get(); }
    // Ciphertexts per batch: the input size (or output size) in batch packing, 1 in latency.
    std::int64_t input_ciphertexts() const {
        return packing_ == Packing::latency ? 1 : input_size_;
    }
    std::int64_t output_ciphertexts() const {
        return packing_ == Packing::latency ? 1 : output_size_;
    }
    SlotPacking slot_packing() const { return slot_packing_; }  // real or complex, never automatic
    bool lazy_relinearization() const {
        return lazy_relinearization_;
    }  // CompileOptions::lazy_relinearization
    std::int64_t input_size() const { return input_size_; }
    std::int64_t output_size() const { return output_size_; }
    // Samples per ciphertext: N/2 for real packing, N for complex; latency: N/2 / region.
    std::int64_t batch_size() const;
    double input_scale() const { return input_scale_; }
    int input_level() const { return context_->max_level(); }
    int depth() const;
    // Estimated bits of precision of the outputs (noise model; `henn run` measures the real one).
    double expected_precision_bits() const { return expected_precision_bits_; }
    // SHA-256 of save(), truncated to 64 bits: ciphertext and key bundles carry it.
    std::uint64_t hash() const { return hash_; }
    // Bytes of the evaluation keys and of one batch of inputs as they go over the wire.
    std::uint64_t evaluation_key_bytes() const;
    std::uint64_t input_bytes_per_batch() const;

    // What `henn compile` prints.
    std::string summary() const;

    // The linear stage's matrix prepared for its level (built once, at compile or load); its
    // last column multiplies the constant ciphertext `bias_input(stage)` when the stage has a bias.
    const ckks::ConstantMatrix& matrix(std::size_t stage) const;
    // Streaming between layers: a linear stage fed by linear stage -> activation is also prepared
    // in blocks of `kStreamColumns` columns (block b holds columns [b * kStreamColumns, ...), the
    // last block also the bias column), so a run multiplies each chunk of the producing stage's
    // activated outputs as soon as it exists and holds only the sums, never the whole layer.
    // Null when the stage is not prepared that way.
    static constexpr std::int64_t kStreamColumns = 64;
    const ckks::ConstantMatrix* column_block(std::size_t stage, std::size_t block) const;
    // A noiseless ciphertext of the constant 1 in every sample's slot, at the stage's level and
    // input scale: the matrix's bias column multiplies it. Null when the stage has no bias.
    const ckks::Ciphertext* bias_input(std::size_t stage) const;

    // The plaintext program: the stages run in float64 on one sample (what the encrypted run
    // computes, up to CKKS noise). `trace` receives every stage's output when given.
    std::vector<double> run_plain(std::span<const double> input,
                                  std::vector<std::vector<double>>* trace = nullptr) const;

    ~CompiledModel();
    CompiledModel(const CompiledModel&) = delete;
    CompiledModel& operator=(const CompiledModel&) = delete;

  private:
    CompiledModel();
    friend class CompiledModelBuilder;
    void finish();          // builds context-dependent caches and the hash
    void finish_latency();  // the same for latency packing (engine/latency_model.cpp)
    void prepare_column_blocks(std::size_t stage, std::span<const std::size_t> rows,
                               std::span<const std::uint32_t> columns,
                               std::span<const double> values, bool has_bias,
                               double constant_scale);
    nn::Shape input_shape_;
    std::map<std::string, std::string> metadata_;
    ckks::ContextPtr context_;
    std::vector<StagePlan> stages_;
    KeyRequirements keys_;
    Packing packing_ = Packing::batch;
    SlotPacking slot_packing_ = SlotPacking::real;
    bool lazy_relinearization_ = false;
    std::int64_t input_size_ = 0, output_size_ = 0;
    double input_scale_ = 0;
    double expected_precision_bits_ = 0;
    std::uint64_t hash_ = 0;
    std::vector<std::unique_ptr<ckks::ConstantMatrix>>
        matrices_;                                                // by stage (null for activations)
    std::vector<std::unique_ptr<ckks::Ciphertext>> bias_inputs_;  // by stage
    std::vector<std::vector<std::unique_ptr<ckks::ConstantMatrix>>>
        column_blocks_;  // by stage, then block
    std::shared_ptr<const LatencyLayout> latency_layout_;
    std::shared_ptr<const LatencyProgram> latency_program_;
};

using CompiledModelPtr = std::shared_ptr<const CompiledModel>;

}  // namespace henn::engine
