#include "henn/ckks/matrix_product.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "henn/ckks/errors.hpp"
#include "henn/ckks/evaluator.hpp"
#include "henn/math/vector_ops.hpp"
#include "internal.hpp"

namespace henn::ckks {

ConstantMatrix::ConstantMatrix(ContextPtr context, int level, std::size_t columns,
                               std::span<const std::size_t> row_begin,
                               std::span<const std::uint32_t> column_index,
                               std::span<const double> values, double constant_scale)
    : context_(std::move(context)), level_(level), columns_(columns) {
    if (!context_) throw MismatchError("ConstantMatrix: no context");
    if (level < 0 || level > context_->max_level()) {
        throw MismatchError("ConstantMatrix: level " + std::to_string(level) +
                            " is outside the chain (0.." + std::to_string(context_->max_level()) +
                            ")");
    }
    if (row_begin.empty() || row_begin.front() != 0 || row_begin.back() != column_index.size() ||
        column_index.size() != values.size()) {
        throw MismatchError(
            "ConstantMatrix: row_begin must start at 0 and end at the number of entries");
    }
    for (std::size_t r = 0; r + 1 < row_begin.size(); ++r) {
        if (row_begin[r] > row_begin[r + 1])
            throw MismatchError("ConstantMatrix: row_begin is not increasing");
    }
    constant_scale_ =
        constant_scale == 0 ? static_cast<double>(context_->q()[level].value()) : constant_scale;
    if (!(constant_scale_ >= 1) || !std::isfinite(constant_scale_)) {
        throw ScaleError("ConstantMatrix: the constant scale must be a finite number >= 1");
    }
    const std::size_t limbs = static_cast<std::size_t>(level) + 1;
    residues_.assign(limbs, {});
    row_begin_.push_back(0);
    std::vector<double> integers;
    bool small = true;
    for (std::size_t r = 0; r + 1 < row_begin.size(); ++r) {
        const std::size_t row_start = column_index_.size();
        for (std::size_t e = row_begin[r]; e < row_begin[r + 1]; ++e) {
            if (column_index[e] >= columns) {
                throw MismatchError("ConstantMatrix: row " + std::to_string(r) + " names column " +
                                    std::to_string(column_index[e]) + " of " +
                                    std::to_string(columns));
            }
            const double integer = std::round(values[e] * constant_scale_);
            if (!std::isfinite(integer) || std::abs(integer) >= 0x1p100) {
                throw ScaleError("ConstantMatrix: entry (" + std::to_string(r) + ", " +
                                 std::to_string(column_index[e]) +
                                 ") times the constant scale overflows");
            }
            if (integer == 0) continue;
            column_index_.push_back(column_index[e]);
            integers.push_back(integer);
            small = small && std::abs(integer) < std::ldexp(1.0, math::kMaxSmallWeightBits);
        }
        // Positive entries first, then negative ones: the small-weight kernel sums each sign in
        // one run. The sums are exact modulo each prime, so the order changes no word.
        std::vector<std::size_t> order(integers.size() - row_start);
        for (std::size_t k = 0; k < order.size(); ++k) order[k] = row_start + k;
        std::stable_partition(order.begin(), order.end(),
                              [&](std::size_t e) { return integers[e] > 0; });
        std::vector<std::uint32_t> sorted_columns(order.size());
        std::vector<double> sorted_integers(order.size());
        for (std::size_t k = 0; k < order.size(); ++k) {
            sorted_columns[k] = column_index_[order[k]];
            sorted_integers[k] = integers[order[k]];
        }
        std::copy(sorted_columns.begin(), sorted_columns.end(),
                  column_index_.begin() + static_cast<std::ptrdiff_t>(row_start));
        std::copy(sorted_integers.begin(), sorted_integers.end(),
                  integers.begin() + static_cast<std::ptrdiff_t>(row_start));
        row_begin_.push_back(column_index_.size());
    }
    for (std::size_t i = 0; i < limbs; ++i) {
        residues_[i].reserve(integers.size());
        for (double integer : integers)
            residues_[i].push_back(detail::integer_double_to_residue(integer, context_->q()[i]));
    }
    if (small) small_weights_.assign(integers.begin(), integers.end());
    if (small) build_groups(row_begin, column_index, values);
}

void ConstantMatrix::build_groups(std::span<const std::size_t> row_begin,
                                  std::span<const std::uint32_t> column_index,
                                  std::span<const double> values) {
    const std::size_t rows = row_begin.size() - 1;
    row_group_.assign(rows, -1);
    auto same_columns = [&](std::size_t a, std::size_t b) {
        return row_begin[a + 1] - row_begin[a] == row_begin[b + 1] - row_begin[b] &&
               std::equal(column_index.begin() + static_cast<std::ptrdiff_t>(row_begin[a]),
                          column_index.begin() + static_cast<std::ptrdiff_t>(row_begin[a + 1]),
                          column_index.begin() + static_cast<std::ptrdiff_t>(row_begin[b]));
    };
    for (std::size_t r = 0; r < rows;) {
        const std::size_t count = row_begin[r + 1] - row_begin[r];
        std::size_t end = r + 1;
        while (end < rows && same_columns(r, end)) ++end;
        if (count >= kMinGroupColumns) {
            const auto g = static_cast<std::int32_t>(group_first_.size());
            group_first_.push_back(r);
            group_end_.push_back(end);
            group_column_begin_.push_back(group_columns_.size());
            group_weight_begin_.push_back(group_weights_.size());
            group_columns_.insert(
                group_columns_.end(),
                column_index.begin() + static_cast<std::ptrdiff_t>(row_begin[r]),
                column_index.begin() + static_cast<std::ptrdiff_t>(row_begin[r + 1]));
            for (std::size_t row = r; row < end; ++row) {
                row_group_[row] = g;
                for (std::size_t e = row_begin[row]; e < row_begin[row + 1]; ++e) {
                    group_weights_.push_back(
                        static_cast<std::int32_t>(std::round(values[e] * constant_scale_)));
                }
            }
        }
        r = end;
    }
    if (group_first_.empty()) row_group_.clear();
    std::int64_t largest = 0;
    for (std::int32_t w : group_weights_) largest = std::max<std::int64_t>(largest, std::abs(w));
    while ((std::int64_t{1} << group_weight_bits_) <= largest) ++group_weight_bits_;
}

std::size_t ConstantMatrix::bytes() const {
    std::size_t total =
        row_begin_.size() * sizeof(std::size_t) + column_index_.size() * sizeof(std::uint32_t);
    for (const auto& limb : residues_) total += limb.size() * sizeof(u64);
    total += (group_first_.size() * 4) * sizeof(std::size_t) +
             group_columns_.size() * sizeof(std::uint32_t) +
             (group_weights_.size() + row_group_.size()) * sizeof(std::int32_t);
    return total + small_weights_.size() * sizeof(std::int32_t);
}

void ConstantMatrix::set_block_size(std::size_t coefficients) {
    if (coefficients == 0 || (coefficients & (coefficients - 1)) != 0 ||
        coefficients > context_->n()) {
        throw MismatchError("ConstantMatrix: the block size must be a power of two up to N");
    }
    block_ = coefficients;
}

void ConstantMatrix::check_inputs(std::span<const Ciphertext* const> inputs,
                                  const char* where) const {
    const Context& ctx = *context_;
    if (inputs.size() != columns_) {
        throw MismatchError(std::string(where) + ": " + std::to_string(inputs.size()) +
                            " ciphertexts for a matrix of " + std::to_string(columns_) +
                            " columns");
    }
    if (columns_ == 0) throw MismatchError(std::string(where) + ": the matrix has no columns");
    const Ciphertext& first = *inputs[0];
    for (const Ciphertext* c : inputs) {
        detail::check_hash(ctx, c->parameter_hash, where);
        if (c->level != level_) {
            throw LevelError(std::string(where) + ": an input is at level " +
                             std::to_string(c->level) + ", the matrix was prepared for level " +
                             std::to_string(level_));
        }
        if (c->size() != first.size() || c->slots != first.slots) {
            throw MismatchError(std::string(where) + ": inputs differ in size or slot count");
        }
        if (std::abs(c->scale - first.scale) > Evaluator::kScaleTolerance * first.scale) {
            throw ScaleError(std::string(where) + ": inputs have different scales");
        }
    }
}

Ciphertext ConstantMatrix::empty_result(const Ciphertext& first) const {
    const std::size_t n = context_->n(), limbs = static_cast<std::size_t>(level_) + 1;
    Ciphertext r;
    r.level = level_;
    r.scale = first.scale * constant_scale_;
    r.slots = first.slots;
    r.parameter_hash = first.parameter_hash;
    for (std::size_t p = 0; p < first.size(); ++p)
        r.polys.emplace_back(n, limbs, RnsPoly::uninitialized);
    return r;
}

// outputs[r] = (or +=, when `accumulate`) the product of rows [row_lo, row_lo + outputs.size()).
void ConstantMatrix::product_into(std::span<const Ciphertext* const> inputs, std::size_t row_lo,
                                  std::span<Ciphertext> outputs, bool accumulate) const {
    const Context& ctx = *context_;
    const std::size_t n = ctx.n(), limbs = static_cast<std::size_t>(level_) + 1,
                      size = inputs[0]->size();
    const std::size_t out_rows = outputs.size();
    const std::size_t block = std::min(block_, n);
    const std::size_t blocks = n / block;
    const std::size_t tasks = limbs * blocks;
    const int threads = static_cast<int>(std::min<std::size_t>(detail::threads(), tasks));
    // Small integers need fewer word products than residues where the kernel has its own path.
    const bool use_small = !small_weights_.empty() && math::vector_kernel_has_small_weights();
    // Rows sharing their columns: several rows from each load (where the kernel has its own).
    const bool use_groups = !row_group_.empty() && math::vector_kernel_has_matrix_group();
#pragma omp parallel num_threads(threads)
    {
        std::vector<const u64*> x(columns_);
        std::vector<u64*> o(out_rows);
        // When accumulating, the products land here first, then are added to the sums (a block of
        // every row stays in cache between the two).
        std::vector<u64> scratch(accumulate ? out_rows * block : 0);
#pragma omp for schedule(dynamic, 1)
        for (std::size_t task = 0; task < tasks; ++task) {
            const std::size_t i = task / blocks, k0 = (task % blocks) * block;
            for (std::size_t p = 0; p < size; ++p) {
                for (std::size_t c = 0; c < columns_; ++c) x[c] = inputs[c]->polys[p].limb(i) + k0;
                for (std::size_t r = 0; r < out_rows; ++r) {
                    o[r] =
                        accumulate ? scratch.data() + r * block : outputs[r].polys[p].limb(i) + k0;
                }
                // Rows [r, end) by the row kernels.
                auto rows_kernel = [&](std::size_t r, std::size_t end) {
                    if (use_small) {
                        math::matrix_rows_small_mod_vec(x.data(), row_begin_.data() + row_lo + r,
                                                        column_index_.data(), small_weights_.data(),
                                                        end - r, o.data() + r, block, ctx.q()[i]);
                    } else {
                        math::matrix_rows_mod_vec(x.data(), row_begin_.data() + row_lo + r,
                                                  column_index_.data(), residues_[i].data(),
                                                  end - r, o.data() + r, block, ctx.q()[i]);
                    }
                };
                if (!use_groups) {
                    rows_kernel(0, out_rows);
                } else {
                    for (std::size_t r = 0; r < out_rows;) {
                        const std::int32_t g = row_group_[row_lo + r];
                        std::size_t end = r + 1;
                        if (g < 0) {
                            while (end < out_rows && row_group_[row_lo + end] < 0) ++end;
                            rows_kernel(r, end);
                        } else {
                            const auto gi = static_cast<std::size_t>(g);
                            end = std::min(group_end_[gi], row_lo + out_rows) - row_lo;
                            const std::size_t first = group_column_begin_[gi];
                            const std::size_t count =
                                (gi + 1 < group_column_begin_.size() ? group_column_begin_[gi + 1]
                                                                     : group_columns_.size()) -
                                first;
                            math::matrix_group_mod_vec(
                                x.data(), group_columns_.data() + first, count,
                                group_weights_.data() + group_weight_begin_[gi] +
                                    (row_lo + r - group_first_[gi]) * count,
                                end - r, o.data() + r, block, ctx.q()[i], group_weight_bits_);
                        }
                        r = end;
                    }
                }
                if (!accumulate) continue;
                for (std::size_t r = 0; r < out_rows; ++r) {
                    u64* sum = outputs[r].polys[p].limb(i) + k0;
                    math::add_mod_vec(sum, o[r], sum, block, ctx.q()[i]);
                }
            }
        }
    }
}

std::vector<Ciphertext> ConstantMatrix::multiply(std::span<const Ciphertext* const> inputs,
                                                 std::size_t row_lo, std::size_t row_hi) const {
    check_inputs(inputs, "ConstantMatrix::multiply");
    if (row_lo > row_hi || row_hi > rows())
        throw MismatchError("ConstantMatrix::multiply: row range out of bounds");
    std::vector<Ciphertext> out;
    out.reserve(row_hi - row_lo);
    for (std::size_t r = row_lo; r < row_hi; ++r) out.push_back(empty_result(*inputs[0]));
    product_into(inputs, row_lo, out, false);
    return out;
}

void ConstantMatrix::multiply_accumulate(std::span<const Ciphertext* const> inputs,
                                         std::span<Ciphertext> accumulators) const {
    check_inputs(inputs, "ConstantMatrix::multiply_accumulate");
    if (accumulators.size() != rows()) {
        throw MismatchError(
            "ConstantMatrix::multiply_accumulate: " + std::to_string(accumulators.size()) +
            " accumulators for a matrix of " + std::to_string(rows()) + " rows");
    }
    const Ciphertext& first = *inputs[0];
    const double scale = first.scale * constant_scale_;
    const bool fresh = !accumulators.empty() && accumulators[0].polys.empty();
    for (std::size_t r = 0; r < accumulators.size(); ++r) {
        Ciphertext& a = accumulators[r];
        if (a.polys.empty() != fresh) {
            throw MismatchError(
                "ConstantMatrix::multiply_accumulate: some accumulators are empty, some not");
        }
        if (fresh) {
            a = empty_result(first);
        } else if (a.level != level_ || a.size() != first.size() || a.slots != first.slots ||
                   a.parameter_hash != first.parameter_hash ||
                   std::abs(a.scale - scale) > Evaluator::kScaleTolerance * scale) {
            throw MismatchError(
                "ConstantMatrix::multiply_accumulate: accumulator " + std::to_string(r) +
                " is not a product of this matrix with these inputs (level, scale, size or slots)");
        }
    }
    product_into(inputs, 0, accumulators, !fresh);
}

}  // namespace henn::ckks
