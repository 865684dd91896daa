#include <gtest/gtest.h>

#include <cmath>

#include "henn/ckks/errors.hpp"
#include "henn/ckks/parameters.hpp"
#include "henn/math/primes.hpp"

using namespace henn::ckks;

TEST(Parameters, SecurityTableMatchesTheStandard) {
    // Every row of the HomomorphicEncryption.org table for a uniform ternary secret (classical),
    // with N = 2^16 re-estimated and N = 2^17 added as OpenFHE uses it since 2024.
    const int expected[][4] = {
        {10, 27, 19, 14},    {11, 54, 37, 29},    {12, 109, 75, 58},     {13, 218, 152, 118},
        {14, 438, 305, 237}, {15, 881, 611, 476}, {16, 1747, 1199, 929}, {17, 3523, 2411, 1866},
    };
    for (const auto& row : expected) {
        EXPECT_EQ(max_log_qp(row[0], SecurityLevel::k128), row[1]) << "2^" << row[0];
        EXPECT_EQ(max_log_qp(row[0], SecurityLevel::k192), row[2]) << "2^" << row[0];
        EXPECT_EQ(max_log_qp(row[0], SecurityLevel::k256), row[3]) << "2^" << row[0];
    }
    EXPECT_EQ(max_log_qp(9, SecurityLevel::k128), 0);
    EXPECT_EQ(max_log_qp(18, SecurityLevel::k128), 0);
}

TEST(Parameters, SecurityBoundIsEnforcedAtItsBoundary) {
    // Nominal prime sizes summing to the bound are accepted here (the generated primes lie just
    // below 2^bits) and one more bit is refused.
    ParametersLiteral lit;
    lit.log_n = 12;
    lit.log_q = {36, 36};
    lit.log_p = {37};  // 109 nominal bits, just under 109 actual
    auto ctx = Context::create(lit);
    EXPECT_FALSE(ctx->insecure());
    EXPECT_LE(ctx->log_qp(), 109.0);
    EXPECT_GT(ctx->log_qp(), 108.9);
    lit.log_p = {38};  // 110 nominal bits, over 109
    EXPECT_THROW(Context::create(lit), ParameterError);

    // N = 2^16 under the 2024 table: a chain the old bound (1772) allowed is refused now; the
    // check runs before any table is built, so these cost nothing.
    lit.log_n = 16;
    lit.log_q.assign(29, 60);
    lit.log_p = {50};  // 1790 nominal, ~1789.99 actual: over both bounds
    EXPECT_THROW(Context::create(lit), ParameterError);
    lit.log_p = {30};  // ~1770 bits: under the old 1772, over the new 1747
    try {
        Context::create(lit);
        FAIL() << "log2(QP) ~ 1770 was accepted at N = 2^16";
    } catch (const ParameterError& e) {
        EXPECT_NE(std::string(e.what()).find("exceeds 1747"), std::string::npos) << e.what();
    }
    lit.security = SecurityLevel::k256;
    lit.log_q.assign(15, 60);
    lit.log_p = {30};  // ~930 bits: under the old 956, over the new 929
    EXPECT_THROW(Context::create(lit), ParameterError);
    lit.log_p = {28};  // ~928 bits, just under (primes near 2^bits may lie slightly above it)
    EXPECT_FALSE(Context::create(lit)->insecure());
    lit.security = SecurityLevel::k192;
    lit.log_q.assign(19, 60);
    lit.log_p = {60};  // 1200 nominal > 1199
    EXPECT_THROW(Context::create(lit), ParameterError);
    // N = 2^17 is tabulated now: no opt-out needed, and its bound is enforced.
    lit.log_n = 17;
    lit.security = SecurityLevel::k128;
    lit.log_q = {60};
    lit.log_p = {60};
    EXPECT_FALSE(Context::create(lit)->insecure());
    lit.log_q.assign(58, 60);
    lit.log_p = {60, 60};  // 3600 > 3523
    EXPECT_THROW(Context::create(lit), ParameterError);
}

TEST(Parameters, ValidLiteralBuildsContext) {
    ParametersLiteral lit;
    lit.log_n = 14;
    lit.log_q = {60, 40, 40, 40};
    lit.log_p = {61};
    auto ctx = Context::create(lit);
    EXPECT_EQ(ctx->n(), 16384u);
    EXPECT_EQ(ctx->max_slots(), 8192u);
    EXPECT_EQ(ctx->max_level(), 3);
    EXPECT_EQ(ctx->p_count(), 1u);
    EXPECT_EQ(ctx->digit_count(3), 4u);
    EXPECT_NEAR(ctx->log_qp(), 241, 0.1);
    EXPECT_FALSE(ctx->insecure());
    for (const auto& q : ctx->qp()) {
        EXPECT_TRUE(henn::math::is_prime(q.value()));
        EXPECT_EQ(q.value() % (2 * ctx->n()), 1u);
    }
    EXPECT_NE(ctx->describe().find("128-bit"), std::string::npos);
    // Same parameters, same hash; other primes, other hash.
    EXPECT_EQ(Context::create(lit)->parameter_hash(), ctx->parameter_hash());
    lit.log_q = {60, 40, 40, 41};
    EXPECT_NE(Context::create(lit)->parameter_hash(), ctx->parameter_hash());
}

TEST(Parameters, InsecureSetIsRefusedUnlessExplicitlyAllowed) {
    ParametersLiteral lit;
    lit.log_n = 13;
    lit.log_q = {60, 50, 50, 50};  // 210 + 60 = 270 > 218
    lit.log_p = {60};
    try {
        Context::create(lit);
        FAIL() << "insecure parameters were accepted";
    } catch (const ParameterError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("exceeds 218"), std::string::npos) << msg;
        EXPECT_NE(msg.find("allow_insecure"), std::string::npos) << msg;
    }
    lit.security = SecurityLevel::k192;
    lit.log_q = {50, 40, 40};  // 130 + 60 = 190 > 152
    EXPECT_THROW(Context::create(lit), ParameterError);
    lit.allow_insecure = true;
    auto ctx = Context::create(lit);
    EXPECT_TRUE(ctx->insecure());
    EXPECT_NE(ctx->describe().find("NONE"), std::string::npos);
}

TEST(Parameters, UntabulatedRingNeedsOptOut) {
    ParametersLiteral lit;
    lit.log_n = 5;
    lit.log_q = {30};
    lit.log_p = {30};
    EXPECT_THROW(Context::create(lit), ParameterError);
    lit.allow_insecure = true;
    EXPECT_NO_THROW(Context::create(lit));
}

TEST(Parameters, MalformedLiteralsGiveReadableErrors) {
    ParametersLiteral lit;
    lit.log_n = 13;
    lit.log_q = {};
    EXPECT_THROW(Context::create(lit), ParameterError);
    lit.log_q = {62};
    EXPECT_THROW(Context::create(lit), ParameterError);
    lit.log_q = {40};
    lit.q = {1099511922689ULL};
    EXPECT_THROW(Context::create(lit), ParameterError);  // both forms
    lit.log_q.clear();
    lit.q = {97};  // not 1 mod 2N
    try {
        Context::create(lit);
        FAIL();
    } catch (const ParameterError& e) {
        EXPECT_NE(std::string(e.what()).find("not 1 mod 2N"), std::string::npos);
    }
    lit.q = {1099511922689ULL + 2};  // not prime
    EXPECT_THROW(Context::create(lit), ParameterError);
    lit.log_n = 1;
    EXPECT_THROW(Context::create(lit), ParameterError);
}

TEST(Parameters, ExplicitPrimesAreUsedAsGiven) {
    auto primes = henn::math::generate_ntt_primes(45, 3, 8192);
    ParametersLiteral lit;
    lit.log_n = 13;
    lit.q = {primes[0], primes[1]};
    lit.p = {primes[2]};
    auto ctx = Context::create(lit);
    EXPECT_EQ(ctx->q()[1].value(), primes[1]);
    EXPECT_EQ(ctx->p()[0].value(), primes[2]);
    lit.p = {primes[0]};  // repeated
    EXPECT_THROW(Context::create(lit), ParameterError);
}

TEST(Parameters, ForDepthPicksTheSmallestSecureRing) {
    auto lit = ParametersLiteral::for_depth(3, 40, 60);
    EXPECT_EQ(lit.log_n, 14);  // 60 + 3*40 + 61 = 241 bits: too many for 2^13 (218)
    auto ctx = Context::create(lit);
    EXPECT_LE(ctx->log_qp(), max_log_qp(ctx->log_n(), SecurityLevel::k128));
    EXPECT_EQ(ctx->max_level(), 3);

    auto deep = ParametersLiteral::for_depth(10, 40, 60, SecurityLevel::k128, 3);
    auto deep_ctx = Context::create(deep);
    EXPECT_EQ(deep_ctx->digit_count(10), 3u);
    EXPECT_EQ(deep_ctx->p_count(), 4u);  // ceil(11 / 3) primes per digit
    EXPECT_THROW(ParametersLiteral::for_depth(40, 50, 60, SecurityLevel::k256), ParameterError);
}
