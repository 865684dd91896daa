// Explicit hoisting, lazy rotations in Q*P, ModDown, extended plaintexts, Galois elements and
// keys for a level: each against the non-hoisted path (bit-exact where the algebra is exact) and
// against a plaintext reference, precision in bits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "ckks_fixture.hpp"
#include "henn/ckks/errors.hpp"
#include "henn/ckks/hoisting.hpp"
#include "henn/ckks/serialization.hpp"

using namespace henn;
using namespace henn::ckks;
using test::CkksSetup;
using test::Complex;
using test::random_complex;

namespace {

ParametersLiteral chain(int log_n, int levels, int special_primes, bool insecure = false) {
    ParametersLiteral lit;
    lit.log_n = log_n;
    lit.log_q.push_back(60);
    for (int i = 0; i < levels; ++i) lit.log_q.push_back(40);
    lit.log_p.assign(special_primes, 61);
    lit.log_default_scale = 40;
    lit.allow_insecure = insecure;
    return lit;
}

std::vector<Complex> rotate_left(const std::vector<Complex>& v, int steps) {
    const int n = static_cast<int>(v.size());
    std::vector<Complex> out(n);
    for (int j = 0; j < n; ++j) out[j] = v[((j + steps) % n + n) % n];
    return out;
}

bool same(const Ciphertext& a, const Ciphertext& b) {
    return a.level == b.level && a.scale == b.scale && a.slots == b.slots && a.polys == b.polys;
}

// Two chains: one digit per prime with one special prime (secure at 2^13), and two digits of
// two primes each (more special primes than 2^13 allows securely; for the algebra only).
struct HoistCase {
    int levels;
    int special_primes;
    bool insecure;
};

class Hoisting : public ::testing::TestWithParam<HoistCase> {
  protected:
    void SetUp() override {
        const HoistCase c = GetParam();
        steps_ = {1, 3, -1, 100, 4095};
        setup_ = std::make_unique<CkksSetup>(chain(13, c.levels, c.special_primes, c.insecure),
                                             steps_, true, 17 + c.special_primes);
        slots_ = setup_->context->max_slots();
        values_ = random_complex(slots_, 5);
    }
    std::unique_ptr<CkksSetup> setup_;
    std::vector<int> steps_;
    std::size_t slots_ = 0;
    std::vector<Complex> values_;
};

TEST_P(Hoisting, HoistedRotationsEqualPlainRotations) {
    const Evaluator& ev = *setup_->evaluator;
    for (int level : {setup_->context->max_level(), 1}) {
        const Ciphertext ct = setup_->encrypt(values_, level);
        const HoistedCiphertext h = ev.hoist(ct);
        EXPECT_EQ(h.digits.size(), setup_->context->digit_count(level));
        for (int step : steps_) {
            const Ciphertext plain_path = ev.rotate(ct, step);
            EXPECT_TRUE(same(ev.rotate(h, step), plain_path))
                << "step " << step << " level " << level;
            // ModDown(lazy) is the same computation with the ModDown made explicit: bit-exact.
            EXPECT_TRUE(same(ev.mod_down(ev.rotate_lazy(h, step)), plain_path)) << "step " << step;
            HENN_EXPECT_PRECISION(setup_->decrypt(ev.rotate(h, step)), rotate_left(values_, step),
                                  20, 24);
        }
        EXPECT_TRUE(same(ev.conjugate(h), ev.conjugate(ct)));
        EXPECT_TRUE(same(ev.rotate(h, 0), ct));
    }
}

TEST_P(Hoisting, ExtendAndModDownAreExactInverses) {
    const Evaluator& ev = *setup_->evaluator;
    const Ciphertext ct = setup_->encrypt(values_);
    const ExtendedCiphertext e = ev.extend(ct);
    EXPECT_EQ(e.c0.limbs, ct.polys[0].limbs + setup_->context->p_count());
    EXPECT_TRUE(same(ev.mod_down(e), ct));
    EXPECT_TRUE(same(ev.mod_down(ev.rotate_lazy(ev.hoist(ct), 0)), ct));
}

// Double hoisting: sum_i p_i * rot_i(x) kept in Q*P, one ModDown, against the plain path
// (rotate, multiply_plain, add, each rotation with its own ModDown) and the plaintext sum.
TEST_P(Hoisting, LazySumMatchesPlainPathAndReference) {
    const Evaluator& ev = *setup_->evaluator;
    const Encoder& enc = *setup_->encoder;
    const int level = setup_->context->max_level();
    const Ciphertext ct = setup_->encrypt(values_, level);
    const HoistedCiphertext h = ev.hoist(ct);
    const std::vector<int> steps = {0, 1, 3, 100};
    std::vector<ExtendedCiphertext> rotated;
    std::vector<ExtendedPlaintext> weights;
    std::vector<Complex> expected(slots_, 0.0);
    Ciphertext plain_sum;
    const double scale = static_cast<double>(setup_->context->q()[level].value());
    for (std::size_t t = 0; t < steps.size(); ++t) {
        const auto w = random_complex(slots_, 40 + t);
        weights.push_back(encode_extended(enc, w, level, scale));
        rotated.push_back(ev.rotate_lazy(h, steps[t]));
        const auto r = rotate_left(values_, steps[t]);
        for (std::size_t j = 0; j < slots_; ++j) expected[j] += w[j] * r[j];
        const Ciphertext term =
            ev.multiply_plain(ev.rotate(ct, steps[t]), enc.encode(w, level, scale));
        plain_sum = t == 0 ? term : ev.add(plain_sum, term);
    }
    std::vector<const ExtendedCiphertext*> cs;
    std::vector<const ExtendedPlaintext*> ps;
    for (std::size_t t = 0; t < steps.size(); ++t) {
        cs.push_back(&rotated[t]);
        ps.push_back(&weights[t]);
    }
    const Ciphertext lazy = ev.rescale(ev.mod_down(ev.multiply_accumulate(cs, ps)));
    const auto lazy_values = setup_->decrypt(lazy);
    HENN_EXPECT_PRECISION(lazy_values, expected, 17, 21);
    // The two paths differ only by rounding noise, far below the message.
    HENN_EXPECT_PRECISION(lazy_values, setup_->decrypt(ev.rescale(plain_sum)), 17, 21);

    // Sums and single products in Q*P agree with multiply_accumulate.
    ExtendedCiphertext acc = ev.multiply_plain(rotated[0], weights[0]);
    for (std::size_t t = 1; t < steps.size(); ++t)
        ev.add_inplace(acc, ev.multiply_plain(rotated[t], weights[t]));
    const ExtendedCiphertext fused = ev.multiply_accumulate(cs, ps);
    EXPECT_EQ(acc.c0, fused.c0);
    EXPECT_EQ(acc.c1, fused.c1);
}

// A giant step: rotating a ciphertext that is still in Q*P.
TEST_P(Hoisting, LazyRotationOfExtendedCiphertext) {
    const Evaluator& ev = *setup_->evaluator;
    const Ciphertext ct = setup_->encrypt(values_);
    const ExtendedCiphertext x = ev.rotate_lazy(ev.hoist(ct), 3);
    for (int step : {1, 100, -1}) {
        const Ciphertext r = ev.mod_down(ev.rotate_lazy(x, step));
        HENN_EXPECT_PRECISION(setup_->decrypt(r), rotate_left(values_, 3 + step), 20, 24);
        HENN_EXPECT_PRECISION(setup_->decrypt(r),
                              setup_->decrypt(ev.rotate(ev.rotate(ct, 3), step)), 20, 24);
    }
    EXPECT_TRUE(same(ev.mod_down(ev.rotate_lazy(x, 0)), ev.mod_down(x)));
}

TEST_P(Hoisting, ExtendedPlaintextReusedAtEveryLevel) {
    const Evaluator& ev = *setup_->evaluator;
    const Encoder& enc = *setup_->encoder;
    const auto w = random_complex(slots_, 77);
    const ExtendedPlaintext ep = encode_extended(enc, w);  // top level
    const Context& ctx = *setup_->context;
    EXPECT_EQ(ep.bytes(), (ctx.q_count() + ctx.p_count()) * ctx.n() * sizeof(u64));
    for (int level = ctx.max_level(); level >= 0; --level) {
        const Plaintext direct = enc.encode(w, level);
        EXPECT_EQ(ep.to_plaintext(level).poly, direct.poly) << "level " << level;
        const Ciphertext ct = setup_->encrypt(values_, level);
        EXPECT_TRUE(same(ev.multiply_plain(ct, ep), ev.multiply_plain(ct, direct)))
            << "level " << level;
    }
    EXPECT_THROW(ep.to_plaintext(ctx.max_level() + 1), LevelError);
    const ExtendedPlaintext low = encode_extended(enc, w, 1);
    EXPECT_THROW(ev.multiply_plain(setup_->encrypt(values_), low), LevelError);
}

TEST_P(Hoisting, MissingKeyNamesTheStep) {
    const Evaluator& ev = *setup_->evaluator;
    const Ciphertext ct = setup_->encrypt(values_);
    const HoistedCiphertext h = ev.hoist(ct);
    for (int step : {7, -9}) {
        try {
            (void)ev.rotate_lazy(h, step);
            ADD_FAILURE() << "rotation by " << step << " had no key and did not fail";
        } catch (const MissingKeyError& e) {
            EXPECT_NE(std::string(e.what()).find("rotation by " + std::to_string(step) + " slots"),
                      std::string::npos)
                << e.what();
        }
        EXPECT_THROW(ev.rotate(h, step), MissingKeyError);
        EXPECT_THROW(ev.rotate_lazy(ev.extend(ct), step), MissingKeyError);
    }
}

INSTANTIATE_TEST_SUITE_P(Chains, Hoisting,
                         ::testing::Values(HoistCase{2, 1, false}, HoistCase{3, 2, true}),
                         [](const auto& info) {
                             return "digits" + std::to_string(info.param.levels + 1) + "_specials" +
                                    std::to_string(info.param.special_primes);
                         });

// Galois keys are held permuted for their element (KeySwitchKey::permuted_for), so the inner
// products of key switching read the digits in order. The same keys as made (permuted back with
// the public automorphism, held unpermuted) must give the same result words on every path, and
// serialize to the same bytes.
TEST_P(Hoisting, GaloisKeysHeldPermutedGiveTheWordsOfKeysAsMade) {
    const Context& ctx = *setup_->context;
    auto as_made = std::make_shared<EvaluationKeys>(*setup_->keys);
    for (auto& [element, key] : as_made->galois.keys) {
        ASSERT_EQ(key.permuted_for, element);
        for (auto* polys : {&key.b, &key.a}) {
            for (RnsPoly& p : *polys) {
                RnsPoly made;
                apply_galois_ntt(ctx, element, p, made);
                p = std::move(made);
            }
        }
        key.permuted_for = 1;
    }
    const Evaluator made_ev(setup_->context, as_made);
    const Evaluator& ev = *setup_->evaluator;
    for (int level : {ctx.max_level(), 1}) {
        const Ciphertext ct = setup_->encrypt(values_, level);
        const HoistedCiphertext h = ev.hoist(ct);
        const HoistedCiphertext made_h = made_ev.hoist(ct);
        for (int step : steps_) {
            EXPECT_TRUE(same(ev.rotate(ct, step), made_ev.rotate(ct, step))) << "step " << step;
            EXPECT_TRUE(same(ev.rotate(h, step), made_ev.rotate(made_h, step))) << "step " << step;
            const ExtendedCiphertext lazy = ev.rotate_lazy(h, step);
            const ExtendedCiphertext made_lazy = made_ev.rotate_lazy(made_h, step);
            EXPECT_EQ(lazy.c0, made_lazy.c0) << "step " << step;
            EXPECT_EQ(lazy.c1, made_lazy.c1) << "step " << step;
            EXPECT_TRUE(same(ev.mod_down(ev.rotate_lazy(lazy, step)),
                             made_ev.mod_down(made_ev.rotate_lazy(made_lazy, step))))
                << "step " << step;
        }
        EXPECT_TRUE(same(ev.conjugate(ct), made_ev.conjugate(ct)));
        EXPECT_TRUE(same(ev.conjugate(h), made_ev.conjugate(made_h)));
    }
    for (bool seeded : {true, false}) {
        SaveOptions options;
        options.seeded = seeded;
        const auto bytes = save(ctx, setup_->keys->galois, options);
        EXPECT_EQ(bytes, save(ctx, as_made->galois, options)) << "seeded " << seeded;
        // Loaded keys are held permuted again, and rotate as before.
        const GaloisKeys loaded = load_galois_keys(ctx, bytes);
        for (const auto& [element, key] : loaded.keys) {
            EXPECT_EQ(key.permuted_for, element);
            EXPECT_EQ(key.b, setup_->keys->galois.keys.at(element).b);
            EXPECT_EQ(key.a, setup_->keys->galois.keys.at(element).a);
        }
    }
    // A key held for another element is refused, naming the rotation.
    auto wrong = std::make_shared<EvaluationKeys>(*setup_->keys);
    const u64 one = ctx.galois_element_for_rotation(1), three = ctx.galois_element_for_rotation(3);
    wrong->galois.keys.at(one) = wrong->galois.keys.at(three);
    const Evaluator wrong_ev(setup_->context, wrong);
    const Ciphertext ct = setup_->encrypt(values_);
    try {
        (void)wrong_ev.rotate(ct, 1);
        ADD_FAILURE() << "a key held for another element was used";
    } catch (const MismatchError& e) {
        EXPECT_NE(std::string(e.what()).find("rotation by 1 slots"), std::string::npos) << e.what();
    }
}

TEST(GaloisElements, ModularExponentiationMatchesRepeatedProducts) {
    for (int log_n : {12, 13, 16}) {
        ParametersLiteral lit = chain(log_n, 1, 1, true);
        const ContextPtr ctx = Context::create(lit);
        const u64 m = 2 * ctx->n();
        const long long period = static_cast<long long>(ctx->n() / 2);
        std::vector<u64> powers(period);
        u64 g = 1;
        for (long long k = 0; k < period; ++k, g = g * 5 % m) powers[k] = g;
        for (long long k :
             {0LL, 1LL, 2LL, 3LL, 77LL, period - 1, period, period + 5, -1LL, -period, -period - 3,
              static_cast<long long>(2147483647), static_cast<long long>(-2147483647 - 1)}) {
            const long long reduced = ((k % period) + period) % period;
            EXPECT_EQ(ctx->galois_element_for_rotation(static_cast<int>(k)), powers[reduced])
                << "log_n " << log_n << " step " << k;
        }
    }
}

// Keys made only down to a level: smaller, correct up to that level, refused above it.
TEST(KeysForLevel, SmallerKeysRotateUpToTheirLevel) {
    CkksSetup setup(chain(13, 3, 2, true), {}, false, 31);
    const Context& ctx = *setup.context;
    const int key_level = 1;
    auto keys = std::make_shared<EvaluationKeys>();
    keys->galois = setup.keygen->galois_keys({1, 5, -2}, /*conjugation=*/true, key_level);
    EXPECT_EQ(keys->galois.keys.size(), 4u);
    for (const auto& [element, key] : keys->galois.keys) {
        EXPECT_EQ(key.max_level(ctx.p_count()), key_level);
        EXPECT_EQ(key.bytes(), switch_key_bytes(ctx, key_level));
    }
    EXPECT_LT(switch_key_bytes(ctx, key_level), switch_key_bytes(ctx));
    EXPECT_EQ(keys->galois.bytes(), 4 * switch_key_bytes(ctx, key_level));
    const Evaluator ev(setup.context, keys);
    const auto values = random_complex(ctx.max_slots(), 9);
    for (int level : {1, 0}) {
        const Ciphertext ct = setup.encrypt(values, level);
        for (int step : {1, 5, -2}) {
            HENN_EXPECT_PRECISION(setup.decrypt(ev.rotate(ct, step)), rotate_left(values, step), 20,
                                  24);
            HENN_EXPECT_PRECISION(setup.decrypt(ev.mod_down(ev.rotate_lazy(ev.hoist(ct), step))),
                                  rotate_left(values, step), 20, 24);
        }
        std::vector<Complex> conj(values.size());
        for (std::size_t i = 0; i < values.size(); ++i) conj[i] = std::conj(values[i]);
        HENN_EXPECT_PRECISION(setup.decrypt(ev.conjugate(ct)), conj, 20, 24);
    }
    const Ciphertext high = setup.encrypt(values, 2);
    EXPECT_THROW(ev.rotate(high, 1), LevelError);
    EXPECT_THROW(setup.keygen->galois_keys({1}, false, ctx.max_level() + 1), LevelError);
}

}  // namespace
