// The element-wise kernels for every kernel family this CPU has, n = 8192 and 32768, a 42-bit
// prime (IFMA's range) and a 55-bit one (above it), all in one run so the vector/portable ratios
// can be read off (bench/math/ntt_ratios.py prints them from the JSON output:
//   henn_math_bench --benchmark_filter=Vec --benchmark_out=vec.json --benchmark_out_format=json
//   python3 bench/math/ntt_ratios.py vec.json).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "henn/math/primes.hpp"
#include "henn/math/rns.hpp"
#include "henn/math/vector_ops.hpp"

namespace {

using namespace henn::math;

// Terms of the inner products: a key-switching inner product at these sizes has a handful, a
// multiply-accumulate up to kMaxDotTerms.
constexpr std::size_t kDotTerms = 4;
constexpr std::size_t kManyTerms = kMaxDotTerms;

enum class Op {
    add,
    mul,
    mul_add,
    mul_scalar,
    dot,
    dot_many,
    dot_permuted,
    dot_pair_permuted,
    weighted_many,
    karatsuba
};

const char* op_name(Op op) {
    switch (op) {
        case Op::add:
            return "VecAdd";
        case Op::mul:
            return "VecMul";
        case Op::mul_add:
            return "VecMulAdd";
        case Op::mul_scalar:
            return "VecMulScalar";
        case Op::dot:
            return "VecDot4";
        case Op::dot_many:
            return "VecDot60";
        case Op::weighted_many:
            return "VecWeighted60";
        case Op::dot_permuted:
            return "VecDot4Permuted";
        case Op::dot_pair_permuted:
            return "VecDotPair4Permuted";
        case Op::karatsuba:
            return "VecKaratsuba";
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
    const std::size_t terms =
        op == Op::dot_many || op == Op::weighted_many ? kManyTerms : kDotTerms;
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
            case Op::add:
                add_mod_vec(in[0].data(), in[1].data(), out.data(), n, q, kernel);
                break;
            case Op::mul:
                mul_mod_vec(in[0].data(), in[1].data(), out.data(), n, q, kernel);
                break;
            case Op::mul_add:
                mul_add_mod_vec(in[0].data(), in[1].data(), out.data(), n, q, kernel);
                break;
            case Op::mul_scalar:
                mul_scalar_mod_vec(in[0].data(), w, out.data(), n, q, kernel);
                break;
            case Op::dot:
            case Op::dot_many:
                dot_mod_vec(x.data(), y.data(), terms, out.data(), n, q, kernel);
                break;
            case Op::weighted_many:
                weighted_sum_mod_vec(x.data(), weights.data(), terms, q.value(), out.data(), n, q,
                                     kernel);
                break;
            case Op::dot_permuted:
                dot_mod_vec_permuted(x.data(), permutation.data(), y.data(), kDotTerms, out.data(),
                                     n, q, kernel);
                break;
            case Op::dot_pair_permuted:  // key switching's inner product with both key halves
                dot_pair_mod_vec(x.data(), permutation.data(), y.data(), y.data(), kDotTerms,
                                 out.data(), out1.data(), n, q, kernel);
                break;
            case Op::karatsuba:
                karatsuba_tensor_vec(in[0].data(), in[1].data(), in[2].data(), in[3].data(),
                                     out.data(), out1.data(), out2.data(), n, q, kernel);
                break;
        }
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) *
                            static_cast<std::int64_t>(n));
}

// `count` blocks of `block` words (random residues below q when given, else zeros) and a
// pointer to each: the layout ckks::ConstantMatrix passes, one pointer per input or output.
template <typename Pointer>
struct Blocks {
    std::vector<std::vector<u64>> values;
    std::vector<Pointer> pointers;
    Blocks(std::size_t count, std::size_t block, const Modulus* q = nullptr,
           std::mt19937_64* rng = nullptr)
        : values(count, std::vector<u64>(block)) {
        for (auto& v : values) {
            if (q && rng)
                for (auto& w : v) w = (*rng)() % q->value();
            pointers.push_back(v.data());
        }
    }
};

// A constant-matrix product as ckks::ConstantMatrix runs it (one block of 128 coefficients of
// 784 inputs, 16 dense rows, a layer of MNIST's first dense layer) with the weights as residues
// and as small signed integers (|w| < 2^20), on a 27-bit prime (below 2^32: one 32-bit product
// per term in the small path) and a 42-bit one. Items are multiply-accumulates.
void run_matrix_rows(benchmark::State& state, bool small, VectorKernel kernel, int bits) {
    constexpr std::size_t kBlock = 128, kColumns = 784, kRows = 16;
    const Modulus q(generate_ntt_primes(bits, 1, 2 * 8192)[0]);
    std::mt19937_64 rng(8);
    const Blocks<const u64*> x(kColumns, kBlock, &q, &rng);
    std::vector<std::size_t> row_begin{0};
    std::vector<std::uint32_t> column;
    std::vector<std::int32_t> integers;
    std::vector<u64> residues;
    for (std::size_t r = 0; r < kRows; ++r) {
        std::vector<std::int32_t> positive, negative;
        for (std::size_t c = 0; c < kColumns; ++c) {
            const auto w = static_cast<std::int32_t>(rng() % (1u << 21)) - (1 << 20);
            column.push_back(static_cast<std::uint32_t>(c));
            integers.push_back(w);
        }
        // Positive entries first, as ConstantMatrix stores them.
        std::stable_partition(integers.begin() + static_cast<std::ptrdiff_t>(row_begin.back()),
                              integers.end(), [](std::int32_t w) { return w > 0; });
        row_begin.push_back(column.size());
    }
    for (std::int32_t w : integers) {
        const u64 m = static_cast<u64>(w < 0 ? -static_cast<std::int64_t>(w) : w);
        residues.push_back(w < 0 ? q.value() - m : m);
    }
    Blocks<u64*> o(kRows, kBlock);
    for (auto _ : state) {
        if (small) {
            matrix_rows_small_mod_vec(x.pointers.data(), row_begin.data(), column.data(),
                                      integers.data(), kRows, o.pointers.data(), kBlock, q, kernel);
        } else {
            matrix_rows_mod_vec(x.pointers.data(), row_begin.data(), column.data(), residues.data(),
                                kRows, o.pointers.data(), kBlock, q, kernel);
        }
        benchmark::DoNotOptimize(o.pointers.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(
        static_cast<std::int64_t>(state.iterations() * kRows * kColumns * kBlock));
}

const bool registered_matrix_rows = [] {
    for (bool small : {false, true}) {
        for (int bits : {27, 42}) {
            for (VectorKernel kernel : {VectorKernel::portable, VectorKernel::avx2,
                                        VectorKernel::avx512, VectorKernel::avx512ifma}) {
                if (!vector_kernel_available(kernel)) continue;
                const std::string name = std::string(small ? "MatrixRowsSmall/" : "MatrixRows/") +
                                         vector_kernel_name(kernel) +
                                         "/bits:" + std::to_string(bits);
                benchmark::RegisterBenchmark(name.c_str(), run_matrix_rows, small, kernel, bits)
                    ->Unit(benchmark::kMicrosecond);
            }
        }
    }
    return true;
}();

// The same product with rows that share their columns (matrix_group_mod_vec: the layout of a dense
// layer in ckks::ConstantMatrix): same block, rows, columns, weights and primes as MatrixRows.
void run_matrix_group(benchmark::State& state, VectorKernel kernel, int bits) {
    constexpr std::size_t kBlock = 128, kColumns = 784, kRows = 16;
    const Modulus q(generate_ntt_primes(bits, 1, 2 * 8192)[0]);
    std::mt19937_64 rng(8);
    const Blocks<const u64*> x(kColumns, kBlock, &q, &rng);
    std::vector<std::uint32_t> column(kColumns);
    for (std::size_t c = 0; c < kColumns; ++c) column[c] = static_cast<std::uint32_t>(c);
    std::vector<std::int32_t> w(kRows * kColumns);
    for (auto& v : w) v = static_cast<std::int32_t>(rng() % (1u << 21)) - (1 << 20);
    Blocks<u64*> o(kRows, kBlock);
    for (auto _ : state) {
        matrix_group_mod_vec(x.pointers.data(), column.data(), kColumns, w.data(), kRows,
                             o.pointers.data(), kBlock, q, kernel);
        benchmark::DoNotOptimize(o.pointers.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(
        static_cast<std::int64_t>(state.iterations() * kRows * kColumns * kBlock));
}

const bool registered_matrix_group = [] {
    for (int bits : {27, 42}) {
        for (VectorKernel kernel : {VectorKernel::portable, VectorKernel::avx2,
                                    VectorKernel::avx512, VectorKernel::avx512ifma}) {
            if (!vector_kernel_available(kernel)) continue;
            const std::string name = std::string("MatrixGroup/") + vector_kernel_name(kernel) +
                                     "/bits:" + std::to_string(bits);
            benchmark::RegisterBenchmark(name.c_str(), run_matrix_group, kernel, bits)
                ->Unit(benchmark::kMicrosecond);
        }
    }
    return true;
}();

// A whole dense layer on one limb as ckks::ConstantMatrix walks it: 784 inputs of 8192
// coefficients each (separate arrays, as ciphertexts are), 128 rows, blocks of 128 coefficients
// one after another, so inputs come from memory once per block and weights stay in cache. Items
// are multiply-accumulates.
void run_matrix_group_layer(benchmark::State& state, VectorKernel kernel, int bits) {
    constexpr std::size_t kN = 8192, kBlock = 128, kColumns = 784, kRows = 128;
    const Modulus q(generate_ntt_primes(bits, 1, 2 * 8192)[0]);
    std::mt19937_64 rng(9);
    std::vector<std::vector<u64>> in(kColumns, std::vector<u64>(kN));
    for (auto& v : in)
        for (auto& x : v) x = rng() % q.value();
    std::vector<std::uint32_t> column(kColumns);
    for (std::size_t c = 0; c < kColumns; ++c) column[c] = static_cast<std::uint32_t>(c);
    std::vector<std::int32_t> w(kRows * kColumns);
    for (auto& v : w) v = static_cast<std::int32_t>(rng() % (1u << 21)) - (1 << 20);
    std::vector<std::vector<u64>> out(kRows, std::vector<u64>(kN));
    std::vector<const u64*> x(kColumns);
    std::vector<u64*> o(kRows);
    for (auto _ : state) {
        for (std::size_t k0 = 0; k0 < kN; k0 += kBlock) {
            for (std::size_t c = 0; c < kColumns; ++c) x[c] = in[c].data() + k0;
            for (std::size_t r = 0; r < kRows; ++r) o[r] = out[r].data() + k0;
            matrix_group_mod_vec(x.data(), column.data(), kColumns, w.data(), kRows, o.data(),
                                 kBlock, q, kernel);
        }
        benchmark::DoNotOptimize(o.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kRows * kColumns * kN));
}

const bool registered_matrix_group_layer = [] {
    for (int bits : {27, 42}) {
        for (VectorKernel kernel : {VectorKernel::avx2, VectorKernel::avx512}) {
            if (!vector_kernel_available(kernel)) continue;
            const std::string name = std::string("MatrixGroupLayer/") + vector_kernel_name(kernel) +
                                     "/bits:" + std::to_string(bits);
            benchmark::RegisterBenchmark(name.c_str(), run_matrix_group_layer, kernel, bits)
                ->Unit(benchmark::kMillisecond);
        }
    }
    return true;
}();

// RNS base conversion (math::BaseConverter) as key switching runs it, every kernel in one run (the
// portable kernel is the scalar code the vector kernels replaced, the reference of the ratios):
// RnsCentered<k> is ModDown's convert_centered from k special primes to 4 primes (items: the 4 n
// output words), RnsPrepared<k> ModUp's convert_prepared of one target limb from a digit of k
// primes (items: n). bits:<from>to<to>: 60to40 is `henn bench lintrans`'s 60-bit special prime to
// 40-bit primes (q_0 > 2 p: a Barrett reduction), 49to48 henn_ckks_bench's N = 2^14 chain (q_0 <=
// 2 p: one subtraction), 50to60 a digit raised to 60-bit special primes.
void run_base_conversion(benchmark::State& state, bool centered, std::size_t k, VectorKernel kernel,
                         std::size_t n, int from_bits, int to_bits) {
    constexpr std::size_t kTargets = 4;
    std::vector<Modulus> from, to;
    const std::vector<u64> from_primes = generate_ntt_primes(from_bits, static_cast<int>(k), 2 * n);
    for (u64 q : from_primes) from.emplace_back(q);
    for (u64 p : generate_ntt_primes(to_bits, kTargets, 2 * n, from_primes)) to.emplace_back(p);
    const BaseConverter converter(from, to);
    std::mt19937_64 rng(10);
    std::vector<u64> input(k * n), scratch(k * n), output(kTargets * n);
    for (std::size_t i = 0; i < k; ++i) {
        for (std::size_t c = 0; c < n; ++c) input[i * n + c] = rng() % from[i].value();
    }
    const u64* prepared = converter.prepare(input.data(), scratch.data(), n, kernel);
    for (auto _ : state) {
        if (centered) {
            converter.convert_centered(input.data(), output.data(), n, kernel);
        } else {
            converter.convert_prepared(prepared, 0, output.data(), n, kernel);
        }
        benchmark::DoNotOptimize(output.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n) *
                            static_cast<std::int64_t>(centered ? kTargets : 1));
}

const bool registered_base_conversion = [] {
    struct Case {
        bool centered;
        std::size_t k;
        int from_bits, to_bits;
    };
    const Case cases[] = {{true, 1, 60, 40},  {true, 1, 49, 48},  {true, 3, 60, 40},
                          {true, 6, 60, 40},  {false, 1, 60, 40}, {false, 1, 49, 48},
                          {false, 3, 50, 60}, {false, 6, 50, 60}};
    for (const Case& c : cases) {
        for (std::size_t n : {std::size_t{8192}, std::size_t{16384}, std::size_t{32768}}) {
            for (VectorKernel kernel : {VectorKernel::portable, VectorKernel::avx2,
                                        VectorKernel::avx512, VectorKernel::avx512ifma}) {
                if (!vector_kernel_available(kernel)) continue;
                const std::string name =
                    std::string(c.centered ? "RnsCentered" : "RnsPrepared") + std::to_string(c.k) +
                    "/" + vector_kernel_name(kernel) + "/n:" + std::to_string(n) +
                    "/bits:" + std::to_string(c.from_bits) + "to" + std::to_string(c.to_bits);
                benchmark::RegisterBenchmark(name.c_str(), run_base_conversion, c.centered, c.k,
                                             kernel, n, c.from_bits, c.to_bits)
                    ->Unit(benchmark::kMicrosecond);
            }
        }
    }
    return true;
}();

// Registered by name (operation/kernel/n/bits), the layout ntt_ratios.py reads.
const bool registered = [] {
    for (Op op : {Op::add, Op::mul, Op::mul_add, Op::mul_scalar, Op::dot, Op::dot_many,
                  Op::dot_permuted, Op::dot_pair_permuted, Op::weighted_many, Op::karatsuba}) {
        for (int bits : {30, 42, 55}) {
            for (std::size_t n : {std::size_t{8192}, std::size_t{32768}}) {
                for (VectorKernel kernel : {VectorKernel::portable, VectorKernel::avx2,
                                            VectorKernel::avx512, VectorKernel::avx512ifma}) {
                    if (!vector_kernel_available(kernel)) continue;
                    const std::string name =
                        std::string(op_name(op)) + "/" + vector_kernel_name(kernel) +
                        "/n:" + std::to_string(n) + "/bits:" + std::to_string(bits);
                    benchmark::RegisterBenchmark(name.c_str(), run, op, kernel, n, bits)
                        ->Unit(benchmark::kMicrosecond);
                }
            }
        }
    }
    return true;
}();

}  // namespace
