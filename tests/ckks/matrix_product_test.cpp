// ConstantMatrix against the naive product (one multiply_constant and one add per weight): the
// same words, whichever kernel runs (ctest runs this binary once more with the AVX2 kernel forced,
// which takes the small-integer path when the weights allow it), and against a plaintext
// reference in bits.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "ckks_fixture.hpp"
#include "henn/ckks/errors.hpp"
#include "henn/ckks/matrix_product.hpp"
#include "henn/math/vector_ops.hpp"

using namespace henn;
using namespace henn::ckks;
using test::CkksSetup;
using test::Complex;
using test::random_complex;

namespace {

ParametersLiteral small_chain() {
    ParametersLiteral lit;
    lit.log_n = 13;
    lit.log_q = {50, 40, 40};
    lit.log_p = {51};
    lit.log_default_scale = 30;
    return lit;
}

struct SparseMatrix {
    std::size_t columns = 0;
    std::vector<std::size_t> row_begin{0};
    std::vector<std::uint32_t> column;
    std::vector<double> value;
};

// Rows of mixed signs in mixed column order, one empty row, one row of a single entry.
SparseMatrix random_matrix(std::size_t rows, std::size_t columns, double bound,
                           std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> weight(-bound, bound);
    std::bernoulli_distribution keep(0.7);
    SparseMatrix m;
    m.columns = columns;
    for (std::size_t r = 0; r < rows; ++r) {
        if (r == 2) {  // empty
        } else if (r == 3) {
            m.column.push_back(static_cast<std::uint32_t>(columns - 1));
            m.value.push_back(-bound / 2);
        } else {
            for (std::size_t c = 0; c < columns; ++c) {
                const std::size_t col = (c * 7 + r) % columns;  // not sorted by column
                if (!keep(rng)) continue;
                m.column.push_back(static_cast<std::uint32_t>(col));
                m.value.push_back(weight(rng));
            }
        }
        m.row_begin.push_back(m.column.size());
    }
    return m;
}

class MatrixProduct : public ::testing::TestWithParam<double> {};

TEST_P(MatrixProduct, SameWordsAsOneEvaluatorCallPerWeightAndRightValues) {
    const double constant_scale = GetParam();  // 2^12: integers below 2^24; 0: the prime, ~2^40
    CkksSetup s(small_chain(), {}, false, 3);
    const std::size_t columns = 37, rows = 11, slots = s.context->max_slots();
    const SparseMatrix m = random_matrix(rows, columns, 1.5, 11);
    const int level = s.context->max_level();
    ConstantMatrix matrix(s.context, level, columns, m.row_begin, m.column, m.value,
                          constant_scale);
    matrix.set_block_size(256);

    std::vector<std::vector<Complex>> x;
    std::vector<Ciphertext> cts;
    for (std::size_t c = 0; c < columns; ++c) {
        x.push_back(random_complex(slots, 100 + c));
        cts.push_back(s.encrypt(x.back()));
    }
    std::vector<const Ciphertext*> ptrs;
    for (const auto& c : cts) ptrs.push_back(&c);
    const auto fast = matrix.multiply(ptrs);
    ASSERT_EQ(fast.size(), rows);

    const double cs = matrix.constant_scale();
    for (std::size_t r = 0; r < rows; ++r) {
        Ciphertext naive = s.evaluator->multiply_constant(cts[0], 0.0, cs);
        std::vector<Complex> expected(slots);
        for (std::size_t e = m.row_begin[r]; e < m.row_begin[r + 1]; ++e) {
            s.evaluator->add_inplace(
                naive, s.evaluator->multiply_constant(cts[m.column[e]], m.value[e], cs));
            for (std::size_t j = 0; j < slots; ++j) expected[j] += m.value[e] * x[m.column[e]][j];
        }
        EXPECT_EQ(fast[r].polys, naive.polys)
            << "row " << r << " on the " << math::vector_kernel_name() << " kernel";
        EXPECT_EQ(fast[r].scale, naive.scale);
        EXPECT_EQ(fast[r].level, level);

        // The prime as constant scale: rescaled back to the input scale, 2^30. Small integers
        // (2^12) are decoded at their product scale: a rescale by a 40-bit prime would leave 2^2.
        Ciphertext result = fast[r];
        if (constant_scale == 0) s.evaluator->rescale_inplace(result);
        if (constant_scale == 0) {
            HENN_EXPECT_PRECISION(s.decrypt(result), expected, 13, 16);
        } else {  // weights rounded at 2^12: up to 2^-13 each, over ~26 terms of |x| <= sqrt(2)
            HENN_EXPECT_PRECISION(s.decrypt(result), expected, 8, 10);
        }
    }

    // Column blocks accumulated one after another give the same words as the whole product.
    std::vector<Ciphertext> sums(rows);
    const std::size_t split = 15;
    std::vector<const Ciphertext*> first(ptrs.begin(), ptrs.begin() + split),
        rest(ptrs.begin() + split, ptrs.end());
    std::vector<std::size_t> rb1{0}, rb2{0};
    std::vector<std::uint32_t> c1, c2;
    std::vector<double> v1, v2;
    for (std::size_t r = 0; r < rows; ++r) {
        for (std::size_t e = m.row_begin[r]; e < m.row_begin[r + 1]; ++e) {
            if (m.column[e] < split) {
                c1.push_back(m.column[e]);
                v1.push_back(m.value[e]);
            } else {
                c2.push_back(static_cast<std::uint32_t>(m.column[e] - split));
                v2.push_back(m.value[e]);
            }
        }
        rb1.push_back(c1.size());
        rb2.push_back(c2.size());
    }
    ConstantMatrix left(s.context, level, split, rb1, c1, v1, constant_scale);
    ConstantMatrix right(s.context, level, columns - split, rb2, c2, v2, constant_scale);
    left.multiply_accumulate(first, sums);
    right.multiply_accumulate(rest, sums);
    for (std::size_t r = 0; r < rows; ++r) EXPECT_EQ(sums[r].polys, fast[r].polys) << "row " << r;
}

INSTANTIATE_TEST_SUITE_P(WeightSizes, MatrixProduct, ::testing::Values(4096.0, 0.0),
                         [](const auto& info) {
                             return info.param == 0.0 ? "ResidueWeights" : "SmallIntegerWeights";
                         });

// Rows that share their columns (the row groups of math::matrix_group_mod_vec): two runs of dense
// rows (one column list in shuffled order, zeros among the weights), a sparse row between them,
// products over row ranges that cut a group, and column blocks accumulated; the same words as one
// evaluator call per weight, on primes below 2^31 (one product per term) and above.
class GroupedRows : public ::testing::TestWithParam<bool> {};

TEST_P(GroupedRows, SameWordsAsOneEvaluatorCallPerWeight) {
    ParametersLiteral lit;
    lit.log_n = 13;
    lit.log_q = GetParam() ? std::vector<int>{50, 40, 40} : std::vector<int>{30, 25, 28};
    lit.log_p = {51};
    lit.log_default_scale = 25;
    CkksSetup s(lit, {}, false, 5);
    const std::size_t columns = 70, slots = s.context->max_slots();
    std::mt19937_64 rng(21);
    std::uniform_real_distribution<double> weight(-1.5, 1.5);
    SparseMatrix m;
    m.columns = columns;
    std::vector<std::uint32_t> dense(columns), part(40);
    for (std::size_t c = 0; c < columns; ++c) dense[c] = static_cast<std::uint32_t>((c * 11) % 70);
    for (std::size_t c = 0; c < part.size(); ++c) part[c] = static_cast<std::uint32_t>(c + 20);
    auto add_row = [&](const std::vector<std::uint32_t>& cols) {
        for (std::uint32_t c : cols) {
            m.column.push_back(c);
            m.value.push_back(c % 9 == 0 ? 0.0 : weight(rng));
        }
        m.row_begin.push_back(m.column.size());
    };
    for (int r = 0; r < 6; ++r) add_row(dense);
    add_row({3, 5, 60});
    for (int r = 0; r < 7; ++r) add_row(part);
    const std::size_t rows = m.row_begin.size() - 1;
    const int level = s.context->max_level();
    ConstantMatrix matrix(s.context, level, columns, m.row_begin, m.column, m.value, 4096.0);
    matrix.set_block_size(64);

    std::vector<Ciphertext> cts;
    for (std::size_t c = 0; c < columns; ++c)
        cts.push_back(s.encrypt(random_complex(slots, 300 + c)));
    std::vector<const Ciphertext*> ptrs;
    for (const auto& c : cts) ptrs.push_back(&c);
    std::vector<Ciphertext> naive;
    for (std::size_t r = 0; r < rows; ++r) {
        Ciphertext sum = s.evaluator->multiply_constant(cts[0], 0.0, 4096.0);
        for (std::size_t e = m.row_begin[r]; e < m.row_begin[r + 1]; ++e) {
            s.evaluator->add_inplace(
                sum, s.evaluator->multiply_constant(cts[m.column[e]], m.value[e], 4096.0));
        }
        naive.push_back(std::move(sum));
    }
    const auto whole = matrix.multiply(ptrs);
    for (std::size_t r = 0; r < rows; ++r) {
        EXPECT_EQ(whole[r].polys, naive[r].polys)
            << "row " << r << " on the " << math::vector_kernel_name() << " kernel";
    }
    for (auto [lo, hi] : {std::pair<std::size_t, std::size_t>{2, 9}, {4, 5}, {6, 14}}) {
        const auto part_rows = matrix.multiply(ptrs, lo, hi);
        for (std::size_t r = lo; r < hi; ++r)
            EXPECT_EQ(part_rows[r - lo].polys, naive[r].polys) << "rows " << lo << ".." << hi;
    }
    // Two column blocks of 35 (the dense rows stay groups in each), accumulated.
    std::vector<std::size_t> rb1{0}, rb2{0};
    std::vector<std::uint32_t> c1, c2;
    std::vector<double> v1, v2;
    for (std::size_t r = 0; r < rows; ++r) {
        for (std::size_t e = m.row_begin[r]; e < m.row_begin[r + 1]; ++e) {
            if (m.column[e] < 35) {
                c1.push_back(m.column[e]);
                v1.push_back(m.value[e]);
            } else {
                c2.push_back(static_cast<std::uint32_t>(m.column[e] - 35));
                v2.push_back(m.value[e]);
            }
        }
        rb1.push_back(c1.size());
        rb2.push_back(c2.size());
    }
    ConstantMatrix left(s.context, level, 35, rb1, c1, v1, 4096.0);
    ConstantMatrix right(s.context, level, columns - 35, rb2, c2, v2, 4096.0);
    std::vector<Ciphertext> sums(rows);
    left.multiply_accumulate(std::span(ptrs).first(35), sums);
    right.multiply_accumulate(std::span(ptrs).subspan(35), sums);
    for (std::size_t r = 0; r < rows; ++r) EXPECT_EQ(sums[r].polys, naive[r].polys) << "row " << r;
}

INSTANTIATE_TEST_SUITE_P(Primes, GroupedRows, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Above2To31" : "Below2To31"; });

TEST(MatrixProductErrors, MalformedRowsAndWrongInputsAreRefused) {
    CkksSetup s(small_chain(), {}, false, 4);
    const std::vector<std::size_t> rb{0, 1};
    const std::vector<std::uint32_t> col{5};
    const std::vector<double> val{1.0};
    EXPECT_THROW(ConstantMatrix(s.context, 1, 3, rb, col, val), MismatchError);  // column 5 of 3
    const std::vector<std::uint32_t> ok_col{0};
    ConstantMatrix matrix(s.context, s.context->max_level(), 2, rb, ok_col, val);
    const auto ct = s.encrypt(random_complex(s.context->max_slots(), 1));
    std::vector<const Ciphertext*> one{&ct};
    EXPECT_THROW(matrix.multiply(one), MismatchError);  // 1 input for 2 columns
}

}  // namespace
