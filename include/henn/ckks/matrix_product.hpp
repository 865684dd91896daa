// Products of a constant matrix with a vector of ciphertexts: the linear layers of batch-packed
// networks (one ciphertext per neuron, one sample per slot), where out_r = sum_c W[r][c] * in_c.
//
// The matrix is prepared once for one level: each entry becomes the integer
// round(W[r][c] * constant_scale), stored as its residues mod the primes of that level (and, when
// every integer is below 2^24, also as the integers themselves, which the AVX2 and AVX-512F
// kernels multiply with fewer word products), so a product is a weighted sum with one reduction
// per coefficient (no plaintexts, no NTTs). Evaluation walks the coefficients in blocks small
// enough that every input's block stays in cache while all rows are summed from it, and runs the
// (limb, block) tasks in parallel.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "henn/ckks/objects.hpp"
#include "henn/ckks/parameters.hpp"

namespace henn::ckks {

class ConstantMatrix {
  public:
    // A sparse matrix in compressed rows: row r holds the entries [row_begin[r], row_begin[r+1])
    // of `columns` and `values` (row_begin has rows + 1 elements). Entries whose integer is zero
    // are dropped. constant_scale 0 means the prime q_level, so that a rescale after the product
    // brings the scale back exactly to the inputs' scale. Throws MismatchError for malformed rows,
    // columns out of range or a level the context lacks, ScaleError if an entry overflows.
    ConstantMatrix(ContextPtr context, int level, std::size_t columns,
                   std::span<const std::size_t> row_begin,
                   std::span<const std::uint32_t> column_index, std::span<const double> values,
                   double constant_scale = 0);

    std::size_t rows() const { return row_begin_.size() - 1; }
    std::size_t columns() const { return columns_; }
    int level() const { return level_; }
    double constant_scale() const { return constant_scale_; }
    std::size_t nonzeros() const { return column_index_.size(); }
    // Memory held by the prepared residues, small integers and indices.
    std::size_t bytes() const;

    // out[r - row_lo] = sum_c W[r][c] * inputs[c] for the rows [row_lo, row_hi). The inputs share
    // the matrix's level, one scale, one size and one slot count; results have scale
    // inputs.scale * constant_scale at the same level.
    std::vector<Ciphertext> multiply(std::span<const Ciphertext* const> inputs, std::size_t row_lo,
                                     std::size_t row_hi) const;
    std::vector<Ciphertext> multiply(std::span<const Ciphertext* const> inputs) const {
        return multiply(inputs, 0, rows());
    }

    // accumulators[r] += sum_c W[r][c] * inputs[c] for every row: one chunk of a product whose
    // inputs arrive a few columns at a time (streaming between layers keeps only the sums). Empty
    // accumulators (default-constructed) are set to the product; others must be results of this
    // matrix's shape (level, scale inputs.scale * constant_scale, size, slots). The sums are exact
    // modulo each prime, so any split into column blocks gives the same ciphertexts bit for bit.
    void multiply_accumulate(std::span<const Ciphertext* const> inputs,
                             std::span<Ciphertext> accumulators) const;

    // Coefficients per block (a power of two dividing N); exposed for benchmarks and tests.
    void set_block_size(std::size_t coefficients);

  private:
    void check_inputs(std::span<const Ciphertext* const> inputs, const char* where) const;
    Ciphertext empty_result(
        const Ciphertext& first_input) const;  // level, scale, size; limbs uninitialized
    void product_into(std::span<const Ciphertext* const> inputs, std::size_t row_lo,
                      std::span<Ciphertext> outputs, bool accumulate) const;
    ContextPtr context_;
    int level_ = 0;
    std::size_t columns_ = 0;
    double constant_scale_ = 0;
    std::vector<std::size_t> row_begin_;
    std::vector<std::uint32_t> column_index_;
    std::vector<std::vector<u64>> residues_;  // [limb][entry]
    // The same entries as integers when all are below 2^kMaxSmallWeightBits (else empty); each
    // row's positive entries come before its negative ones.
    std::vector<std::int32_t> small_weights_;
    // Runs of consecutive rows with the same list of at least kMinGroupColumns columns (a dense
    // layer: one run of every row), when every integer is small: math::matrix_group_mod_vec sums
    // several rows from each load of an input. Group g holds the rows [group_first_[g],
    // group_end_[g]), its columns from group_column_begin_[g] in group_columns_, its
    // integers row after row (zeros kept) from group_weight_begin_[g] in group_weights_.
    // row_group_[r] is the group of row r, or -1 for a row summed by the row kernels (empty when
    // there are no groups).
    static constexpr std::size_t kMinGroupColumns = 32;
    void build_groups(std::span<const std::size_t> row_begin,
                      std::span<const std::uint32_t> column_index, std::span<const double> values);
    std::vector<std::size_t> group_first_, group_end_, group_column_begin_, group_weight_begin_;
    std::vector<std::uint32_t> group_columns_;
    std::vector<std::int32_t> group_weights_;
    std::vector<std::int32_t> row_group_;
    int group_weight_bits_ = 1;  // every group integer is below 2^group_weight_bits_
    std::size_t block_ = 128;
};

}  // namespace henn::ckks
