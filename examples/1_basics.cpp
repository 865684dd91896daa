// Example 1, basics: levels and scales. A CKKS ciphertext carries a level (how many rescalings
// it can still take) and a scale (the factor its values were multiplied by before rounding).
// A product multiplies the scales; a rescale divides by the last prime of the chain, bringing the
// scale back near 2^40 and using up one level. Out of levels, the evaluator refuses with a typed
// error. Exit status 0 only if every decrypted result is within 2^-20 of the plaintext one.
#include <cmath>
#include <cstdio>
#include <vector>

#include "henn/ckks/encoder.hpp"
#include "henn/ckks/encryptor.hpp"
#include "henn/ckks/errors.hpp"
#include "henn/ckks/evaluator.hpp"

using namespace henn::ckks;

namespace {
void show(const char* what, const Ciphertext& ct) {
    std::printf("%-28s level %d, scale 2^%.2f\n", what, ct.level, std::log2(ct.scale));
}
}  // namespace

int main() {
    // Two multiplications at scale 2^40; the smallest ring that is 128-bit secure for that chain.
    const ContextPtr ctx =
        Context::create(ParametersLiteral::for_depth(/*depth=*/2, /*scale_bits=*/40));
    std::printf("ring N = 2^%d, %zu slots, top level %d\n", ctx->log_n(), ctx->max_slots(),
                ctx->max_level());

    KeyGenerator keygen(ctx);
    const auto keys = std::make_shared<EvaluationKeys>(keygen.evaluation_keys({}));
    const Encoder encoder(ctx);
    const Encryptor encryptor(ctx, keygen.public_key());
    const Decryptor decryptor(ctx, keygen.secret_key());
    const Evaluator evaluator(ctx, keys);

    const std::vector<double> x = {0.5, -1.25, 2.0, 3.0};
    Ciphertext ct = encryptor.encrypt(encoder.encode(x));
    show("fresh encryption:", ct);

    Ciphertext cube = evaluator.square_relin(ct);
    show("x^2 (before rescale):", cube);  // scale 2^80
    cube = evaluator.rescale(cube);
    show("x^2 (after rescale):", cube);  // one level down, scale ~2^40
    // x^2 * x: operands must sit at the same level, so x is first brought down to x^2's level.
    cube = evaluator.rescale(evaluator.multiply_relin(cube, evaluator.drop_level(ct, cube.level)));
    show("x^3:", cube);

    std::vector<double> result = encoder.decode_real(decryptor.decrypt(cube));
    result.resize(x.size());
    std::vector<double> expected;
    for (double v : x) expected.push_back(v * v * v);
    const PrecisionStats stats = precision(result, expected);
    for (std::size_t i = 0; i < x.size(); ++i)
        std::printf("  %g^3 = %.9f (exact %g)\n", x[i], result[i], expected[i]);
    std::printf("precision: %.1f bits (worst slot)\n", stats.min_bits);

    // Level 0 cannot be rescaled any more: a product there has nowhere to go.
    bool refused = false;
    try {
        (void)evaluator.rescale(evaluator.square_relin(cube));
    } catch (const LevelError& e) {
        refused = true;
        std::printf("at level %d a further product is refused: %s\n", cube.level, e.what());
    }
    return stats.min_bits > 20 && refused ? 0 : 1;
}
