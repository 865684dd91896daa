#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <random>

#include "henn/error.hpp"
#include "henn/nn/activation.hpp"
#include "henn/nn/analysis.hpp"
#include "henn/nn/model.hpp"
#include "henn/nn/network_spec.hpp"
#include "henn/nn/reference.hpp"

using namespace henn::nn;

namespace {

std::vector<double> random_vector(std::size_t n, std::mt19937_64& rng, double scale = 1.0) {
    std::uniform_real_distribution<double> u(-scale, scale);
    std::vector<double> v(n);
    for (auto& x : v) x = u(rng);
    return v;
}

Conv2d random_conv(std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t stride,
                   std::int64_t pad, std::mt19937_64& rng) {
    Conv2d c;
    c.in_channels = in;
    c.out_channels = out;
    c.kernel_h = c.kernel_w = k;
    c.stride_h = c.stride_w = stride;
    c.pad_h = c.pad_w = pad;
    c.weight = random_vector(static_cast<std::size_t>(in * out * k * k), rng);
    c.bias = random_vector(static_cast<std::size_t>(out), rng);
    return c;
}

Dense random_dense(std::int64_t in, std::int64_t out, std::mt19937_64& rng) {
    Dense d;
    d.in_features = in;
    d.out_features = out;
    d.weight = random_vector(static_cast<std::size_t>(in * out), rng, 0.3);
    d.bias = random_vector(static_cast<std::size_t>(out), rng);
    return d;
}

}  // namespace

TEST(Model, ConvolutionOnAHandComputedExample) {
    Conv2d c;
    c.in_channels = c.out_channels = 1;
    c.kernel_h = c.kernel_w = 2;
    c.weight = {1, 1, 1, 1};
    c.bias = {0.5};
    std::vector<double> x{1, 2, 3, 4, 5, 6, 7, 8, 9};
    Model valid({1, 3, 3}, {{"c", c}});
    EXPECT_EQ(valid.output_shape(), (Shape{1, 2, 2}));
    EXPECT_EQ(run_reference(valid, x), (std::vector<double>{12.5, 16.5, 24.5, 28.5}));
    c.pad_h = c.pad_w = 1;
    c.stride_h = c.stride_w = 2;
    Model padded({1, 3, 3}, {{"c", c}});
    EXPECT_EQ(padded.output_shape(), (Shape{1, 2, 2}));
    EXPECT_EQ(run_reference(padded, x), (std::vector<double>{1.5, 5.5, 11.5, 28.5}));
}

// A convolution is a linear map: check it against the same map written as an explicit matrix
// built independently (zero padding as out-of-range taps).
TEST(Model, ConvolutionMatchesItsMatrix) {
    std::mt19937_64 rng(11);
    const std::int64_t C = 3, H = 7, W = 6, O = 4, K = 3, S = 2, P = 1;
    auto conv = random_conv(C, O, K, S, P, rng);
    Model model({C, H, W}, {{"c", conv}});
    const auto OH = model.output_shape()[1], OW = model.output_shape()[2];
    ASSERT_EQ(OH, (H + 2 * P - K) / S + 1);
    auto x = random_vector(static_cast<std::size_t>(C * H * W), rng);
    auto y = run_reference(model, x);
    for (std::int64_t o = 0; o < O; ++o)
        for (std::int64_t r = 0; r < OH; ++r)
            for (std::int64_t s = 0; s < OW; ++s) {
                // Row of the matrix for output (o, r, s).
                std::vector<double> row(static_cast<std::size_t>(C * H * W), 0.0);
                for (std::int64_t c = 0; c < C; ++c)
                    for (std::int64_t a = 0; a < K; ++a)
                        for (std::int64_t b = 0; b < K; ++b) {
                            const auto i = r * S - P + a, j = s * S - P + b;
                            if (i >= 0 && i < H && j >= 0 && j < W)
                                row[static_cast<std::size_t>((c * H + i) * W + j)] +=
                                    conv.weight[static_cast<std::size_t>(((o * C + c) * K + a) * K +
                                                                         b)];
                        }
                double expected = conv.bias[static_cast<std::size_t>(o)];
                for (std::size_t t = 0; t < row.size(); ++t) expected += row[t] * x[t];
                EXPECT_NEAR(y[static_cast<std::size_t>((o * OH + r) * OW + s)], expected, 1e-12);
            }
}

TEST(Model, PoolingPolynomialsAndActivations) {
    Pool2d avg;
    avg.kernel_h = avg.kernel_w = avg.stride_h = avg.stride_w = 2;
    avg.scale = 0.25;
    Pool2d sum = avg;
    sum.scale = 1.0;
    EXPECT_TRUE(avg.is_average());
    EXPECT_FALSE(sum.is_average());
    std::vector<double> x{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    EXPECT_EQ(run_reference(Model({1, 4, 4}, {{"p", avg}}), x),
              (std::vector<double>{3.5, 5.5, 11.5, 13.5}));
    EXPECT_EQ(run_reference(Model({1, 4, 4}, {{"p", sum}}), x),
              (std::vector<double>{14, 22, 46, 54}));

    Polynomial p;
    p.coefficients = {0.5, -1.25, 0.75, 0.125};
    std::vector<double> v{-2.0, -0.5, 0.0, 1.5, 3.0};
    auto y = run_reference(Model({5}, {{"p", p}}), v);
    for (std::size_t i = 0; i < v.size(); ++i)
        EXPECT_NEAR(y[i], 0.5 - 1.25 * v[i] + 0.75 * v[i] * v[i] + 0.125 * std::pow(v[i], 3),
                    1e-14);
    auto relu = run_reference(Model({5}, {{"r", NonPolynomial{NonPolynomialKind::relu}}}), v);
    EXPECT_EQ(relu, (std::vector<double>{0, 0, 0, 1.5, 3.0}));
    auto sig = run_reference(Model({5}, {{"s", NonPolynomial{NonPolynomialKind::sigmoid}}}), v);
    EXPECT_NEAR(sig[3], 1.0 / (1.0 + std::exp(-1.5)), 1e-15);
    auto th = run_reference(Model({5}, {{"t", NonPolynomial{NonPolynomialKind::tanh}}}), v);
    EXPECT_NEAR(th[0], std::tanh(-2.0), 1e-15);
}

// Pool2d padding counts zeros in the window (count_include_pad): the same as pooling the input
// padded with zeros beforehand.
TEST(Model, PaddedPoolingEqualsPoolingTheZeroPaddedInput) {
    std::mt19937_64 rng(11);
    const std::int64_t C = 2, H = 5, W = 6;
    for (auto [k, s, ph, pw] :
         {std::array<std::int64_t, 4>{2, 2, 1, 1}, {3, 2, 1, 2}, {3, 1, 2, 0}, {2, 1, 0, 1}}) {
        Pool2d padded;
        padded.kernel_h = padded.kernel_w = k;
        padded.stride_h = padded.stride_w = s;
        padded.scale = 1.0 / static_cast<double>(k * k);
        padded.pad_h = ph;
        padded.pad_w = pw;
        Pool2d plain = padded;
        plain.pad_h = plain.pad_w = 0;
        const auto x = random_vector(static_cast<std::size_t>(C * H * W), rng);
        const std::int64_t PH = H + 2 * ph, PW = W + 2 * pw;
        std::vector<double> zero_padded(static_cast<std::size_t>(C * PH * PW), 0.0);
        for (std::int64_t c = 0; c < C; ++c)
            for (std::int64_t i = 0; i < H; ++i)
                for (std::int64_t j = 0; j < W; ++j)
                    zero_padded[static_cast<std::size_t>((c * PH + i + ph) * PW + j + pw)] =
                        x[static_cast<std::size_t>((c * H + i) * W + j)];
        const Model a({C, H, W}, {{"p", padded}});
        const Model b({C, PH, PW}, {{"p", plain}});
        EXPECT_EQ(a.output_shape(), b.output_shape());
        EXPECT_EQ(run_reference(a, x), run_reference(b, zero_padded))
            << k << " " << s << " " << ph << " " << pw;
    }
    Pool2d bad;
    bad.kernel_h = bad.kernel_w = 2;
    bad.pad_h = 2;
    EXPECT_THROW(Model({1, 4, 4}, {{"p", bad}}), ModelError);
}

TEST(Model, BatchNormFoldingEqualsApplyingIt) {
    std::mt19937_64 rng(5);
    auto dense = random_dense(6, 4, rng);
    std::vector<double> gamma{1.5, 0.5, -1.0, 2.0}, beta{0.1, -0.2, 0.3, 0.0}, mean{0.5, -1, 0, 2},
        var{0.25, 1, 4, 0.5};
    const double eps = 1e-5;
    auto x = random_vector(6, rng);
    auto before = run_reference(Model({6}, {{"d", dense}}), x);
    LayerOp folded = dense;
    fold_batch_norm(folded, gamma, beta, mean, var, eps);
    auto after = run_reference(Model({6}, {{"d", folded}}), x);
    for (std::size_t i = 0; i < 4; ++i)
        EXPECT_NEAR(after[i], gamma[i] * (before[i] - mean[i]) / std::sqrt(var[i] + eps) + beta[i],
                    1e-12);
    EXPECT_THROW(fold_batch_norm(folded, {1}, {0}, {0}, {1}, eps), ModelError);
    LayerOp flatten = Flatten{};
    EXPECT_THROW(fold_batch_norm(flatten, gamma, beta, mean, var, eps), ModelError);
}

TEST(Model, ValidationNamesTheLayer) {
    std::mt19937_64 rng(1);
    auto conv = random_conv(1, 2, 3, 1, 0, rng);
    conv.weight.pop_back();
    try {
        Model({1, 5, 5}, {{"conv_bad", conv}});
        FAIL() << "accepted a short weight";
    } catch (const ModelError& e) {
        EXPECT_NE(std::string(e.what()).find("conv_bad"), std::string::npos);
    }
    auto dense = random_dense(10, 3, rng);
    EXPECT_THROW(Model({1, 5, 5}, {{"d", dense}}), ModelError);  // needs Flatten and 25 inputs
    auto big_kernel = random_conv(1, 1, 7, 1, 0, rng);
    EXPECT_THROW(Model({1, 5, 5}, {{"c", big_kernel}}), ModelError);
    dense = random_dense(25, 3, rng);
    dense.bias[0] = std::nan("");
    EXPECT_THROW(Model({25}, {{"d", dense}}), ModelError);
    EXPECT_THROW(Model({0, 5}, {}), ModelError);
}

TEST(Model, CostsOfACryptoNetsShapedModel) {
    std::mt19937_64 rng(2);
    Polynomial square;
    square.coefficients = {0, 0, 1};
    Model model({1, 28, 28}, {{"conv", random_conv(1, 5, 5, 2, 1, rng)},
                              {"sq1", square},
                              {"flat", Flatten{}},
                              {"fc1", random_dense(845, 100, rng)},
                              {"sq2", square},
                              {"fc2", random_dense(100, 10, rng)}});
    const auto cost = analyze(model);
    EXPECT_EQ(cost.parameters, 5 * 25 + 5 + 845 * 100 + 100 + 1010 + 6);
    EXPECT_EQ(cost.ct_ct_multiplications, 845 + 100);  // one squaring per neuron
    EXPECT_EQ(cost.depth, 5);                          // conv, square, dense, square, dense
    EXPECT_EQ(cost.pt_ct_multiplications, 845 * 25 + 845 * 100 + 100 * 10);
    EXPECT_TRUE(cost.encryptable);
    EXPECT_NE(describe(model).find(
                  "ciphertext-ciphertext multiplications (one ciphertext per neuron): 945"),
              std::string::npos);

    // A general degree-3 polynomial follows approx's plan; ReLU makes the model not encryptable.
    Polynomial cubic;
    cubic.coefficients = {0.1, 0.5, 0.2, -0.01};
    cubic.interval_lo = -4;
    cubic.interval_hi = 4;
    EXPECT_EQ(polynomial_depth(cubic), 2);
    EXPECT_EQ(polynomial_ct_multiplications(cubic), 2);  // T_2 = 2x^2 - 1 and T_3 = 2x T_2 - x
    Model with_relu({4}, {{"r", NonPolynomial{}}});
    EXPECT_FALSE(analyze(with_relu).encryptable);
    std::vector<std::string> warnings;
    auto replaced =
        replace_activations(with_relu, parse_activation("poly:least-squares:2:4"), warnings);
    EXPECT_TRUE(replaced.is_polynomial());
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("relu replaced by poly:least-squares:2:4"), std::string::npos);
}

TEST(Activation, ParsingAndApproximation) {
    auto a = parse_activation("poly:chebyshev:3:-2,6:sigmoid:trainable");
    EXPECT_EQ(a.kind, ActivationSpec::Kind::polynomial);
    EXPECT_EQ(a.method, "chebyshev");
    EXPECT_EQ(a.degree, 3);
    EXPECT_EQ(a.interval_lo, -2);
    EXPECT_EQ(a.interval_hi, 6);
    EXPECT_EQ(a.function, "sigmoid");
    EXPECT_TRUE(a.trainable);
    EXPECT_EQ(to_string(a), "poly:chebyshev:3:-2,6:sigmoid:trainable");
    EXPECT_EQ(to_string(parse_activation("poly:least-squares:2:4")), "poly:least-squares:2:4");
    for (const char* bad : {"poly", "poly:nomethod:2:4", "poly:chebyshev:0:4", "poly:chebyshev:2:x",
                            "poly:chebyshev:2:4,1", "poly:chebyshev:2:4:nofunction", "softplus2"})
        EXPECT_THROW(parse_activation(bad), henn::InvalidArgument) << bad;

    // The fitted polynomial approximates the function on its interval (sigmoid, degree 3).
    auto p =
        std::get<Polynomial>(activation_layer(parse_activation("poly:least-squares:3:4:sigmoid")));
    ASSERT_EQ(p.coefficients.size(), 4u);
    for (double x = -4; x <= 4; x += 0.5) {
        double y = 0;
        for (std::size_t i = p.coefficients.size(); i-- > 0;) y = y * x + p.coefficients[i];
        EXPECT_NEAR(y, 1 / (1 + std::exp(-x)), 0.05) << x;
    }
}

TEST(NetworkSpec, SpecsAndPresets) {
    auto cryptonets = preset_network("cryptonets");
    auto shapes = cryptonets.infer_shapes();
    EXPECT_EQ(shapes[0], (Shape{5, 13, 13}));
    EXPECT_EQ(shapes.back(), (Shape{10}));
    auto m1 = preset_network("cryptodl-m1");
    auto back = parse_network_spec(to_json(m1));
    EXPECT_EQ(to_json(back), to_json(m1));
    EXPECT_THROW(preset_network("resnet"), henn::InvalidArgument);
    EXPECT_THROW(parse_network_spec("{\"layers\": [{\"type\": \"batchnorm\"}]}"), ModelError);
    EXPECT_THROW(parse_network_spec("{\"layers\": [{\"type\": \"dense\", \"out\": 10}]}"),
                 ModelError);  // not flat
    EXPECT_THROW(parse_network_spec("{\"layers\": [{\"type\": \"conv3d\"}]}"), ModelError);
    EXPECT_THROW(parse_network_spec("not json"), ModelError);
    EXPECT_THROW(preset_network("cryptonets", {30}, 2), ModelError);  // a CNN on tabular data
}
