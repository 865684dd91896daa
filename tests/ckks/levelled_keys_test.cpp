// Key-switching keys that stop below the top level: a key made at level l is exactly the sub-key
// (KeySwitchKey::at_level) of the top-level key made from the same generator state; key switching
// with it at any ciphertext level up to l gives the same result words as the top-level key
// (rotate, hoisted and lazy rotations, conjugation, relinearization); a ciphertext above it is
// refused with a LevelError naming the key and both levels; the serialized form (format version 2)
// round trips, re-expands seeded keys to the same limbs and refuses damaged input.
#include <gtest/gtest.h>

#include <random>
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
using test::toy_params;

namespace {

// q_0 of 60 bits, `levels` primes of 40 bits, `special` primes of 61 bits: one digit per prime
// with one special prime (secure at 2^13), digits of two primes with two (the algebra only; the
// last digit of an even level is then a partial one).
ParametersLiteral chain(int levels, int special, bool insecure) {
    ParametersLiteral lit;
    lit.log_n = 13;
    lit.log_q.push_back(60);
    for (int i = 0; i < levels; ++i) lit.log_q.push_back(40);
    lit.log_p.assign(special, 61);
    lit.log_default_scale = 40;
    lit.allow_insecure = insecure;
    return lit;
}

bool same(const Ciphertext& a, const Ciphertext& b) {
    return a.level == b.level && a.scale == b.scale && a.slots == b.slots && a.polys == b.polys;
}
bool same(const ExtendedCiphertext& a, const ExtendedCiphertext& b) {
    return a.level == b.level && a.scale == b.scale && a.c0 == b.c0 && a.c1 == b.c1;
}
void expect_same_key(const KeySwitchKey& a, const KeySwitchKey& b, const std::string& what) {
    EXPECT_EQ(a.b, b.b) << what;
    EXPECT_EQ(a.a, b.a) << what;
    EXPECT_EQ(a.a_seed, b.a_seed) << what;
}

std::vector<Complex> rotate_left(const std::vector<Complex>& v, int steps) {
    const int n = static_cast<int>(v.size());
    std::vector<Complex> out(n);
    for (int j = 0; j < n; ++j) out[j] = v[((j + steps) % n + n) % n];
    return out;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

struct Chain {
    int levels;
    int special;
    bool insecure;
};

class LevelledKeys : public ::testing::TestWithParam<Chain> {
  protected:
    ParametersLiteral params() const {
        return chain(GetParam().levels, GetParam().special, GetParam().insecure);
    }
};

// Generated at a level == the top-level key from the same generator state, dropped to it: the
// same digits (digit_count(level)) and limbs (q_0..q_level, P), word for word, the same seed. (A
// generator draws each digit's error from its stream, so only the first key made from a state is
// comparable: one key per pair of generators.)
TEST_P(LevelledKeys, MadeAtALevelEqualsTheTopLevelKeyDroppedToIt) {
    const ContextPtr ctx = Context::create(params());
    const int top = ctx->max_level();
    for (int level = 0; level <= top; ++level) {
        for (int step : {-7, 3, 0}) {  // 0: conjugation
            KeyGenerator full_gen(ctx, math::test_only_seed(40 + step));
            KeyGenerator levelled_gen(ctx, math::test_only_seed(40 + step));
            const bool conj = step == 0;
            const GaloisKeys full = conj ? full_gen.galois_keys({}, true)
                                         : full_gen.galois_keys(std::vector<int>{step});
            const GaloisKeys levelled = levelled_gen.levelled_galois_keys(
                conj ? StepLevels{} : StepLevels{{step, level}}, conj, level);
            ASSERT_EQ(levelled.keys.size(), 1u);
            const auto& [element, key] = *levelled.keys.begin();
            const std::string what =
                "element " + std::to_string(element) + " level " + std::to_string(level);
            EXPECT_EQ(key.level(*ctx), level) << what;
            EXPECT_EQ(key.b.size(), ctx->digit_count(level)) << what;
            EXPECT_EQ(key.b[0].limbs, static_cast<std::size_t>(level) + 1 + ctx->p_count());
            EXPECT_EQ(key.bytes(), switch_key_bytes(*ctx, level)) << what;
            expect_same_key(key, full.keys.at(element).at_level(*ctx, level), what);
            // Dropping in two steps is dropping once.
            expect_same_key(full.keys.at(element).at_level(*ctx, level).at_level(*ctx, 0),
                            full.keys.at(element).at_level(*ctx, 0), what + ", two steps");
        }
        KeyGenerator full_gen(ctx, math::test_only_seed(39));
        KeyGenerator levelled_gen(ctx, math::test_only_seed(39));
        const RelinearizationKey rk_full = full_gen.relinearization_key();
        const RelinearizationKey rk = levelled_gen.relinearization_key(level);
        expect_same_key(rk.key, rk_full.at_level(*ctx, level).key,
                        "relinearization level " + std::to_string(level));
    }
}

// Key switching with a key dropped to any level >= the ciphertext's gives the same words as
// with the top-level key, in every form the evaluator has; the results also match the plaintext.
TEST_P(LevelledKeys, KeySwitchingWithADroppedKeyIsBitExact) {
    const std::vector<int> steps = {1, -3, 100};
    CkksSetup s(params(), steps, true, 41);
    const Context& ctx = *s.context;
    const auto values = random_complex(ctx.max_slots(), 42);
    const Evaluator& full = *s.evaluator;
    for (int ct_level = ctx.max_level(); ct_level >= 0; --ct_level) {
        const Ciphertext ct = s.encrypt(values, ct_level);
        const Ciphertext product = full.multiply(ct, ct);
        const Ciphertext rotated = full.rotate(ct, 1);
        const auto hoisted_full = full.rotate_hoisted(ct, steps);
        const HoistedCiphertext h_full = full.hoist(ct);
        const ExtendedCiphertext lazy_full = full.rotate_lazy(h_full, -3);
        const ExtendedCiphertext lazy2_full = full.rotate_lazy(lazy_full, 100);
        const Ciphertext conj_full = full.conjugate(ct);
        const Ciphertext conj_h_full = full.conjugate(h_full);
        const Ciphertext relin_full = full.relinearize(product);
        for (int key_level = ct_level; key_level <= ctx.max_level(); ++key_level) {
            auto keys = std::make_shared<EvaluationKeys>();
            keys->relinearization = s.keys->relinearization->at_level(ctx, key_level);
            keys->galois.parameter_hash = s.keys->galois.parameter_hash;
            for (const auto& [element, key] : s.keys->galois.keys)
                keys->galois.keys.emplace(element, key.at_level(ctx, key_level));
            if (key_level < ctx.max_level()) {
                EXPECT_LT(keys->galois.bytes(), s.keys->galois.bytes());
            }
            const Evaluator ev(s.context, keys);
            const std::string at = "ciphertext level " + std::to_string(ct_level) + ", key level " +
                                   std::to_string(key_level);
            EXPECT_TRUE(same(ev.rotate(ct, 1), rotated)) << at;
            const auto hoisted = ev.rotate_hoisted(ct, steps);
            for (std::size_t i = 0; i < steps.size(); ++i)
                EXPECT_TRUE(same(hoisted[i], hoisted_full[i])) << at << ", step " << steps[i];
            const HoistedCiphertext h = ev.hoist(ct);
            EXPECT_TRUE(same(ev.rotate(h, 100), full.rotate(h_full, 100))) << at;
            const ExtendedCiphertext lazy = ev.rotate_lazy(h, -3);
            EXPECT_TRUE(same(lazy, lazy_full)) << at;
            EXPECT_TRUE(same(ev.rotate_lazy(lazy, 100), lazy2_full)) << at;
            EXPECT_TRUE(same(ev.conjugate(ct), conj_full)) << at;
            EXPECT_TRUE(same(ev.conjugate(h), conj_h_full)) << at;
            EXPECT_TRUE(same(ev.relinearize(product), relin_full)) << at;
        }
        // And against the plaintext: the rotation and the square are right.
        HENN_EXPECT_PRECISION(s.decrypt(rotated), rotate_left(values, 1), 18.0, 21.0);
        std::vector<Complex> squares(values.size());
        for (std::size_t i = 0; i < values.size(); ++i) squares[i] = values[i] * values[i];
        if (ct_level > 0) {
            HENN_EXPECT_PRECISION(s.decrypt(full.rescale(relin_full)), squares, 18.0, 21.0);
        }
    }
}

// A key one level below the ciphertext: refused before any work, with a LevelError naming the
// key (step and Galois element, or relinearization/conjugation) and both levels.
TEST_P(LevelledKeys, AKeyBelowTheCiphertextIsRefusedNamingIt) {
    CkksSetup s(params(), {}, false, 43);
    const Context& ctx = *s.context;
    const int key_level = ctx.max_level() - 1;
    auto keys = std::make_shared<EvaluationKeys>();
    keys->relinearization = s.keygen->relinearization_key(key_level);
    keys->galois = s.keygen->levelled_galois_keys({{5, key_level}}, true, key_level);
    const Evaluator ev(s.context, keys);
    const auto values = random_complex(ctx.max_slots(), 44);
    const Ciphertext high = s.encrypt(values);
    const Ciphertext low = s.encrypt(values, key_level);
    const std::string element = std::to_string(ctx.galois_element_for_rotation(5));
    const std::string conj = std::to_string(ctx.galois_element_for_conjugation());
    const std::string key_says = "levels up to " + std::to_string(key_level);
    const std::string ct_says = "ciphertext is at level " + std::to_string(ctx.max_level());
    auto expect_refused = [&](const char* what, const auto& call,
                              const std::vector<std::string>& names) {
        try {
            call();
            ADD_FAILURE() << what << ": a key below the ciphertext was accepted";
        } catch (const LevelError& e) {
            const std::string m = e.what();
            for (const auto& n : names) EXPECT_TRUE(contains(m, n)) << what << ": " << m;
            EXPECT_TRUE(contains(m, key_says)) << what << ": " << m;
            EXPECT_TRUE(contains(m, ct_says)) << what << ": " << m;
        }
    };
    const std::vector<std::string> rotation = {"rotation by 5", "Galois element " + element};
    expect_refused(
        "rotate", [&] { (void)ev.rotate(high, 5); }, rotation);
    const std::vector<int> steps = {5};
    expect_refused(
        "rotate_hoisted", [&] { (void)ev.rotate_hoisted(high, steps); }, rotation);
    const HoistedCiphertext h = ev.hoist(high);  // hoisting needs no key
    expect_refused(
        "rotate (hoisted)", [&] { (void)ev.rotate(h, 5); }, rotation);
    expect_refused(
        "rotate_lazy", [&] { (void)ev.rotate_lazy(h, 5); }, rotation);
    expect_refused(
        "rotate_lazy (extended)", [&] { (void)ev.rotate_lazy(ev.extend(high), 5); }, rotation);
    const std::vector<std::string> conjugation = {"conjugation", "Galois element " + conj};
    expect_refused(
        "conjugate", [&] { (void)ev.conjugate(high); }, conjugation);
    expect_refused(
        "conjugate (hoisted)", [&] { (void)ev.conjugate(h); }, conjugation);
    expect_refused("relinearize", [&] { (void)ev.relinearize(ev.multiply(high, high)); },
                   {"relinearization key"});
    expect_refused("multiply_relin", [&] { (void)ev.multiply_relin(high, high); },
                   {"relinearization key"});
    // At its level the same key works, and is right.
    HENN_EXPECT_PRECISION(s.decrypt(ev.rotate(low, 5)), rotate_left(values, 5), 18.0, 21.0);
    EXPECT_NO_THROW((void)ev.conjugate(low));
    EXPECT_NO_THROW((void)ev.square_relin(low));
}

INSTANTIATE_TEST_SUITE_P(Chains, LevelledKeys,
                         ::testing::Values(Chain{2, 1, false}, Chain{4, 2, true}),
                         [](const ::testing::TestParamInfo<Chain>& info) {
                             return "levels" + std::to_string(info.param.levels) + "_specials" +
                                    std::to_string(info.param.special);
                         });

TEST(LevelledKeysApi, LevelsOutOfRangeAndMalformedKeysAreRefused) {
    CkksSetup s(toy_params(), {1}, false, 45);
    const Context& ctx = *s.context;
    const KeySwitchKey& key = s.keys->galois.keys.begin()->second;
    EXPECT_THROW((void)key.at_level(ctx, ctx.max_level() + 1), LevelError);
    EXPECT_THROW((void)key.at_level(ctx, -1), LevelError);
    EXPECT_THROW((void)key.at_level(ctx, 0).at_level(ctx, 1), LevelError);  // cannot grow back
    KeySwitchKey broken = key;
    broken.a.pop_back();
    EXPECT_THROW((void)broken.at_level(ctx, 0), MismatchError);
    EXPECT_THROW((void)KeySwitchKey{}.at_level(ctx, 0), MismatchError);
    EXPECT_THROW((void)s.keygen->levelled_galois_keys({{1, ctx.max_level() + 1}}), LevelError);
    EXPECT_THROW((void)s.keygen->levelled_galois_keys({{1, -2}}), LevelError);
    EXPECT_THROW((void)s.keygen->relinearization_key(ctx.max_level() + 1), LevelError);
    // An evaluator given a key whose digits disagree refuses it instead of reading past it.
    auto keys = std::make_shared<EvaluationKeys>(*s.keys);
    keys->galois.keys.begin()->second.b.back() = RnsPoly(ctx.n(), 1);
    const Evaluator ev(s.context, keys);
    EXPECT_THROW((void)ev.rotate(s.encrypt(random_complex(4, 46)), 1), MismatchError);
}

// Steps that share a Galois element get the higher level; adding keys raises a key held too low
// and keeps one held high enough.
TEST(LevelledKeysApi, SharedElementsAndAddedKeysKeepTheHigherLevel) {
    const ContextPtr ctx = Context::create(chain(2, 1, false));
    KeyGenerator keygen(ctx, math::test_only_seed(47));
    const int half = static_cast<int>(ctx->max_slots());
    GaloisKeys keys = keygen.levelled_galois_keys({{2, 0}, {2 + half, 1}});  // one element
    ASSERT_EQ(keys.keys.size(), 1u);
    const u64 element = ctx->galois_element_for_rotation(2);
    EXPECT_EQ(keys.keys.at(element).level(*ctx), 1);
    keygen.add_levelled_galois_keys(keys, {{2, 0}, {3, 0}});
    EXPECT_EQ(keys.keys.at(element).level(*ctx), 1);  // kept
    EXPECT_EQ(keys.keys.at(ctx->galois_element_for_rotation(3)).level(*ctx), 0);
    keygen.add_galois_keys(keys, {3});  // the top level: made again
    EXPECT_EQ(keys.keys.at(ctx->galois_element_for_rotation(3)).level(*ctx), ctx->max_level());
    EXPECT_EQ(keys.bytes(), switch_key_bytes(*ctx, 1) + switch_key_bytes(*ctx));
}

// ----- serialization -----

EvaluationKeys mixed_bundle(KeyGenerator& keygen, const Context& ctx) {
    EvaluationKeys keys;
    keys.relinearization = keygen.relinearization_key(0);
    keys.galois = keygen.levelled_galois_keys({{1, 0}, {2, ctx.max_level()}, {-1, 0}}, true, 0);
    return keys;
}

void expect_same_bundle(const EvaluationKeys& a, const EvaluationKeys& b) {
    ASSERT_EQ(a.relinearization.has_value(), b.relinearization.has_value());
    if (a.relinearization) {
        EXPECT_EQ(a.relinearization->key.b, b.relinearization->key.b);
        EXPECT_EQ(a.relinearization->key.a, b.relinearization->key.a);
    }
    ASSERT_EQ(a.galois.keys.size(), b.galois.keys.size());
    for (const auto& [element, key] : a.galois.keys) {
        ASSERT_TRUE(b.galois.has(element)) << element;
        EXPECT_EQ(key.b, b.galois.keys.at(element).b) << element;
        EXPECT_EQ(key.a, b.galois.keys.at(element).a) << element;
    }
}

TEST(LevelledKeysFormat, RoundTripsAsVersion2AndFullKeysStayVersion1) {
    CkksSetup s(chain(2, 1, false), {}, false, 48);
    const Context& ctx = *s.context;
    const EvaluationKeys keys = mixed_bundle(*s.keygen, ctx);
    for (auto compression : {Compression::kNone, Compression::kZstd}) {
        for (bool seeded : {false, true}) {
            const SaveOptions o{compression, 1, seeded};
            const auto bundle = save(ctx, keys, o);
            EXPECT_EQ(read_header(bundle).version, kLevelledKeysFormatVersion);
            EXPECT_EQ(read_header(bundle).seeded, seeded);
            expect_same_bundle(keys, load_evaluation_keys(ctx, bundle));
            const auto galois = save(ctx, keys.galois, o);
            EXPECT_EQ(read_header(galois).version, kLevelledKeysFormatVersion);
            EvaluationKeys only_galois;
            only_galois.galois = load_galois_keys(ctx, galois);
            EvaluationKeys expected_galois;
            expected_galois.galois = keys.galois;
            expect_same_bundle(expected_galois, only_galois);
            const auto relin = save(ctx, *keys.relinearization, o);
            EXPECT_EQ(read_header(relin).version, kLevelledKeysFormatVersion);
            const RelinearizationKey rk = load_relinearization_key(ctx, relin);
            EXPECT_EQ(rk.key.level(ctx), 0);
            EXPECT_EQ(rk.key.b, keys.relinearization->key.b);
            EXPECT_EQ(rk.key.a, keys.relinearization->key.a);
        }
    }
    // Seeded, a levelled key re-expands to the limbs of the top-level key made from the same
    // seed (streams per prime index), so the seeded blob is about half the unseeded one.
    const auto seeded = save(ctx, keys, {Compression::kNone, 1, true});
    const auto unseeded = save(ctx, keys, {Compression::kNone, 1, false});
    EXPECT_LT(seeded.size() * 10, unseeded.size() * 6);
    // Keys all at the top level keep version 1 (the bytes older builds read).
    EXPECT_EQ(read_header(save(ctx, s.keygen->galois_keys({1}))).version, kFormatVersion);
    EXPECT_EQ(read_header(save(ctx, s.keygen->relinearization_key())).version, kFormatVersion);
    // Smaller than the same keys at the top level.
    EvaluationKeys top;
    top.relinearization = s.keygen->relinearization_key();
    top.galois = s.keygen->galois_keys({1, 2, -1}, true);
    EXPECT_LT(save(ctx, keys).size() * 2, save(ctx, top).size());
}

TEST(LevelledKeysFormat, ASeededLevelledKeyExpandsToTheDroppedTopLevelKey) {
    const ContextPtr ctx = Context::create(chain(4, 2, true));
    KeyGenerator a(ctx, math::test_only_seed(49));
    const GaloisKeys top = a.galois_keys({7});
    for (int level = 0; level < ctx->max_level(); ++level) {
        KeyGenerator again(ctx, math::test_only_seed(49));
        const GaloisKeys levelled = again.levelled_galois_keys({{7, level}});
        const GaloisKeys loaded = load_galois_keys(*ctx, save(*ctx, levelled));  // seeded, zstd
        ASSERT_EQ(read_header(save(*ctx, levelled)).seeded, true);
        const KeySwitchKey& key = loaded.keys.begin()->second;
        expect_same_key(key, top.keys.begin()->second.at_level(*ctx, level),
                        "level " + std::to_string(level));
    }
}

TEST(LevelledKeysFormat, DamagedLevelsAndVersionsAreRefused) {
    CkksSetup s(toy_params(), {}, false, 50);
    const Context& ctx = *s.context;
    GaloisKeys gk = s.keygen->levelled_galois_keys({{1, 0}});
    const auto blob = save(ctx, gk, {Compression::kNone, 1, false});
    ASSERT_EQ(read_header(blob).version, kLevelledKeysFormatVersion);
    // Payload: u32 count, u64 element, u32 level, u32 digits, ...
    const std::size_t level_at = kHeaderSize + 4 + 8, digits_at = level_at + 4;
    auto refused = [&](std::vector<std::uint8_t> bytes, const std::string& part) {
        try {
            (void)load_galois_keys(ctx, bytes);
            ADD_FAILURE() << "accepted; expected an error mentioning '" << part << "'";
        } catch (const SerializationError& e) {
            EXPECT_TRUE(contains(e.what(), part)) << e.what();
        }
    };
    auto above = blob;
    above[level_at] = static_cast<std::uint8_t>(ctx.max_level() + 1);
    refused(above, "above the top level");
    auto higher = blob;  // level 1 with the digits and limbs of level 0
    higher[level_at] = 1;
    refused(higher, "digits");
    auto more_digits = blob;
    more_digits[digits_at] = 2;
    refused(more_digits, "digits");
    // A version-1 key set read as version 2 and the other way round: refused, not misread.
    auto as_v1 = blob;
    as_v1[4] = 1;
    EXPECT_THROW((void)load_galois_keys(ctx, as_v1), SerializationError);
    auto full = save(ctx, s.keygen->galois_keys({1}), {Compression::kNone, 1, false});
    ASSERT_EQ(read_header(full).version, kFormatVersion);
    full[4] = 2;
    EXPECT_THROW((void)load_galois_keys(ctx, full), SerializationError);
    // Version 2 holds keys only.
    auto ct = save(ctx, s.encrypt(random_complex(4, 51)), {Compression::kNone, 1, false});
    ct[4] = 2;
    refused(ct, "key-switching keys only");
    auto v3 = blob;
    v3[4] = 3;
    refused(v3, "unsupported format version 3");
    // Saving a key whose limbs disagree with its digits is refused.
    GaloisKeys bad = gk;
    bad.keys.begin()->second.a.push_back(bad.keys.begin()->second.a[0]);
    EXPECT_THROW((void)save(ctx, bad), MismatchError);
}

// The bundle's truncation and corruption regressions, on a bundle mixing levelled and full keys.
TEST(LevelledKeysFormat, EveryTruncationAndRandomCorruptionIsRefusedOrHarmless) {
    CkksSetup s(toy_params(), {}, false, 52);
    const Context& ctx = *s.context;
    const EvaluationKeys keys = mixed_bundle(*s.keygen, ctx);
    std::mt19937_64 rng(53);
    int rejected = 0, trials = 0;
    for (auto compression : {Compression::kNone, Compression::kZstd}) {
        for (bool seeded : {false, true}) {
            const auto blob = save(ctx, keys, {compression, 1, seeded});
            ASSERT_NO_THROW((void)load_evaluation_keys(ctx, blob));
            for (std::size_t len = 0; len < blob.size(); len += (len < 96 ? 1 : 41)) {
                EXPECT_THROW((void)load_evaluation_keys(ctx, std::span(blob).first(len)),
                             SerializationError)
                    << "prefix of " << len << " bytes";
            }
            for (int trial = 0; trial < 150; ++trial, ++trials) {
                const auto bad = henn::test::with_flipped_bits(blob, 96, rng);
                try {
                    const EvaluationKeys loaded = load_evaluation_keys(ctx, bad);
                    // Accepted: every key is still well formed for the evaluator.
                    for (const auto& [element, key] : loaded.galois.keys) {
                        EXPECT_GE(key.level(ctx), 0);
                        EXPECT_EQ(key.b.size(), ctx.digit_count(key.level(ctx)));
                    }
                } catch (const SerializationError&) {
                    ++rejected;
                }
            }
        }
    }
    EXPECT_GT(rejected, trials / 2) << rejected << " of " << trials << " corrupted bundles refused";
}

}  // namespace

// A switching key from one secret to another (KeyGenerator::switching_key, Evaluator::switch_key):
// a ciphertext under s_1 decrypts under s_2 afterwards to the same values (key-switching noise
// only), at the key's level and below; the first secret no longer decrypts it; a ciphertext above
// the key's level is refused.
TEST(SwitchingKey, MovesACiphertextToAnotherSecret) {
    auto ctx = Context::create(chain(3, 1, true));  // TOY, INSECURE: the algebra only
    KeyGenerator first(ctx, math::test_only_seed(71)), second(ctx, math::test_only_seed(72));
    Encoder encoder(ctx);
    Encryptor encryptor(ctx, first.secret_key());
    encryptor.use_test_only_seed(math::test_only_seed(73));
    Decryptor under_first(ctx, first.secret_key()), under_second(ctx, second.secret_key());
    const Evaluator ev(ctx);
    const auto values = random_complex(ctx->max_slots(), 74);
    const KeySwitchKey key = second.switching_key(first.secret_key(), 2);
    for (int level : {2, 1, 0}) {
        const Ciphertext ct = encryptor.encrypt(encoder.encode(values, level));
        const Ciphertext moved = ev.switch_key(ct, key);
        EXPECT_EQ(moved.level, level);
        EXPECT_EQ(moved.scale, ct.scale);
        HENN_EXPECT_PRECISION(encoder.decode(under_second.decrypt(moved)), values, 20, 24);
        const auto garbage = encoder.decode(under_first.decrypt(moved));
        EXPECT_GT(std::abs(garbage[0] - values[0]) + std::abs(garbage[1] - values[1]), 1.0);
    }
    const Ciphertext top = encryptor.encrypt(encoder.encode(values));
    EXPECT_THROW((void)ev.switch_key(top, key), LevelError);
    auto other = Context::create(chain(2, 1, true));
    EXPECT_THROW((void)second.switching_key(KeyGenerator(other).secret_key()), MismatchError);
}
