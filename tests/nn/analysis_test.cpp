// nn::analyze (what `henn inspect` prints) against the encrypted evaluation itself: for every
// polynomial kind presets and imports produce, the depth and ct-ct products of a layer equal
// circuits::plan_polynomial's, which equal the levels and products circuits::evaluate_polynomial
// consumes on a real encryption (result checked against the plaintext layer, in bits).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "../ckks/ckks_fixture.hpp"
#include "henn/circuits/polynomial.hpp"
#include "henn/math/parallel.hpp"
#include "henn/nn/activation.hpp"
#include "henn/nn/analysis.hpp"
#include "henn/nn/model.hpp"

namespace henn::nn {
namespace {

using test::Complex;

int ceil_log2_plus_one(int degree) {
    int depth = 0;
    while ((1 << depth) < degree + 1) ++depth;
    return depth;
}

struct LayerKind {
    std::string name;
    Polynomial polynomial;
    int depth = 0;      // by the rules of analysis.hpp, computed here
    int products = -1;  // -1: not pinned here (the Chebyshev plan's count)
};

Polynomial from_spec(const std::string& spec) {
    return std::get<Polynomial>(activation_layer(parse_activation(spec)));
}

std::vector<LayerKind> layer_kinds() {
    std::vector<LayerKind> kinds;
    kinds.push_back({"square", from_spec("square"), 1, 1});  // cryptonets
    kinds.push_back({"poly:least-squares:2:4", from_spec("poly:least-squares:2:4"), 1,
                     1});  // cryptodl-m1, mlp, lenet5
    kinds.push_back({"poly:minimax:3:8:sigmoid", from_spec("poly:minimax:3:8:sigmoid"), 2, 2});
    kinds.push_back(
        {"poly:least-squares:3:-2,6:tanh", from_spec("poly:least-squares:3:-2,6:tanh"), 2, 2});
    Polynomial imported_cubic;  // an ONNX graph's x*(a + x*(b + c*x)): no interval recorded
    imported_cubic.coefficients = {0.0, 0.5, 0.25, -0.125};
    imported_cubic.approximates = imported_cubic.method = "imported";
    kinds.push_back({"imported cubic", imported_cubic, 2, 2});
    Polynomial imported_quintic = imported_cubic;
    imported_quintic.coefficients = {0.1, 0.9, 0.0, -0.2, 0.0, 0.05};
    kinds.push_back(
        {"imported quintic", imported_quintic, ceil_log2_plus_one(5), -1});  // [-1, 1]: no change
    for (int degree = 4; degree <= 15; ++degree) {
        for (const std::string& spec : {"poly:chebyshev:" + std::to_string(degree) + ":8",
                                        "poly:minimax:" + std::to_string(degree) + ":8:sigmoid"}) {
            const Polynomial p = from_spec(spec);
            const int d = p.degree();  // relu's odd degrees and sigmoid's even ones drop a degree
            kinds.push_back({spec, p, d <= 3 ? 2 : ceil_log2_plus_one(d) + 1, d <= 3 ? 2 : -1});
        }
    }
    return kinds;
}

ckks::ParametersLiteral test_parameters() {
    ckks::ParametersLiteral lit;
    lit.log_n = 13;  // insecure at 7 levels of 40 bits: correctness only, as in tests/circuits
    lit.log_q.push_back(60);
    for (int i = 0; i < 7; ++i) lit.log_q.push_back(40);
    lit.log_p = {61, 61};
    lit.log_default_scale = 40;
    lit.allow_insecure = true;
    return lit;
}

TEST(Analysis, PolynomialLayersCostExactlyWhatTheirEncryptedEvaluationConsumes) {
    math::set_thread_count(1);
    const test::CkksSetup setup(test_parameters(), {}, false, 21, /*secret_key_encryption=*/true);
    std::uint64_t seed = 500;
    for (const LayerKind& kind : layer_kinds()) {
        SCOPED_TRACE(kind.name);
        const Polynomial& p = kind.polynomial;
        // The layer as `henn inspect` sees it, on 3 neurons.
        const Model model({3}, {{"act", p}});
        const ModelCost cost = analyze(model);
        ASSERT_EQ(cost.layers.size(), 1u);
        // What the encrypted engine calls.
        const circuits::PolynomialPlan plan =
            circuits::plan_polynomial(p.coefficients, p.interval_lo, p.interval_hi);
        EXPECT_EQ(plan.depth, kind.depth);
        if (kind.products >= 0) {
            EXPECT_EQ(plan.ct_multiplications, kind.products);
        }
        EXPECT_EQ(plan.degree, p.degree());
        EXPECT_EQ(cost.layers[0].depth, plan.depth);
        EXPECT_EQ(cost.depth, plan.depth);
        EXPECT_EQ(cost.layers[0].ct_ct_multiplications, 3 * plan.ct_multiplications);
        EXPECT_EQ(polynomial_depth(p), plan.depth);
        EXPECT_EQ(polynomial_ct_multiplications(p), plan.ct_multiplications);

        // The encrypted evaluation, at exactly plan.depth levels.
        const bool bounded = p.interval_lo < p.interval_hi;
        const double lo = bounded ? p.interval_lo : -1.0, hi = bounded ? p.interval_hi : 1.0;
        std::mt19937_64 rng(++seed);
        std::uniform_real_distribution<double> dist(lo, hi);
        std::vector<Complex> xs(setup.context->max_slots());
        for (auto& x : xs) x = {dist(rng), 0.0};
        const ckks::Ciphertext x = setup.encrypt(xs, plan.depth);
        circuits::EvaluationReport report;
        const ckks::Ciphertext y = circuits::evaluate_polynomial(
            *setup.evaluator, x, p.coefficients, p.interval_lo, p.interval_hi, 0, &report);
        EXPECT_EQ(report.levels_consumed, cost.layers[0].depth);
        EXPECT_EQ(x.level - y.level, cost.layers[0].depth);
        EXPECT_EQ(3 * report.ct_multiplications, cost.layers[0].ct_ct_multiplications);
        std::vector<Complex> expected;
        for (const Complex& v : xs) {
            long double acc = 0.0L;
            for (std::size_t j = p.coefficients.size(); j-- > 0;)
                acc = acc * v.real() + p.coefficients[j];
            expected.emplace_back(static_cast<double>(acc), 0.0);
        }
        HENN_EXPECT_PRECISION(setup.decrypt(y), expected, 19.0, 23.0);
    }
}

TEST(Analysis, PoolingStatesItsCost) {
    std::mt19937_64 rng(4);
    std::normal_distribution<double> normal(0.0, 0.1);
    Conv2d conv;
    conv.in_channels = 1;
    conv.out_channels = 2;
    conv.kernel_h = conv.kernel_w = 3;
    conv.weight.resize(18);
    conv.bias.resize(2);
    for (auto& w : conv.weight) w = normal(rng);
    Pool2d average{2, 2, 2, 2, 0.25};
    Pool2d sum{2, 2, 2, 2, 1.0};
    Dense dense;
    dense.in_features = 8;
    dense.out_features = 2;
    dense.weight.resize(16);
    dense.bias.resize(2);
    for (auto& w : dense.weight) w = normal(rng);
    const Model model({1, 10, 10}, {{"conv", conv},
                                    {"avg", average},
                                    {"sum", sum},
                                    {"flat", Flatten{}},
                                    {"fc", dense},
                                    {"sq", from_spec("square")}});
    const ModelCost cost = analyze(model);
    ASSERT_EQ(cost.layers.size(), 6u);
    EXPECT_EQ(cost.layers[0].depth, 1);  // conv
    EXPECT_EQ(cost.layers[0].ct_ct_multiplications, 0);
    EXPECT_EQ(cost.layers[1].depth, 1);  // average pooling: a scalar product
    EXPECT_EQ(cost.layers[1].pt_ct_multiplications, 2 * 4 * 4);
    EXPECT_NE(cost.layers[1].detail.find("scalar product by 0.25 (1 level)"), std::string::npos)
        << cost.layers[1].detail;
    EXPECT_EQ(cost.layers[2].depth, 0);  // sum pooling
    EXPECT_NE(cost.layers[2].detail.find("additions only"), std::string::npos);
    EXPECT_EQ(cost.layers[4].depth, 1);  // dense
    EXPECT_EQ(cost.layers[4].ct_ct_multiplications, 0);
    EXPECT_EQ(cost.layers[5].depth, 1);  // the square
    EXPECT_EQ(cost.layers[5].ct_ct_multiplications, 2);
    EXPECT_EQ(cost.depth, 4);
    EXPECT_EQ(cost.ct_ct_multiplications, 2);
    // Average pooling right before a linear layer says it could be folded there.
    Dense wide = dense;
    wide.in_features = 32;
    wide.weight.assign(64, 0.01);
    const Model foldable({1, 10, 10},
                         {{"conv", conv}, {"avg", average}, {"flat", Flatten{}}, {"fc", wide}});
    EXPECT_NE(analyze(foldable).layers[1].detail.find("foldable into fc, not folded"),
              std::string::npos)
        << analyze(foldable).layers[1].detail;
}

TEST(Analysis, InspectTableShowsThePlannedDepths) {
    // A quadratic activation is one level (it was reported as two before the cost model was
    // shared with the evaluator); a degree-7 relu approximation on [-8, 8] is 4 (3 + the interval
    // change).
    std::mt19937_64 rng(9);
    std::normal_distribution<double> normal(0.0, 0.1);
    Dense dense;
    dense.in_features = 4;
    dense.out_features = 4;
    dense.weight.resize(16);
    dense.bias.resize(4);
    for (auto& w : dense.weight) w = normal(rng);
    const Model model({4}, {{"fc1", dense},
                            {"act1", from_spec("poly:least-squares:2:4")},
                            {"fc2", dense},
                            {"act2", from_spec("poly:minimax:7:8")},
                            {"fc3", dense},
                            {"act3", from_spec("poly:least-squares:2:4")}});
    const ModelCost cost = analyze(model);
    EXPECT_EQ(cost.layers[1].depth, 1);
    EXPECT_EQ(cost.layers[1].ct_ct_multiplications, 4);
    EXPECT_EQ(cost.layers[3].depth, 4);
    EXPECT_EQ(cost.depth, 1 + 1 + 1 + 4 + 1 + 1);  // was 1 + 2 + 1 + 3 + 1 + 2 = 10
    const std::string table = describe(model);
    EXPECT_NE(table.find("multiplicative depth under encryption: 9\n"), std::string::npos) << table;
}

}  // namespace
}  // namespace henn::nn
