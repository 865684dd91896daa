// LinearTransform (BSGS with double hoisting), its helpers and the rotation-key planner, each
// against a plaintext reference with precision in bits asserted; fixed seeds.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <string>
#include <utility>

#include "../ckks/ckks_fixture.hpp"
#include "henn/circuits/linear_transform.hpp"
#include "henn/ckks/errors.hpp"
#include "henn/math/parallel.hpp"

using namespace henn;
using namespace henn::ckks;
using namespace henn::circuits;
using test::CkksSetup;
using test::random_complex;
using Cx = std::complex<double>;

namespace {

ParametersLiteral chain(int levels) {
    ParametersLiteral lit;
    lit.log_n = 13;
    lit.log_q.push_back(60);
    for (int i = 0; i < levels; ++i) lit.log_q.push_back(40);
    lit.log_p = {61};
    lit.log_default_scale = 40;
    return lit;
}

// One shared setup (keys are generated per test for exactly the steps it needs).
CkksSetup& setup() {
    static CkksSetup s(chain(2), {}, false, 101);
    return s;
}

Evaluator evaluator_with(const std::vector<int>& steps) {
    auto keys = std::make_shared<EvaluationKeys>();
    keys->galois = setup().keygen->galois_keys(steps);
    return Evaluator(setup().context, keys);
}

Ciphertext encrypt(const std::vector<Cx>& values, std::size_t slots, int level = -1) {
    return setup().encryptor->encrypt(setup().encoder->encode(values, level, 0, slots));
}

std::vector<Cx> decrypt(const Ciphertext& ct) {
    return setup().encoder->decode(setup().decryptor->decrypt(ct));
}

std::vector<Cx> random_matrix(std::size_t rows, std::size_t cols, std::uint64_t seed) {
    return random_complex(rows * cols, seed, 1.0);
}

// y = M x for a row-major rows x cols matrix.
std::vector<Cx> matvec(const std::vector<Cx>& m, std::size_t rows, std::size_t cols,
                       const std::vector<Cx>& x) {
    std::vector<Cx> y(rows, 0.0);
    for (std::size_t i = 0; i < rows; ++i) {
        for (std::size_t j = 0; j < cols; ++j) y[i] += m[i * cols + j] * x[j];
    }
    return y;
}

// The transform evaluated with one thread, then with two (the thread count restored after).
std::pair<Ciphertext, Ciphertext> on_one_and_two_threads(const LinearTransform& lt,
                                                         const Evaluator& ev,
                                                         const Ciphertext& ct) {
    const int before = henn::math::thread_count();
    henn::math::set_thread_count(1);
    Ciphertext one = lt.evaluate(ev, ct);
    henn::math::set_thread_count(2);
    Ciphertext two = lt.evaluate(ev, ct);
    henn::math::set_thread_count(before);
    return {std::move(one), std::move(two)};
}

std::vector<Cx> head(const std::vector<Cx>& v, std::size_t count) {
    return {v.begin(), v.begin() + count};
}

// Dense square maps, every split the same function: against the plaintext product.
TEST(LinearTransform, DenseSquareEverySplit) {
    const std::size_t slots = 32;
    const auto m = random_matrix(slots, slots, 1);
    const auto x = random_complex(slots, 2);
    const auto expected = matvec(m, slots, slots, x);
    const Diagonals d = Diagonals::from_matrix(m, slots, slots, slots);
    EXPECT_EQ(d.diagonals.size(), slots);
    HENN_EXPECT_PRECISION(d.apply(x), expected, 40, 45);  // the reference itself
    for (std::size_t baby :
         {0, 1, 4, 32}) {  // the model's choice, no baby steps, a split, no giant steps
        LinearTransform::Options o;
        o.baby = baby;
        const LinearTransform lt(*setup().encoder, d, o);
        const Evaluator ev = evaluator_with(lt.rotation_steps());
        const Ciphertext ct = encrypt(x, slots);
        const Ciphertext y = lt.evaluate(ev, ct);
        EXPECT_EQ(y.level, ct.level - 1);
        EXPECT_NEAR(y.scale / ct.scale, 1.0, 1e-12);
        SCOPED_TRACE("baby " + std::to_string(lt.plan().baby));
        HENN_EXPECT_PRECISION(decrypt(y), expected, 14, 18);
    }
}

// A 5x5 kernel on a 28-wide row-major image, read from 29 slots back (padding), twice: diagonals
// in runs of 5, rows 28 apart, two bands. Grid splits (baby steps over a few rows of a run) need
// fewer key switches than every power-of-two split, and give the same map.
TEST(LinearTransform, GridSplitsFitKernelDiagonals) {
    const std::size_t slots = 4096;
    Diagonals d;
    d.slots = slots;
    std::set<std::size_t> indices;
    for (long long band : {-29LL, 700LL}) {
        for (long long dy = 0; dy < 5; ++dy) {
            for (long long dx = 0; dx < 5; ++dx) {
                const long long k = band + 28 * dy + dx;
                indices.insert(static_cast<std::size_t>((k + static_cast<long long>(slots)) %
                                                        static_cast<long long>(slots)));
            }
        }
    }
    std::uint64_t seed = 40;
    for (std::size_t k : indices) d.diagonals[k] = random_complex(slots, seed++, 1.0);
    const std::vector<std::size_t> idx(indices.begin(), indices.end());
    const auto& ctx = *setup().context;
    BsgsCostModel grid;
    grid.grid_splits = true;
    const BsgsPlan plain = plan_bsgs(ctx, -1, idx, slots);
    const BsgsPlan best = plan_bsgs(ctx, -1, idx, slots, grid);
    EXPECT_EQ(best.grid_stride, 28u);
    EXPECT_LT(best.key_switches, plain.key_switches);
    for (std::size_t b = 1; b <= slots; b *= 2)
        EXPECT_LT(best.key_switches, plan_bsgs_with_baby(ctx, -1, idx, slots, b).key_switches);
    // Every diagonal is its baby step plus its giant step, both planned.
    for (std::size_t k : idx) {
        const auto [i, g] = best.split(k, slots);
        EXPECT_EQ((static_cast<std::size_t>(i) + static_cast<std::size_t>(g)) % slots, k);
        EXPECT_TRUE(i == 0 ||
                    std::binary_search(best.baby_steps.begin(), best.baby_steps.end(), i));
        EXPECT_TRUE(g == 0 ||
                    std::binary_search(best.giant_steps.begin(), best.giant_steps.end(), g));
    }
    LinearTransform::Options o;
    o.cost = grid;
    const LinearTransform lt(*setup().encoder, d, o);
    EXPECT_EQ(lt.plan().grid_stride, 28u);
    EXPECT_NE(lt.plan().describe().find("grid"), std::string::npos);
    const Evaluator ev = evaluator_with(lt.rotation_steps());
    const auto x = random_complex(slots, 7);
    const auto y = decrypt(lt.evaluate(ev, encrypt(x, slots)));
    HENN_EXPECT_PRECISION(y, d.apply(x), 14, 18);
}

// The BSGS result against the per-diagonal methods (naive and single-hoisted) on the same input.
TEST(LinearTransform, BsgsMatchesNaiveAndHoisted) {
    const std::size_t slots = 64;
    const auto m = random_matrix(slots, slots, 3);
    const auto x = random_complex(slots, 4);
    const Diagonals d = Diagonals::from_matrix(m, slots, slots, slots);
    const Ciphertext ct = encrypt(x, slots);
    LinearTransform::Options naive_options, hoisted_options;
    naive_options.method = LinearTransform::Method::Naive;
    hoisted_options.method = LinearTransform::Method::Hoisted;
    const LinearTransform bsgs(*setup().encoder, d), naive(*setup().encoder, d, naive_options),
        hoisted(*setup().encoder, d, hoisted_options);
    EXPECT_EQ(naive.key_switches(), slots - 1);
    // (b - 1) + (64 / b - 1) rotations for the chosen b, a fraction of the naive 63.
    EXPECT_EQ(bsgs.key_switches(), (bsgs.plan().baby - 1) + (slots / bsgs.plan().baby - 1));
    EXPECT_LT(3 * bsgs.key_switches(), naive.key_switches());
    std::set<int> keys(naive.rotation_steps().begin(), naive.rotation_steps().end());
    keys.insert(bsgs.rotation_steps().begin(), bsgs.rotation_steps().end());
    const Evaluator ev = evaluator_with({keys.begin(), keys.end()});
    const auto yb = decrypt(bsgs.evaluate(ev, ct));
    const auto yn = decrypt(naive.evaluate(ev, ct));
    const auto yh = decrypt(hoisted.evaluate(ev, ct));
    const auto expected = matvec(m, slots, slots, x);
    HENN_EXPECT_PRECISION(yb, expected, 15, 19);
    HENN_EXPECT_PRECISION(yn, expected, 15, 19);
    HENN_EXPECT_PRECISION(yh, expected, 15, 19);
    HENN_EXPECT_PRECISION(yb, yn, 15, 19);
}

// With two or more threads the baby steps and the giant steps' inner sums run one per thread:
// exact modular arithmetic in any order, so the very same ciphertext as with one thread.
TEST(LinearTransform, BsgsOnTwoThreadsGivesTheSameCiphertextAsOne) {
    const std::size_t slots = 64;
    const auto m = random_matrix(slots, slots, 5);
    const Diagonals d = Diagonals::from_matrix(m, slots, slots, slots);
    const Ciphertext ct = encrypt(random_complex(slots, 6), slots);
    const LinearTransform bsgs(*setup().encoder, d);
    ASSERT_GT(bsgs.plan().baby_steps.size(), 1u);
    ASSERT_GT(bsgs.plan().giant_steps.size(), 1u);
    const Evaluator ev = evaluator_with(bsgs.rotation_steps());
    const auto [one, two] = on_one_and_two_threads(bsgs, ev, ct);
    ASSERT_EQ(one.size(), two.size());
    for (std::size_t i = 0; i < one.size(); ++i) EXPECT_EQ(one.polys[i].data, two.polys[i].data);
    HENN_EXPECT_PRECISION(decrypt(two), matvec(m, slots, slots, random_complex(slots, 6)), 15, 19);
}

// A sparse map on all N/2 slots: a few scattered diagonals, including 0 and N/2 - 1.
TEST(LinearTransform, SparseDiagonalsFullSlots) {
    const std::size_t slots = setup().context->max_slots();
    Diagonals d;
    d.slots = slots;
    std::mt19937_64 rng(7);
    std::set<std::size_t> indices = {0, 1, 5, 64, 100, 1000, 2047, slots - 1};
    while (indices.size() < 12) indices.insert(rng() % slots);
    std::uint64_t seed = 10;
    for (std::size_t k : indices) d.diagonals[k] = random_complex(slots, seed++);
    const LinearTransform lt(*setup().encoder, d);
    EXPECT_EQ(lt.diagonal_count(), indices.size());
    const Evaluator ev = evaluator_with(lt.rotation_steps());
    const auto x = random_complex(slots, 8);
    HENN_EXPECT_PRECISION(decrypt(lt.evaluate(ev, encrypt(x, slots))), d.apply(x), 18, 22);
}

// Rectangular maps (fewer and more rows than columns) in a padded square.
TEST(LinearTransform, Rectangular) {
    const std::size_t slots = 64;
    for (auto [rows, cols] :
         {std::pair<std::size_t, std::size_t>{20, 50}, {50, 20}, {1, 64}, {64, 3}}) {
        const auto m = random_matrix(rows, cols, rows * 100 + cols);
        auto x = random_complex(cols, 5);
        x.resize(slots, 0.0);
        const Diagonals d = Diagonals::from_matrix(m, rows, cols, slots);
        EXPECT_LE(d.diagonals.size(), rows + cols - 1);
        const LinearTransform lt(*setup().encoder, d);
        const Evaluator ev = evaluator_with(lt.rotation_steps());
        const auto y = decrypt(lt.evaluate(ev, encrypt(x, slots)));
        SCOPED_TRACE(std::to_string(rows) + " x " + std::to_string(cols));
        HENN_EXPECT_PRECISION(head(y, rows), matvec(m, rows, cols, x), 15, 19);
        // Rows past the matrix stay zero.
        if (rows < slots) {
            std::vector<Cx> zeros(slots - rows, 0.0);
            HENN_EXPECT_PRECISION(std::vector<Cx>(y.begin() + rows, y.end()), zeros, 15, 19);
        }
    }
}

// Encoded once at the top level, applied at a lower level too.
TEST(LinearTransform, EncodedOnceUsedAtLowerLevel) {
    const std::size_t slots = 32;
    const auto m = random_matrix(slots, slots, 21);
    const auto x = random_complex(slots, 22);
    const LinearTransform lt(*setup().encoder, Diagonals::from_matrix(m, slots, slots, slots));
    const Evaluator ev = evaluator_with(lt.rotation_steps());
    for (int level : {2, 1}) {
        const Ciphertext y = lt.evaluate(ev, encrypt(x, slots, level));
        EXPECT_EQ(y.level, level - 1);
        HENN_EXPECT_PRECISION(decrypt(y), matvec(m, slots, slots, x), 15, 19);
    }
    EXPECT_THROW(lt.evaluate(ev, encrypt(x, slots, 0)), LevelError);
    EXPECT_THROW(lt.evaluate(ev, encrypt(x, 2 * slots)), MismatchError);
    // Memory: one extended plaintext (q_0..q_2 and P) per diagonal.
    const Context& ctx = *setup().context;
    EXPECT_EQ(lt.plaintext_bytes(),
              slots * (ctx.q_count() + ctx.p_count()) * ctx.n() * sizeof(u64));
}

// The exposed key set is the union of the split's nonzero baby and giant steps; evaluation works
// with exactly those keys and fails without any one of them, naming the step.
TEST(LinearTransform, KeySetSufficientMinimalAndMissingKeyNamed) {
    const std::size_t slots = 64;
    Diagonals d;
    d.slots = slots;
    for (std::size_t k = 0; k < 16; ++k) d.diagonals[k] = random_complex(slots, 40 + k);
    d.diagonals[33] = random_complex(slots, 99);
    LinearTransform::Options o;
    o.baby = 4;
    const LinearTransform lt(*setup().encoder, d, o);
    // k = g + i: babies {1, 2, 3}, giants {4, 8, 12, 32} (33 = 32 + 1).
    EXPECT_EQ(lt.rotation_steps(), (std::vector<int>{1, 2, 3, 4, 8, 12, 32}));
    EXPECT_EQ(lt.key_switches(), 7u);
    const auto x = random_complex(slots, 41);
    const Ciphertext ct = encrypt(x, slots);
    HENN_EXPECT_PRECISION(decrypt(lt.evaluate(evaluator_with(lt.rotation_steps()), ct)), d.apply(x),
                          16, 20);
    for (int missing : lt.rotation_steps()) {
        std::vector<int> fewer;
        for (int s : lt.rotation_steps()) {
            if (s != missing) fewer.push_back(s);
        }
        try {
            (void)lt.evaluate(evaluator_with(fewer), ct);
            ADD_FAILURE() << "evaluation without the key for step " << missing << " succeeded";
        } catch (const MissingKeyError& e) {
            EXPECT_NE(
                std::string(e.what()).find("rotation by " + std::to_string(missing) + " slots"),
                std::string::npos)
                << e.what();
        }
    }
}

// Chained giant steps (Horner): a banded map with diagonals on both sides of 0 (k in
// [-20, 20] mod slots), b = 4: keys for the baby steps and +-4 only instead of one per giant step,
// as many key switches as the direct split (consecutive giant steps), the same map as the direct
// BSGS to within its precision; every key needed (a missing one is named), the very same
// ciphertext on two threads as on one.
TEST(LinearTransform, ChainedGiantStepsNeedTwoGiantKeys) {
    const std::size_t slots = 64;
    Diagonals d;
    d.slots = slots;
    for (int k = -20; k <= 20; ++k)
        d.diagonals[static_cast<std::size_t>((k + 64) % 64)] = random_complex(slots, 200 + k);
    LinearTransform::Options direct_options, chained_options;
    direct_options.baby = chained_options.baby = 4;
    chained_options.cost.chained_giant_steps = true;
    const LinearTransform direct(*setup().encoder, d, direct_options),
        chained(*setup().encoder, d, chained_options);
    EXPECT_EQ(chained.rotation_steps(), (std::vector<int>{1, 2, 3, 4, 60}));
    EXPECT_EQ(direct.rotation_steps().size(), 3u + 10u);  // giants 4..20 and 44..60
    EXPECT_EQ(chained.plan().positive_chain, 5u);         // up to 20 = 5 * 4
    EXPECT_EQ(chained.plan().negative_chain, 5u);         // down to 44 = 64 - 5 * 4
    EXPECT_EQ(chained.key_switches(), direct.key_switches());
    EXPECT_EQ(chained.plan().giant_steps, direct.plan().giant_steps);
    const auto x = random_complex(slots, 300);
    const Ciphertext ct = encrypt(x, slots);
    std::set<int> keys(direct.rotation_steps().begin(), direct.rotation_steps().end());
    keys.insert(chained.rotation_steps().begin(), chained.rotation_steps().end());
    const auto yd = decrypt(direct.evaluate(evaluator_with({keys.begin(), keys.end()}), ct));
    const Evaluator ev = evaluator_with(chained.rotation_steps());
    const auto [one, two] = on_one_and_two_threads(chained, ev, ct);
    for (std::size_t i = 0; i < one.size(); ++i) EXPECT_EQ(one.polys[i].data, two.polys[i].data);
    const auto yc = decrypt(one);
    HENN_EXPECT_PRECISION(yc, d.apply(x), 14, 18);
    HENN_EXPECT_PRECISION(yd, d.apply(x), 14, 18);
    HENN_EXPECT_PRECISION(yc, yd, 14, 18);
    for (int missing : chained.rotation_steps()) {
        std::vector<int> fewer;
        for (int s : chained.rotation_steps()) {
            if (s != missing) fewer.push_back(s);
        }
        EXPECT_THROW((void)chained.evaluate(evaluator_with(fewer), ct), MissingKeyError)
            << "step " << missing;
    }
    // Only positive giant steps: one chain, one giant key.
    Diagonals upper;
    upper.slots = slots;
    for (std::size_t k = 0; k < 24; ++k) upper.diagonals[k] = random_complex(slots, 400 + k);
    const LinearTransform one_side(*setup().encoder, upper, chained_options);
    EXPECT_EQ(one_side.rotation_steps(), (std::vector<int>{1, 2, 3, 4}));
    EXPECT_EQ(one_side.plan().negative_chain, 0u);
    const auto u = random_complex(slots, 500);
    HENN_EXPECT_PRECISION(
        decrypt(one_side.evaluate(evaluator_with(one_side.rotation_steps()), encrypt(u, slots))),
        upper.apply(u), 14, 18);
}

TEST(LinearTransform, CostModelPicksTheCheapestAllowedSplit) {
    const Context& ctx = *setup().context;
    std::vector<std::size_t> dense(256);
    for (std::size_t k = 0; k < dense.size(); ++k) dense[k] = k;
    const BsgsPlan best = plan_bsgs(ctx, -1, dense, 256);
    for (std::size_t b = 1; b <= 256; b *= 2)
        EXPECT_LE(best.cost, plan_bsgs_with_baby(ctx, -1, dense, 256, b).cost);
    EXPECT_GT(best.baby, 1u);
    EXPECT_LT(best.baby, 256u);
    EXPECT_EQ(best.key_switches, best.baby_steps.size() + best.giant_steps.size());
    EXPECT_EQ(best.key_bytes, best.rotation_steps.size() * switch_key_bytes(ctx));
    BsgsCostModel few_keys;
    few_keys.max_keys = 30;  // b = g = 16 is the only split with 30 keys or fewer
    const BsgsPlan limited = plan_bsgs(ctx, -1, dense, 256, few_keys);
    EXPECT_EQ(limited.baby, 16u);
    EXPECT_EQ(limited.rotation_steps.size(), 30u);
    few_keys.max_keys = 3;  // 256 diagonals cannot be reached with 3 keys
    EXPECT_THROW(plan_bsgs(ctx, -1, dense, 256, few_keys), ParameterError);
    // Key memory in the model pushes toward fewer keys.
    BsgsCostModel memory;
    memory.key_byte_weight = 1e-3;
    EXPECT_LE(plan_bsgs(ctx, -1, dense, 256, memory).rotation_steps.size(),
              best.rotation_steps.size());
    // Keys another transform already needs are free: with every key of the b = 64 split (and
    // only those) already made, a heavy key weight picks exactly that split, which it would not
    // pick otherwise.
    BsgsCostModel shared = memory;
    shared.key_byte_weight = 1.0;
    const BsgsPlan alone = plan_bsgs(ctx, -1, dense, 256, shared);
    const BsgsPlan b64 = plan_bsgs_with_baby(ctx, -1, dense, 256, 64, shared);
    ASSERT_NE(alone.baby, 64u);
    shared.keyed_steps = b64.rotation_steps;
    const BsgsPlan reusing = plan_bsgs(ctx, -1, dense, 256, shared);
    EXPECT_EQ(reusing.baby, 64u);
    EXPECT_EQ(reusing.rotation_steps, b64.rotation_steps);
    EXPECT_LT(reusing.cost, b64.cost);            // the same split, its keys no longer charged
    EXPECT_EQ(reusing.key_bytes, b64.key_bytes);  // key_bytes still reports the plan's keys
}

// More rows and more columns than slots: block transforms, blocks summed per row block.
TEST(MatrixVectorProduct, AnyShape) {
    const std::size_t slots = 32;
    for (auto [rows, cols] : {std::pair<std::size_t, std::size_t>{100, 40}, {20, 70}, {64, 64}}) {
        auto m = random_matrix(rows, cols, rows + 7 * cols);
        for (std::size_t j = 0; j < cols && rows > 64; ++j)
            m[64 * cols + j] = 0.0;  // sparse rows are fine
        const MatrixVectorProduct mv(*setup().encoder, m, rows, cols, {}, slots);
        EXPECT_EQ(mv.input_blocks(), (cols + slots - 1) / slots);
        EXPECT_EQ(mv.output_blocks(), (rows + slots - 1) / slots);
        const Evaluator ev = evaluator_with(mv.rotation_steps());
        const auto x = random_complex(cols, 9);
        std::vector<Ciphertext> blocks;
        for (std::size_t b = 0; b < mv.input_blocks(); ++b) {
            std::vector<Cx> part(slots, 0.0);
            for (std::size_t j = 0; j < slots && b * slots + j < cols; ++j)
                part[j] = x[b * slots + j];
            blocks.push_back(encrypt(part, slots));
        }
        const auto y = mv.evaluate(ev, blocks);
        ASSERT_EQ(y.size(), mv.output_blocks());
        std::vector<Cx> got;
        for (const auto& c : y) {
            const auto v = decrypt(c);
            got.insert(got.end(), v.begin(), v.end());
        }
        SCOPED_TRACE(std::to_string(rows) + " x " + std::to_string(cols));
        HENN_EXPECT_PRECISION(head(got, rows), matvec(m, rows, cols, x), 14, 18);
    }
}

TEST(Helpers, InnerSumReplicateMask) {
    const std::size_t slots = setup().context->max_slots();
    const auto x = random_complex(slots, 31);
    for (auto [block, stride] : {std::pair<std::size_t, std::size_t>{8, 1}, {16, 4}, {slots, 1}}) {
        const Evaluator ev = evaluator_with(inner_sum_steps(block, stride, slots));
        std::vector<Cx> expected(slots, 0.0);
        for (std::size_t t = 0; t < slots; ++t) {
            for (std::size_t j = 0; j < block; ++j) expected[t] += x[(t + j * stride) % slots];
        }
        SCOPED_TRACE("block " + std::to_string(block) + " stride " + std::to_string(stride));
        HENN_EXPECT_PRECISION(decrypt(inner_sum(ev, encrypt(x, slots), block, stride)), expected,
                              12, 16);
    }
    {
        const std::size_t length = 10, copies = 8;
        std::vector<Cx> v(slots, 0.0), expected(slots, 0.0);
        for (std::size_t i = 0; i < length; ++i) v[i] = x[i];
        for (std::size_t c = 0; c < copies; ++c) {
            for (std::size_t i = 0; i < length; ++i) expected[c * length + i] = x[i];
        }
        const Evaluator ev = evaluator_with(replicate_steps(length, copies, slots));
        HENN_EXPECT_PRECISION(decrypt(replicate(ev, encrypt(v, slots), length, copies)), expected,
                              18, 22);
    }
    {
        const Evaluator ev = evaluator_with({});
        const Ciphertext ct = encrypt(x, slots);
        const Ciphertext masked = apply_mask(ev, *setup().encoder, ct, 100, 300);
        EXPECT_EQ(masked.level, ct.level - 1);
        EXPECT_NEAR(masked.scale / ct.scale, 1.0, 1e-12);
        std::vector<Cx> expected(slots, 0.0);
        for (std::size_t i = 100; i < 300; ++i) expected[i] = x[i];
        HENN_EXPECT_PRECISION(decrypt(masked), expected, 20, 24);
    }
}

TEST(RotationKeyPlan, UnionPerLevelSufficientAndMinimal) {
    const Context& ctx = *setup().context;
    const std::size_t slots = 64;
    Diagonals d1 = Diagonals::from_matrix(random_matrix(slots, slots, 51), slots, slots, slots);
    Diagonals d2;
    d2.slots = slots;
    for (std::size_t k : {0, 3, 17, 40}) d2.diagonals[k] = random_complex(slots, 60 + k);
    LinearTransform::Options at_one;
    at_one.level = 1;
    const LinearTransform t1(*setup().encoder, d1), t2(*setup().encoder, d2, at_one);
    const std::vector<RotationUse> uses = {
        {t1.rotation_steps(), -1, false},
        {t2.rotation_steps(), 1, false},
        {{-1, 63, 64, 128, 1}, 1, true}};  // -1 = 63 mod 64; 64 = 0
    const RotationKeyPlan plan = plan_rotation_keys(ctx, uses, slots);
    std::set<int> expected(t1.rotation_steps().begin(), t1.rotation_steps().end());
    expected.insert(t2.rotation_steps().begin(), t2.rotation_steps().end());
    expected.insert({63, 1});
    EXPECT_EQ(plan.steps(),
              std::vector<int>(expected.begin(), expected.end()));  // minimal: the union
    EXPECT_EQ(plan.requested_steps, expected.size());
    std::size_t bytes = 0;
    for (const auto& [k, level] : plan.keys) {
        const bool in_t1 =
            std::count(t1.rotation_steps().begin(), t1.rotation_steps().end(), k) != 0;
        EXPECT_EQ(level, in_t1 ? ctx.max_level() : 1) << "step " << k;
        bytes += switch_key_bytes(ctx, level);
    }
    EXPECT_EQ(plan.key_bytes, bytes);
    EXPECT_LE(plan.key_bytes, plan.top_level_bytes);
    auto keys = std::make_shared<EvaluationKeys>();
    keys->galois = plan.generate(*setup().keygen);
    EXPECT_EQ(keys->galois.keys.size(), expected.size());
    EXPECT_EQ(keys->galois.bytes(), plan.key_bytes);
    const Evaluator ev(setup().context, keys);
    const auto x = random_complex(slots, 52);
    HENN_EXPECT_PRECISION(decrypt(t1.evaluate(ev, encrypt(x, slots))), d1.apply(x), 15, 19);
    HENN_EXPECT_PRECISION(decrypt(t2.evaluate(ev, encrypt(x, slots, 1))), d2.apply(x), 15, 19);
    EXPECT_FALSE(plan.report().empty());
}

TEST(RotationKeyPlan, BudgetComposesFromBaseSet) {
    const Context& ctx = *setup().context;
    const std::size_t slots = setup().context->max_slots();
    std::vector<int> steps;
    for (int k = 1; k < 200; k += 3) steps.push_back(k);  // 67 steps
    const std::vector<RotationUse> uses = {{steps, -1, true}};
    const RotationKeyPlan direct = plan_rotation_keys(ctx, uses, slots);
    EXPECT_EQ(direct.keys.size(), steps.size());
    EXPECT_TRUE(direct.compositions.empty());
    const RotationKeyPlan base = plan_rotation_keys(ctx, uses, slots, 10 * switch_key_bytes(ctx));
    EXPECT_LT(base.keys.size(), direct.keys.size());
    EXPECT_LT(base.key_bytes, direct.key_bytes);
    for (const auto& [k, level] : base.keys) {
        const int magnitude = std::min<int>(k, static_cast<int>(slots) - k);
        EXPECT_EQ(magnitude & (magnitude - 1), 0)
            << "base key " << k << " is not a signed power of two";
    }
    auto keys = std::make_shared<EvaluationKeys>();
    keys->galois = base.generate(*setup().keygen);
    const Evaluator ev(setup().context, keys);
    const auto x = random_complex(slots, 61);
    const Ciphertext ct = encrypt(x, slots);
    for (int k : {1, 7, 100, 199}) {
        std::vector<Cx> expected(slots);
        for (std::size_t t = 0; t < slots; ++t) expected[t] = x[(t + k) % slots];
        SCOPED_TRACE("step " + std::to_string(k));
        HENN_EXPECT_PRECISION(decrypt(circuits::rotate(ev, ct, k, base)), expected, 18, 22);
    }
    // A non-composable use keeps its direct key even under a budget.
    const std::vector<RotationUse> mixed = {{steps, -1, true}, {{199}, -1, false}};
    const RotationKeyPlan m = plan_rotation_keys(ctx, mixed, slots, 10 * switch_key_bytes(ctx));
    EXPECT_EQ(m.keys.count(199), 1u);
    EXPECT_EQ(m.compositions.count(199), 0u);
}

}  // namespace
