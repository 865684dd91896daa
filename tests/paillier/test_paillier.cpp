#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "henn/paillier/encoding.hpp"
#include "henn/paillier/noise.hpp"
#include "henn/paillier/paillier.hpp"
#include "henn/paillier/random.hpp"
#include "test_keys.hpp"

namespace henn::paillier {
namespace {

using testing::test_keys;

// Random signed integers of up to `bits` bits from a fixed seed (plaintext reference values).
mpz_class seeded_integer(std::mt19937_64& rng, unsigned bits) {
    mpz_class v = 0;
    for (unsigned done = 0; done < bits; done += 64)
        v = (v << 64) + mpz_class(std::to_string(rng()));
    mpz_fdiv_r_2exp(v.get_mpz_t(), v.get_mpz_t(), bits);
    return (rng() & 1) ? mpz_class(-v) : v;
}

TEST(PaillierKeys, DefaultIs2048BitsWithEqualSizePrimes) {
    const KeyPair keys = generate_keypair();
    EXPECT_EQ(keys.public_key.modulus_bits(), 2048u);
    EXPECT_EQ(mpz_sizeinbase(keys.public_key.n().get_mpz_t(), 2), 2048u);
    EXPECT_EQ(mpz_sizeinbase(keys.secret_key.p().get_mpz_t(), 2), 1024u);
    EXPECT_EQ(mpz_sizeinbase(keys.secret_key.q().get_mpz_t(), 2), 1024u);
    EXPECT_EQ(keys.secret_key.p() * keys.secret_key.q(), keys.public_key.n());
    const mpz_class m = random_below(keys.public_key.n());
    EXPECT_EQ(keys.secret_key.decrypt(keys.public_key.encrypt(m)), m);
}

TEST(PaillierKeys, RefusesSmallOrOddSizesUnlessTestOnly) {
    EXPECT_THROW(generate_keypair({.modulus_bits = 1024}), PaillierError);
    EXPECT_THROW(generate_keypair({.modulus_bits = 1536, .allow_test_only_sizes = true}),
                 PaillierError);
    EXPECT_THROW(generate_keypair({.modulus_bits = 512, .allow_test_only_sizes = true}),
                 PaillierError);
    EXPECT_TRUE(is_accepted_modulus_size(3072, false));
    EXPECT_FALSE(is_accepted_modulus_size(1024, false));
}

TEST(PaillierKeys, SecretKeyRejectsCompositeOrUnequalFactors) {
    const auto& sk = test_keys().secret_key;
    EXPECT_THROW(SecretKey(sk.p(), sk.p(), 1024), PaillierError);
    EXPECT_THROW(SecretKey(sk.p() + 1, sk.q(), 1024), PaillierError);  // even
    const mpz_class odd_composite = (mpz_class(1) << 511) + 1;         // divisible by 3
    EXPECT_THROW(SecretKey(odd_composite, sk.q(), 1024), PaillierError);
    EXPECT_NO_THROW(SecretKey(sk.p(), sk.q(), 1024));
}

TEST(PaillierKeys, WipeClearsLimbs) {
    mpz_class secret("123456789123456789123456789");
    mp_limb_t* limbs = secret.get_mpz_t()->_mp_d;
    const int allocated = secret.get_mpz_t()->_mp_alloc;
    wipe(secret);
    EXPECT_EQ(secret, 0);
    for (int i = 0; i < allocated; ++i) EXPECT_EQ(limbs[i], 0u);
}

TEST(PaillierEncryption, RoundTripEdgeCases) {
    const auto& [pk, sk] = test_keys();
    const mpz_class n = pk.n();
    for (const mpz_class& m :
         {mpz_class(0), mpz_class(1), mpz_class(n - 1), mpz_class(n / 2), mpz_class(n / 2 + 1)})
        EXPECT_EQ(sk.decrypt(pk.encrypt(m)), m);
    EXPECT_THROW(pk.encrypt(n), PaillierError);
    EXPECT_THROW(pk.encrypt(-1), PaillierError);
    // Signed: the centered range (-n/2, n/2] round-trips.
    const mpz_class half = (n - 1) / 2;
    for (const mpz_class& m : {mpz_class(-1), mpz_class(-half), half, mpz_class(0)})
        EXPECT_EQ(sk.decrypt_signed(pk.encrypt_signed(m)), m);
    EXPECT_THROW(pk.encrypt_signed(half + 1), PaillierError);
}

TEST(PaillierEncryption, BoundedDecryption) {
    const auto& [pk, sk] = test_keys();
    const mpz_class big = (mpz_class(1) << 300) - 1;
    EXPECT_EQ(sk.decrypt_bounded(pk.encrypt(big), 300), big);
    EXPECT_EQ(sk.decrypt_bounded(pk.encrypt(0), 300), 0);
    EXPECT_THROW(sk.decrypt_bounded(pk.encrypt(big + 1), 300), PaillierError);
    EXPECT_THROW(sk.decrypt_bounded(pk.encrypt(pk.n() - 1), 300), PaillierError);  // -1
    EXPECT_THROW(sk.decrypt_bounded(pk.encrypt(1), 511), PaillierError);           // bound >= p
    EXPECT_THROW(sk.decrypt_bounded(pk.encrypt(1), ~0u),
                 PaillierError);  // bits + 1 wraps to 0 in 32 bits
}

TEST(PaillierEncryption, IsRandomized) {
    const auto& [pk, sk] = test_keys();
    const Ciphertext a = pk.encrypt(42), b = pk.encrypt(42);
    EXPECT_NE(a.value, b.value);
    const Ciphertext c = pk.rerandomize(a);
    EXPECT_NE(c.value, a.value);
    EXPECT_EQ(sk.decrypt(c), 42);
}

TEST(PaillierEncryption, HomomorphicOpsMatchPlaintextArithmetic) {
    const auto& [pk, sk] = test_keys();
    std::mt19937_64 rng(1234);
    for (int trial = 0; trial < 40; ++trial) {
        const mpz_class a = seeded_integer(rng, 400), b = seeded_integer(rng, 400);
        const mpz_class k = seeded_integer(rng, 1 + rng() % 100);
        const Ciphertext ca = pk.encrypt_signed(a), cb = pk.encrypt_signed(b);
        EXPECT_EQ(sk.decrypt_signed(pk.add(ca, cb)), a + b);
        EXPECT_EQ(sk.decrypt_signed(pk.sub(ca, cb)), a - b);
        EXPECT_EQ(sk.decrypt_signed(pk.negate(ca)), -a);
        EXPECT_EQ(sk.decrypt_signed(pk.add_plain(ca, k)), a + k);
        EXPECT_EQ(sk.decrypt_signed(pk.mul_plain(ca, k)), a * k);
    }
    // Wrap-around is modular, as the scheme defines it: (n-1) + 1 = 0.
    EXPECT_EQ(sk.decrypt(pk.add(pk.encrypt(pk.n() - 1), pk.encrypt(1))), 0);
    EXPECT_EQ(sk.decrypt(pk.mul_plain(pk.encrypt(5), 0)), 0);
}

TEST(PaillierEncryption, LinearCombinationMatchesNaive) {
    const auto& [pk, sk] = test_keys();
    std::mt19937_64 rng(99);
    std::vector<Ciphertext> terms;
    std::vector<mpz_class> values, coefficients;
    mpz_class expected = 0;
    for (int i = 0; i < 12; ++i) {
        values.push_back(seeded_integer(rng, 60));
        coefficients.push_back(i == 3 ? mpz_class(0) : seeded_integer(rng, 70));
        terms.push_back(pk.encrypt_signed(values.back()));
        expected += values.back() * coefficients.back();
    }
    EXPECT_EQ(sk.decrypt_signed(pk.linear_combination(terms, coefficients)), expected);
    coefficients.pop_back();
    EXPECT_THROW(pk.linear_combination(terms, coefficients), PaillierError);
}

TEST(PaillierEncryption, DecryptRejectsMalformedCiphertexts) {
    const auto& [pk, sk] = test_keys();
    EXPECT_THROW(sk.decrypt(Ciphertext{0}), PaillierError);
    EXPECT_THROW(sk.decrypt(Ciphertext{pk.n_squared()}), PaillierError);
    EXPECT_THROW(sk.decrypt(Ciphertext{sk.p()}), PaillierError);  // shares a factor with n
}

TEST(PaillierNoise, FactorsAreEncryptionsOfZeroAndDistinct) {
    const auto& [pk, sk] = test_keys();
    NoiseSource short_noise(pk.n(), pk.n_squared(), 130);  // a width that is not a multiple of 4
    const mpz_class a = short_noise.next(), b = short_noise.next();
    EXPECT_NE(a, b);
    EXPECT_EQ(sk.decrypt(Ciphertext{a}), 0);
    EXPECT_EQ(sk.decrypt(Ciphertext{pk.noise().next()}), 0);
}

TEST(PaillierRandom, BelowBoundAndCoversRange) {
    const mpz_class bound = 10;
    std::vector<int> seen(10, 0);
    for (int i = 0; i < 400; ++i) {
        const mpz_class r = random_below(bound);
        ASSERT_GE(r, 0);
        ASSERT_LT(r, bound);
        seen[r.get_ui()]++;
    }
    for (int count : seen) EXPECT_GT(count, 10);
    EXPECT_LT(random_bits(7), 128);
    EXPECT_THROW(random_below(0), PaillierError);
}

TEST(FixedPoint, EncodesSignedRealsExactly) {
    const auto& [pk, sk] = test_keys();
    const FixedPointEncoder encoder(pk, 16);
    for (double x : {0.0, 1.0, -1.0, 3.25, -1234.5, 1.0 / 65536, -7.0 / 65536})
        EXPECT_EQ(encoder.decode(sk.decrypt(pk.encrypt(encoder.encode(x)))), x);
    // Rounds to the nearest multiple of 2^-16.
    EXPECT_NEAR(encoder.decode(encoder.encode(0.1)), 0.1, 1.0 / (1 << 17));
    // Products carry twice the scale.
    const Ciphertext product =
        pk.mul_plain(pk.encrypt(encoder.encode(-2.5)), encoder.to_integer(1.5));
    EXPECT_EQ(encoder.decode(sk.decrypt(product), 2), -3.75);
}

TEST(FixedPoint, DetectsOverflowAndNonFinite) {
    const auto& pk = test_keys().public_key;
    const FixedPointEncoder bounded(pk, 16, 40);  // |v| < 2^40, i.e. |x| < 2^24
    EXPECT_NO_THROW(bounded.encode(std::ldexp(1.0, 24) - 1.0));
    EXPECT_THROW(bounded.encode(std::ldexp(1.0, 24)), PaillierError);
    EXPECT_THROW(bounded.encode(-std::ldexp(1.0, 24)), PaillierError);
    EXPECT_THROW(bounded.encode(std::nan("")), PaillierError);
    EXPECT_THROW(bounded.encode(INFINITY), PaillierError);
    EXPECT_EQ(bounded.max_integer(), (mpz_class(1) << 40) - 1);
    EXPECT_THROW(FixedPointEncoder(pk, 16, 1024), PaillierError);  // beyond n/2

    const FixedPointEncoder full(pk, 0);
    EXPECT_EQ(full.max_integer(), (pk.n() - 1) / 2);
    EXPECT_NO_THROW(full.encode_integer(full.max_integer()));
    EXPECT_NO_THROW(full.encode_integer(-full.max_integer()));
    EXPECT_THROW(full.encode_integer(full.max_integer() + 1), PaillierError);
    EXPECT_THROW(full.encode(1e308), PaillierError);
    EXPECT_EQ(full.decode(full.encode_integer(-full.max_integer())),
              scaled_to_double(-full.max_integer(), 0));
}

}  // namespace
}  // namespace henn::paillier

#include "henn/paillier/multiexp.hpp"

namespace henn::paillier {
namespace {

TEST(PaillierMultiExp, MatchesSumOfProducts) {
    const auto& [pk, sk] = testing::test_keys();
    std::mt19937_64 rng(5);
    std::vector<Ciphertext> cts;
    std::vector<mpz_class> values, exponents;
    for (int i = 0; i < 9; ++i) {
        values.push_back(seeded_integer(rng, 50));
        cts.push_back(pk.encrypt_signed(values.back()));
        exponents.push_back(abs(seeded_integer(rng, i == 0 ? 1 : 73)));
    }
    exponents[4] = 0;
    std::vector<PowerTable> tables;
    for (const auto& c : cts) tables.emplace_back(pk, c);
    std::vector<const PowerTable*> table_ptrs;
    std::vector<const mpz_class*> exponent_ptrs;
    mpz_class expected = 0;
    for (std::size_t i = 0; i < cts.size(); ++i) {
        table_ptrs.push_back(&tables[i]);
        exponent_ptrs.push_back(&exponents[i]);
        expected += values[i] * exponents[i];
    }
    EXPECT_EQ(sk.decrypt_signed(multi_exponentiate(pk, table_ptrs, exponent_ptrs, 73)), expected);
    EXPECT_THROW(multi_exponentiate(pk, table_ptrs, exponent_ptrs, 10), PaillierError);
    EXPECT_EQ(sk.decrypt(multi_exponentiate(pk, {}, {}, 8)), 0);
}

}  // namespace
}  // namespace henn::paillier
