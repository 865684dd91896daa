#include "henn/ckks/evaluator.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>
#include <string>

#include "henn/math/vector_ops.hpp"
#include "internal.hpp"

namespace henn::ckks {

using math::Modulus;

// The digits of one polynomial raised to Q_level * P (ModUp), NTT form. Limbs: the level+1
// primes of Q, then the primes of P.
struct Evaluator::Decomposition {
    std::vector<RnsPoly> digits;
    int level = 0;
};

Evaluator::Evaluator(ContextPtr context, std::shared_ptr<const EvaluationKeys> keys)
    : context_(std::move(context)), keys_(std::move(keys)) {
    if (keys_) {
        if (keys_->relinearization) {
            detail::check_hash(*context_, keys_->relinearization->parameter_hash,
                               "the relinearization key");
        }
        if (!keys_->galois.keys.empty()) {
            detail::check_hash(*context_, keys_->galois.parameter_hash, "the Galois keys");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Checks

namespace {
std::string log2_string(double scale) {
    std::ostringstream out;
    out << "2^" << std::setprecision(std::log2(scale) > 100 ? 8 : 6) << std::fixed
        << std::log2(scale);
    return out.str();
}

bool same_scale(double a, double b) {
    return std::fabs(a - b) <= Evaluator::kScaleTolerance * std::max(std::fabs(a), std::fabs(b));
}

template <typename F>
void for_each_limb(std::size_t limbs, F&& body) {
#pragma omp parallel for num_threads(detail::threads()) if (detail::threads() > 1 && limbs > 1)
    for (std::size_t i = 0; i < limbs; ++i) body(i);
}
}  // namespace

void Evaluator::check(const Ciphertext& a, const char* op) const {
    const Context& ctx = *context_;
    detail::check_hash(ctx, a.parameter_hash, (std::string(op) + ": the ciphertext").c_str());
    if (a.level < 0 || a.level > ctx.max_level()) {
        throw LevelError(std::string(op) + ": ciphertext level " + std::to_string(a.level) +
                         " is outside [0, " + std::to_string(ctx.max_level()) + "]");
    }
    if (a.size() < 2 || a.size() > 3)
        throw MismatchError(std::string(op) + ": a ciphertext has 2 or 3 polynomials");
    for (const auto& p : a.polys) {
        if (p.n != ctx.n() || p.limbs != static_cast<std::size_t>(a.level) + 1 ||
            p.data.size() != p.n * p.limbs) {
            throw MismatchError(std::string(op) +
                                ": malformed ciphertext (limb count and level disagree)");
        }
    }
}

void Evaluator::check_binary(const Ciphertext& a, const Ciphertext& b, const char* op) const {
    check(a, op);
    check(b, op);
    if (a.level != b.level) {
        throw LevelError(std::string(op) + ": operands are at different levels (" +
                         std::to_string(a.level) + " and " + std::to_string(b.level) +
                         "); use Evaluator::align or drop_level to bring them together");
    }
    if (!same_scale(a.scale, b.scale)) {
        throw ScaleError(std::string(op) + ": operand scales differ (" + log2_string(a.scale) +
                         " and " + log2_string(b.scale) +
                         "); use Evaluator::align, or rescale the product first");
    }
    if (a.slots != b.slots) {
        throw MismatchError(std::string(op) + ": operands have different slot counts (" +
                            std::to_string(a.slots) + " and " + std::to_string(b.slots) + ")");
    }
}

void Evaluator::check_plain(const Ciphertext& a, const Plaintext& p, const char* op) const {
    check(a, op);
    detail::check_hash(*context_, p.parameter_hash, (std::string(op) + ": the plaintext").c_str());
    if (p.level < a.level) {
        throw LevelError(std::string(op) + ": the plaintext is at level " +
                         std::to_string(p.level) + ", below the ciphertext's level " +
                         std::to_string(a.level) + "; encode it at level " +
                         std::to_string(a.level));
    }
    if (p.poly.limbs != static_cast<std::size_t>(p.level) + 1 || p.poly.n != context_->n()) {
        throw MismatchError(std::string(op) + ": malformed plaintext");
    }
    if (p.slots != a.slots) {
        throw MismatchError(std::string(op) + ": plaintext has " + std::to_string(p.slots) +
                            " slots, the ciphertext " + std::to_string(a.slots));
    }
}

// ---------------------------------------------------------------------------------------------
// Linear operations

void Evaluator::add_inplace(Ciphertext& a, const Ciphertext& b) const {
    check_binary(a, b, "add");
    const std::size_t n = context_->n();
    if (b.size() > a.size()) a.polys.resize(b.size(), RnsPoly(n, a.level + 1));
    for (std::size_t p = 0; p < b.size(); ++p) {
        for_each_limb(a.level + 1, [&](std::size_t i) {
            u64* x = a.polys[p].limb(i);
            math::add_mod_vec(x, b.polys[p].limb(i), x, n, context_->q()[i]);
        });
    }
    a.c1_seed.reset();
}

Ciphertext Evaluator::add(const Ciphertext& a, const Ciphertext& b) const {
    Ciphertext r = a;
    add_inplace(r, b);
    return r;
}

void Evaluator::sub_inplace(Ciphertext& a, const Ciphertext& b) const {
    check_binary(a, b, "sub");
    const std::size_t n = context_->n();
    if (b.size() > a.size()) a.polys.resize(b.size(), RnsPoly(n, a.level + 1));
    for (std::size_t p = 0; p < b.size(); ++p) {
        for_each_limb(a.level + 1, [&](std::size_t i) {
            u64* x = a.polys[p].limb(i);
            math::sub_mod_vec(x, b.polys[p].limb(i), x, n, context_->q()[i]);
        });
    }
    a.c1_seed.reset();
}

Ciphertext Evaluator::sub(const Ciphertext& a, const Ciphertext& b) const {
    Ciphertext r = a;
    sub_inplace(r, b);
    return r;
}

void Evaluator::negate_inplace(Ciphertext& a) const {
    check(a, "negate");
    for (auto& poly : a.polys) {
        for_each_limb(a.level + 1, [&](std::size_t i) {
            u64* x = poly.limb(i);
            math::negate_mod_vec(x, x, poly.n, context_->q()[i]);
        });
    }
    a.c1_seed.reset();
}

Ciphertext Evaluator::negate(const Ciphertext& a) const {
    Ciphertext r = a;
    negate_inplace(r);
    return r;
}

void Evaluator::add_plain_inplace(Ciphertext& a, const Plaintext& p) const {
    check_plain(a, p, "add_plain");
    if (!same_scale(a.scale, p.scale)) {
        throw ScaleError("add_plain: the plaintext's scale " + log2_string(p.scale) +
                         " differs from the ciphertext's " + log2_string(a.scale) +
                         "; encode it at the ciphertext's scale");
    }
    for_each_limb(a.level + 1, [&](std::size_t i) {
        u64* x = a.polys[0].limb(i);
        math::add_mod_vec(x, p.poly.limb(i), x, context_->n(), context_->q()[i]);
    });
}

Ciphertext Evaluator::add_plain(const Ciphertext& a, const Plaintext& p) const {
    Ciphertext r = a;
    add_plain_inplace(r, p);
    return r;
}

void Evaluator::sub_plain_inplace(Ciphertext& a, const Plaintext& p) const {
    check_plain(a, p, "sub_plain");
    if (!same_scale(a.scale, p.scale)) {
        throw ScaleError("sub_plain: the plaintext's scale " + log2_string(p.scale) +
                         " differs from the ciphertext's " + log2_string(a.scale) +
                         "; encode it at the ciphertext's scale");
    }
    for_each_limb(a.level + 1, [&](std::size_t i) {
        u64* x = a.polys[0].limb(i);
        math::sub_mod_vec(x, p.poly.limb(i), x, context_->n(), context_->q()[i]);
    });
}

Ciphertext Evaluator::sub_plain(const Ciphertext& a, const Plaintext& p) const {
    Ciphertext r = a;
    sub_plain_inplace(r, p);
    return r;
}

void Evaluator::multiply_plain_inplace(Ciphertext& a, const Plaintext& p) const {
    check_plain(a, p, "multiply_plain");
    for (auto& poly : a.polys) {
        for_each_limb(a.level + 1, [&](std::size_t i) {
            u64* x = poly.limb(i);
            math::mul_mod_vec(x, p.poly.limb(i), x, poly.n, context_->q()[i]);
        });
    }
    a.scale *= p.scale;
    a.c1_seed.reset();
}

Ciphertext Evaluator::multiply_plain(const Ciphertext& a, const Plaintext& p) const {
    check_plain(a, p, "multiply_plain");
    // Out of place: one pass that reads both inputs and writes the result, no copy first.
    Ciphertext r;
    set_metadata(r, metadata(a).with_scale(a.scale * p.scale));
    for (const auto& poly : a.polys) {
        RnsPoly& out = r.polys.emplace_back(poly.n, poly.limbs, RnsPoly::uninitialized);
        for_each_limb(a.level + 1, [&](std::size_t i) {
            math::mul_mod_vec(poly.limb(i), p.poly.limb(i), out.limb(i), poly.n, context_->q()[i]);
        });
    }
    return r;
}

Ciphertext Evaluator::add_constant(const Ciphertext& a, std::complex<double> c) const {
    check(a, "add_constant");
    const Context& ctx = *context_;
    Ciphertext r = a;
    r.c1_seed.reset();
    // The constant polynomial Re(c) + Im(c) X^(N/2) takes the value c in every slot, since
    // X^(N/2) evaluates to i at every root zeta^(5^j).
    const double re = std::round(c.real() * a.scale), im = std::round(c.imag() * a.scale);
    for_each_limb(a.level + 1, [&](std::size_t i) {
        const Modulus& q = ctx.q()[i];
        u64* x = r.polys[0].limb(i);
        const u64 re_mod = detail::integer_double_to_residue(re, q);
        if (im == 0) {  // a constant evaluates to itself everywhere: no transform needed
            for (std::size_t k = 0; k < ctx.n(); ++k) x[k] = math::add_mod(x[k], re_mod, q.value());
            return;
        }
        std::vector<u64> poly(ctx.n(), 0);
        poly[0] = re_mod;
        poly[ctx.n() / 2] = detail::integer_double_to_residue(im, q);
        math::ntt_forward(poly.data(), ctx.ntt(i));
        for (std::size_t k = 0; k < ctx.n(); ++k) x[k] = math::add_mod(x[k], poly[k], q.value());
    });
    return r;
}

Ciphertext Evaluator::multiply_integer(const Ciphertext& a, std::int64_t k) const {
    check(a, "multiply_integer");
    Ciphertext r = a;
    r.c1_seed.reset();
    for (auto& poly : r.polys) {
        for_each_limb(a.level + 1, [&](std::size_t i) {
            const u64 q = context_->q()[i].value();
            const math::ShoupConstant c(math::from_signed(k, q), q);
            u64* x = poly.limb(i);
            math::mul_scalar_mod_vec(x, c, x, poly.n, context_->q()[i]);
        });
    }
    return r;
}

Ciphertext Evaluator::multiply_constant(const Ciphertext& a, double c,
                                        double constant_scale) const {
    const Ciphertext* one[] = {&a};
    const double weight[] = {c};
    return multiply_accumulate(std::span<const Ciphertext* const>(one),
                               std::span<const double>(weight), constant_scale);
}

// ---------------------------------------------------------------------------------------------
// Products

Ciphertext Evaluator::multiply(const Ciphertext& a, const Ciphertext& b) const {
    check(a, "multiply");
    check(b, "multiply");
    if (a.size() != 2 || b.size() != 2) {
        throw MismatchError(
            "multiply: relinearize size-3 ciphertexts before multiplying them again");
    }
    if (a.level != b.level) {
        throw LevelError("multiply: operands are at different levels (" + std::to_string(a.level) +
                         " and " + std::to_string(b.level) +
                         "); use Evaluator::align or drop_level");
    }
    if (a.slots != b.slots) throw MismatchError("multiply: operands have different slot counts");
    const std::size_t n = context_->n(), limbs = a.level + 1;
    Ciphertext r;
    set_metadata(r, metadata(a).with_scale(a.scale * b.scale));
    for (int p = 0; p < 3; ++p) r.polys.emplace_back(n, limbs, RnsPoly::uninitialized);
    const bool squaring = &a == &b;
    for_each_limb(limbs, [&](std::size_t i) {
        const Modulus& q = context_->q()[i];
        const u64 *a0 = a.polys[0].limb(i), *a1 = a.polys[1].limb(i);
        const u64 *b0 = b.polys[0].limb(i), *b1 = b.polys[1].limb(i);
        u64 *c0 = r.polys[0].limb(i), *c1 = r.polys[1].limb(i), *c2 = r.polys[2].limb(i);
        if (squaring) {
            math::mul_mod_vec(a0, a0, c0, n, q);
            math::mul_mod_vec(a0, a1, c1, n, q);
            math::add_mod_vec(c1, c1, c1, n, q);
            math::mul_mod_vec(a1, a1, c2, n, q);
        } else {
            math::karatsuba_tensor_vec(a0, a1, b0, b1, c0, c1, c2, n,
                                       q);  // three products, not four
        }
    });
    return r;
}

Ciphertext Evaluator::relinearize(const Ciphertext& a) const {
    check(a, "relinearize");
    if (a.size() == 2) return a;
    const KeySwitchKey& key = relinearization_key("relinearize", a.level);
    Ciphertext r;
    set_metadata(r, metadata(a));
    for (int p = 0; p < 2; ++p)
        r.polys.emplace_back(context_->n(), a.level + 1, RnsPoly::uninitialized);
    key_switch_fused(a.polys[2], a.level, key, nullptr, r.polys[0], r.polys[1]);
    for_each_limb(a.level + 1, [&](std::size_t i) {
        for (int p = 0; p < 2; ++p) {
            u64* x = r.polys[p].limb(i);
            math::add_mod_vec(x, a.polys[p].limb(i), x, context_->n(), context_->q()[i]);
        }
    });
    return r;
}

Ciphertext Evaluator::multiply_relin(const Ciphertext& a, const Ciphertext& b) const {
    (void)relinearization_key("multiply_relin", a.level);  // fail before the work
    return relinearize(multiply(a, b));
}

Ciphertext Evaluator::square_relin(const Ciphertext& a) const {
    return multiply_relin(a, a);
}

// ---------------------------------------------------------------------------------------------
// Levels

void Evaluator::rescale_inplace(Ciphertext& a) const {
    check(a, "rescale");
    if (a.level == 0) {
        throw LevelError(
            "rescale: the ciphertext is at level 0, no prime is left to divide by; "
            "use larger parameters (more depth)");
    }
    const Context& ctx = *context_;
    const std::size_t n = ctx.n();
    const int l = a.level;
    const u64 q_last = ctx.q()[l].value();
    // ModDown by the one prime q_l: the centered lift of the last residue to the other primes
    // (so the division rounds to nearest), then (x - lift) / q_l, with the vector kernels (the
    // same words as the scalar centered lift and mul_shoup(x + q - lift)).
    const math::BaseConverter& lift = ctx.rescale_converter(l);
    for (auto& poly : a.polys) {
        u64* last = detail::thread_scratch(detail::kScratchCoefficients, n);
        std::copy(poly.limb(l), poly.limb(l) + n, last);
        math::ntt_inverse(last, ctx.ntt(l));
        u64* lifted =
            detail::thread_scratch(detail::kScratchModDown, static_cast<std::size_t>(l) * n);
        lift.convert_centered(last, lifted, n);
        for_each_limb(l, [&](std::size_t i) {
            const Modulus& qi = ctx.q()[i];
            u64* t = lifted + i * n;
            math::ntt_forward(t, ctx.ntt(i));
            u64* x = poly.limb(i);
            math::sub_mod_vec(x, t, x, n, qi);
            math::mul_scalar_mod_vec(x, ctx.q_last_inverse(l, i), x, n, qi);
        });
        poly.data.resize(n * l);
        poly.limbs = l;
    }
    a.level = l - 1;
    a.scale /= static_cast<double>(q_last);
    a.c1_seed.reset();
}

Ciphertext Evaluator::rescale(const Ciphertext& a) const {
    Ciphertext r = a;
    rescale_inplace(r);
    return r;
}

void Evaluator::drop_level_inplace(Ciphertext& a, int level) const {
    check(a, "drop_level");
    if (level < 0 || level > a.level) {
        throw LevelError("drop_level: cannot go from level " + std::to_string(a.level) +
                         " to level " + std::to_string(level));
    }
    for (auto& poly : a.polys) {
        poly.data.resize(poly.n * (level + 1));
        poly.limbs = level + 1;
    }
    a.level = level;
    // The seed expands limb by limb, so a truncated c_1 is still its expansion.
}

Ciphertext Evaluator::drop_level(const Ciphertext& a, int level) const {
    Ciphertext r = a;
    drop_level_inplace(r, level);
    return r;
}

std::pair<Ciphertext, Ciphertext> Evaluator::align(const Ciphertext& a, const Ciphertext& b) const {
    check(a, "align");
    check(b, "align");
    Ciphertext x = a, y = b;
    const int level = std::min(x.level, y.level);
    if (x.level > level) drop_level_inplace(x, level);
    if (y.level > level) drop_level_inplace(y, level);
    if (same_scale(x.scale, y.scale)) {
        y.scale = x.scale;
        return {std::move(x), std::move(y)};
    }
    Ciphertext& low = x.scale < y.scale ? x : y;
    Ciphertext& high = x.scale < y.scale ? y : x;
    const double ratio = high.scale / low.scale;
    const double rounded = std::round(ratio);
    if (rounded <= 9.2e18 && same_scale(rounded, ratio)) {
        low = multiply_integer(low, static_cast<std::int64_t>(rounded));
        low.scale = high.scale;
        return {std::move(x), std::move(y)};
    }
    if (level == 0) {
        throw ScaleError("align: scales " + log2_string(x.scale) + " and " + log2_string(y.scale) +
                         " differ by a non-integer factor and no level is left to fix it");
    }
    // Multiply the low one by round(ratio * q_level) and rescale: its scale becomes
    // high.scale up to a relative 2^-50; the high one drops a level to match.
    const double q_last = static_cast<double>(context_->q()[level].value());
    low = rescale(multiply_constant(low, 1.0, ratio * q_last));
    low.scale = high.scale;
    drop_level_inplace(high, level - 1);
    return {std::move(x), std::move(y)};
}

// ---------------------------------------------------------------------------------------------
// Key switching

Evaluator::Decomposition Evaluator::decompose(const RnsPoly& poly, int level) const {
    const Context& ctx = *context_;
    const std::size_t n = ctx.n(), q_limbs = level + 1, alpha = ctx.p_count();
    const std::size_t ext_limbs = q_limbs + alpha;
    RnsPoly coeffs(n, q_limbs, RnsPoly::uninitialized);
    std::copy(poly.data.begin(), poly.data.begin() + n * q_limbs, coeffs.data.begin());
    detail::from_ntt(ctx, coeffs, level);

    Decomposition result;
    result.level = level;
    const std::size_t digit_count = ctx.digit_count(level);
    result.digits.reserve(digit_count);
    for (std::size_t d = 0; d < digit_count; ++d)
        result.digits.emplace_back(n, ext_limbs, RnsPoly::uninitialized);
    for (std::size_t d = 0; d < digit_count; ++d) {
        const std::size_t begin = d * alpha, end = std::min((d + 1) * alpha, q_limbs);
        const math::BaseConverter& conv = ctx.mod_up_converter(level, d);
        RnsPoly converted(n, conv.to().size(), RnsPoly::uninitialized);
        conv.convert(coeffs.limb(begin), converted.data.data(), n);
        RnsPoly& digit = result.digits[d];
        // Own primes: the input's NTT limbs as they are. Other primes: converted, transformed.
        std::copy(poly.limb(begin), poly.limb(begin) + n * (end - begin), digit.limb(begin));
        for_each_limb(ext_limbs - (end - begin), [&](std::size_t j) {
            const std::size_t target = j < begin ? j : j + (end - begin);  // skip the own primes
            std::copy(converted.limb(j), converted.limb(j) + n, digit.limb(target));
            math::ntt_forward(digit.limb(target), ctx.ntt(detail::qp_index(ctx, level, target)));
        });
    }
    return result;
}

std::vector<RnsPoly> Evaluator::decompose_digits(const RnsPoly& poly, int level) const {
    return decompose(poly, level).digits;
}

namespace {
// The highest level `key` serves, checked against the ciphertext's level and digit count (the
// operations check the level first, naming the key: this is the last line of defence). A key
// made for a lower level (KeySwitchKey::at_level, KeyGenerator::levelled_galois_keys) holds
// q_0..q_key then P: its P limbs start at key_level + 1.
int checked_key_level(const Context& ctx, const KeySwitchKey& key, int level,
                      std::size_t digit_count) {
    const std::size_t alpha = ctx.p_count();
    const int key_level = key.max_level(alpha);
    if (key_level < level) {
        throw LevelError(
            "the key-switching key was made for levels up to " + std::to_string(key_level) +
            ", the ciphertext is at level " + std::to_string(level) +
            "; generate the key at a higher level or drop the ciphertext's level first");
    }
    if (key_level > ctx.max_level() || key.b.size() < digit_count || key.a.size() < digit_count) {
        throw MismatchError("key switching key has fewer digits than the parameters need");
    }
    const std::size_t limbs = static_cast<std::size_t>(key_level) + 1 + alpha;
    for (std::size_t d = 0; d < digit_count; ++d) {
        for (const RnsPoly* p : {&key.b[d], &key.a[d]}) {
            if (p->n != ctx.n() || p->limbs != limbs || p->data.size() != p->n * p->limbs)
                throw MismatchError("malformed key-switching key (limbs differ across digits)");
        }
    }
    return key_level;
}
}  // namespace

namespace {
// A Galois key held permuted for its element (KeySwitchKey::permuted_for) needs that element's
// permutation: the inner products then run on the digits in order and only their results move.
bool key_held_permuted(const KeySwitchKey& key, const std::uint32_t* permutation) {
    if (key.permuted_for == 1) return false;
    if (permutation == nullptr) {
        throw MismatchError("a Galois key (held for element " + std::to_string(key.permuted_for) +
                            ") cannot switch a key without its automorphism");
    }
    return true;
}

// out[k] = in[permutation[k]]: the automorphism of one NTT-form limb.
void gather_limb(const u64* in, const std::uint32_t* permutation, u64* out, std::size_t n) {
    for (std::size_t k = 0; k < n; ++k) out[k] = in[permutation[k]];
}
}  // namespace

void Evaluator::key_switch_extended(const std::vector<RnsPoly>& digits, int level,
                                    const KeySwitchKey& key, const std::uint32_t* permutation,
                                    u64* acc0, u64* acc1) const {
    const Context& ctx = *context_;
    const std::size_t n = ctx.n(), q_limbs = level + 1, alpha = ctx.p_count();
    const std::size_t ext_limbs = q_limbs + alpha;
    const std::size_t digit_count = digits.size();
    const int key_level = checked_key_level(ctx, key, level, digit_count);
    const bool held_permuted = key_held_permuted(key, permutation);
    for_each_limb(ext_limbs, [&](std::size_t i) {
        const std::size_t prime = detail::qp_index(ctx, level, i);
        const std::size_t key_limb =
            i < q_limbs ? i : static_cast<std::size_t>(key_level) + 1 + (i - q_limbs);
        const Modulus& q = ctx.qp()[prime];
        std::vector<const u64*> x(digit_count), b(digit_count), a(digit_count);
        for (std::size_t d = 0; d < digit_count; ++d) {
            x[d] = digits[d].limb(i);
            b[d] = key.b[d].limb(key_limb);
            a[d] = key.a[d].limb(key_limb);
        }
        // Both products in one pass over the digits, one reduction per coefficient (up to 60
        // digits; dot_pair_mod_vec throws beyond).
        if (held_permuted) {
            u64* in_order = detail::thread_scratch(detail::kScratchDigitLimbs, 2 * n);
            math::dot_pair_mod_vec(x.data(), nullptr, b.data(), a.data(), digit_count, in_order,
                                   in_order + n, n, q);
            gather_limb(in_order, permutation, acc0 + i * n, n);
            gather_limb(in_order + n, permutation, acc1 + i * n, n);
        } else {
            math::dot_pair_mod_vec(x.data(), permutation, b.data(), a.data(), digit_count,
                                   acc0 + i * n, acc1 + i * n, n, q);
        }
    });
}

void Evaluator::key_switch_extended(const std::vector<RnsPoly>& digits, int level,
                                    const KeySwitchKey& key, const std::uint32_t* permutation,
                                    RnsPoly& acc0, RnsPoly& acc1) const {
    const std::size_t ext_limbs = static_cast<std::size_t>(level) + 1 + context_->p_count();
    acc0 = RnsPoly(context_->n(), ext_limbs, RnsPoly::uninitialized);
    acc1 = RnsPoly(context_->n(), ext_limbs, RnsPoly::uninitialized);
    key_switch_extended(digits, level, key, permutation, acc0.data.data(), acc1.data.data());
}

void Evaluator::key_switch(const Decomposition& digits, const KeySwitchKey& key,
                           const std::uint32_t* permutation, RnsPoly& out0, RnsPoly& out1) const {
    // The accumulators live in per-thread scratch: ModDown consumes them at once.
    const std::size_t n = context_->n();
    const std::size_t ext_limbs = static_cast<std::size_t>(digits.level) + 1 + context_->p_count();
    u64* acc = detail::thread_scratch(detail::kScratchExtended, 2 * ext_limbs * n);
    key_switch_extended(digits.digits, digits.level, key, permutation, acc, acc + ext_limbs * n);
    detail::mod_down(*context_, acc, digits.level, out0);
    detail::mod_down(*context_, acc + ext_limbs * n, digits.level, out1);
}

void Evaluator::key_switch_fused(const RnsPoly& poly, int level, const KeySwitchKey& key,
                                 const std::uint32_t* permutation, RnsPoly& out0,
                                 RnsPoly& out1) const {
    const Context& ctx = *context_;
    const std::size_t n = ctx.n(), q_limbs = level + 1, alpha = ctx.p_count();
    const std::size_t ext_limbs = q_limbs + alpha;
    const std::size_t digit_count = ctx.digit_count(level);
    const int key_level = checked_key_level(ctx, key, level, digit_count);
    const bool held_permuted = key_held_permuted(key, permutation);
    // The input in coefficient form, and each digit scaled for its base conversion (shared by
    // all the primes it is raised to).
    u64* coeffs = detail::thread_scratch(detail::kScratchCoefficients, q_limbs * n);
    std::copy(poly.data.begin(), poly.data.begin() + q_limbs * n, coeffs);
    for_each_limb(q_limbs, [&](std::size_t i) { math::ntt_inverse(coeffs + i * n, ctx.ntt(i)); });
    u64* scaled = detail::thread_scratch(detail::kScratchPrepared, q_limbs * n);
    std::vector<const u64*> prepared(digit_count);
    for (std::size_t d = 0; d < digit_count; ++d) {
        prepared[d] = ctx.mod_up_converter(level, d).prepare(coeffs + d * alpha * n,
                                                             scaled + d * alpha * n, n);
    }
    // Prime by prime: raise every digit to this prime (its own primes are the input's NTT limbs
    // as they are), transform, and take both inner products with the key while the limbs are in
    // cache. The same words as decompose() followed by key_switch_extended().
    u64* acc = detail::thread_scratch(detail::kScratchExtended, 2 * ext_limbs * n);
    u64* acc0 = acc;
    u64* acc1 = acc + ext_limbs * n;
    for_each_limb(ext_limbs, [&](std::size_t i) {
        const std::size_t prime = detail::qp_index(ctx, level, i);
        const std::size_t key_limb =
            i < q_limbs ? i : static_cast<std::size_t>(key_level) + 1 + (i - q_limbs);
        // With an automorphism and a key held as made, each raised limb is permuted once as it
        // is made (one sequential gather from a limb in cache), so the inner products run on
        // contiguous data. With a key held permuted, only the two results are.
        u64* raised = detail::thread_scratch(detail::kScratchDigitLimbs, (digit_count + 2) * n);
        u64* spare = raised + digit_count * n;  // two limbs
        const bool permute_digits = permutation != nullptr && !held_permuted;
        std::vector<const u64*> x(digit_count), b(digit_count), a(digit_count);
        for (std::size_t d = 0; d < digit_count; ++d) {
            const std::size_t begin = d * alpha, end = std::min((d + 1) * alpha, q_limbs);
            u64* limb = raised + d * n;
            if (i >= begin && i < end) {
                if (permute_digits) {
                    gather_limb(poly.limb(i), permutation, limb, n);
                    x[d] = limb;
                } else {
                    x[d] = poly.limb(i);
                }
            } else {
                u64* target_limb = permute_digits ? spare : limb;
                const std::size_t target =
                    i < begin ? i : i - (end - begin);  // index among the other primes
                ctx.mod_up_converter(level, d).convert_prepared(prepared[d], target, target_limb,
                                                                n);
                math::ntt_forward(target_limb, ctx.ntt(prime));
                if (permute_digits) gather_limb(spare, permutation, limb, n);
                x[d] = limb;
            }
            b[d] = key.b[d].limb(key_limb);
            a[d] = key.a[d].limb(key_limb);
        }
        if (held_permuted) {
            math::dot_pair_mod_vec(x.data(), nullptr, b.data(), a.data(), digit_count, spare,
                                   spare + n, n, ctx.qp()[prime]);
            gather_limb(spare, permutation, acc0 + i * n, n);
            gather_limb(spare + n, permutation, acc1 + i * n, n);
        } else {
            math::dot_pair_mod_vec(x.data(), nullptr, b.data(), a.data(), digit_count, acc0 + i * n,
                                   acc1 + i * n, n, ctx.qp()[prime]);
        }
    });
    detail::mod_down(ctx, acc0, level, out0);
    detail::mod_down(ctx, acc1, level, out1);
}

const KeySwitchKey& Evaluator::galois_key(u64 element, const char* what, int steps,
                                          int level) const {
    const bool conjugation = element == context_->galois_element_for_conjugation() &&
                             std::string(what).rfind("conjugate", 0) == 0;
    const std::string name =
        conjugation ? "complex conjugation (Galois element " + std::to_string(element) + ")"
                    : "rotation by " + std::to_string(steps) + " slots (Galois element " +
                          std::to_string(element) + ")";
    if (keys_) {
        auto it = keys_->galois.keys.find(element);
        if (it != keys_->galois.keys.end()) {
            if (it->second.permuted_for != 1 && it->second.permuted_for != element) {
                throw MismatchError(std::string(what) + ": the Galois key for " + name +
                                    " is held permuted for another element (" +
                                    std::to_string(it->second.permuted_for) + ")");
            }
            const int key_level = it->second.max_level(context_->p_count());
            if (key_level < level) {
                throw LevelError(std::string(what) + ": the Galois key for " + name +
                                 " was made for levels up to " + std::to_string(key_level) +
                                 ", the ciphertext is at level " + std::to_string(level) +
                                 "; make the key for level " + std::to_string(level) +
                                 " or above, or drop the ciphertext's level first");
            }
            return it->second;
        }
    }
    std::string message;
    if (conjugation) {
        message = std::string(what) + ": no Galois key for " + name +
                  "; generate it with KeyGenerator::galois_keys({}, /*conjugation=*/true)";
    } else {
        message = std::string(what) + ": no Galois key for " + name +
                  "; generate it with KeyGenerator::galois_keys({" + std::to_string(steps) + "})";
    }
    throw MissingKeyError(message);
}

const KeySwitchKey& Evaluator::relinearization_key(const char* what, int level) const {
    if (!keys_ || !keys_->relinearization) {
        throw MissingKeyError(std::string(what) +
                              ": the evaluator has no relinearization key; give it one from "
                              "KeyGenerator::relinearization_key()");
    }
    const KeySwitchKey& key = keys_->relinearization->key;
    const int key_level = key.max_level(context_->p_count());
    if (key_level < level) {
        throw LevelError(std::string(what) +
                         ": the relinearization key was made for levels up to " +
                         std::to_string(key_level) + ", the ciphertext is at level " +
                         std::to_string(level) + "; make the key for level " +
                         std::to_string(level) + " or above, or drop the ciphertext's level first");
    }
    return key;
}

Ciphertext Evaluator::apply_galois(const Ciphertext& a, const Decomposition* digits, u64 element,
                                   const KeySwitchKey& key) const {
    const Context& ctx = *context_;
    const std::size_t n = ctx.n(), q_limbs = a.level + 1;
    const auto perm = detail::galois_permutation(ctx, element);
    Ciphertext r;
    set_metadata(r, metadata(a));
    for (int p = 0; p < 2; ++p) r.polys.emplace_back(n, q_limbs, RnsPoly::uninitialized);
    if (digits != nullptr) {
        key_switch(*digits, key, perm.data(), r.polys[0], r.polys[1]);
    } else {
        key_switch_fused(a.polys[1], a.level, key, perm.data(), r.polys[0], r.polys[1]);
    }
    for_each_limb(q_limbs, [&](std::size_t i) {
        const u64 q = ctx.q()[i].value();
        const u64* c0 = a.polys[0].limb(i);
        u64* o = r.polys[0].limb(i);
        for (std::size_t k = 0; k < n; ++k) o[k] = math::add_mod(o[k], c0[perm[k]], q);
    });
    return r;
}

Ciphertext Evaluator::rotate(const Ciphertext& a, int steps) const {
    check(a, "rotate");
    if (a.size() != 2) throw MismatchError("rotate: relinearize the ciphertext first");
    const u64 element = context_->galois_element_for_rotation(steps);
    if (element == 1) return a;
    const KeySwitchKey& key = galois_key(element, "rotate", steps, a.level);
    return apply_galois(a, nullptr, element, key);
}

Ciphertext Evaluator::switch_key(const Ciphertext& a, const KeySwitchKey& key) const {
    check(a, "switch_key");
    if (a.size() != 2) throw MismatchError("switch_key: relinearize the ciphertext first");
    const Context& ctx = *context_;
    const int key_level = key.max_level(ctx.p_count());
    if (key_level < a.level || key_level > ctx.max_level() || key.a.size() != key.b.size() ||
        key.b.size() != ctx.digit_count(key_level)) {
        throw LevelError("switch_key: the key was made for levels up to " +
                         std::to_string(key_level) + ", the ciphertext is at level " +
                         std::to_string(a.level) + " (or the key is malformed)");
    }
    Ciphertext r;
    set_metadata(r, metadata(a));
    for (int p = 0; p < 2; ++p) r.polys.emplace_back(ctx.n(), a.level + 1, RnsPoly::uninitialized);
    key_switch_fused(a.polys[1], a.level, key, nullptr, r.polys[0], r.polys[1]);
    for_each_limb(a.level + 1, [&](std::size_t i) {
        u64* x = r.polys[0].limb(i);
        math::add_mod_vec(x, a.polys[0].limb(i), x, ctx.n(), ctx.q()[i]);
    });
    return r;
}

Ciphertext Evaluator::conjugate(const Ciphertext& a) const {
    check(a, "conjugate");
    if (a.size() != 2) throw MismatchError("conjugate: relinearize the ciphertext first");
    const u64 element = context_->galois_element_for_conjugation();
    const KeySwitchKey& key = galois_key(element, "conjugate", 0, a.level);
    return apply_galois(a, nullptr, element, key);
}

std::vector<Ciphertext> Evaluator::rotate_hoisted(const Ciphertext& a,
                                                  std::span<const int> steps) const {
    check(a, "rotate_hoisted");
    if (a.size() != 2) throw MismatchError("rotate_hoisted: relinearize the ciphertext first");
    // Look every key up first, so a missing one fails before any work.
    std::vector<const KeySwitchKey*> keys(steps.size(), nullptr);
    std::vector<u64> elements(steps.size());
    for (std::size_t s = 0; s < steps.size(); ++s) {
        elements[s] = context_->galois_element_for_rotation(steps[s]);
        if (elements[s] != 1)
            keys[s] = &galois_key(elements[s], "rotate_hoisted", steps[s], a.level);
    }
    const Decomposition digits = decompose(a.polys[1], a.level);
    std::vector<Ciphertext> out;
    out.reserve(steps.size());
    for (std::size_t s = 0; s < steps.size(); ++s) {
        out.push_back(elements[s] == 1 ? a : apply_galois(a, &digits, elements[s], *keys[s]));
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// Multiply-accumulate

Ciphertext Evaluator::multiply_accumulate(std::span<const Ciphertext* const> cts,
                                          std::span<const Plaintext* const> pts) const {
    if (cts.empty() || cts.size() != pts.size()) {
        throw MismatchError(
            "multiply_accumulate: needs as many plaintexts as ciphertexts, at least one");
    }
    const Ciphertext& first = *cts[0];
    for (std::size_t t = 0; t < cts.size(); ++t) {
        check_binary(first, *cts[t], "multiply_accumulate");
        check_plain(*cts[t], *pts[t], "multiply_accumulate");
        if (!same_scale(pts[t]->scale, pts[0]->scale)) {
            throw ScaleError("multiply_accumulate: plaintext scales differ (" +
                             log2_string(pts[0]->scale) + " and " + log2_string(pts[t]->scale) +
                             ")");
        }
    }
    const Context& ctx = *context_;
    const std::size_t n = ctx.n(), limbs = first.level + 1, size = first.size();
    Ciphertext r;
    set_metadata(r, metadata(first).with_scale(first.scale * pts[0]->scale));
    for (std::size_t p = 0; p < size; ++p) r.polys.emplace_back(n, limbs, RnsPoly::uninitialized);
    for_each_limb(limbs, [&](std::size_t i) {
        const Modulus& q = ctx.q()[i];
        std::vector<const u64*> x(cts.size()), y(cts.size());
        for (std::size_t t = 0; t < cts.size(); ++t) y[t] = pts[t]->poly.limb(i);
        std::vector<u64> partial(cts.size() > math::kMaxDotTerms ? n : 0);
        for (std::size_t p = 0; p < size; ++p) {
            for (std::size_t t = 0; t < cts.size(); ++t) x[t] = cts[t]->polys[p].limb(i);
            // Inner products of up to kMaxDotTerms terms, each reduced once, then summed.
            u64* o = r.polys[p].limb(i);
            for (std::size_t begin = 0; begin < cts.size(); begin += math::kMaxDotTerms) {
                const std::size_t count = std::min(math::kMaxDotTerms, cts.size() - begin);
                u64* target = begin == 0 ? o : partial.data();
                math::dot_mod_vec(x.data() + begin, y.data() + begin, count, target, n, q);
                if (begin != 0) math::add_mod_vec(o, partial.data(), o, n, q);
            }
        }
    });
    return r;
}

Ciphertext Evaluator::multiply_accumulate(std::span<const Ciphertext> cts,
                                          std::span<const Plaintext> pts) const {
    std::vector<const Ciphertext*> c(cts.size());
    std::vector<const Plaintext*> p(pts.size());
    for (std::size_t i = 0; i < cts.size(); ++i) c[i] = &cts[i];
    for (std::size_t i = 0; i < pts.size(); ++i) p[i] = &pts[i];
    return multiply_accumulate(std::span<const Ciphertext* const>(c),
                               std::span<const Plaintext* const>(p));
}

Ciphertext Evaluator::multiply_accumulate(std::span<const Ciphertext* const> cts,
                                          std::span<const double> weights,
                                          double constant_scale) const {
    if (cts.empty() || cts.size() != weights.size()) {
        throw MismatchError(
            "multiply_accumulate: needs as many weights as ciphertexts, at least one");
    }
    const Ciphertext& first = *cts[0];
    for (std::size_t t = 0; t < cts.size(); ++t)
        check_binary(first, *cts[t], "multiply_accumulate");
    const Context& ctx = *context_;
    if (constant_scale == 0) constant_scale = static_cast<double>(ctx.q()[first.level].value());
    if (!(constant_scale >= 1) || !std::isfinite(constant_scale)) {
        throw ScaleError("multiply_accumulate: the constant scale must be a finite number >= 1");
    }
    std::vector<double> integers(weights.size());
    for (std::size_t t = 0; t < weights.size(); ++t) {
        integers[t] = std::round(weights[t] * constant_scale);
        if (!std::isfinite(integers[t]))
            throw ScaleError("multiply_accumulate: a weight times the scale overflows");
    }
    const std::size_t n = ctx.n(), limbs = first.level + 1, size = first.size();
    Ciphertext r;
    set_metadata(r, metadata(first).with_scale(first.scale * constant_scale));
    for (std::size_t p = 0; p < size; ++p) r.polys.emplace_back(n, limbs, RnsPoly::uninitialized);
    for_each_limb(limbs, [&](std::size_t i) {
        const Modulus& q = ctx.q()[i];
        // The terms with a nonzero weight, summed kMaxWeightedTerms at a time.
        std::vector<u64> w;
        std::vector<std::size_t> used;
        for (std::size_t t = 0; t < weights.size(); ++t) {
            const u64 residue = detail::integer_double_to_residue(integers[t], q);
            if (residue == 0) continue;
            w.push_back(residue);
            used.push_back(t);
        }
        std::vector<const u64*> x(used.size());
        std::vector<u64> partial(used.size() > math::kMaxWeightedTerms ? n : 0);
        for (std::size_t p = 0; p < size; ++p) {
            for (std::size_t u = 0; u < used.size(); ++u) x[u] = cts[used[u]]->polys[p].limb(i);
            u64* o = r.polys[p].limb(i);
            math::weighted_sum_mod_vec(x.data(), w.data(),
                                       std::min(used.size(), math::kMaxWeightedTerms), q.value(), o,
                                       n, q);
            for (std::size_t begin = math::kMaxWeightedTerms; begin < used.size();
                 begin += math::kMaxWeightedTerms) {
                const std::size_t count = std::min(math::kMaxWeightedTerms, used.size() - begin);
                math::weighted_sum_mod_vec(x.data() + begin, w.data() + begin, count, q.value(),
                                           partial.data(), n, q);
                math::add_mod_vec(o, partial.data(), o, n, q);
            }
        }
    });
    return r;
}

Ciphertext Evaluator::multiply_accumulate(std::span<const Ciphertext> cts,
                                          std::span<const double> weights,
                                          double constant_scale) const {
    std::vector<const Ciphertext*> c(cts.size());
    for (std::size_t i = 0; i < cts.size(); ++i) c[i] = &cts[i];
    return multiply_accumulate(std::span<const Ciphertext* const>(c), weights, constant_scale);
}

}  // namespace henn::ckks
