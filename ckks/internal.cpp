#include "internal.hpp"

#include <cmath>
#include <string>

#include "henn/math/vector_ops.hpp"

namespace henn::ckks::detail {

void to_ntt(const Context& ctx, RnsPoly& poly, int level) {
#pragma omp parallel for num_threads(threads()) if (threads() > 1)
    for (std::size_t i = 0; i < poly.limbs; ++i) {
        math::ntt_forward(poly.limb(i), ctx.ntt(qp_index(ctx, level, i)));
    }
}

void from_ntt(const Context& ctx, RnsPoly& poly, int level) {
#pragma omp parallel for num_threads(threads()) if (threads() > 1)
    for (std::size_t i = 0; i < poly.limbs; ++i) {
        math::ntt_inverse(poly.limb(i), ctx.ntt(qp_index(ctx, level, i)));
    }
}

void small_to_ntt(const Context& ctx, const std::int8_t* coeffs, RnsPoly& out, int level) {
    const std::size_t n = ctx.n();
#pragma omp parallel for num_threads(threads()) if (threads() > 1)
    for (std::size_t i = 0; i < out.limbs; ++i) {
        const std::size_t index = qp_index(ctx, level, i);
        const u64 q = ctx.qp()[index].value();
        u64* dst = out.limb(i);
        for (std::size_t k = 0; k < n; ++k) {
            const std::int64_t c = coeffs[k];
            dst[k] = c >= 0 ? static_cast<u64>(c) : q - static_cast<u64>(-c);
        }
        math::ntt_forward(dst, ctx.ntt(index));
    }
}

void sample_uniform_ntt(const Context& ctx, const math::Seed& seed, std::uint64_t stream_base,
                        RnsPoly& out, int level) {
#pragma omp parallel for num_threads(threads()) if (threads() > 1)
    for (std::size_t i = 0; i < out.limbs; ++i) {
        const std::size_t index = qp_index(ctx, level, i);
        math::Prng prng(seed, stream_base + index);
        math::sample_uniform(prng, ctx.qp()[index], out.limb(i), ctx.n());
    }
}

std::vector<std::uint32_t> galois_permutation(const Context& ctx, u64 galois_element) {
    const std::size_t n = ctx.n();
    const u64 m = 2 * n;
    if (galois_element % 2 == 0 || galois_element >= m) {
        throw ParameterError("invalid Galois element " + std::to_string(galois_element));
    }
    const auto& bitrev = ctx.bit_reversal();
    std::vector<std::uint32_t> perm(n);
    for (std::size_t i = 0; i < n; ++i) {
        // Slot i of the NTT holds the evaluation at psi^(2*bitrev(i)+1); the automorphism
        // reads the evaluation at that exponent times g.
        const u64 exponent = ((2 * static_cast<u64>(bitrev[i]) + 1) * galois_element) & (m - 1);
        perm[i] = bitrev[(exponent - 1) / 2];
    }
    return perm;
}

void permute_key_for_galois(const Context& ctx, KeySwitchKey& key, u64 galois_element) {
    if (key.permuted_for != 1) throw MismatchError("the key-switching key is already permuted");
    if (galois_element == 1) return;
    const auto perm = galois_permutation(ctx, galois_element);
    std::vector<u64> made(ctx.n());
    for (auto* polys : {&key.b, &key.a}) {
        for (RnsPoly& p : *polys) {
            for (std::size_t i = 0; i < p.limbs; ++i) {
                u64* limb = p.limb(i);
                std::copy(limb, limb + p.n, made.begin());
                for (std::size_t k = 0; k < p.n; ++k) limb[perm[k]] = made[k];
            }
        }
    }
    key.permuted_for = galois_element;
}

KeySwitchKey key_as_made(const Context& ctx, const KeySwitchKey& key) {
    KeySwitchKey made = key;
    if (key.permuted_for == 1) return made;
    const auto perm = galois_permutation(ctx, key.permuted_for);
    std::vector<u64> held(ctx.n());
    for (auto* polys : {&made.b, &made.a}) {
        for (RnsPoly& p : *polys) {
            if (p.n != perm.size()) throw MismatchError("malformed key-switching key");
            for (std::size_t i = 0; i < p.limbs; ++i) {
                u64* limb = p.limb(i);
                std::copy(limb, limb + p.n, held.begin());
                for (std::size_t k = 0; k < p.n; ++k) limb[k] = held[perm[k]];
            }
        }
    }
    made.permuted_for = 1;
    return made;
}

void sample_error_ntt(const Context& ctx, math::Prng& prng, RnsPoly& out, int level) {
    std::vector<std::int8_t> e(ctx.n());
    math::sample_gaussian(prng, e.data(), e.size());
    small_to_ntt(ctx, e.data(), out, level);
    math::secure_wipe(e.data(), e.size());
}

u64 integer_double_to_residue(double x, const math::Modulus& q) {
    const bool negative = x < 0;
    const double magnitude = std::fabs(x);
    u64 r;
    if (magnitude < 9223372036854775808.0) {  // 2^63
        r = q.reduce(static_cast<u64>(magnitude));
    } else {
        int exponent;
        const double mantissa = std::frexp(magnitude, &exponent);  // magnitude = m * 2^e
        const u64 integer_mantissa = static_cast<u64>(std::ldexp(mantissa, 53));
        r = math::mul_mod(q.reduce(integer_mantissa), math::pow_mod(2, exponent - 53, q), q);
    }
    return negative ? math::negate_mod(r, q.value()) : r;
}

void mod_down(const Context& ctx, RnsPoly& ext, int level, RnsPoly& out) {
    mod_down(ctx, ext.data.data(), level, out);
}

void mod_down(const Context& ctx, u64* ext, int level, RnsPoly& out) {
    const std::size_t n = ctx.n(), q_limbs = level + 1, alpha = ctx.p_count();
    u64* p_limbs = ext + q_limbs * n;
#pragma omp parallel for num_threads(threads()) if (threads() > 1)
    for (std::size_t t = 0; t < alpha; ++t) {
        math::ntt_inverse(p_limbs + t * n, ctx.ntt(ctx.q_count() + t));
    }
    u64* converted = thread_scratch(kScratchModDown, q_limbs * n);
    // Centered conversion: the division by P then rounds to nearest with no bias (a bias in
    // every coefficient would concentrate into a large error in a few slots).
    ctx.mod_down_converter(level).convert_centered(p_limbs, converted, n);
#pragma omp parallel for num_threads(threads()) if (threads() > 1)
    for (std::size_t i = 0; i < q_limbs; ++i) {
        const math::Modulus& q = ctx.q()[i];
        u64* c = converted + i * n;
        math::ntt_forward(c, ctx.ntt(i));
        // (x - c) P^-1 mod q, with the vector kernels (both reduce fully: same words as the
        // scalar mul_shoup(x + q - c)).
        u64* o = out.limb(i);
        math::sub_mod_vec(ext + i * n, c, o, n, q);
        math::mul_scalar_mod_vec(o, ctx.p_inverse_mod_q(i), o, n, q);
    }
}

u64* thread_scratch(ScratchSlot slot, std::size_t words) {
    thread_local std::vector<u64, DefaultInitAllocator<u64>> buffers[kScratchSlots];
    auto& buffer = buffers[slot];
    if (buffer.size() < words) {
        buffer.clear();
        buffer.shrink_to_fit();
        buffer.resize(words);
    }
    return buffer.data();
}

void check_hash(const Context& ctx, std::uint64_t hash, const char* what) {
    if (hash != ctx.parameter_hash()) {
        throw MismatchError(std::string(what) +
                            " was made under different parameters than this context");
    }
}

}  // namespace henn::ckks::detail
