// The evaluation-key bundle (ObjectType::kEvaluationKeys): relinearization and Galois keys saved
// and loaded as one blob. Round trips in every mode, the loaded keys still relinearize, rotate and
// conjugate (against a plaintext reference), and truncated or corrupted bundles are refused with a
// SerializationError, never a crash.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "ckks_fixture.hpp"
#include "henn/ckks/errors.hpp"
#include "henn/ckks/serialization.hpp"

using namespace henn;
using namespace henn::ckks;
using test::CkksSetup;
using test::Complex;
using test::random_complex;
using test::toy_params;

namespace {

ParametersLiteral small_params() {
    ParametersLiteral lit;
    lit.log_n = 13;
    lit.log_q = {50, 40};
    lit.log_p = {55};
    return lit;
}

void expect_same_keys(const EvaluationKeys& a, const EvaluationKeys& b) {
    ASSERT_EQ(a.relinearization.has_value(), b.relinearization.has_value());
    if (a.relinearization) {
        EXPECT_EQ(a.relinearization->key.b, b.relinearization->key.b);
        EXPECT_EQ(a.relinearization->key.a, b.relinearization->key.a);
        EXPECT_EQ(a.relinearization->parameter_hash, b.relinearization->parameter_hash);
    }
    ASSERT_EQ(a.galois.keys.size(), b.galois.keys.size());
    for (const auto& [element, key] : a.galois.keys) {
        ASSERT_TRUE(b.galois.has(element)) << "Galois element " << element;
        EXPECT_EQ(key.b, b.galois.keys.at(element).b);
        EXPECT_EQ(key.a, b.galois.keys.at(element).a);
    }
}

TEST(EvaluationKeysBundle, RoundTripsInEveryModeAndTheKeysStillWork) {
    CkksSetup s(small_params(), {1, -3}, true, 21);
    const Context& ctx = *s.context;
    ASSERT_TRUE(s.keys->relinearization.has_value());
    ASSERT_EQ(s.keys->galois.keys.size(), 3u);  // steps 1, -3 and conjugation
    std::size_t seeded_size = 0, full_size = 0;
    for (auto compression : {Compression::kNone, Compression::kZstd}) {
        for (bool seeded : {false, true}) {
            const auto blob = save(ctx, *s.keys, {compression, 3, seeded});
            const BlobHeader h = read_header(blob);
            EXPECT_EQ(h.type, ObjectType::kEvaluationKeys);
            EXPECT_EQ(h.seeded, seeded);
            EXPECT_EQ(h.parameter_hash, ctx.parameter_hash());
            const EvaluationKeys back = load_evaluation_keys(ctx, blob);
            expect_same_keys(*s.keys, back);
            if (compression == Compression::kNone) (seeded ? seeded_size : full_size) = blob.size();
        }
    }
    // The seeded form stores each key's uniform half as a seed: about half the size.
    EXPECT_LT(seeded_size * 10, full_size * 6);

    // Loaded keys relinearize, rotate and conjugate like the originals: conj(rot(x^2, 1)) and
    // rot(x, -3).
    auto keys = std::make_shared<EvaluationKeys>(load_evaluation_keys(ctx, save(ctx, *s.keys)));
    const Evaluator ev(s.context, keys);
    const auto v = random_complex(ctx.max_slots(), 22);
    const auto ct = s.encrypt(v);
    const auto squared = ev.conjugate(ev.rotate(ev.rescale(ev.square_relin(ct)), 1));
    const auto rotated = ev.rotate(ct, -3);
    const std::size_t n = v.size();
    std::vector<Complex> expected_squared(n), expected_rotated(n);
    for (std::size_t i = 0; i < n; ++i) {
        expected_squared[i] = std::conj(v[(i + 1) % n] * v[(i + 1) % n]);
        expected_rotated[i] = v[(i + n - 3) % n];
    }
    HENN_EXPECT_PRECISION(s.decrypt(squared), expected_squared, 18.0, 21.0);
    HENN_EXPECT_PRECISION(s.decrypt(rotated), expected_rotated, 18.0, 21.0);
}

TEST(EvaluationKeysBundle, WithoutARelinearizationKeyOrWithoutGaloisKeys) {
    CkksSetup s(toy_params(), {2}, false, 23);
    const Context& ctx = *s.context;
    EvaluationKeys galois_only;
    galois_only.galois = s.keys->galois;
    const EvaluationKeys back = load_evaluation_keys(ctx, save(ctx, galois_only));
    EXPECT_FALSE(back.relinearization.has_value());
    expect_same_keys(galois_only, back);

    EvaluationKeys relin_only;
    relin_only.relinearization = s.keys->relinearization;
    const EvaluationKeys back2 = load_evaluation_keys(ctx, save(ctx, relin_only));
    EXPECT_TRUE(back2.galois.keys.empty());
    expect_same_keys(relin_only, back2);

    // Nothing at all is a valid (empty) bundle too.
    const EvaluationKeys none = load_evaluation_keys(ctx, save(ctx, EvaluationKeys{}));
    EXPECT_FALSE(none.relinearization.has_value());
    EXPECT_TRUE(none.galois.keys.empty());
}

TEST(EvaluationKeysBundle, OtherObjectsOtherParametersAndBadFlagsAreRefused) {
    CkksSetup s(toy_params(), {1}, true, 24);
    const Context& ctx = *s.context;
    // A Galois-key blob is not a bundle, nor the other way round.
    EXPECT_THROW(load_evaluation_keys(ctx, save(ctx, s.keys->galois)), SerializationError);
    const auto blob = save(ctx, *s.keys, {Compression::kNone, 1, false});
    EXPECT_THROW(load_galois_keys(ctx, blob), SerializationError);
    // Other parameters.
    ParametersLiteral other = toy_params();
    other.log_q = {40, 31};
    CkksSetup t(other, {}, false, 25);
    EXPECT_THROW(load_evaluation_keys(*t.context, blob), SerializationError);
    // The relinearization flag is the first payload byte: only 0 and 1 mean something.
    auto bad_flag = blob;
    bad_flag[kHeaderSize] = 2;
    try {
        (void)load_evaluation_keys(ctx, bad_flag);
        FAIL() << "a relinearization flag of 2 was accepted";
    } catch (const SerializationError& e) {
        EXPECT_NE(std::string(e.what()).find("relinearization-key flag"), std::string::npos)
            << e.what();
    }
    // Flag 0 with the key still there: trailing bytes.
    auto dropped_flag = blob;
    dropped_flag[kHeaderSize] = 0;
    EXPECT_THROW(load_evaluation_keys(ctx, dropped_flag), SerializationError);
    // An unknown object type just above the last one.
    auto bad_type = blob;
    bad_type[6] = static_cast<std::uint8_t>(static_cast<std::uint16_t>(kLastObjectType) + 1);
    try {
        (void)load_evaluation_keys(ctx, bad_type);
        FAIL() << "an unknown object type was accepted";
    } catch (const SerializationError& e) {
        EXPECT_NE(std::string(e.what()).find("unknown object type"), std::string::npos) << e.what();
    }
}

TEST(EvaluationKeysBundle, EveryTruncationIsRefused) {
    CkksSetup s(toy_params(), {1, 2}, true, 26);
    const Context& ctx = *s.context;
    for (auto compression : {Compression::kNone, Compression::kZstd}) {
        for (bool seeded : {false, true}) {
            const auto blob = save(ctx, *s.keys, {compression, 1, seeded});
            ASSERT_NO_THROW(load_evaluation_keys(ctx, blob));
            for (std::size_t len = 0; len < blob.size(); len += (len < 64 ? 1 : 53)) {
                EXPECT_THROW(load_evaluation_keys(ctx, std::span(blob).first(len)),
                             SerializationError)
                    << "prefix of " << len << " bytes";
            }
        }
    }
}

TEST(EvaluationKeysBundle, RandomCorruptionIsRefusedOrHarmlessNeverACrash) {
    CkksSetup s(toy_params(), {1, 2}, true, 27);
    const Context& ctx = *s.context;
    std::mt19937_64 rng(28);
    int rejected = 0, trials = 0;
    for (auto compression : {Compression::kNone, Compression::kZstd}) {
        for (bool seeded : {false, true}) {
            const auto blob = save(ctx, *s.keys, {compression, 1, seeded});
            for (int trial = 0; trial < 150; ++trial, ++trials) {
                const auto bad = henn::test::with_flipped_bits(blob, 80, rng);
                try {
                    (void)load_evaluation_keys(ctx, bad);
                } catch (const SerializationError&) {
                    ++rejected;
                }
            }
        }
    }
    // Flips in residues below their prime go unnoticed (there is no checksum); most others not.
    EXPECT_GT(rejected, trials / 2) << rejected << " of " << trials << " corrupted bundles refused";
}

}  // namespace
