// Google Benchmark of the CKKS operations at log N = 13, 14, 15, single-threaded, with chains of
// as many primes as Microsoft SEAL's defaults (4+1, 8+1, 15+1), so results compare with
// sealbench run beside it. `henn bench ckks` prints the same operations as a table.
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <random>

#include "henn/ckks/encoder.hpp"
#include "henn/ckks/encryptor.hpp"
#include "henn/ckks/evaluator.hpp"
#include "henn/ckks/serialization.hpp"
#include "henn/math/ntt.hpp"
#include "henn/math/parallel.hpp"
#include "henn/math/vector_ops.hpp"

namespace {

using namespace henn::ckks;

ParametersLiteral chain(int log_n) {
    ParametersLiteral lit;
    lit.log_n = log_n;
    if (log_n == 13) {
        lit.log_q = {45, 42, 42, 42};
        lit.log_p = {45};
    } else if (log_n == 14) {
        lit.log_q = {49, 48, 48, 48, 48, 48, 48, 48};
        lit.log_p = {49};
    } else {
        lit.log_q.assign(15, 55);
        lit.log_p = {55};
    }
    lit.log_default_scale = 40;
    return lit;
}

struct Fixture {
    ContextPtr ctx;
    std::unique_ptr<KeyGenerator> keygen;
    std::shared_ptr<EvaluationKeys> keys;
    std::unique_ptr<Encoder> encoder;
    std::unique_ptr<Encryptor> pk_enc, sk_enc;
    std::unique_ptr<Decryptor> dec;
    std::unique_ptr<Evaluator> eval;
    std::vector<double> values;
    Plaintext pt;
    Ciphertext a, b, product, seeded;

    explicit Fixture(int log_n) {
        henn::math::set_thread_count(1);
        ctx = Context::create(chain(log_n));
        keygen = std::make_unique<KeyGenerator>(ctx, henn::math::test_only_seed(1));
        keys = std::make_shared<EvaluationKeys>(
            keygen->evaluation_keys({1, 2, 3, 4, 5, 6, 7, 8}, /*conjugation=*/true));
        encoder = std::make_unique<Encoder>(ctx);
        pk_enc = std::make_unique<Encryptor>(ctx, keygen->public_key());
        sk_enc = std::make_unique<Encryptor>(ctx, keygen->secret_key());
        dec = std::make_unique<Decryptor>(ctx, keygen->secret_key());
        eval = std::make_unique<Evaluator>(ctx, keys);
        std::mt19937_64 rng(1);
        std::uniform_real_distribution<double> dist(-1, 1);
        values.resize(ctx->max_slots());
        for (auto& v : values) v = dist(rng);
        pt = encoder->encode(values);
        a = pk_enc->encrypt(pt);
        b = pk_enc->encrypt(pt);
        product = eval->multiply_relin(a, b);
        seeded = sk_enc->encrypt(pt);
    }
};

// The kernels the run used, in the JSON context (bench/compare_with_sealbench.py prints them).
const bool kKernelsReported = [] {
    benchmark::AddCustomContext("henn_ntt_kernel", henn::math::ntt_kernel_name());
    benchmark::AddCustomContext("henn_vector_kernel", henn::math::vector_kernel_name());
    return true;
}();

Fixture& fixture(int log_n) {
    static std::map<int, std::unique_ptr<Fixture>> fixtures;
    auto& f = fixtures[log_n];
    if (!f) f = std::make_unique<Fixture>(log_n);
    return *f;
}

#define HENN_CKKS_BENCH(name, body)                             \
    void BM_##name(benchmark::State& state) {                   \
        Fixture& f = fixture(static_cast<int>(state.range(0))); \
        for (auto _ : state) {                                  \
            body;                                               \
        }                                                       \
    }                                                           \
    BENCHMARK(BM_##name)->Arg(13)->Arg(14)->Arg(15)->Unit(benchmark::kMicrosecond)

HENN_CKKS_BENCH(Encode, benchmark::DoNotOptimize(f.encoder->encode(f.values)));
HENN_CKKS_BENCH(Decode, benchmark::DoNotOptimize(f.encoder->decode(f.pt)));
HENN_CKKS_BENCH(EncryptPublic, benchmark::DoNotOptimize(f.pk_enc->encrypt(f.pt)));
HENN_CKKS_BENCH(EncryptSecret, benchmark::DoNotOptimize(f.sk_enc->encrypt(f.pt)));
HENN_CKKS_BENCH(Decrypt, benchmark::DoNotOptimize(f.dec->decrypt(f.a)));
HENN_CKKS_BENCH(Add, benchmark::DoNotOptimize(f.eval->add(f.a, f.b)));
HENN_CKKS_BENCH(MultiplyPlain, benchmark::DoNotOptimize(f.eval->multiply_plain(f.a, f.pt)));
HENN_CKKS_BENCH(Multiply, benchmark::DoNotOptimize(f.eval->multiply(f.a, f.b)));
HENN_CKKS_BENCH(MultiplyRelinearize, benchmark::DoNotOptimize(f.eval->multiply_relin(f.a, f.b)));
HENN_CKKS_BENCH(Rescale, benchmark::DoNotOptimize(f.eval->rescale(f.product)));
HENN_CKKS_BENCH(Rotate1, benchmark::DoNotOptimize(f.eval->rotate(f.a, 1)));
HENN_CKKS_BENCH(Conjugate, benchmark::DoNotOptimize(f.eval->conjugate(f.a)));
// The wire: a ciphertext from the public key (both halves stored) and one from the secret key
// (its uniform half stored as a seed, expanded again when loaded).
HENN_CKKS_BENCH(SaveCiphertext, benchmark::DoNotOptimize(save(*f.ctx, f.a)));
HENN_CKKS_BENCH(SaveSeededCiphertext, benchmark::DoNotOptimize(save(*f.ctx, f.seeded)));

void BM_LoadCiphertext(benchmark::State& state) {
    Fixture& f = fixture(static_cast<int>(state.range(0)));
    const auto blob = save(*f.ctx, f.a);
    for (auto _ : state) benchmark::DoNotOptimize(load_ciphertext(*f.ctx, blob));
}
BENCHMARK(BM_LoadCiphertext)->Arg(13)->Arg(14)->Arg(15)->Unit(benchmark::kMicrosecond);

void BM_LoadSeededCiphertext(benchmark::State& state) {
    Fixture& f = fixture(static_cast<int>(state.range(0)));
    const auto blob = save(*f.ctx, f.seeded);
    for (auto _ : state) benchmark::DoNotOptimize(load_ciphertext(*f.ctx, blob));
}
BENCHMARK(BM_LoadSeededCiphertext)->Arg(13)->Arg(14)->Arg(15)->Unit(benchmark::kMicrosecond);

void BM_NttForward(benchmark::State& state) {
    Fixture& f = fixture(static_cast<int>(state.range(0)));
    std::vector<henn::math::u64> limb(f.a.polys[0].limb(0), f.a.polys[0].limb(0) + f.ctx->n());
    for (auto _ : state) {
        henn::math::ntt_forward(limb.data(), f.ctx->ntt(0));
        benchmark::DoNotOptimize(limb.data());
    }
}
BENCHMARK(BM_NttForward)->Arg(13)->Arg(14)->Arg(15)->Unit(benchmark::kMicrosecond);

void BM_NttInverse(benchmark::State& state) {
    Fixture& f = fixture(static_cast<int>(state.range(0)));
    std::vector<henn::math::u64> limb(f.a.polys[0].limb(0), f.a.polys[0].limb(0) + f.ctx->n());
    for (auto _ : state) {
        henn::math::ntt_inverse(limb.data(), f.ctx->ntt(0));
        benchmark::DoNotOptimize(limb.data());
    }
}
BENCHMARK(BM_NttInverse)->Arg(13)->Arg(14)->Arg(15)->Unit(benchmark::kMicrosecond);

void BM_RotateHoisted8(benchmark::State& state) {
    Fixture& f = fixture(static_cast<int>(state.range(0)));
    const std::vector<int> steps = {1, 2, 3, 4, 5, 6, 7, 8};
    for (auto _ : state) benchmark::DoNotOptimize(f.eval->rotate_hoisted(f.a, steps));
}
BENCHMARK(BM_RotateHoisted8)->Arg(13)->Arg(14)->Arg(15)->Unit(benchmark::kMicrosecond);

void BM_MultiplyAccumulate64(benchmark::State& state) {
    Fixture& f = fixture(static_cast<int>(state.range(0)));
    std::vector<Ciphertext> cts(64, f.a);
    std::vector<Plaintext> pts(64, f.pt);
    for (auto _ : state) {
        benchmark::DoNotOptimize(f.eval->multiply_accumulate(std::span<const Ciphertext>(cts),
                                                             std::span<const Plaintext>(pts)));
    }
}
BENCHMARK(BM_MultiplyAccumulate64)->Arg(13)->Arg(14)->Arg(15)->Unit(benchmark::kMicrosecond);

// The naive reference for the multiply-accumulate: 64 products and 63 additions.
void BM_MultiplyAccumulate64Naive(benchmark::State& state) {
    Fixture& f = fixture(static_cast<int>(state.range(0)));
    for (auto _ : state) {
        Ciphertext acc = f.eval->multiply_plain(f.a, f.pt);
        for (int i = 1; i < 64; ++i) f.eval->add_inplace(acc, f.eval->multiply_plain(f.a, f.pt));
        benchmark::DoNotOptimize(acc);
    }
}
BENCHMARK(BM_MultiplyAccumulate64Naive)->Arg(13)->Arg(14)->Arg(15)->Unit(benchmark::kMicrosecond);

// Hoisting against eight separate rotations, in the same run.
void BM_Rotate8Separate(benchmark::State& state) {
    Fixture& f = fixture(static_cast<int>(state.range(0)));
    for (auto _ : state) {
        for (int s = 1; s <= 8; ++s) benchmark::DoNotOptimize(f.eval->rotate(f.a, s));
    }
}
BENCHMARK(BM_Rotate8Separate)->Arg(13)->Arg(14)->Arg(15)->Unit(benchmark::kMicrosecond);

void BM_KeyGenRelinearization(benchmark::State& state) {
    Fixture& f = fixture(static_cast<int>(state.range(0)));
    for (auto _ : state) benchmark::DoNotOptimize(f.keygen->relinearization_key());
}
BENCHMARK(BM_KeyGenRelinearization)->Arg(13)->Arg(14)->Arg(15)->Unit(benchmark::kMicrosecond);

}  // namespace
