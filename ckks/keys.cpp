#include "henn/ckks/keys.hpp"

#include <algorithm>
#include <string>

#include "internal.hpp"

namespace henn::ckks {

SecretKey::SecretKey(RnsPoly poly, std::uint64_t parameter_hash)
    : poly_(std::move(poly)), hash_(parameter_hash) {}

void SecretKey::wipe() {
    math::secure_wipe(poly_.data.data(), poly_.data.size() * sizeof(u64));
}

SecretKey::~SecretKey() {
    wipe();
}

SecretKey& SecretKey::operator=(const SecretKey& other) {
    if (this != &other) {
        wipe();
        poly_ = other.poly_;
        hash_ = other.hash_;
    }
    return *this;
}

SecretKey::SecretKey(SecretKey&& other) noexcept
    : poly_(std::move(other.poly_)), hash_(other.hash_) {}

SecretKey& SecretKey::operator=(SecretKey&& other) noexcept {
    if (this != &other) {
        wipe();
        poly_ = std::move(other.poly_);
        hash_ = other.hash_;
    }
    return *this;
}

namespace {
SecretKey generate_secret(const Context& ctx, math::Prng& prng) {
    std::vector<std::int8_t> s(ctx.n());
    math::sample_ternary(prng, s.data(), s.size());
    RnsPoly poly(ctx.n(), ctx.q_count() + ctx.p_count());
    detail::small_to_ntt(ctx, s.data(), poly, ctx.max_level());
    math::secure_wipe(s.data(), s.size());
    return SecretKey(std::move(poly), ctx.parameter_hash());
}
}  // namespace

KeyGenerator::KeyGenerator(ContextPtr context)
    : context_(std::move(context)), prng_(math::Prng::from_os()) {
    secret_ = generate_secret(*context_, prng_);
}

KeyGenerator::KeyGenerator(ContextPtr context, const math::Seed& test_only_seed)
    : context_(std::move(context)), prng_(test_only_seed) {
    secret_ = generate_secret(*context_, prng_);
}

KeyGenerator::KeyGenerator(ContextPtr context, SecretKey secret_key)
    : context_(std::move(context)), secret_(std::move(secret_key)), prng_(math::Prng::from_os()) {
    detail::check_hash(*context_, secret_.parameter_hash(), "the secret key");
}

KeyGenerator::KeyGenerator(ContextPtr context, SecretKey secret_key,
                           const math::Seed& test_only_seed)
    : context_(std::move(context)), secret_(std::move(secret_key)), prng_(test_only_seed) {
    detail::check_hash(*context_, secret_.parameter_hash(), "the secret key");
}

PublicKey KeyGenerator::public_key() {
    // Over Q*P: encryption then divides by P, which shrinks the fresh noise to the rounding
    // error (about 5 bits more precision than encrypting over Q alone).
    const Context& ctx = *context_;
    const int level = ctx.max_level();
    const std::size_t limbs = ctx.q_count() + ctx.p_count();
    PublicKey pk;
    pk.parameter_hash = ctx.parameter_hash();
    pk.a = RnsPoly(ctx.n(), limbs);
    pk.b = RnsPoly(ctx.n(), limbs);
    math::Seed seed;
    prng_.fill(seed.data(), seed.size());
    detail::sample_uniform_ntt(ctx, seed, 0, pk.a, level);
    detail::sample_error_ntt(ctx, prng_, pk.b, level);
    const RnsPoly& s = secret_.poly();
    for (std::size_t i = 0; i < limbs; ++i) {
        const math::Modulus& q = ctx.qp()[i];
        const u64* a = pk.a.limb(i);
        const u64* si = s.limb(i);
        u64* b = pk.b.limb(i);
        for (std::size_t k = 0; k < ctx.n(); ++k)
            b[k] = math::sub_mod(b[k], math::mul_mod(a[k], si[k], q), q.value());
    }
    return pk;
}

KeySwitchKey KeyGenerator::make_switch_key(const RnsPoly& new_secret, int level) {
    const Context& ctx = *context_;
    if (ctx.p_count() == 0) {
        throw ParameterError("key switching needs special primes P; the parameters have none");
    }
    if (level < 0) level = ctx.max_level();
    if (level > ctx.max_level()) {
        throw LevelError("cannot make a key for level " + std::to_string(level) +
                         ": the top level is " + std::to_string(ctx.max_level()));
    }
    // Limbs: q_0..q_level, then P. Limb i is prime qp()[qp_index(level, i)] (the uniform a_d
    // comes from the same streams as the full key's, so only the missing limbs differ).
    const std::size_t limbs = static_cast<std::size_t>(level) + 1 + ctx.p_count();
    const std::size_t q_limbs = static_cast<std::size_t>(level) + 1;
    const std::size_t digits = ctx.digit_count(level);
    const std::size_t alpha = ctx.p_count();
    KeySwitchKey key;
    math::Seed seed;
    prng_.fill(seed.data(), seed.size());
    key.a_seed = seed;
    const RnsPoly& s = secret_.poly();
    for (std::size_t d = 0; d < digits; ++d) {
        RnsPoly a(ctx.n(), limbs), b(ctx.n(), limbs);
        detail::sample_uniform_ntt(ctx, seed, detail::kKeyStreamBase * (d + 1), a, level);
        detail::sample_error_ntt(ctx, prng_, b, level);
        for (std::size_t i = 0; i < limbs; ++i) {
            const std::size_t index = detail::qp_index(ctx, level, i);
            const math::Modulus& q = ctx.qp()[index];
            const u64* ai = a.limb(i);
            const u64* si = s.limb(index);
            u64* bi = b.limb(i);
            for (std::size_t k = 0; k < ctx.n(); ++k) {
                bi[k] = math::sub_mod(bi[k], math::mul_mod(ai[k], si[k], q), q.value());
            }
            // Gadget: P * s' on the primes of this digit (P = 0 mod the special primes).
            if (i >= d * alpha && i < std::min((d + 1) * alpha, q_limbs)) {
                const math::ShoupConstant p_mod(ctx.p_mod_q(i), q.value());
                const u64* sp = new_secret.limb(i);
                for (std::size_t k = 0; k < ctx.n(); ++k) {
                    bi[k] = math::add_mod(
                        bi[k], math::mul_shoup(sp[k], p_mod.value, p_mod.shoup, q.value()),
                        q.value());
                }
            }
        }
        key.a.push_back(std::move(a));
        key.b.push_back(std::move(b));
    }
    return key;
}

KeySwitchKey KeyGenerator::switching_key(const SecretKey& from, int level) {
    if (from.parameter_hash() != context_->parameter_hash()) {
        throw MismatchError("switching_key: the secret key was made under other parameters");
    }
    return make_switch_key(from.poly(), level);
}

RelinearizationKey KeyGenerator::relinearization_key(int level) {
    const Context& ctx = *context_;
    const RnsPoly& s = secret_.poly();
    RnsPoly sq(ctx.n(), ctx.q_count());
    for (std::size_t i = 0; i < ctx.q_count(); ++i) {
        const math::Modulus& q = ctx.q()[i];
        for (std::size_t k = 0; k < ctx.n(); ++k)
            sq.limb(i)[k] = math::mul_mod(s.limb(i)[k], s.limb(i)[k], q);
    }
    const SecretKey s2(std::move(sq), ctx.parameter_hash());  // wiped when it goes out of scope
    RelinearizationKey rk;
    rk.key = make_switch_key(s2.poly(), level);
    rk.parameter_hash = ctx.parameter_hash();
    return rk;
}

KeySwitchKey KeySwitchKey::at_level(const Context& ctx, int level) const {
    const std::size_t alpha = ctx.p_count();
    const int held = max_level(alpha);
    if (b.empty() || a.size() != b.size() || held < 0 || held > ctx.max_level() ||
        b.size() != ctx.digit_count(held)) {
        throw MismatchError("KeySwitchKey::at_level: malformed key-switching key (" +
                            std::to_string(b.size()) + " digits, " +
                            std::to_string(b.empty() ? 0 : b[0].limbs) + " limbs)");
    }
    const std::size_t held_limbs = static_cast<std::size_t>(held) + 1 + alpha;
    for (std::size_t d = 0; d < b.size(); ++d) {
        for (const RnsPoly* p : {&b[d], &a[d]}) {
            if (p->n != ctx.n() || p->limbs != held_limbs || p->data.size() != p->n * p->limbs)
                throw MismatchError("KeySwitchKey::at_level: malformed key-switching key");
        }
    }
    if (level < 0 || level > held) {
        throw LevelError("KeySwitchKey::at_level: level " + std::to_string(level) +
                         " is outside [0, " + std::to_string(held) +
                         "], the levels this key holds");
    }
    const std::size_t n = ctx.n(), q_limbs = static_cast<std::size_t>(level) + 1;
    const std::size_t digits = ctx.digit_count(level);
    auto restrict = [&](const RnsPoly& p) {
        RnsPoly out(n, q_limbs + alpha, RnsPoly::uninitialized);
        // q_0..q_level, then P (which sits after q_held in the held key).
        std::copy(p.limb(0), p.limb(0) + q_limbs * n, out.limb(0));
        std::copy(p.limb(static_cast<std::size_t>(held) + 1),
                  p.limb(static_cast<std::size_t>(held) + 1) + alpha * n, out.limb(q_limbs));
        return out;
    };
    KeySwitchKey key;
    key.a_seed = a_seed;
    key.permuted_for = permuted_for;  // limb by limb, so the restriction keeps the layout
    for (std::size_t d = 0; d < digits; ++d) {
        key.b.push_back(restrict(b[d]));
        key.a.push_back(restrict(a[d]));
    }
    return key;
}

RelinearizationKey RelinearizationKey::at_level(const Context& ctx, int level) const {
    detail::check_hash(ctx, parameter_hash, "the relinearization key");
    RelinearizationKey rk;
    rk.key = key.at_level(ctx, level);
    rk.parameter_hash = parameter_hash;
    return rk;
}

std::size_t KeySwitchKey::bytes() const {
    std::size_t total = 0;
    for (const auto& p : b) total += p.data.size() * sizeof(u64);
    for (const auto& p : a) total += p.data.size() * sizeof(u64);
    return total;
}

std::size_t switch_key_bytes(const Context& ctx, int level) {
    if (level < 0) level = ctx.max_level();
    return ctx.digit_count(level) * 2 * (static_cast<std::size_t>(level) + 1 + ctx.p_count()) *
           ctx.n() * sizeof(u64);
}

std::size_t GaloisKeys::bytes() const {
    std::size_t total = 0;
    for (const auto& [element, key] : keys) total += key.bytes();
    return total;
}

namespace {
int checked_key_level(const Context& ctx, int level, const std::string& what) {
    if (level < -1 || level > ctx.max_level()) {
        throw LevelError("cannot make the key for " + what + " at level " + std::to_string(level) +
                         ": levels go from 0 to " + std::to_string(ctx.max_level()) +
                         " (-1: the top level)");
    }
    return level < 0 ? ctx.max_level() : level;
}
}  // namespace

void KeyGenerator::add_galois_elements(GaloisKeys& keys,
                                       const std::vector<std::pair<u64, int>>& element_levels) {
    const Context& ctx = *context_;
    if (!keys.keys.empty()) detail::check_hash(ctx, keys.parameter_hash, "the Galois keys");
    keys.parameter_hash = ctx.parameter_hash();
    // Steps that share an element need the higher of their levels.
    std::map<u64, int> wanted;
    std::vector<u64> order;
    for (const auto& [g, level] : element_levels) {
        if (g == 1) continue;  // rotation by 0 (mod N/2) needs no key
        auto [it, fresh] = wanted.emplace(g, level);
        if (fresh) {
            order.push_back(g);
        } else {
            it->second = std::max(it->second, level);
        }
    }
    const RnsPoly& s = secret_.poly();
    for (u64 g : order) {
        const int level = wanted[g];
        auto held = keys.keys.find(g);
        if (held != keys.keys.end() && held->second.max_level(ctx.p_count()) >= level) continue;
        // s' = s(X^g) restricted to Q, kept in a SecretKey so it is wiped.
        RnsPoly r(ctx.n(), ctx.q_count());
        const auto perm = detail::galois_permutation(ctx, g);
        for (std::size_t i = 0; i < ctx.q_count(); ++i) {
            for (std::size_t k = 0; k < ctx.n(); ++k) r.limb(i)[k] = s.limb(i)[perm[k]];
        }
        const SecretKey rotated(std::move(r), ctx.parameter_hash());
        KeySwitchKey key = make_switch_key(rotated.poly(), level);
        detail::permute_key_for_galois(ctx, key, g);
        keys.keys.insert_or_assign(g, std::move(key));
    }
}

void KeyGenerator::add_galois_keys(GaloisKeys& keys, const std::vector<int>& steps,
                                   bool conjugation, int level) {
    const Context& ctx = *context_;
    level = checked_key_level(ctx, level, "the Galois keys");
    std::vector<std::pair<u64, int>> elements;
    for (int step : steps) elements.emplace_back(ctx.galois_element_for_rotation(step), level);
    if (conjugation) elements.emplace_back(ctx.galois_element_for_conjugation(), level);
    add_galois_elements(keys, elements);
}

GaloisKeys KeyGenerator::galois_keys(const std::vector<int>& steps, bool conjugation, int level) {
    GaloisKeys keys;
    add_galois_keys(keys, steps, conjugation, level);
    return keys;
}

void KeyGenerator::add_levelled_galois_keys(GaloisKeys& keys, const StepLevels& step_levels,
                                            bool conjugation, int conjugation_level) {
    const Context& ctx = *context_;
    std::vector<std::pair<u64, int>> elements;
    for (const auto& [step, level] : step_levels) {
        elements.emplace_back(
            ctx.galois_element_for_rotation(step),
            checked_key_level(ctx, level, "the rotation by " + std::to_string(step)));
    }
    if (conjugation) {
        elements.emplace_back(ctx.galois_element_for_conjugation(),
                              checked_key_level(ctx, conjugation_level, "conjugation"));
    }
    add_galois_elements(keys, elements);
}

GaloisKeys KeyGenerator::levelled_galois_keys(const StepLevels& step_levels, bool conjugation,
                                              int conjugation_level) {
    GaloisKeys keys;
    add_levelled_galois_keys(keys, step_levels, conjugation, conjugation_level);
    return keys;
}

EvaluationKeys KeyGenerator::evaluation_keys(const std::vector<int>& rotation_steps,
                                             bool conjugation) {
    EvaluationKeys keys;
    keys.relinearization = relinearization_key();
    keys.galois = galois_keys(rotation_steps, conjugation);
    return keys;
}

void apply_galois_ntt(const Context& ctx, u64 galois_element, const RnsPoly& in, RnsPoly& out) {
    const auto perm = detail::galois_permutation(ctx, galois_element);
    out = RnsPoly(in.n, in.limbs);
    for (std::size_t i = 0; i < in.limbs; ++i) {
        const u64* src = in.limb(i);
        u64* dst = out.limb(i);
        for (std::size_t k = 0; k < in.n; ++k) dst[k] = src[perm[k]];
    }
}

}  // namespace henn::ckks
