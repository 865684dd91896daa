// Example 2, a polynomial activation: sigmoid has no encrypted form, so it is replaced by a
// polynomial on the interval where its inputs live. henn::approx finds the polynomial (here a
// degree-7 least-squares fit on [-8, 8]), henn::circuits plans its evaluation (depth and
// ciphertext products, known before anything is encrypted) and evaluates it slot-wise on a
// ciphertext. Exit status 0 if the encrypted result matches the polynomial to 2^-15 and the plan's
// depth and product count are what the evaluation used.
#include <cmath>
#include <cstdio>
#include <vector>

#include "henn/approx/approximate.hpp"
#include "henn/circuits/polynomial.hpp"
#include "henn/circuits/polynomial_plan.hpp"
#include "henn/ckks/encoder.hpp"
#include "henn/ckks/encryptor.hpp"
#include "henn/ckks/evaluator.hpp"

int main() {
    using namespace henn;
    approx::ApproxRequest request;
    request.function = approx::builtin_function("sigmoid");
    request.method = approx::Method::LeastSquares;
    request.degree = 7;
    request.interval = {-8.0, 8.0};
    const approx::Approximation fit = approx::approximate(request);
    const circuits::PolynomialPlan plan = circuits::plan_polynomial(fit.polynomial);
    std::printf(
        "sigmoid ~ degree-%d polynomial on [-8, 8]: max error %.4f; under encryption depth %d, %d "
        "products\n",
        request.degree, fit.interval_error.max_error, plan.depth, plan.ct_multiplications);

    const auto ctx = ckks::Context::create(ckks::ParametersLiteral::for_depth(plan.depth, 40));
    ckks::KeyGenerator keygen(ctx);
    const auto keys = std::make_shared<ckks::EvaluationKeys>(keygen.evaluation_keys({}));
    const ckks::Encoder encoder(ctx);
    const ckks::Encryptor encryptor(ctx, keygen.public_key());
    const ckks::Decryptor decryptor(ctx, keygen.secret_key());
    const ckks::Evaluator evaluator(ctx, keys);

    std::vector<double> x;
    for (int i = 0; i <= 16; ++i) x.push_back(-8.0 + i);
    const ckks::Ciphertext ct = encryptor.encrypt(encoder.encode(x));
    circuits::EvaluationReport report;
    const ckks::Ciphertext y =
        circuits::evaluate_polynomial(evaluator, ct, fit.polynomial, 0, &report);

    std::vector<double> decrypted = encoder.decode_real(decryptor.decrypt(y));
    decrypted.resize(x.size());
    std::vector<double> polynomial_values;
    for (double v : x) polynomial_values.push_back(fit.polynomial.evaluate(v));
    const ckks::PrecisionStats stats = ckks::precision(decrypted, polynomial_values);
    for (std::size_t i = 0; i < x.size(); i += 4) {
        std::printf("  x = %5.1f: encrypted %.6f, polynomial %.6f, sigmoid %.6f\n", x[i],
                    decrypted[i], polynomial_values[i], 1.0 / (1.0 + std::exp(-x[i])));
    }
    std::printf("used %d levels and %d products; precision against the polynomial %.1f bits\n",
                report.levels_consumed, report.ct_multiplications, stats.min_bits);
    const bool as_planned = report.levels_consumed == plan.depth &&
                            report.ct_multiplications == plan.ct_multiplications;
    return stats.min_bits > 15 && as_planned ? 0 : 1;
}
