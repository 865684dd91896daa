// Cost of building approximations (per method and degree) and of evaluating them in plaintext:
// Clenshaw in the Chebyshev basis against Horner in the power basis, in the same run.
#include <benchmark/benchmark.h>

#include <vector>

#include "henn/approx/approximate.hpp"

namespace {

using namespace henn::approx;

void BM_Approximate(benchmark::State& state) {
    ApproxRequest r;
    r.function = builtin_function("relu");
    r.method = static_cast<Method>(state.range(0));
    r.degree = static_cast<int>(state.range(1));
    r.interval = {-8.0, 8.0};
    if (r.method == Method::Taylor) r.taylor_center = 1.0;
    if (r.method == Method::Empirical) {
        for (int i = 0; i < 10000; ++i)
            r.samples.push_back(-6.0 + 12.0 * ((i * 7919) % 10000) / 10000.0);
    }
    for (auto _ : state) benchmark::DoNotOptimize(approximate(r));
    state.SetLabel(method_name(r.method));
}
BENCHMARK(BM_Approximate)
    ->ArgsProduct({{0, 1, 2, 3, 4, 5, 6}, {7, 63}})
    ->Unit(benchmark::kMillisecond);

std::vector<double> inputs() {
    std::vector<double> xs(4096);
    for (std::size_t i = 0; i < xs.size(); ++i)
        xs[i] = -1.0 + 2.0 * static_cast<double>(i) / static_cast<double>(xs.size());
    return xs;
}

void BM_EvaluateClenshaw(benchmark::State& state) {
    std::vector<double> c(static_cast<std::size_t>(state.range(0) + 1), 0.5);
    const ChebyshevPolynomial p(c, {-1.0, 1.0});
    const std::vector<double> xs = inputs();
    for (auto _ : state) {
        double sum = 0.0;
        for (double x : xs) sum += p.evaluate(x);
        benchmark::DoNotOptimize(sum);
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(xs.size()));
}
BENCHMARK(BM_EvaluateClenshaw)->Arg(7)->Arg(63);

// Reference: Horner on the power-basis export of the same polynomial.
void BM_EvaluateHornerReference(benchmark::State& state) {
    std::vector<double> c(static_cast<std::size_t>(state.range(0) + 1), 0.5);
    const std::vector<double> power = ChebyshevPolynomial(c, {-1.0, 1.0}).to_power_basis();
    const std::vector<double> xs = inputs();
    for (auto _ : state) {
        double sum = 0.0;
        for (double x : xs) {
            double v = 0.0;
            for (std::size_t j = power.size(); j-- > 0;) v = v * x + power[j];
            sum += v;
        }
        benchmark::DoNotOptimize(sum);
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(xs.size()));
}
BENCHMARK(BM_EvaluateHornerReference)->Arg(7)->Arg(63);

}  // namespace
