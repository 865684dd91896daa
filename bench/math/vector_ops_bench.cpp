// The element-wise kernels for every kernel family this CPU has, n = 8192 and 32768, a 42-bit
// prime (IFMA's range) and a 55-bit one (above it), all in one run so the vector/portable ratios
// can be read off (bench/math/ntt_ratios.py prints them from the JSON output:
//   henn_math_bench --benchmark_filter=Vec --benchmark_out=vec.json --benchmark_out_format=json
//   python3 bench/math/ntt_ratios.py vec.json).
#include <benchmark/benchmark.h>

#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "henn/math/primes.hpp"
#include "henn/math/vector_ops.hpp"

namespace {

using namespace henn::math;

// Terms of the inner products: a key-switching inner product at these sizes has a handful, a
// multiply-accumulate up to kMaxDotTerms.
constexpr std::size_t kDotTerms = 4;
constexpr std::size_t kManyTerms = kMaxDotTerms;

enum class Op { add, mul, mul_add, mul_scalar, dot, dot_many, dot_permuted, weighted_many, karatsuba };

const char* op_name(Op op) {
    switch (op) {
        case Op::add: return "VecAdd";
        case Op::mul: return "VecMul";
        case Op::mul_add: return "VecMulAdd";
        case Op::mul_scalar: return "VecMulScalar";
        case Op::dot: return "VecDot4";
        case Op::dot_many: return "VecDot60";
        case Op::weighted_many: return "VecWeighted60";
        case Op::dot_permuted: return "VecDot4Permuted";
        case Op::karatsuba: return "VecKaratsuba";
    }
    return "?";
}

void run(benchmark::State& state, Op op, VectorKernel kernel, std::size_t n, int bits) {
    const Modulus q(generate_ntt_primes(bits, 1, 2 * n)[0]);
    std::mt19937_64 rng(7);
    auto random_vector = [&] {
        std::vector<u64> v(n);
        for (auto& x : v) x = rng() % q.value();
        return v;
    };
    std::vector<std::vector<u64>> in;
    const std::size_t terms = op == Op::dot_many || op == Op::weighted_many ? kManyTerms : kDotTerms;
    for (std::size_t i = 0; i < 2 * terms; ++i) in.push_back(random_vector());
    std::vector<u64> out(n), out1(n), out2(n), weights(terms);
    std::vector<const u64*> x, y;
    for (std::size_t t = 0; t < terms; ++t) {
        x.push_back(in[t].data());
        y.push_back(in[terms + t].data());
        weights[t] = rng() % q.value();
    }
    std::vector<std::uint32_t> permutation(n);
    std::iota(permutation.begin(), permutation.end(), 0u);
    std::shuffle(permutation.begin(), permutation.end(), rng);
    const ShoupConstant w(rng() % q.value(), q.value());
    for (auto _ : state) {
        switch (op) {
            case Op::add: add_mod_vec(in[0].data(), in[1].data(), out.data(), n, q, kernel); break;
            case Op::mul: mul_mod_vec(in[0].data(), in[1].data(), out.data(), n, q, kernel); break;
            case Op::mul_add: mul_add_mod_vec(in[0].data(), in[1].data(), out.data(), n, q, kernel); break;
            case Op::mul_scalar: mul_scalar_mod_vec(in[0].data(), w, out.data(), n, q, kernel); break;
            case Op::dot:
            case Op::dot_many: dot_mod_vec(x.data(), y.data(), terms, out.data(), n, q, kernel); break;
            case Op::weighted_many:
                weighted_sum_mod_vec(x.data(), weights.data(), terms, q.value(), out.data(), n, q, kernel);
                break;
            case Op::dot_permuted:
                dot_mod_vec_permuted(x.data(), permutation.data(), y.data(), kDotTerms, out.data(), n, q, kernel);
                break;
            case Op::karatsuba:
                karatsuba_tensor_vec(in[0].data(), in[1].data(), in[2].data(), in[3].data(), out.data(), out1.data(),
                                     out2.data(), n, q, kernel);
                break;
        }
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(n));
}

// Registered by name (operation/kernel/n/bits), the layout ntt_ratios.py reads.
const bool registered = [] {
    for (Op op : {Op::add, Op::mul, Op::mul_add, Op::mul_scalar, Op::dot, Op::dot_many, Op::dot_permuted,
                  Op::weighted_many, Op::karatsuba}) {
        for (int bits : {42, 55}) {
            for (std::size_t n : {std::size_t{8192}, std::size_t{32768}}) {
                for (VectorKernel kernel : {VectorKernel::portable, VectorKernel::avx2, VectorKernel::avx512,
                                            VectorKernel::avx512ifma}) {
                    if (!vector_kernel_available(kernel)) continue;
                    const std::string name = std::string(op_name(op)) + "/" + vector_kernel_name(kernel) +
                                             "/n:" + std::to_string(n) + "/bits:" + std::to_string(bits);
                    benchmark::RegisterBenchmark(name.c_str(), run, op, kernel, n, bits)->Unit(benchmark::kMicrosecond);
                }
            }
        }
    }
    return true;
}();

}  // namespace
