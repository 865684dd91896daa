#include <gtest/gtest.h>

#include <random>

#include "ckks_fixture.hpp"
#include "henn/ckks/errors.hpp"
#include "henn/ckks/serialization.hpp"

using namespace henn;
using namespace henn::ckks;
using test::CkksSetup;
using test::Complex;
using test::random_complex;

namespace {

ParametersLiteral small_params() {
    ParametersLiteral lit;
    lit.log_n = 13;
    lit.log_q = {50, 40};
    lit.log_p = {55};
    return lit;
}

class Serialization : public ::testing::Test {
  protected:
    Serialization() : s_(small_params(), {1, 2}, true, 9) {}
    CkksSetup s_;
};

TEST_F(Serialization, ParametersRoundTrip) {
    for (auto compression : {Compression::kNone, Compression::kZstd}) {
        auto blob = save_parameters(*s_.context, {compression});
        auto ctx = load_parameters(blob);
        EXPECT_EQ(ctx->parameter_hash(), s_.context->parameter_hash());
        EXPECT_EQ(ctx->max_level(), s_.context->max_level());
    }
}

TEST_F(Serialization, InsecureParametersNeedTheOptOutOnLoad) {
    ParametersLiteral lit;
    lit.log_n = 12;
    lit.log_q = {60, 60};
    lit.log_p = {60};
    lit.allow_insecure = true;
    auto blob = save_parameters(*Context::create(lit));
    EXPECT_THROW(load_parameters(blob), SerializationError);
    LoadOptions opt;
    opt.allow_insecure_parameters = true;
    EXPECT_TRUE(load_parameters(blob, opt)->insecure());
}

TEST_F(Serialization, CiphertextRoundTripsAllModes) {
    auto v = random_complex(s_.context->max_slots(), 1);
    Encryptor symmetric(s_.context, s_.keygen->secret_key());
    auto seeded_ct = symmetric.encrypt(s_.encoder->encode(v));
    auto public_ct = s_.encrypt(v);
    for (const Ciphertext* ct : {&seeded_ct, &public_ct}) {
        for (auto compression : {Compression::kNone, Compression::kZstd}) {
            for (bool seeded : {false, true}) {
                SaveOptions opt{compression, 3, seeded};
                auto blob = save(*s_.context, *ct, opt);
                auto back = load_ciphertext(*s_.context, blob);
                EXPECT_EQ(back.polys, ct->polys);
                EXPECT_EQ(back.level, ct->level);
                EXPECT_EQ(back.scale, ct->scale);
                EXPECT_EQ(back.slots, ct->slots);
                EXPECT_EQ(read_header(blob).seeded, seeded && ct == &seeded_ct);
            }
        }
    }
    // The seeded form is about half the size.
    auto full = save(*s_.context, seeded_ct, {Compression::kNone, 3, false});
    auto half = save(*s_.context, seeded_ct, {Compression::kNone, 3, true});
    EXPECT_LT(half.size() * 10, full.size() * 6);
    // Once c1 changes, the seed is no longer used.
    auto changed = s_.evaluator->add(seeded_ct, seeded_ct);
    EXPECT_FALSE(read_header(save(*s_.context, changed)).seeded);
    auto rescaled =
        s_.evaluator->rescale(s_.evaluator->multiply_plain(seeded_ct, s_.encoder->encode(v)));
    rescaled.c1_seed = seeded_ct.c1_seed;  // as a careless operation might leave it
    EXPECT_FALSE(read_header(save(*s_.context, rescaled)).seeded);
    EXPECT_EQ(load_ciphertext(*s_.context, save(*s_.context, rescaled)).polys, rescaled.polys);
    // Fewer limbs of the same expansion are still its seed's.
    auto dropped = s_.evaluator->drop_level(seeded_ct, 0);
    dropped.c1_seed = seeded_ct.c1_seed;
    EXPECT_EQ(load_ciphertext(*s_.context, save(*s_.context, dropped)).polys, dropped.polys);
    // A size-3 ciphertext at a lower level.
    auto c3 = s_.evaluator->multiply(s_.evaluator->drop_level(public_ct, 0),
                                     s_.evaluator->drop_level(public_ct, 0));
    EXPECT_EQ(load_ciphertext(*s_.context, save(*s_.context, c3)).polys, c3.polys);
}

TEST_F(Serialization, KeysRoundTripAndStillWork) {
    auto v = random_complex(s_.context->max_slots(), 2);
    auto sk = load_secret_key(*s_.context, save(*s_.context, s_.keygen->secret_key()));
    EXPECT_EQ(sk.poly(), s_.keygen->secret_key().poly());
    auto pk = load_public_key(*s_.context, save(*s_.context, s_.keygen->public_key()));
    auto rk_blob = save(*s_.context, *s_.keys->relinearization);
    auto rk_full = save(*s_.context, *s_.keys->relinearization, {Compression::kNone, 3, false});
    EXPECT_TRUE(read_header(rk_blob).seeded);
    EXPECT_LT(rk_blob.size() * 10, rk_full.size() * 6);
    auto rk = load_relinearization_key(*s_.context, rk_blob);
    EXPECT_EQ(rk.key.b, s_.keys->relinearization->key.b);
    EXPECT_EQ(rk.key.a, s_.keys->relinearization->key.a);
    auto gk = load_galois_keys(*s_.context, save(*s_.context, s_.keys->galois));
    ASSERT_EQ(gk.keys.size(), s_.keys->galois.keys.size());

    auto keys = std::make_shared<EvaluationKeys>();
    keys->relinearization = rk;
    keys->galois = gk;
    Evaluator ev(s_.context, keys);
    Encryptor enc(s_.context, pk);
    Decryptor dec(s_.context, sk);
    auto ct = enc.encrypt(s_.encoder->encode(v));
    auto r = ev.rotate(ev.rescale(ev.square_relin(ct)), 1);
    std::vector<Complex> expected(v.size());
    for (std::size_t i = 0; i < v.size(); ++i)
        expected[i] = v[(i + 1) % v.size()] * v[(i + 1) % v.size()];
    HENN_EXPECT_PRECISION(s_.encoder->decode(dec.decrypt(r)), expected, 20.0, 23.0);
}

TEST_F(Serialization, PlaintextRoundTrip) {
    auto pt = s_.encoder->encode(random_complex(64, 3), 0, 0, 64);
    auto back = load_plaintext(*s_.context, save(*s_.context, pt));
    EXPECT_EQ(back.poly, pt.poly);
    EXPECT_EQ(back.slots, 64u);
}

TEST_F(Serialization, WrongTypeParametersVersionAndTrailingBytesAreRejected) {
    auto ct = s_.encrypt(random_complex(8, 4));
    auto blob = save(*s_.context, ct);
    EXPECT_THROW(load_plaintext(*s_.context, blob), SerializationError);
    CkksSetup other({13, {50, 41}, {}, {55}, {}, 40}, {}, false);
    EXPECT_THROW(load_ciphertext(*other.context, blob), SerializationError);
    auto bad_version = blob;
    bad_version[4] = 99;
    EXPECT_THROW(load_ciphertext(*s_.context, bad_version), SerializationError);
    auto bad_magic = blob;
    bad_magic[0] = 'X';
    EXPECT_THROW(load_ciphertext(*s_.context, bad_magic), SerializationError);
    auto padded = blob;
    padded.push_back(0);
    EXPECT_THROW(load_ciphertext(*s_.context, padded), SerializationError);
}

TEST_F(Serialization, EveryTruncationIsRejected) {
    auto ct = s_.encrypt(random_complex(8, 5));
    for (auto compression : {Compression::kNone, Compression::kZstd}) {
        auto blob = save(*s_.context, s_.evaluator->drop_level(ct, 0), {compression, 1, true});
        for (std::size_t len = 0; len < blob.size(); len += (len < 64 ? 1 : 97)) {
            std::span<const std::uint8_t> prefix(blob.data(), len);
            EXPECT_THROW(load_ciphertext(*s_.context, prefix), SerializationError)
                << "length " << len;
        }
    }
}

TEST_F(Serialization, RandomCorruptionNeverCrashes) {
    auto ct = s_.evaluator->drop_level(s_.encrypt(random_complex(8, 6)), 0);
    std::mt19937_64 rng(7);
    int rejected = 0;
    for (auto compression : {Compression::kNone, Compression::kZstd}) {
        auto blob = save(*s_.context, ct, {compression, 1, false});
        for (int trial = 0; trial < 300; ++trial) {
            const auto bad = henn::test::with_flipped_bits(blob, 64, rng);
            try {
                (void)load_ciphertext(*s_.context, bad);
            } catch (const SerializationError&) {
                ++rejected;
            }
        }
    }
    EXPECT_GT(rejected, 300);  // most corruptions are detected; none crashed
}

TEST_F(Serialization, UnreducedResiduesAreRejected) {
    auto ct = s_.evaluator->drop_level(s_.encrypt(random_complex(8, 8)), 0);
    auto blob = save(*s_.context, ct, {Compression::kNone, 3, false});
    // Set the first packed residue to all ones: at least q_0 for a 50-bit prime.
    const std::size_t first_residue = kHeaderSize + 4 + 8 + 8 + 1;
    for (std::size_t i = 0; i < 7; ++i) blob[first_residue + i] = 0xff;
    try {
        load_ciphertext(*s_.context, blob);
        FAIL();
    } catch (const SerializationError& e) {
        EXPECT_NE(std::string(e.what()).find("not reduced"), std::string::npos) << e.what();
    }
}

}  // namespace
