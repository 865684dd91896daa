// Explicit hoisting, lazy rotations in Q*P and ModDown (henn/ckks/hoisting.hpp), as members of
// Evaluator; extended plaintexts.
#include "henn/ckks/hoisting.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>

#include "henn/ckks/evaluator.hpp"
#include "henn/math/vector_ops.hpp"
#include "internal.hpp"

namespace henn::ckks {

using math::Modulus;

namespace {

template <typename F>
void for_each_limb(std::size_t limbs, F&& body) {
#pragma omp parallel for num_threads(detail::threads()) if (detail::threads() > 1 && limbs > 1)
    for (std::size_t i = 0; i < limbs; ++i) body(i);
}

bool same_scale(double a, double b) {
    return std::fabs(a - b) <= Evaluator::kScaleTolerance * std::max(std::fabs(a), std::fabs(b));
}

// Limb of a polynomial holding q_0..q_{held_level} then P that matches limb i of a polynomial
// at `level` (<= held_level) in the same layout.
std::size_t held_limb(int held_level, int level, std::size_t i) {
    const std::size_t q_limbs = static_cast<std::size_t>(level) + 1;
    return i < q_limbs ? i : static_cast<std::size_t>(held_level) + 1 + (i - q_limbs);
}

std::size_t poly_bytes(const RnsPoly& p) {
    return p.data.size() * sizeof(u64);
}

void check_extended_plain(const Context& ctx, int level, std::size_t slots,
                          const ExtendedPlaintext& p, const char* op) {
    detail::check_hash(ctx, p.parameter_hash,
                       (std::string(op) + ": the extended plaintext").c_str());
    if (p.level < level) {
        throw LevelError(std::string(op) + ": the extended plaintext holds levels up to " +
                         std::to_string(p.level) + ", below the ciphertext's level " +
                         std::to_string(level));
    }
    if (p.poly.n != ctx.n() ||
        p.poly.limbs != static_cast<std::size_t>(p.level) + 1 + ctx.p_count()) {
        throw MismatchError(std::string(op) + ": malformed extended plaintext");
    }
    if (p.slots != slots) {
        throw MismatchError(std::string(op) + ": the plaintext has " + std::to_string(p.slots) +
                            " slots, the ciphertext " + std::to_string(slots));
    }
}

}  // namespace

std::size_t HoistedCiphertext::bytes() const {
    std::size_t total = 0;
    for (const auto& p : input.polys) total += poly_bytes(p);
    for (const auto& d : digits) total += poly_bytes(d);
    return total;
}

Plaintext ExtendedPlaintext::to_plaintext(int at_level) const {
    if (at_level < 0 || at_level > level) {
        throw LevelError("ExtendedPlaintext::to_plaintext: level " + std::to_string(at_level) +
                         " is outside [0, " + std::to_string(level) + "]");
    }
    Plaintext pt;
    pt.level = at_level;
    pt.scale = scale;
    pt.slots = slots;
    pt.parameter_hash = parameter_hash;
    pt.poly = RnsPoly(poly.n, at_level + 1, RnsPoly::uninitialized);
    std::copy(poly.data.begin(), poly.data.begin() + poly.n * (at_level + 1), pt.poly.data.begin());
    return pt;
}

ExtendedPlaintext encode_extended(const Encoder& encoder,
                                  std::span<const std::complex<double>> values, int level,
                                  double scale, std::size_t slots) {
    const Context& ctx = *encoder.context();
    if (level < 0) level = ctx.max_level();
    if (level > ctx.max_level()) {
        throw LevelError("cannot encode at level " + std::to_string(level) + ": the top level is " +
                         std::to_string(ctx.max_level()));
    }
    if (scale == 0) scale = ctx.default_scale();
    if (!(scale >= 1) || !std::isfinite(scale))
        throw ScaleError("the scale must be a finite number >= 1");
    if (slots == 0) slots = ctx.max_slots();
    if (values.size() > slots) {
        throw ParameterError(std::to_string(values.size()) + " values do not fit in " +
                             std::to_string(slots) + " slots");
    }
    std::vector<std::complex<double>> w(slots);
    std::copy(values.begin(), values.end(), w.begin());
    ctx.fft(slots).embed_inverse(w);

    const std::size_t n = ctx.n(), gap = n / (2 * slots);
    double log_q_level = 0;
    for (int i = 0; i <= level; ++i)
        log_q_level += std::log2(static_cast<double>(ctx.q()[i].value()));
    std::vector<double> coeffs(2 * slots);
    double largest = 0;
    for (std::size_t k = 0; k < slots; ++k) {
        coeffs[k] = std::round(w[k].real() * scale);
        coeffs[k + slots] = std::round(w[k].imag() * scale);
        largest = std::max({largest, std::fabs(coeffs[k]), std::fabs(coeffs[k + slots])});
    }
    if (!std::isfinite(largest) || (largest > 0 && std::log2(largest) >= log_q_level - 1)) {
        std::ostringstream msg;
        msg << "encoding overflow: a coefficient of 2^" << std::log2(largest)
            << " does not fit Q at level " << level << " (2^" << log_q_level
            << "); lower the scale or the values";
        throw ScaleError(msg.str());
    }
    ExtendedPlaintext pt;
    pt.level = level;
    pt.scale = scale;
    pt.slots = slots;
    pt.parameter_hash = ctx.parameter_hash();
    const std::size_t limbs = static_cast<std::size_t>(level) + 1 + ctx.p_count();
    pt.poly = RnsPoly(n, limbs);
    for_each_limb(limbs, [&](std::size_t i) {
        const std::size_t prime = detail::qp_index(ctx, level, i);
        const Modulus& q = ctx.qp()[prime];
        u64* dst = pt.poly.limb(i);
        for (std::size_t k = 0; k < slots; ++k) {
            dst[k * gap] = detail::integer_double_to_residue(coeffs[k], q);
            dst[k * gap + n / 2] = detail::integer_double_to_residue(coeffs[k + slots], q);
        }
        math::ntt_forward(dst, ctx.ntt(prime));
    });
    return pt;
}

ExtendedPlaintext encode_extended(const Encoder& encoder, std::span<const double> values, int level,
                                  double scale, std::size_t slots) {
    std::vector<std::complex<double>> complex_values(values.begin(), values.end());
    return encode_extended(encoder, complex_values, level, scale, slots);
}

// ---------------------------------------------------------------------------------------------
// Evaluator members

void Evaluator::check_extended(const ExtendedCiphertext& a, const char* op) const {
    const Context& ctx = *context_;
    detail::check_hash(ctx, a.parameter_hash,
                       (std::string(op) + ": the extended ciphertext").c_str());
    if (a.level < 0 || a.level > ctx.max_level()) {
        throw LevelError(std::string(op) + ": extended ciphertext level " +
                         std::to_string(a.level) + " is outside [0, " +
                         std::to_string(ctx.max_level()) + "]");
    }
    const std::size_t limbs = static_cast<std::size_t>(a.level) + 1 + ctx.p_count();
    for (const RnsPoly* p : {&a.c0, &a.c1}) {
        if (p->n != ctx.n() || p->limbs != limbs || p->data.size() != p->n * p->limbs) {
            throw MismatchError(std::string(op) +
                                ": malformed extended ciphertext (limbs and level disagree)");
        }
    }
}

HoistedCiphertext Evaluator::hoist(const Ciphertext& a) const {
    check(a, "hoist");
    if (a.size() != 2) throw MismatchError("hoist: relinearize the ciphertext first");
    HoistedCiphertext h;
    h.input = a;
    h.digits = decompose_digits(a.polys[1], a.level);
    return h;
}

namespace {
void check_hoisted(const Context& ctx, const HoistedCiphertext& h, const char* op) {
    if (h.digits.size() != ctx.digit_count(h.input.level)) {
        throw MismatchError(std::string(op) + ": the hoisted ciphertext has " +
                            std::to_string(h.digits.size()) + " digits, its level needs " +
                            std::to_string(ctx.digit_count(h.input.level)));
    }
    const std::size_t limbs = static_cast<std::size_t>(h.input.level) + 1 + ctx.p_count();
    for (const auto& d : h.digits) {
        if (d.n != ctx.n() || d.limbs != limbs)
            throw MismatchError(std::string(op) + ": malformed hoisted digits");
    }
}
}  // namespace

Ciphertext Evaluator::rotate(const HoistedCiphertext& h, int steps) const {
    check(h.input, "rotate (hoisted)");
    check_hoisted(*context_, h, "rotate (hoisted)");
    if (context_->galois_element_for_rotation(steps) == 1) return h.input;
    // ModDown(P * c_0(X^g) + k_0) = c_0(X^g) + ModDown(k_0) exactly: the same result as rotate(a,
    // steps).
    return mod_down(rotate_lazy(h, steps));
}

Ciphertext Evaluator::conjugate(const HoistedCiphertext& h) const {
    check(h.input, "conjugate (hoisted)");
    check_hoisted(*context_, h, "conjugate (hoisted)");
    const Context& ctx = *context_;
    const u64 element = ctx.galois_element_for_conjugation();
    const KeySwitchKey& key = galois_key(element, "conjugate", 0, h.input.level);
    const auto perm = detail::galois_permutation(ctx, element);
    const int level = h.input.level;
    ExtendedCiphertext e;
    key_switch_extended(h.digits, level, key, perm.data(), e.c0, e.c1);
    e.level = level;
    e.scale = h.input.scale;
    e.slots = h.input.slots;
    e.parameter_hash = h.input.parameter_hash;
    Ciphertext r = mod_down(e);
    const std::size_t n = ctx.n();
    for_each_limb(level + 1, [&](std::size_t i) {
        const u64 q = ctx.q()[i].value();
        const u64* c0 = h.input.polys[0].limb(i);
        u64* o = r.polys[0].limb(i);
        for (std::size_t k = 0; k < n; ++k) o[k] = math::add_mod(o[k], c0[perm[k]], q);
    });
    return r;
}

ExtendedCiphertext Evaluator::rotate_lazy(const HoistedCiphertext& h, int steps) const {
    check(h.input, "rotate_lazy");
    check_hoisted(*context_, h, "rotate_lazy");
    const Context& ctx = *context_;
    const u64 element = ctx.galois_element_for_rotation(steps);
    if (element == 1) return extend(h.input);
    const KeySwitchKey& key = galois_key(element, "rotate_lazy", steps, h.input.level);
    const auto perm = detail::galois_permutation(ctx, element);
    const int level = h.input.level;
    ExtendedCiphertext r;
    key_switch_extended(h.digits, level, key, perm.data(), r.c0, r.c1);
    r.level = level;
    r.scale = h.input.scale;
    r.slots = h.input.slots;
    r.parameter_hash = h.input.parameter_hash;
    // c_0(X^g) enters as P * c_0(X^g) on the primes of Q (and 0 mod the primes of P).
    const std::size_t n = ctx.n();
    for_each_limb(level + 1, [&](std::size_t i) {
        const u64 q = ctx.q()[i].value();
        const math::ShoupConstant p_mod(ctx.p_mod_q(i), q);
        const u64* c0 = h.input.polys[0].limb(i);
        u64* o = r.c0.limb(i);
        for (std::size_t k = 0; k < n; ++k) {
            o[k] =
                math::add_mod(o[k], math::mul_shoup(c0[perm[k]], p_mod.value, p_mod.shoup, q), q);
        }
    });
    return r;
}

ExtendedCiphertext Evaluator::rotate_lazy(const ExtendedCiphertext& a, int steps) const {
    check_extended(a, "rotate_lazy");
    const Context& ctx = *context_;
    const u64 element = ctx.galois_element_for_rotation(steps);
    if (element == 1) return a;
    const KeySwitchKey& key = galois_key(element, "rotate_lazy", steps, a.level);
    const int level = a.level;
    const std::size_t n = ctx.n(), q_limbs = level + 1, ext_limbs = q_limbs + ctx.p_count();
    // Only c_1 needs coefficients in Q for its digits; c_0 stays in Q*P and is permuted there.
    RnsPoly c1 = a.c1, c1_q(n, q_limbs, RnsPoly::uninitialized);
    detail::mod_down(ctx, c1, level, c1_q);
    const std::vector<RnsPoly> digits = decompose_digits(c1_q, level);
    const auto perm = detail::galois_permutation(ctx, element);
    ExtendedCiphertext r;
    key_switch_extended(digits, level, key, perm.data(), r.c0, r.c1);
    r.level = level;
    r.scale = a.scale;
    r.slots = a.slots;
    r.parameter_hash = a.parameter_hash;
    for_each_limb(ext_limbs, [&](std::size_t i) {
        const u64 q = ctx.qp()[detail::qp_index(ctx, level, i)].value();
        const u64* c0 = a.c0.limb(i);
        u64* o = r.c0.limb(i);
        for (std::size_t k = 0; k < n; ++k) o[k] = math::add_mod(o[k], c0[perm[k]], q);
    });
    return r;
}

ExtendedCiphertext Evaluator::extend(const Ciphertext& a) const {
    check(a, "extend");
    if (a.size() != 2) throw MismatchError("extend: relinearize the ciphertext first");
    const Context& ctx = *context_;
    const std::size_t n = ctx.n(), q_limbs = a.level + 1, ext_limbs = q_limbs + ctx.p_count();
    ExtendedCiphertext r;
    r.level = a.level;
    r.scale = a.scale;
    r.slots = a.slots;
    r.parameter_hash = a.parameter_hash;
    r.c0 = RnsPoly(n, ext_limbs);  // P limbs: P = 0 mod p
    r.c1 = RnsPoly(n, ext_limbs);
    for_each_limb(q_limbs, [&](std::size_t i) {
        const math::ShoupConstant p_mod(ctx.p_mod_q(i), ctx.q()[i].value());
        math::mul_scalar_mod_vec(a.polys[0].limb(i), p_mod, r.c0.limb(i), n, ctx.q()[i]);
        math::mul_scalar_mod_vec(a.polys[1].limb(i), p_mod, r.c1.limb(i), n, ctx.q()[i]);
    });
    return r;
}

Ciphertext Evaluator::mod_down(const ExtendedCiphertext& a) const {
    check_extended(a, "mod_down");
    const std::size_t n = context_->n(), q_limbs = a.level + 1;
    Ciphertext r;
    r.level = a.level;
    r.scale = a.scale;
    r.slots = a.slots;
    r.parameter_hash = a.parameter_hash;
    for (const RnsPoly* p : {&a.c0, &a.c1}) {
        RnsPoly scratch = *p;  // detail::mod_down clobbers the P limbs
        RnsPoly& out = r.polys.emplace_back(n, q_limbs, RnsPoly::uninitialized);
        detail::mod_down(*context_, scratch, a.level, out);
    }
    return r;
}

void Evaluator::add_inplace(ExtendedCiphertext& a, const ExtendedCiphertext& b) const {
    check_extended(a, "add (extended)");
    check_extended(b, "add (extended)");
    if (a.level != b.level) {
        throw LevelError("add (extended): operands are at levels " + std::to_string(a.level) +
                         " and " + std::to_string(b.level));
    }
    if (!same_scale(a.scale, b.scale)) throw ScaleError("add (extended): operand scales differ");
    if (a.slots != b.slots)
        throw MismatchError("add (extended): operands have different slot counts");
    const Context& ctx = *context_;
    for_each_limb(a.c0.limbs, [&](std::size_t i) {
        const Modulus& q = ctx.qp()[detail::qp_index(ctx, a.level, i)];
        math::add_mod_vec(a.c0.limb(i), b.c0.limb(i), a.c0.limb(i), ctx.n(), q);
        math::add_mod_vec(a.c1.limb(i), b.c1.limb(i), a.c1.limb(i), ctx.n(), q);
    });
}

ExtendedCiphertext Evaluator::multiply_plain(const ExtendedCiphertext& a,
                                             const ExtendedPlaintext& p) const {
    check_extended(a, "multiply_plain (extended)");
    check_extended_plain(*context_, a.level, a.slots, p, "multiply_plain (extended)");
    const Context& ctx = *context_;
    ExtendedCiphertext r;
    r.level = a.level;
    r.scale = a.scale * p.scale;
    r.slots = a.slots;
    r.parameter_hash = a.parameter_hash;
    r.c0 = RnsPoly(ctx.n(), a.c0.limbs, RnsPoly::uninitialized);
    r.c1 = RnsPoly(ctx.n(), a.c1.limbs, RnsPoly::uninitialized);
    for_each_limb(a.c0.limbs, [&](std::size_t i) {
        const Modulus& q = ctx.qp()[detail::qp_index(ctx, a.level, i)];
        const u64* w = p.poly.limb(held_limb(p.level, a.level, i));
        math::mul_mod_vec(a.c0.limb(i), w, r.c0.limb(i), ctx.n(), q);
        math::mul_mod_vec(a.c1.limb(i), w, r.c1.limb(i), ctx.n(), q);
    });
    return r;
}

Ciphertext Evaluator::multiply_plain(const Ciphertext& a, const ExtendedPlaintext& p) const {
    check(a, "multiply_plain");
    check_extended_plain(*context_, a.level, a.slots, p, "multiply_plain");
    const Context& ctx = *context_;
    Ciphertext r;
    r.level = a.level;
    r.scale = a.scale * p.scale;
    r.slots = a.slots;
    r.parameter_hash = a.parameter_hash;
    for (const auto& poly : a.polys) {
        RnsPoly& out = r.polys.emplace_back(poly.n, poly.limbs, RnsPoly::uninitialized);
        for_each_limb(a.level + 1, [&](std::size_t i) {
            math::mul_mod_vec(poly.limb(i), p.poly.limb(i), out.limb(i), poly.n, ctx.q()[i]);
        });
    }
    return r;
}

ExtendedCiphertext Evaluator::multiply_accumulate(
    std::span<const ExtendedCiphertext* const> cts,
    std::span<const ExtendedPlaintext* const> pts) const {
    if (cts.empty() || cts.size() != pts.size()) {
        throw MismatchError(
            "multiply_accumulate (extended): needs as many plaintexts as ciphertexts, at least "
            "one");
    }
    const ExtendedCiphertext& first = *cts[0];
    for (std::size_t t = 0; t < cts.size(); ++t) {
        check_extended(*cts[t], "multiply_accumulate (extended)");
        if (cts[t]->level != first.level || !same_scale(cts[t]->scale, first.scale) ||
            cts[t]->slots != first.slots) {
            throw MismatchError(
                "multiply_accumulate (extended): the ciphertexts differ in level, scale or slots");
        }
        check_extended_plain(*context_, first.level, first.slots, *pts[t],
                             "multiply_accumulate (extended)");
        if (!same_scale(pts[t]->scale, pts[0]->scale)) {
            throw ScaleError("multiply_accumulate (extended): plaintext scales differ");
        }
    }
    const Context& ctx = *context_;
    const std::size_t n = ctx.n(), limbs = first.c0.limbs;
    ExtendedCiphertext r;
    r.level = first.level;
    r.scale = first.scale * pts[0]->scale;
    r.slots = first.slots;
    r.parameter_hash = first.parameter_hash;
    r.c0 = RnsPoly(n, limbs, RnsPoly::uninitialized);
    r.c1 = RnsPoly(n, limbs, RnsPoly::uninitialized);
    for_each_limb(limbs, [&](std::size_t i) {
        const Modulus& q = ctx.qp()[detail::qp_index(ctx, first.level, i)];
        std::vector<const u64*> x(cts.size()), y(cts.size());
        for (std::size_t t = 0; t < cts.size(); ++t)
            y[t] = pts[t]->poly.limb(held_limb(pts[t]->level, first.level, i));
        std::vector<u64> partial(cts.size() > math::kMaxDotTerms ? n : 0);
        for (int p = 0; p < 2; ++p) {
            for (std::size_t t = 0; t < cts.size(); ++t)
                x[t] = (p == 0 ? cts[t]->c0 : cts[t]->c1).limb(i);
            u64* o = (p == 0 ? r.c0 : r.c1).limb(i);
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

}  // namespace henn::ckks
