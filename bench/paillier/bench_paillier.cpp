// Paillier costs at 2048 and 3072 bits. Each optimized path runs next to its plain reference:
// fixed-base noise vs a fresh r^n mod n^2, CRT (and modulo-p-only) decryption vs the textbook
// L(c^lambda) formula, multi-exponentiation vs one exponentiation per term.
#include <benchmark/benchmark.h>

#include <map>

#include "henn/paillier/multiexp.hpp"
#include "henn/paillier/noise.hpp"
#include "henn/paillier/paillier.hpp"
#include "henn/paillier/random.hpp"
#include "henn/paillier/serialization.hpp"

namespace {

using namespace henn::paillier;

const KeyPair& keys(unsigned bits) {
    static std::map<unsigned, KeyPair> cache;
    auto it = cache.find(bits);
    if (it == cache.end()) it = cache.emplace(bits, generate_keypair({.modulus_bits = bits})).first;
    return it->second;
}

void BM_KeyGen(benchmark::State& state) {
    for (auto _ : state)
        benchmark::DoNotOptimize(
            generate_keypair({.modulus_bits = static_cast<unsigned>(state.range(0))}));
}
BENCHMARK(BM_KeyGen)->Arg(2048)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_Encrypt(benchmark::State& state) {
    const auto& pk = keys(static_cast<unsigned>(state.range(0))).public_key;
    const mpz_class m = random_below(pk.n());
    pk.noise();  // table built outside the timing
    for (auto _ : state) benchmark::DoNotOptimize(pk.encrypt(m));
}
BENCHMARK(BM_Encrypt)->Arg(2048)->Arg(3072)->Unit(benchmark::kMicrosecond);

// Reference: a fresh r^n mod n^2 for the random factor.
void BM_EncryptFreshRandomFactor(benchmark::State& state) {
    const auto& pk = keys(static_cast<unsigned>(state.range(0))).public_key;
    const mpz_class m = random_below(pk.n());
    for (auto _ : state) {
        mpz_class r;
        mpz_powm_sec(r.get_mpz_t(), random_unit(pk.n()).get_mpz_t(), pk.n().get_mpz_t(),
                     pk.n_squared().get_mpz_t());
        benchmark::DoNotOptimize(Ciphertext{(m * pk.n() + 1) * r % pk.n_squared()});
    }
}
BENCHMARK(BM_EncryptFreshRandomFactor)->Arg(2048)->Arg(3072)->Unit(benchmark::kMicrosecond);

void BM_DecryptCrt(benchmark::State& state) {
    const auto& [pk, sk] = keys(static_cast<unsigned>(state.range(0)));
    const Ciphertext c = pk.encrypt(random_below(pk.n()));
    for (auto _ : state) benchmark::DoNotOptimize(sk.decrypt(c));
}
BENCHMARK(BM_DecryptCrt)->Arg(2048)->Arg(3072)->Unit(benchmark::kMicrosecond);

// What S2 does for SMLP's bounded plaintexts: decryption modulo p only.
void BM_DecryptBounded(benchmark::State& state) {
    const auto& [pk, sk] = keys(static_cast<unsigned>(state.range(0)));
    const Ciphertext c = pk.encrypt(random_bits(121));
    for (auto _ : state) benchmark::DoNotOptimize(sk.decrypt_bounded(c, 121));
}
BENCHMARK(BM_DecryptBounded)->Arg(2048)->Arg(3072)->Unit(benchmark::kMicrosecond);

// Reference: m = L(c^lambda mod n^2) * mu mod n without the CRT.
void BM_DecryptTextbook(benchmark::State& state) {
    const auto& [pk, sk] = keys(static_cast<unsigned>(state.range(0)));
    const Ciphertext c = pk.encrypt(random_below(pk.n()));
    mpz_class lambda;
    const mpz_class p1 = sk.p() - 1, q1 = sk.q() - 1;
    mpz_lcm(lambda.get_mpz_t(), p1.get_mpz_t(), q1.get_mpz_t());
    mpz_class mu;
    mpz_invert(mu.get_mpz_t(), lambda.get_mpz_t(), pk.n().get_mpz_t());
    for (auto _ : state) {
        mpz_class u;
        mpz_powm_sec(u.get_mpz_t(), c.value.get_mpz_t(), lambda.get_mpz_t(),
                     pk.n_squared().get_mpz_t());
        benchmark::DoNotOptimize(mpz_class((u - 1) / pk.n() * mu % pk.n()));
    }
}
BENCHMARK(BM_DecryptTextbook)->Arg(2048)->Arg(3072)->Unit(benchmark::kMicrosecond);

void BM_Add(benchmark::State& state) {
    const auto& pk = keys(static_cast<unsigned>(state.range(0))).public_key;
    const Ciphertext a = pk.encrypt(1), b = pk.encrypt(2);
    for (auto _ : state) benchmark::DoNotOptimize(pk.add(a, b));
}
BENCHMARK(BM_Add)->Arg(2048)->Arg(3072)->Unit(benchmark::kMicrosecond);

// Multiplication by a 72-bit plaintext (the size of SMLP's masks).
void BM_MulPlain72(benchmark::State& state) {
    const auto& pk = keys(static_cast<unsigned>(state.range(0))).public_key;
    const Ciphertext a = pk.encrypt(1);
    const mpz_class k = random_bits(72);
    for (auto _ : state) benchmark::DoNotOptimize(pk.mul_plain(a, k));
}
BENCHMARK(BM_MulPlain72)->Arg(2048)->Arg(3072)->Unit(benchmark::kMicrosecond);

// 60 terms with 72-bit coefficients (one output of SMLP's first layer, 30 inputs).
constexpr int kTerms = 60;
void BM_MultiExp60x72(benchmark::State& state) {
    const auto& pk = keys(static_cast<unsigned>(state.range(0))).public_key;
    std::vector<PowerTable> tables;
    std::vector<mpz_class> exponents;
    for (int i = 0; i < kTerms; ++i) {
        tables.emplace_back(pk, pk.encrypt(i));
        exponents.push_back(random_bits(72));
    }
    std::vector<const PowerTable*> t;
    std::vector<const mpz_class*> e;
    for (int i = 0; i < kTerms; ++i) {
        t.push_back(&tables[i]);
        e.push_back(&exponents[i]);
    }
    for (auto _ : state) benchmark::DoNotOptimize(multi_exponentiate(pk, t, e, 72));
}
BENCHMARK(BM_MultiExp60x72)->Arg(2048)->Unit(benchmark::kMicrosecond);

void BM_LinearCombination60x72(benchmark::State& state) {
    const auto& pk = keys(static_cast<unsigned>(state.range(0))).public_key;
    std::vector<Ciphertext> cts;
    std::vector<mpz_class> exponents;
    for (int i = 0; i < kTerms; ++i) {
        cts.push_back(pk.encrypt(i));
        exponents.push_back(random_bits(72));
    }
    for (auto _ : state) benchmark::DoNotOptimize(pk.linear_combination(cts, exponents));
}
BENCHMARK(BM_LinearCombination60x72)->Arg(2048)->Unit(benchmark::kMicrosecond);

void BM_LoadCiphertextBatch(benchmark::State& state) {
    const auto& pk = keys(2048).public_key;
    std::vector<Ciphertext> batch;
    for (int i = 0; i < 256; ++i) batch.push_back(pk.encrypt(i));
    const auto bytes = serialize(pk, std::span<const Ciphertext>(batch));
    for (auto _ : state) benchmark::DoNotOptimize(load_ciphertexts(pk, bytes));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes.size()));
}
BENCHMARK(BM_LoadCiphertextBatch)->Unit(benchmark::kMicrosecond);

}  // namespace
