// Forward and inverse negacyclic NTT for every kernel this CPU has, n = 2^13..2^16, one prime
// just below 2^50 and one just below 2^60, all in one run so vector/portable ratios can be read
// off (bench/math/ntt_ratios.py prints them from the JSON output).
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "henn/math/ntt.hpp"
#include "henn/math/primes.hpp"

namespace {

using namespace henn::math;

// The largest prime q = 1 mod 2n below 2^bits (like the primes other libraries pick for a
// "bits-bit" modulus; it keeps a 50-bit prime inside the IFMA kernel's range).
u64 prime_below(int bits, std::size_t n) {
    for (u64 q = (u64{1} << bits) + 1 - 2 * n;; q -= 2 * n) {
        if (is_prime(q)) return q;
    }
}

void run_ntt(benchmark::State& state, NttKernel kernel, bool forward, int log_n, int bits) {
    const std::size_t n = std::size_t{1} << log_n;
    const NttTables tables(n, Modulus(prime_below(bits, n)));
    std::mt19937_64 rng(5);
    std::vector<u64> values(n);
    for (auto& x : values) x = rng() % tables.modulus().value();
    for (auto _ : state) {
        // Outputs are in [0, q), valid inputs for the next iteration.
        if (forward) {
            ntt_forward(values.data(), tables, kernel);
        } else {
            ntt_inverse(values.data(), tables, kernel);
        }
        benchmark::DoNotOptimize(values.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) *
                            static_cast<std::int64_t>(n));
}

// Registered by name (kernel/n/bits) for the kernels this CPU supports.
const bool registered = [] {
    for (bool forward : {true, false}) {
        // 30: below AVX2's narrow bound (the largest prime under 2^30); 31: just above it.
        for (int bits : {30, 31, 50, 60}) {
            for (int log_n = 13; log_n <= 16; ++log_n) {
                for (NttKernel kernel : {NttKernel::portable, NttKernel::avx2, NttKernel::avx512,
                                         NttKernel::avx512ifma}) {
                    if (!ntt_kernel_available(kernel)) continue;
                    const std::string name = std::string(forward ? "NttForward" : "NttInverse") +
                                             "/" + ntt_kernel_name(kernel) +
                                             "/n:" + std::to_string(1 << log_n) +
                                             "/bits:" + std::to_string(bits);
                    benchmark::RegisterBenchmark(name.c_str(), run_ntt, kernel, forward, log_n,
                                                 bits)
                        ->Unit(benchmark::kMicrosecond);
                }
            }
        }
    }
    return true;
}();

}  // namespace
