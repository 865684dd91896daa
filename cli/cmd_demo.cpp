// `henn demo --ckks` (`henn demo` when the engine is not built): encrypt a vector, evaluate a
// polynomial and a rotation under encryption, decrypt, and report precision and timings.
#include <chrono>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <random>

#include "command_registry.hpp"
#include "henn/ckks/encoder.hpp"
#include "henn/ckks/encryptor.hpp"
#include "henn/ckks/evaluator.hpp"
#include "henn/ckks/serialization.hpp"

namespace henn::cli {
namespace {

using namespace henn::ckks;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace

void run_ckks_demo() {
    std::cout << std::fixed << std::setprecision(2);
    // A smooth activation stand-in: the degree-3 least-squares fit of sigmoid on [-8, 8] used
    // by several HE-inference papers, p(x) = 0.5 + 0.197 x - 0.004 x^3, then a rotation.
    const double c0 = 0.5, c1 = 0.197, c3 = -0.004;

    auto start = Clock::now();
    const ContextPtr ctx = Context::create(ParametersLiteral::for_depth(3, 40, 60));
    KeyGenerator keygen(ctx);
    auto keys = std::make_shared<EvaluationKeys>(keygen.evaluation_keys({1}));
    const Encoder encoder(ctx);
    const Encryptor encryptor(ctx, keygen.public_key());
    const Decryptor decryptor(ctx, keygen.secret_key());
    const Evaluator evaluator(ctx, keys);  // the server's view: evaluation keys only
    std::cout << "parameters: " << ctx->describe() << "\n";
    std::cout << "key generation (secret, public, relinearization, 1 rotation): " << ms_since(start)
              << " ms\n";

    std::mt19937_64 rng(2026);
    std::uniform_real_distribution<double> dist(-8, 8);
    std::vector<double> x(ctx->max_slots());
    for (auto& v : x) v = dist(rng);

    start = Clock::now();
    const Ciphertext ct = encryptor.encrypt(encoder.encode(x));
    const double encrypt_ms = ms_since(start);
    const std::size_t bytes = save(*ctx, ct).size();

    // p(x) = c3 x^3 + c1 x + c0 in depth 2, with every scale chosen so the terms meet exactly:
    // x^3 = (x * x) * (c3 x), and c1 x multiplied at the scale x^3 will have.
    start = Clock::now();
    const double q_top = static_cast<double>(ctx->q()[ct.level].value());
    const Ciphertext x2 = evaluator.rescale(evaluator.square_relin(ct));  // scale D^2/q_top
    const Ciphertext c3x =
        evaluator.rescale(evaluator.multiply_constant(ct, c3));  // scale D exactly
    const Ciphertext cubic =
        evaluator.rescale(evaluator.multiply_relin(x2, c3x));  // scale D^3/(q_top q_1)
    const double linear_scale = cubic.scale * q_top / ct.scale;
    Ciphertext linear = evaluator.rescale(evaluator.multiply_constant(ct, c1, linear_scale));
    linear = evaluator.drop_level(linear, cubic.level);
    Ciphertext poly = evaluator.add_constant(evaluator.add(cubic, linear), c0);
    const double poly_ms = ms_since(start);

    start = Clock::now();
    const Ciphertext rotated = evaluator.rotate(poly, 1);
    const double rotate_ms = ms_since(start);

    start = Clock::now();
    const std::vector<double> result = encoder.decode_real(decryptor.decrypt(rotated));
    const double decrypt_ms = ms_since(start);

    std::vector<double> expected(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
        const double v = x[(i + 1) % x.size()];
        expected[i] = c0 + c1 * v + c3 * v * v * v;
    }
    const PrecisionStats stats = precision(result, expected);

    std::cout << "encrypted " << x.size() << " values in [-8, 8] (" << encrypt_ms << " ms, "
              << bytes / 1024 << " KiB serialized)\n";
    std::cout << "evaluated p(x) = 0.5 + 0.197 x - 0.004 x^3 under encryption: " << poly_ms
              << " ms, " << ctx->max_level() - poly.level << " levels\n";
    std::cout << "rotated the slots by one: " << rotate_ms << " ms\n";
    std::cout << "decrypted and decoded: " << decrypt_ms << " ms\n\n";
    std::cout << "  slot      x         p(x) expected   p(x) decrypted\n";
    for (std::size_t i = 0; i < 5; ++i) {
        std::cout << "  " << std::setw(4) << i << std::setw(10) << x[(i + 1) % x.size()]
                  << std::setw(17) << std::setprecision(8) << expected[i] << std::setw(17)
                  << result[i] << std::setprecision(2) << "\n";
    }
    std::cout << "\nprecision over " << stats.count << " slots: worst " << stats.min_bits
              << " bits, mean " << stats.mean_bits << " bits, median " << stats.median_bits
              << " bits (max error " << std::scientific << stats.max_error << std::fixed << ")\n";
    if (stats.min_bits < 15)
        throw CommandFailure(ErrorCategory::internal,
                             "demo precision below 15 bits: something is wrong");
}

#ifndef HENN_CLI_HAS_ENGINE
namespace {
const CommandRegistrar demo_command(1, "demo", [](CLI::App& root) {
    CLI::App* cmd =
        root.add_subcommand("demo", "Encrypt, compute a polynomial and a rotation, decrypt");
    cmd->callback([] { run_ckks_demo(); });
});
}  // namespace
#endif

}  // namespace henn::cli
