// Linear maps on the slots of one ciphertext: a map is given by its nonzero generalized
// diagonals and evaluated with the baby-step giant-step method (BSGS) and double hoisting,
// consuming one level. Built on the public hoisting primitives of henn/ckks/hoisting.hpp.
//
// With diagonals d_k (y[t] = sum_k d_k[t] x[t + k], indices mod the slot count) and a split
// k = g + i (g a multiple of the baby-step count b, 0 <= i < b):
//   y = sum_g rot_g( sum_i rot_-g(d_{g+i}) * rot_i(x) ).
// The baby rotations rot_i(x) share one decomposition of x and stay in Q*P (lazy); each inner
// sum is formed in Q*P; each giant rotation decomposes only the c_1 of its inner sum and stays in
// Q*P too; one ModDown and one rescale end the transform. Key switches: |{i != 0}| + |{g != 0}|
// instead of one per diagonal; the split b comes from a cost model (plan_bsgs), and the exact set
// of rotation keys is known before key generation (LinearTransform::rotation_steps).
#pragma once

#include <complex>
#include <cstddef>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "henn/ckks/encoder.hpp"
#include "henn/ckks/evaluator.hpp"
#include "henn/ckks/hoisting.hpp"
#include "henn/ckks/keys.hpp"

namespace henn::circuits {

using Complex = std::complex<double>;

// A linear map on `slots` slots by its nonzero generalized diagonals:
// y[t] = sum_k diagonals[k][t] * x[(t + k) mod slots], k in [0, slots), each of `slots` values.
struct Diagonals {
    std::size_t slots = 0;
    std::map<std::size_t, std::vector<Complex>> diagonals;

    // A dense row-major rows x cols matrix (rows, cols <= slots), zero-padded to slots x slots:
    // the input vector in slots [0, cols), the output in slots [0, rows). Diagonals whose entries
    // are all zero are left out, so sparse or banded matrices give few diagonals.
    static Diagonals from_matrix(std::span<const Complex> matrix, std::size_t rows,
                                 std::size_t cols, std::size_t slots);
    static Diagonals from_matrix(std::span<const double> matrix, std::size_t rows, std::size_t cols,
                                 std::size_t slots);
    // The map on plaintext slot values (the reference the encrypted evaluation is tested against).
    std::vector<Complex> apply(std::span<const Complex> x) const;
    std::vector<std::size_t> indices() const;
};

// The weights of the BSGS cost model. Costs are counted in passes of modular products over one
// limb of N coefficients; an NTT of one limb counts ntt_pass_cost(N) passes.
struct BsgsCostModel {
    // Cost per byte of rotation keys (0: time only). E.g. 1e-6 makes 1 MiB of keys worth about
    // one limb-pass.
    double key_byte_weight = 0;
    // At most this many rotation keys (0: no limit); splits needing more are not considered.
    std::size_t max_keys = 0;
    // Rotations whose keys another transform of the same program already needs (ascending):
    // they cost no key bytes here, so consecutive transforms converge on shared steps.
    std::vector<int> keyed_steps;
    // Giant steps chained (Horner): sum_g rot_g(s_g) as rot_b(s_b + rot_b(s_2b + ...)) for the
    // giant steps g = j b up to slots / 2, and likewise with rot_-b for those above (read as
    // negative). Keys: the baby steps and +-b only, instead of one per giant step; key switches:
    // the baby steps and the largest |j| on each side (as many as direct giant steps when the
    // giant steps are consecutive multiples of b). The chains are sequential (two independent
    // chains, one per sign), the inner sums still parallel. Off: one key per giant step.
    bool chained_giant_steps = false;
    // Also consider grid splits (BsgsPlan::grid_stride), found from the diagonals' runs: a 2-D
    // kernel on a row-major image gives runs of consecutive diagonals one image row apart, and
    // baby steps that cover a few rows of a run leave far fewer giant steps than any power of
    // two. Not with chained giant steps.
    bool grid_splits = false;
};

// An evaluation plan: the baby-step count, the rotations it needs and their modelled cost.
struct BsgsPlan {
    std::size_t baby = 1;                // b; giant steps are multiples of b
    std::vector<int> baby_steps;         // nonzero i, ascending
    std::vector<int> giant_steps;        // nonzero g, ascending (the inner sums' rotations)
    bool chained = false;                // giant steps by chains of +-b (chained_giant_steps)
    std::size_t positive_chain = 0;      // chained: rotations by b (largest g / b, g <= slots/2)
    std::size_t negative_chain = 0;      // chained: rotations by -b (largest (slots - g) / b)
    std::vector<int> rotation_steps;     // the exact key set, ascending: baby steps and giant
                                         // steps (chained: b and slots - b as needed)
    std::size_t key_switches = 0;        // baby steps + giant steps (chained: + both chains)
    std::size_t plaintext_products = 0;  // one per diagonal
    std::size_t key_bytes = 0;           // memory of the rotation keys at the plan's level
    double cost = 0;                     // modelled cost (see BsgsCostModel)
    // A grid split when grid_stride > 0: diagonal k, read as a signed offset in
    // (-slots/2, slots/2], less grid_phase is q * grid_stride + r (0 <= r < grid_stride); its
    // baby step is grid_stride * (q mod grid_rows) + (r mod baby), its giant step the rest. Babies
    // then cover `grid_rows` rows of `baby` consecutive diagonals, giant steps need not be
    // multiples of anything. 0: the plain split (baby step k mod b).
    std::size_t grid_stride = 0, grid_rows = 0;
    std::int64_t grid_phase = 0;
    // Diagonal k (< slots) as (baby step, giant step), both in [0, slots), adding up to k.
    std::pair<int, int> split(std::size_t k, std::size_t slots) const;
    std::string describe() const;
};

// The cheapest split over b in {1, 2, 4, ..., slots} for diagonals `indices` (in [0, slots))
// evaluated on ciphertexts at `level` (-1: the top level).
BsgsPlan plan_bsgs(const ckks::Context& context, int level, std::span<const std::size_t> indices,
                   std::size_t slots, const BsgsCostModel& model = {});
// The plan for a given b (a power of two <= slots).
BsgsPlan plan_bsgs_with_baby(const ckks::Context& context, int level,
                             std::span<const std::size_t> indices, std::size_t slots,
                             std::size_t baby, const BsgsCostModel& model = {});

class LinearTransform {
  public:
    enum class Method {
        Bsgs,     // baby-step giant-step with double hoisting (the default)
        Hoisted,  // one rotation per diagonal, all from one decomposition, each with its ModDown
        Naive,    // one independent rotation per diagonal (the reference)
    };
    struct Options {
        // The highest level of the ciphertexts it will be applied to (-1: the top level); the
        // diagonals are encoded once for it and read in place at every lower level.
        int level = -1;
        // Scale of the encoded diagonals (0: q_level, so the rescale restores the input's scale
        // exactly at that level).
        double scale = 0;
        Method method = Method::Bsgs;
        // Baby-step count (0: chosen by plan_bsgs from the cost model).
        std::size_t baby = 0;
        BsgsCostModel cost;
    };

    // Encodes the diagonals (pre-rotated for BSGS). The slot count is diagonals.slots.
    LinearTransform(const ckks::Encoder& encoder, const Diagonals& diagonals,
                    const Options& options);
    LinearTransform(const ckks::Encoder& encoder, const Diagonals& diagonals)
        : LinearTransform(encoder, diagonals, Options{}) {}

    // The rotation steps evaluate() needs keys for, exactly (in [0, slots), no 0).
    const std::vector<int>& rotation_steps() const { return steps_; }
    // Key switches per evaluation.
    std::size_t key_switches() const;
    const BsgsPlan& plan() const { return plan_; }
    Method method() const { return method_; }
    int level() const { return level_; }
    std::size_t slots() const { return slots_; }
    std::size_t diagonal_count() const { return indices_.size(); }
    // Memory of the encoded diagonals, in bytes.
    std::size_t plaintext_bytes() const;

    // y = M x, one level: x at level <= level() and >= 1, with x.slots == slots(); the result is
    // rescaled (level x.level - 1, scale x.scale * scale / q_{x.level}).
    ckks::Ciphertext evaluate(const ckks::Evaluator& evaluator, const ckks::Ciphertext& x) const;

  private:
    ckks::Ciphertext evaluate_bsgs(const ckks::Evaluator& evaluator,
                                   const ckks::Ciphertext& x) const;
    ckks::Ciphertext evaluate_per_diagonal(const ckks::Evaluator& evaluator,
                                           const ckks::Ciphertext& x) const;
    // BSGS with chained giant steps; inner_sum(k) gives the k-th group's (g, inner sum).
    ckks::Ciphertext evaluate_chained(
        const ckks::Evaluator& evaluator, std::size_t groups,
        const std::function<std::pair<int, ckks::ExtendedCiphertext>(std::size_t)>& inner_sum)
        const;

    Method method_;
    int level_ = 0;
    std::size_t slots_ = 0;
    std::vector<std::size_t> indices_;
    BsgsPlan plan_;
    std::vector<int> steps_;
    // BSGS: by giant step g, the (baby step, diagonal plaintext rotated by -g) pairs.
    std::map<int, std::vector<std::pair<int, ckks::ExtendedPlaintext>>> giant_groups_;
    // Per-diagonal methods: diagonal k unrotated, Q limbs only.
    std::vector<ckks::Plaintext> plain_diagonals_;
};

// y = M x for a rows x cols matrix of any shape, including more rows or columns than slots:
// x arrives as ceil(cols / slots) ciphertexts (block c holds x[c*slots, (c+1)*slots) in its
// slots), y leaves as ceil(rows / slots) ciphertexts likewise; each block pair is one
// LinearTransform (all-zero blocks are skipped), row blocks are summed. One level.
class MatrixVectorProduct {
  public:
    MatrixVectorProduct(const ckks::Encoder& encoder, std::span<const Complex> matrix,
                        std::size_t rows, std::size_t cols,
                        const LinearTransform::Options& options = {}, std::size_t slots = 0);
    MatrixVectorProduct(const ckks::Encoder& encoder, std::span<const double> matrix,
                        std::size_t rows, std::size_t cols,
                        const LinearTransform::Options& options = {}, std::size_t slots = 0);

    std::size_t input_blocks() const { return input_blocks_; }
    std::size_t output_blocks() const { return output_blocks_; }
    std::size_t slots() const { return slots_; }
    // The union of the blocks' rotation steps.
    std::vector<int> rotation_steps() const;
    std::size_t plaintext_bytes() const;
    std::vector<ckks::Ciphertext> evaluate(const ckks::Evaluator& evaluator,
                                           std::span<const ckks::Ciphertext> x) const;

  private:
    std::size_t rows_ = 0, cols_ = 0, slots_ = 0, input_blocks_ = 0, output_blocks_ = 0;
    double scale_ = 0;
    std::map<std::pair<std::size_t, std::size_t>, LinearTransform>
        blocks_;  // (row block, column block)
};

// ---------------------------------------------------------------------------------------------
// Helpers

// Rotate-and-sum: slot t of the result holds sum_{j < block} x[t + j * stride] (indices mod the
// slot count). block is a power of two; log2(block) rotations by stride * 2^i; no level.
ckks::Ciphertext inner_sum(const ckks::Evaluator& evaluator, const ckks::Ciphertext& x,
                           std::size_t block, std::size_t stride = 1);
std::vector<int> inner_sum_steps(std::size_t block, std::size_t stride, std::size_t slots);

// x nonzero in slots [0, length) only, copies (a power of two) with length * copies <= slots:
// the result holds `copies` copies of those slots back to back. log2(copies) rotations; no level.
ckks::Ciphertext replicate(const ckks::Evaluator& evaluator, const ckks::Ciphertext& x,
                           std::size_t length, std::size_t copies);
std::vector<int> replicate_steps(std::size_t length, std::size_t copies, std::size_t slots);

// 1 in slots [begin, end), 0 elsewhere.
std::vector<double> mask_values(std::size_t slots, std::size_t begin, std::size_t end);
// x times a 0/1 mask of slots [begin, end), rescaled (one level; the scale is kept exactly).
ckks::Ciphertext apply_mask(const ckks::Evaluator& evaluator, const ckks::Encoder& encoder,
                            const ckks::Ciphertext& x, std::size_t begin, std::size_t end);

// ---------------------------------------------------------------------------------------------
// Rotation-key planning

// The rotations one circuit performs, at ciphertext levels up to `level` (-1: the top level).
// composable: plain rotations that may also be served by several rotations with keys of a base
// set (false for hoisted ones such as LinearTransform's, which need each key directly).
struct RotationUse {
    std::vector<int> steps;
    int level = -1;
    bool composable = false;
};

struct RotationKeyPlan {
    std::size_t slots = 0;
    // Step in [0, slots) -> the level its key must reach.
    std::map<int, int> keys;
    // Steps served by a sequence of keyed rotations (only when a byte budget forced a base set).
    std::map<int, std::vector<int>> compositions;
    std::size_t key_bytes = 0;        // memory of the planned keys (each only down to its level)
    std::size_t top_level_bytes = 0;  // the same keys all generated at the top level
    std::size_t requested_steps = 0;  // distinct nonzero steps asked for

    std::vector<int> steps() const;
    // Keys for the plan, one KeyGenerator call per level.
    ckks::GaloisKeys generate(ckks::KeyGenerator& keygen) const;
    std::string report() const;
};

// The smallest key set serving every use: steps reduced mod slots, duplicates merged, each key
// generated only down to the highest level it is used at. With max_key_bytes > 0 and a larger
// direct set, composable steps are served instead by signed powers of two (non-adjacent form)
// from a base set, when that is smaller.
RotationKeyPlan plan_rotation_keys(const ckks::Context& context, std::span<const RotationUse> uses,
                                   std::size_t slots, std::size_t max_key_bytes = 0);
// Rotation by `step` with the keys of `plan` (directly or by its composition).
ckks::Ciphertext rotate(const ckks::Evaluator& evaluator, const ckks::Ciphertext& x, int step,
                        const RotationKeyPlan& plan);

}  // namespace henn::circuits
