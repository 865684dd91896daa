// Encrypted Chebyshev evaluation (depth-optimal baby-step giant-step) against the naive cost of
// d - 1 ct-ct products (computing every T_2 .. T_d), in the same run, at log N = 14 (128-bit).
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <vector>

#include "henn/approx/chebyshev.hpp"
#include "henn/circuits/polynomial.hpp"
#include "henn/ckks/encoder.hpp"
#include "henn/ckks/encryptor.hpp"
#include "henn/ckks/keys.hpp"

namespace {

using namespace henn;

struct Setup {
    ckks::ContextPtr context;
    std::shared_ptr<ckks::EvaluationKeys> keys;
    std::unique_ptr<ckks::Evaluator> evaluator;
    ckks::Ciphertext x;

    Setup() {
        ckks::ParametersLiteral lit = ckks::ParametersLiteral::for_depth(7, 40, 60);
        lit.log_n = 14;
        context = ckks::Context::create(lit);
        ckks::KeyGenerator keygen(context, math::test_only_seed(1));
        keys = std::make_shared<ckks::EvaluationKeys>(keygen.evaluation_keys({}, false));
        evaluator = std::make_unique<ckks::Evaluator>(context, keys);
        const ckks::Encoder encoder(context);
        const ckks::Encryptor encryptor(context, keygen.secret_key());
        std::mt19937_64 rng(2);
        std::uniform_real_distribution<double> dist(-8.0, 8.0);
        std::vector<double> v(context->max_slots());
        for (auto& e : v) e = dist(rng);
        x = encryptor.encrypt(encoder.encode(v));
    }
};

Setup& setup() {
    static Setup s;
    return s;
}

void BM_ChebyshevEvaluate(benchmark::State& state) {
    Setup& s = setup();
    const int degree = static_cast<int>(state.range(0));
    std::mt19937_64 rng(3);
    std::uniform_real_distribution<double> dist(-1.0, 1.0);
    std::vector<double> c(static_cast<std::size_t>(degree + 1));
    for (auto& v : c) v = dist(rng);
    const approx::ChebyshevPolynomial p(c, {-8.0, 8.0});
    const circuits::ChebyshevEvaluator evaluator(*s.evaluator);
    circuits::EvaluationReport report;
    for (auto _ : state) benchmark::DoNotOptimize(evaluator.evaluate(s.x, p, 0, &report));
    state.counters["ct_products"] = report.ct_multiplications;
    state.counters["depth"] = report.levels_consumed;
}
BENCHMARK(BM_ChebyshevEvaluate)
    ->Arg(3)
    ->Arg(7)
    ->Arg(15)
    ->Arg(31)
    ->Arg(63)
    ->Unit(benchmark::kMillisecond);

// The naive reference: d - 1 products with relinearization and rescale at the top level.
void BM_NaiveProducts(benchmark::State& state) {
    Setup& s = setup();
    const int products = static_cast<int>(state.range(0)) - 1;
    for (auto _ : state) {
        for (int i = 0; i < products; ++i) {
            ckks::Ciphertext p = s.evaluator->multiply_relin(s.x, s.x);
            s.evaluator->rescale_inplace(p);
            benchmark::DoNotOptimize(p);
        }
    }
    state.counters["ct_products"] = products;
}
BENCHMARK(BM_NaiveProducts)
    ->Arg(3)
    ->Arg(7)
    ->Arg(15)
    ->Arg(31)
    ->Arg(63)
    ->Unit(benchmark::kMillisecond);

}  // namespace
