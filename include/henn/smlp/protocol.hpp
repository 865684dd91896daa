// The two-server secure MLP (SMLP) protocol: parameters and the messages between S1 and S2.
//
// S1 holds the encrypted data and model and does all linear algebra under Paillier; S2 holds the
// owner's decryption key and answers three kinds of requests on blinded values:
//   multiply: masked matrix (or element-wise) products, S1 removes the masks' contribution;
//   relu:     sign of a value multiplied by a random positive factor (batch permuted), returning
//             the step bit and the bit times a masked, rescaled copy of the value;
//   rescale:  floor division by 2^shift of additively masked values.
// These structures are transport-agnostic: the service layer carries them over gRPC, tests call
// S2 in-process through LocalHelperLink.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "henn/error.hpp"
#include "henn/paillier/paillier.hpp"

namespace henn::smlp {

using paillier::Ciphertext;

// A protocol step refused; category protocol unless said otherwise.
struct SmlpError : ::henn::Error {
    explicit SmlpError(const std::string& message, ErrorCategory category = ErrorCategory::protocol)
        : ::henn::Error(category, message) {}
};

// Fixed-point layout shared by the encrypted protocol and the plaintext reference.
struct FixedPointConfig {
    unsigned scale_bits = 16;        // f: reals are stored as round(x * 2^f)
    unsigned operand_bits = 32;      // |operand of a product| < 2^operand_bits (scale f)
    unsigned wide_bits = 80;         // |value being rescaled| < 2^wide_bits (up to scale 3f)
    unsigned statistical_bits = 40;  // masks exceed the value they hide by this many bits

    unsigned product_mask_bits() const { return operand_bits + statistical_bits; }
    // Throws SmlpError unless the layout fits the key's plaintext space with room to spare.
    void validate(const paillier::PublicKey& key) const;
};

// Layer widths, input first: {30, 16, 1} is 30 features, one hidden ReLU layer of 16, 1 output.
struct ModelShape {
    std::vector<std::size_t> widths;
    std::size_t layers() const { return widths.empty() ? 0 : widths.size() - 1; }
    std::size_t inputs() const { return widths.front(); }
    std::size_t outputs() const { return widths.back(); }
    void validate() const;
    bool operator==(const ModelShape&) const = default;
};

struct TrainSchedule {
    std::size_t epochs = 1;
    std::size_t batch_size = 8;
    double learning_rate = 0.05;
    std::uint64_t seed = 1;  // batch order
};

// Row order of one epoch (Fisher-Yates with a fixed generator, identical on every platform).
std::vector<std::size_t> epoch_order(std::size_t rows, std::uint64_t seed, std::size_t epoch);
// round(learning_rate / batch * 2^f), the fixed-point step for a batch of `batch` rows.
std::int64_t step_integer(double learning_rate, std::size_t batch, unsigned scale_bits);

// ---- S1 -> S2 messages ----

struct MaskedProduct {
    enum class Kind : std::uint8_t { matrix = 0, elementwise = 1 };
    Kind kind = Kind::matrix;
    std::size_t rows = 0, inner = 0, cols = 0;  // matrix: (rows x inner) * (inner x cols)
    std::vector<Ciphertext> left, right;        // row-major; elementwise: equal lengths
    std::size_t result_size() const { return kind == Kind::matrix ? rows * cols : left.size(); }
    void validate() const;
};

struct MultiplyRequest {
    // Every masked operand is in [0, 2^operand_bits): S2 decrypts modulo p only, and refuses
    // anything larger.
    unsigned operand_bits = 0;
    std::vector<MaskedProduct> products;
};
struct MultiplyResponse {
    std::vector<std::vector<Ciphertext>> results;  // one per product, row-major
};

struct ReluRequest {
    unsigned shift = 0;       // rescale the carriers by 2^shift
    unsigned value_bits = 0;  // carriers are v + 2^value_bits + mask, mask < 2^(value_bits+stat)
    unsigned statistical_bits = 0;
    std::vector<Ciphertext> probes;  // Enc(r_i v_i + 2^(value_bits+stat)), r_i > 0 random, permuted
    std::vector<Ciphertext> carriers;  // Enc(v_i + 2^value_bits + m_i), same permutation
};
struct ReluResponse {
    std::vector<Ciphertext> steps;  // Enc([v_i > 0])
    std::vector<Ciphertext> relus;  // Enc([v_i > 0] * floor(carrier_i / 2^shift))
};

struct RescaleRequest {
    unsigned value_bits = 0;
    unsigned statistical_bits = 0;
    std::vector<unsigned> shifts;  // one per value
    std::vector<Ciphertext> values;
};
struct RescaleResponse {
    std::vector<Ciphertext> values;  // Enc(floor(value_i / 2^shift_i))
};

// Bytes and rounds exchanged with S2, as counted by the link.
struct Traffic {
    std::uint64_t bytes_sent = 0;
    std::uint64_t bytes_received = 0;
    std::uint64_t rounds = 0;
    std::uint64_t total_bytes() const { return bytes_sent + bytes_received; }
};

// S1's connection to S2.
class HelperLink {
  public:
    virtual ~HelperLink() = default;
    virtual MultiplyResponse multiply(const MultiplyRequest& request) = 0;
    virtual ReluResponse relu(const ReluRequest& request) = 0;
    virtual RescaleResponse rescale(const RescaleRequest& request) = 0;
    // The modulus S2 decrypts under, to check S1 and S2 work with the same key.
    virtual paillier::PublicKey public_key() = 0;
    virtual Traffic traffic() const = 0;
    // S2's process CPU time in seconds, or a negative value when unknown (S2 in-process).
    virtual double helper_cpu_seconds() { return -1; }
};

}  // namespace henn::smlp
