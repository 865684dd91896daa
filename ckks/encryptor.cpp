#include "henn/ckks/encryptor.hpp"

#include "henn/math/vector_ops.hpp"
#include "internal.hpp"

namespace henn::ckks {

namespace {
void check_plaintext(const Context& ctx, const Plaintext& pt) {
    detail::check_hash(ctx, pt.parameter_hash, "the plaintext");
    if (pt.level < 0 || pt.level > ctx.max_level() ||
        pt.poly.limbs != static_cast<std::size_t>(pt.level) + 1 || pt.poly.n != ctx.n()) {
        throw MismatchError("malformed plaintext: its level and limb count disagree");
    }
}
}  // namespace

Encryptor::Encryptor(ContextPtr context, PublicKey public_key)
    : context_(std::move(context)), public_key_(std::move(public_key)) {
    detail::check_hash(*context_, public_key_->parameter_hash, "the public key");
}

Encryptor::Encryptor(ContextPtr context, const SecretKey& secret_key)
    : context_(std::move(context)), secret_key_(secret_key) {
    detail::check_hash(*context_, secret_key.parameter_hash(), "the secret key");
}

void Encryptor::use_test_only_seed(const math::Seed& seed) {
    std::lock_guard lock(test_mutex_);
    test_prng_ = std::make_unique<math::Prng>(seed);
}

math::Seed Encryptor::fresh_seed() const {
    {
        std::lock_guard lock(test_mutex_);
        if (test_prng_) {
            math::Seed seed;
            test_prng_->fill(seed.data(), seed.size());
            return seed;
        }
    }
    return math::os_random_seed();
}

Ciphertext Encryptor::encrypt(const Plaintext& pt) const {
    const Context& ctx = *context_;
    check_plaintext(ctx, pt);
    const int level = pt.level;
    const std::size_t n = ctx.n(), limbs = static_cast<std::size_t>(level) + 1;
    // Two independent seeds: the first expands to c_1 and may be published with the
    // ciphertext; the second draws the secret noise and is never stored.
    const math::Seed seed = fresh_seed();
    math::Seed noise_seed = fresh_seed();
    math::Prng noise(noise_seed);
    math::secure_wipe(noise_seed.data(), noise_seed.size());

    Ciphertext ct;
    ct.level = level;
    ct.scale = pt.scale;
    ct.slots = pt.slots;
    ct.parameter_hash = ctx.parameter_hash();
    ct.polys.assign(2, RnsPoly(n, limbs));
    RnsPoly& c0 = ct.polys[0];
    RnsPoly& c1 = ct.polys[1];

    if (secret_key_) {
        // (c0, c1) = (-a s + e + m, a), a expanded from the seed.
        detail::sample_uniform_ntt(ctx, seed, 0, c1, level);
        detail::sample_error_ntt(ctx, noise, c0, level);
        const RnsPoly& s = secret_key_->poly();
        std::vector<u64> as(n);  // a s reveals s with a: wiped below
        for (std::size_t i = 0; i < limbs; ++i) {
            const math::Modulus& q = ctx.q()[i];
            u64* b = c0.limb(i);
            math::mul_mod_vec(c1.limb(i), s.limb(i), as.data(), n, q);
            math::sub_mod_vec(b, as.data(), b, n, q);
            math::add_mod_vec(b, pt.poly.limb(i), b, n, q);
        }
        math::secure_wipe(as.data(), as.size() * sizeof(u64));
        ct.c1_seed = seed;
    } else {
        // (c0, c1) = (u b + e0, u a + e1) over Q_level * P with ternary u, divided by P
        // (rounded), then m added.
        const std::size_t alpha = ctx.p_count(), ext = limbs + alpha;
        std::vector<std::int8_t> u_coeffs(n);
        math::sample_ternary(noise, u_coeffs.data(), n);
        RnsPoly u(n, ext), e0(n, ext), e1(n, ext);
        detail::small_to_ntt(ctx, u_coeffs.data(), u, level);
        math::secure_wipe(u_coeffs.data(), n);
        detail::sample_error_ntt(ctx, noise, e0, level);
        detail::sample_error_ntt(ctx, noise, e1, level);
        const PublicKey& pk = *public_key_;
        for (std::size_t i = 0; i < ext; ++i) {
            const std::size_t key_limb = detail::qp_index(ctx, level, i);
            const math::Modulus& q = ctx.qp()[key_limb];
            math::mul_add_mod_vec(u.limb(i), pk.b.limb(key_limb), e0.limb(i), n, q);
            math::mul_add_mod_vec(u.limb(i), pk.a.limb(key_limb), e1.limb(i), n, q);
        }
        math::secure_wipe(u.data.data(), u.data.size() * sizeof(u64));
        if (alpha > 0) {
            detail::mod_down(ctx, e0, level, c0);
            detail::mod_down(ctx, e1, level, c1);
        } else {
            std::copy(e0.data.begin(), e0.data.end(), c0.data.begin());
            std::copy(e1.data.begin(), e1.data.end(), c1.data.begin());
        }
        for (std::size_t i = 0; i < limbs; ++i)
            math::add_mod_vec(c0.limb(i), pt.poly.limb(i), c0.limb(i), n, ctx.q()[i]);
    }
    return ct;
}

Decryptor::Decryptor(ContextPtr context, SecretKey secret_key)
    : context_(std::move(context)), secret_key_(std::move(secret_key)) {
    detail::check_hash(*context_, secret_key_.parameter_hash(), "the secret key");
}

Plaintext Decryptor::decrypt(const Ciphertext& ct) const {
    const Context& ctx = *context_;
    detail::check_hash(ctx, ct.parameter_hash, "the ciphertext");
    if (ct.size() < 2 || ct.size() > 3) throw MismatchError("a ciphertext has 2 or 3 polynomials");
    const std::size_t n = ctx.n(), limbs = static_cast<std::size_t>(ct.level) + 1;
    for (const auto& p : ct.polys) {
        if (p.n != n || p.limbs != limbs)
            throw MismatchError("malformed ciphertext: limb count and level disagree");
    }
    Plaintext pt;
    pt.level = ct.level;
    pt.scale = ct.scale;
    pt.slots = ct.slots;
    pt.parameter_hash = ct.parameter_hash;
    pt.poly = RnsPoly(n, limbs);
    const RnsPoly& s = secret_key_.poly();
    for (std::size_t i = 0; i < limbs; ++i) {
        const math::Modulus& q = ctx.q()[i];
        const u64* si = s.limb(i);
        u64* m = pt.poly.limb(i);
        if (ct.size() == 2) {
            math::mul_mod_vec(ct.polys[1].limb(i), si, m, n, q);
        } else {  // Horner: c0 + s (c1 + s c2)
            math::mul_mod_vec(ct.polys[2].limb(i), si, m, n, q);
            math::add_mod_vec(m, ct.polys[1].limb(i), m, n, q);
            math::mul_mod_vec(m, si, m, n, q);
        }
        math::add_mod_vec(m, ct.polys[0].limb(i), m, n, q);
    }
    return pt;
}

}  // namespace henn::ckks
