// The element-wise kernels (every one this CPU has) against scalar references built from
// modarith.hpp's mul_mod / add_mod: primes of 20 to 61 bits (both sides of IFMA's 2^50 bound),
// lengths with and without vector tails, extreme values, aliasing, inner products of 1 to 60
// terms, permuted inner products.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "henn/error.hpp"
#include "henn/math/primes.hpp"
#include "henn/math/vector_ops.hpp"

using namespace henn::math;

namespace {

constexpr VectorKernel kAllKernels[] = {VectorKernel::portable, VectorKernel::avx2,
                                        VectorKernel::avx512, VectorKernel::avx512ifma};
constexpr std::size_t kLengths[] = {1, 3, 7, 8, 9, 64, 1000, 8192};
constexpr int kBitSizes[] = {20, 30, 32, 33, 40, 45, 49, 50, 51, 55, 60, 61};

std::vector<VectorKernel> available_kernels() {
    std::vector<VectorKernel> kernels;
    for (VectorKernel kernel : kAllKernels) {
        if (vector_kernel_available(kernel)) kernels.push_back(kernel);
    }
    return kernels;
}

// Reduced values, a quarter of them at the extremes 0, 1, q-1, q-2 (where the reductions'
// corrections trigger).
std::vector<u64> random_residues(std::size_t n, u64 q, std::mt19937_64& rng) {
    std::vector<u64> v(n);
    for (auto& x : v) {
        switch (rng() % 8) {
            case 0:
                x = q - 1;
                break;
            case 1:
                x = rng() % 2 == 0 ? 0 : 1;
                break;
            case 2:
                x = q - 2;
                break;
            default:
                x = rng() % q;
        }
    }
    return v;
}

std::string where(VectorKernel kernel, const Modulus& q, std::size_t n) {
    return std::string(vector_kernel_name(kernel)) + " q=" + std::to_string(q.value()) + " (" +
           std::to_string(q.bits()) + " bits) n=" + std::to_string(n);
}

// For each size, the largest NTT-friendly prime below 2^bits and the smallest above 2^(bits-1)
// (the Barrett error terms are largest near either end of a bit length).
std::vector<Modulus> test_moduli() {
    std::vector<Modulus> moduli;
    for (int bits : kBitSizes) {
        moduli.emplace_back(generate_ntt_primes(bits, 1, 1024)[0]);
        for (u64 q = (u64{1} << (bits - 1)) + 1;; q += 2048) {
            if (is_prime(q)) {
                moduli.emplace_back(q);
                break;
            }
        }
    }
    return moduli;
}

// Inputs of the matrix kernels: `columns` blocks of n residues, every seventh all q - 1 (where
// the high halves carry), and a pointer to each.
struct MatrixInputs {
    std::vector<std::vector<u64>> values;
    std::vector<const u64*> pointers;
    MatrixInputs(std::size_t columns, std::size_t n, const Modulus& q, std::mt19937_64& rng)
        : values(columns), pointers(columns) {
        for (std::size_t c = 0; c < columns; ++c) {
            values[c] = random_residues(n, q.value(), rng);
            if (c % 7 == 0) std::fill(values[c].begin(), values[c].end(), q.value() - 1);
            pointers[c] = values[c].data();
        }
    }
};

// A small signed weight's residue modulo q.
u64 signed_residue(std::int32_t w, const Modulus& q) {
    const u64 magnitude = static_cast<u64>(w >= 0 ? w : -w) % q.value();
    return w >= 0 ? magnitude : negate_mod(magnitude, q.value());
}

}  // namespace

TEST(VectorOps, KernelNamesRoundTripAndSelectionIsAvailable) {
    for (VectorKernel kernel : kAllKernels)
        EXPECT_EQ(vector_kernel_from_name(vector_kernel_name(kernel)), kernel);
    EXPECT_THROW(vector_kernel_from_name("sse2"), henn::InvalidArgument);
    EXPECT_TRUE(vector_kernel_available(VectorKernel::portable));
    EXPECT_TRUE(vector_kernel_available(vector_selected_kernel()));
    EXPECT_STREQ(vector_kernel_name(), vector_kernel_name(vector_selected_kernel()));
    const char* forced = std::getenv("HENN_VECTOR_KERNEL");
    if (forced != nullptr && *forced != '\0') {
        EXPECT_STREQ(vector_kernel_name(), forced);
    }
}

TEST(VectorOps, UnavailableKernelIsRejected) {
    const Modulus q(97);
    u64 a = 1, out = 0;
    for (VectorKernel kernel : kAllKernels) {
        if (vector_kernel_available(kernel)) continue;
        EXPECT_THROW(add_mod_vec(&a, &a, &out, 1, q, kernel), henn::InvalidArgument);
    }
}

TEST(VectorOps, ElementwiseMatchScalarReference) {
    std::mt19937_64 rng(11);
    for (const Modulus& q : test_moduli()) {
        const u64 qv = q.value();
        for (std::size_t n : kLengths) {
            const auto a = random_residues(n, qv, rng), b = random_residues(n, qv, rng);
            const auto b1 = random_residues(n, qv, rng), a1 = random_residues(n, qv, rng);
            const ShoupConstant w(rng() % qv, qv), w_max(qv - 1, qv);
            std::vector<u64> sum(n), difference(n), negated(n), product(n), fused(n), scaled(n),
                scaled_max(n);
            std::vector<u64> c0(n), c1(n), c2(n);
            for (std::size_t k = 0; k < n; ++k) {
                sum[k] = add_mod(a[k], b[k], qv);
                difference[k] = sub_mod(a[k], b[k], qv);
                negated[k] = negate_mod(a[k], qv);
                product[k] = mul_mod(a[k], b[k], q);
                fused[k] = add_mod(b1[k], product[k], qv);
                scaled[k] = mul_mod(a[k], w.value, q);
                scaled_max[k] = mul_mod(a[k], qv - 1, q);
                c0[k] = product[k];
                c2[k] = mul_mod(a1[k], b1[k], q);
                c1[k] = add_mod(mul_mod(a[k], b1[k], q), mul_mod(a1[k], b[k], q), qv);
            }
            for (VectorKernel kernel : available_kernels()) {
                const std::string at = where(kernel, q, n);
                std::vector<u64> out(n);
                add_mod_vec(a.data(), b.data(), out.data(), n, q, kernel);
                ASSERT_EQ(out, sum) << "add " << at;
                sub_mod_vec(a.data(), b.data(), out.data(), n, q, kernel);
                ASSERT_EQ(out, difference) << "sub " << at;
                negate_mod_vec(a.data(), out.data(), n, q, kernel);
                ASSERT_EQ(out, negated) << "negate " << at;
                mul_mod_vec(a.data(), b.data(), out.data(), n, q, kernel);
                ASSERT_EQ(out, product) << "mul " << at;
                out = b1;
                mul_add_mod_vec(a.data(), b.data(), out.data(), n, q, kernel);
                ASSERT_EQ(out, fused) << "mul_add " << at;
                mul_scalar_mod_vec(a.data(), w, out.data(), n, q, kernel);
                ASSERT_EQ(out, scaled) << "mul_scalar " << at;
                mul_scalar_mod_vec(a.data(), w_max, out.data(), n, q, kernel);
                ASSERT_EQ(out, scaled_max) << "mul_scalar by q-1 " << at;
                std::vector<u64> k0(n), k1(n), k2(n);
                karatsuba_tensor_vec(a.data(), a1.data(), b.data(), b1.data(), k0.data(), k1.data(),
                                     k2.data(), n, q, kernel);
                ASSERT_EQ(k0, c0) << "karatsuba c0 " << at;
                ASSERT_EQ(k1, c1) << "karatsuba c1 " << at;
                ASSERT_EQ(k2, c2) << "karatsuba c2 " << at;
                // Aliasing: the output is one of the inputs.
                out = a;
                mul_mod_vec(out.data(), b.data(), out.data(), n, q, kernel);
                ASSERT_EQ(out, product) << "mul into a " << at;
                out = b;
                mul_mod_vec(a.data(), out.data(), out.data(), n, q, kernel);
                ASSERT_EQ(out, product) << "mul into b " << at;
                out = a;
                add_mod_vec(out.data(), b.data(), out.data(), n, q, kernel);
                ASSERT_EQ(out, sum) << "add into a " << at;
                out = b;
                sub_mod_vec(a.data(), out.data(), out.data(), n, q, kernel);
                ASSERT_EQ(out, difference) << "sub into b " << at;
                out = a;
                negate_mod_vec(out.data(), out.data(), n, q, kernel);
                ASSERT_EQ(out, negated) << "negate in place " << at;
                out = a;
                mul_scalar_mod_vec(out.data(), w, out.data(), n, q, kernel);
                ASSERT_EQ(out, scaled) << "mul_scalar in place " << at;
            }
        }
    }
}

TEST(VectorOps, AllMaximalOperands) {
    // (q-1)^2 and sums of 60 of them: the largest values the reductions see.
    for (const Modulus& q : test_moduli()) {
        const std::size_t n = 37;
        const std::vector<u64> top(n, q.value() - 1);
        const u64 square = mul_mod(q.value() - 1, q.value() - 1, q);
        std::vector<const u64*> xs(kMaxDotTerms, top.data());
        const u64 expected_sum = q.reduce(static_cast<u128>(square) * kMaxDotTerms);
        for (VectorKernel kernel : available_kernels()) {
            std::vector<u64> out(n);
            mul_mod_vec(top.data(), top.data(), out.data(), n, q, kernel);
            ASSERT_EQ(out, std::vector<u64>(n, square)) << where(kernel, q, n);
            dot_mod_vec(xs.data(), xs.data(), kMaxDotTerms, out.data(), n, q, kernel);
            ASSERT_EQ(out, std::vector<u64>(n, expected_sum)) << "dot " << where(kernel, q, n);
        }
    }
}

TEST(VectorOps, InnerProductsMatchScalarReference) {
    std::mt19937_64 rng(12);
    for (const Modulus& q : test_moduli()) {
        const u64 qv = q.value();
        for (std::size_t n : {std::size_t{1}, std::size_t{9}, std::size_t{64}, std::size_t{1000}}) {
            for (std::size_t count : {std::size_t{0}, std::size_t{1}, std::size_t{2},
                                      std::size_t{59}, std::size_t{60}}) {
                std::vector<std::vector<u64>> xs(count), ys(count);
                std::vector<const u64*> x(count), y(count);
                for (std::size_t t = 0; t < count; ++t) {
                    xs[t] = random_residues(n, qv, rng);
                    ys[t] = random_residues(n, qv, rng);
                    x[t] = xs[t].data();
                    y[t] = ys[t].data();
                }
                std::vector<std::uint32_t> permutation(n);
                std::iota(permutation.begin(), permutation.end(), 0u);
                std::shuffle(permutation.begin(), permutation.end(), rng);
                std::vector<u64> expected(n, 0), expected_permuted(n, 0);
                for (std::size_t k = 0; k < n; ++k) {
                    for (std::size_t t = 0; t < count; ++t) {
                        expected[k] = add_mod(expected[k], mul_mod(xs[t][k], ys[t][k], q), qv);
                        expected_permuted[k] = add_mod(
                            expected_permuted[k], mul_mod(xs[t][permutation[k]], ys[t][k], q), qv);
                    }
                }
                for (VectorKernel kernel : available_kernels()) {
                    const std::string at = where(kernel, q, n) + " count=" + std::to_string(count);
                    std::vector<u64> out(n, 12345);
                    dot_mod_vec(x.data(), y.data(), count, out.data(), n, q, kernel);
                    ASSERT_EQ(out, expected) << "dot " << at;
                    dot_mod_vec_permuted(x.data(), permutation.data(), y.data(), count, out.data(),
                                         n, q, kernel);
                    ASSERT_EQ(out, expected_permuted) << "dot permuted " << at;
                    // Pairs sharing x: y and the reversed list of y arrays as second operand.
                    std::vector<const u64*> y_reversed(y.rbegin(), y.rend());
                    std::vector<u64> expected_reversed(n, 0), expected_reversed_permuted(n, 0);
                    for (std::size_t k = 0; k < n; ++k) {
                        for (std::size_t t = 0; t < count; ++t) {
                            expected_reversed[k] = add_mod(
                                expected_reversed[k], mul_mod(xs[t][k], y_reversed[t][k], q), qv);
                            expected_reversed_permuted[k] =
                                add_mod(expected_reversed_permuted[k],
                                        mul_mod(xs[t][permutation[k]], y_reversed[t][k], q), qv);
                        }
                    }
                    std::vector<u64> out1(n, 777);
                    dot_pair_mod_vec(x.data(), nullptr, y.data(), y_reversed.data(), count,
                                     out.data(), out1.data(), n, q, kernel);
                    ASSERT_EQ(out, expected) << "dot pair, first " << at;
                    ASSERT_EQ(out1, expected_reversed) << "dot pair, second " << at;
                    dot_pair_mod_vec(x.data(), permutation.data(), y.data(), y_reversed.data(),
                                     count, out.data(), out1.data(), n, q, kernel);
                    ASSERT_EQ(out, expected_permuted) << "dot pair permuted, first " << at;
                    ASSERT_EQ(out1, expected_reversed_permuted)
                        << "dot pair permuted, second " << at;
                    if (count > 0) {  // the output may be one of the y arrays
                        std::vector<u64> alias = ys[0];
                        std::vector<const u64*> y_alias = y;
                        y_alias[0] = alias.data();
                        dot_mod_vec(x.data(), y_alias.data(), count, alias.data(), n, q, kernel);
                        ASSERT_EQ(alias, expected) << "dot into y[0] " << at;
                    }
                }
            }
        }
    }
}

TEST(VectorOps, WeightedSumsMatchScalarReference) {
    std::mt19937_64 rng(13);
    for (const Modulus& q : test_moduli()) {
        const u64 qv = q.value();
        // Inputs below 2^20, 2^32 (the AVX2 narrow path), 2^50 (IFMA's bound) and 2^61, whatever q
        // is.
        for (int input_bits : {20, 32, 50, 61}) {
            const u64 x_bound = u64{1} << input_bits;
            for (std::size_t n : {std::size_t{7}, std::size_t{64}, std::size_t{1000}}) {
                for (std::size_t count :
                     {std::size_t{1}, std::size_t{2}, std::size_t{59}, std::size_t{64}}) {
                    std::vector<std::vector<u64>> xs(count);
                    std::vector<const u64*> x(count);
                    std::vector<u64> w(count);
                    for (std::size_t t = 0; t < count; ++t) {
                        xs[t].resize(n);
                        for (auto& v : xs[t]) v = rng() % 4 == 0 ? x_bound - 1 : rng() % x_bound;
                        x[t] = xs[t].data();
                        w[t] = rng() % 4 == 0 ? qv - 1 : rng() % qv;
                    }
                    std::vector<u64> expected(n, 0);
                    for (std::size_t k = 0; k < n; ++k) {
                        for (std::size_t t = 0; t < count; ++t) {
                            expected[k] =
                                add_mod(expected[k], mul_mod(q.reduce(xs[t][k]), w[t], q), qv);
                        }
                    }
                    for (VectorKernel kernel : available_kernels()) {
                        std::vector<u64> out(n);
                        weighted_sum_mod_vec(x.data(), w.data(), count, x_bound, out.data(), n, q,
                                             kernel);
                        ASSERT_EQ(out, expected)
                            << "weighted sum " << where(kernel, q, n) << " count=" << count
                            << " inputs below 2^" << input_bits;
                    }
                }
            }
        }
    }
}

TEST(VectorOps, TooManyTermsAreRejected) {
    const Modulus q(97);
    std::vector<u64> one(1, 1), out(1);
    std::vector<const u64*> xs(kMaxDotTerms + 1, one.data());
    EXPECT_THROW(dot_mod_vec(xs.data(), xs.data(), xs.size(), out.data(), 1, q),
                 henn::InvalidArgument);
    std::vector<const u64*> many(kMaxWeightedTerms + 1, one.data());
    std::vector<u64> weights(many.size(), 1);
    EXPECT_THROW(
        weighted_sum_mod_vec(many.data(), weights.data(), many.size(), 2, out.data(), 1, q),
        henn::InvalidArgument);
    EXPECT_THROW(
        weighted_sum_mod_vec(xs.data(), weights.data(), 1, (u64{1} << 61) + 1, out.data(), 1, q),
        henn::InvalidArgument);
}

TEST(VectorOps, MatrixRowsMatchScalarReference) {
    std::mt19937_64 rng(77);
    // Rows of 0, 1, 63, 64, 65 and 200 entries (below, at and above one reduction's 64 terms),
    // lengths with 32- and 8-wide tails.
    const std::size_t columns = 230;
    const std::size_t row_sizes[] = {0, 1, 63, 64, 65, 200, 7};
    for (const Modulus& q : test_moduli()) {
        for (std::size_t n :
             {std::size_t{5}, std::size_t{40}, std::size_t{128}, std::size_t{1000}}) {
            std::vector<std::vector<u64>> x(columns);
            std::vector<const u64*> xp(columns);
            for (std::size_t c = 0; c < columns; ++c) {
                x[c] = random_residues(n, q.value(), rng);
                xp[c] = x[c].data();
            }
            std::vector<std::size_t> row_begin{0};
            std::vector<std::uint32_t> column;
            std::vector<u64> w;
            for (std::size_t size : row_sizes) {
                for (std::size_t e = 0; e < size; ++e)
                    column.push_back(static_cast<std::uint32_t>(rng() % columns));
                const auto weights = random_residues(size, q.value(), rng);
                w.insert(w.end(), weights.begin(), weights.end());
                row_begin.push_back(column.size());
            }
            const std::size_t rows = row_begin.size() - 1;
            std::vector<std::vector<u64>> expected(rows, std::vector<u64>(n, 0));
            for (std::size_t r = 0; r < rows; ++r) {
                for (std::size_t e = row_begin[r]; e < row_begin[r + 1]; ++e) {
                    for (std::size_t k = 0; k < n; ++k) {
                        expected[r][k] =
                            add_mod(expected[r][k], mul_mod(x[column[e]][k], w[e], q), q.value());
                    }
                }
            }
            for (VectorKernel kernel : available_kernels()) {
                std::vector<std::vector<u64>> out(rows, std::vector<u64>(n, 12345));
                std::vector<u64*> op(rows);
                for (std::size_t r = 0; r < rows; ++r) op[r] = out[r].data();
                matrix_rows_mod_vec(xp.data(), row_begin.data(), column.data(), w.data(), rows,
                                    op.data(), n, q, kernel);
                EXPECT_EQ(out, expected) << where(kernel, q, n);
            }
        }
    }
}

// Small signed weights against the scalar sum of their residues: rows of mixed signs, one sign,
// runs longer than the 255 terms one reduction takes, the largest magnitudes, narrow and wide q.
TEST(VectorOps, SmallWeightMatrixRowsMatchScalarReference) {
    std::mt19937_64 rng(78);
    const std::size_t columns = 600;
    const std::int32_t largest = (std::int32_t{1} << kMaxSmallWeightBits) - 1;
    for (const Modulus& q : test_moduli()) {
        for (std::size_t n :
             {std::size_t{5}, std::size_t{16}, std::size_t{128}, std::size_t{1000}}) {
            const MatrixInputs inputs(columns, n, q, rng);
            const auto& x = inputs.values;
            const auto& xp = inputs.pointers;
            std::vector<std::size_t> row_begin{0};
            std::vector<std::uint32_t> column;
            std::vector<std::int32_t> w;
            // kind: 0 random signs, 1 all positive at the bound, 2 all negative at the bound,
            // 3 positives then negatives (the layout ConstantMatrix uses).
            const std::pair<std::size_t, int> row_kinds[] = {
                {0, 0}, {1, 0}, {600, 1}, {600, 2}, {300, 0}, {511, 3}, {7, 3}, {256, 1}};
            for (auto [size, kind] : row_kinds) {
                for (std::size_t e = 0; e < size; ++e) {
                    column.push_back(static_cast<std::uint32_t>(rng() % columns));
                    std::int32_t v = static_cast<std::int32_t>(
                        rng() % (static_cast<std::uint64_t>(largest) + 1));
                    if (kind == 1) v = largest;
                    if (kind == 2) v = -largest;
                    if (kind == 0 && (rng() & 1)) v = -v;
                    if (kind == 3 && e >= size / 2) v = -v;
                    w.push_back(v);
                }
                row_begin.push_back(column.size());
            }
            const std::size_t rows = row_begin.size() - 1;
            std::vector<std::vector<u64>> expected(rows, std::vector<u64>(n, 0));
            for (std::size_t r = 0; r < rows; ++r) {
                for (std::size_t e = row_begin[r]; e < row_begin[r + 1]; ++e) {
                    const u64 residue = signed_residue(w[e], q);
                    for (std::size_t k = 0; k < n; ++k) {
                        expected[r][k] = add_mod(expected[r][k],
                                                 mul_mod(x[column[e]][k], residue, q), q.value());
                    }
                }
            }
            for (VectorKernel kernel : available_kernels()) {
                std::vector<std::vector<u64>> out(rows, std::vector<u64>(n, 12345));
                std::vector<u64*> op(rows);
                for (std::size_t r = 0; r < rows; ++r) op[r] = out[r].data();
                matrix_rows_small_mod_vec(xp.data(), row_begin.data(), column.data(), w.data(),
                                          rows, op.data(), n, q, kernel);
                EXPECT_EQ(out, expected) << where(kernel, q, n);
            }
        }
    }
}

// Rows sharing one list of columns against the scalar sum of the weights' residues: 1 to 9 rows
// (the 4-row register blocks and every remainder), column lists of 0, 1 and 300 entries (more
// than one run at the largest weights), repeated columns, the largest magnitudes, zeros, x = q - 1,
// moduli on both sides of 2^31 (one product per term below, two halves above).
TEST(VectorOps, MatrixGroupMatchesScalarReference) {
    std::mt19937_64 rng(79);
    const std::size_t columns = 320;
    const std::int32_t largest = (std::int32_t{1} << kMaxSmallWeightBits) - 1;
    std::vector<Modulus> moduli = test_moduli();
    moduli.emplace_back(generate_ntt_primes(31, 1, 1024)[0]);
    moduli.emplace_back(generate_ntt_primes(32, 1, 1024)[0]);
    moduli.emplace_back(generate_ntt_primes(21, 1, 1024)[0]);
    for (const Modulus& q : moduli) {
        for (std::size_t n : {std::size_t{5}, std::size_t{16}, std::size_t{40}, std::size_t{128},
                              std::size_t{1000}}) {
            const MatrixInputs inputs(columns, n, q, rng);
            const auto& x = inputs.values;
            const auto& xp = inputs.pointers;
            for (std::size_t count : {std::size_t{0}, std::size_t{1}, std::size_t{300}}) {
                for (std::size_t rows : {std::size_t{1}, std::size_t{3}, std::size_t{4},
                                         std::size_t{5}, std::size_t{9}}) {
                    // kind (per row): 0 random signs, 1 all +largest, 2 all -largest, 3 small
                    // random with zeros (a short weight bound: longer runs).
                    std::vector<std::uint32_t> column(count);
                    for (auto& c : column) c = static_cast<std::uint32_t>(rng() % columns);
                    std::vector<std::int32_t> w(rows * count);
                    const int kind = static_cast<int>(rng() % 4);
                    for (std::size_t e = 0; e < w.size(); ++e) {
                        std::int32_t v = static_cast<std::int32_t>(
                            rng() % (static_cast<std::uint64_t>(largest) + 1));
                        if (kind == 1) v = largest;
                        if (kind == 2) v = -largest;
                        if (kind == 3) v = static_cast<std::int32_t>(rng() % 7) - 3;
                        if ((kind == 0 || e % 5 == 0) && (rng() & 1)) v = -v;
                        w[e] = v;
                    }
                    std::vector<std::vector<u64>> expected(rows, std::vector<u64>(n, 0));
                    for (std::size_t r = 0; r < rows; ++r) {
                        for (std::size_t j = 0; j < count; ++j) {
                            const u64 residue = signed_residue(w[r * count + j], q);
                            for (std::size_t k = 0; k < n; ++k) {
                                expected[r][k] =
                                    add_mod(expected[r][k], mul_mod(x[column[j]][k], residue, q),
                                            q.value());
                            }
                        }
                    }
                    for (VectorKernel kernel : available_kernels()) {
                        std::vector<std::vector<u64>> out(rows, std::vector<u64>(n, 12345));
                        std::vector<u64*> op(rows);
                        for (std::size_t r = 0; r < rows; ++r) op[r] = out[r].data();
                        matrix_group_mod_vec(xp.data(), column.data(), count, w.data(), rows,
                                             op.data(), n, q, kernel);
                        EXPECT_EQ(out, expected) << where(kernel, q, n) << " rows " << rows
                                                 << " count " << count << " kind " << kind;
                    }
                }
            }
        }
    }
    const Modulus q(97);
    std::vector<u64> one(1, 1), out(1);
    const u64* xp[1] = {one.data()};
    u64* op[1] = {out.data()};
    const std::uint32_t column[1] = {0};
    const std::int32_t too_large[1] = {-(std::int32_t{1} << kMaxSmallWeightBits)};
    EXPECT_THROW(matrix_group_mod_vec(xp, column, 1, too_large, 1, op, 1, q),
                 henn::InvalidArgument);
    // A stated bound: the same words as the scanned call, and bounds outside 1..24 refused.
    const std::int32_t w[2] = {5, -3};
    u64* ops[2] = {out.data(), out.data()};
    matrix_group_mod_vec(xp, column, 1, w, 2, ops, 1, q, 3);
    EXPECT_EQ(out[0], 94u);  // -3 mod 97, written last
    EXPECT_THROW(matrix_group_mod_vec(xp, column, 1, w, 1, op, 1, q, 0), henn::InvalidArgument);
    EXPECT_THROW(matrix_group_mod_vec(xp, column, 1, w, 1, op, 1, q, kMaxSmallWeightBits + 1),
                 henn::InvalidArgument);
}

TEST(VectorOps, SmallWeightsAboveTheBoundAreRejected) {
    const Modulus q(97);
    std::vector<u64> one(1, 1), out(1);
    const u64* xp[1] = {one.data()};
    u64* op[1] = {out.data()};
    const std::size_t row_begin[2] = {0, 1};
    const std::uint32_t column[1] = {0};
    const std::int32_t too_large[1] = {std::int32_t{1} << kMaxSmallWeightBits};
    EXPECT_THROW(matrix_rows_small_mod_vec(xp, row_begin, column, too_large, 1, op, 1, q),
                 henn::InvalidArgument);
}
