// Helpers shared by the CKKS role objects; not part of the public API.
#pragma once

#include <omp.h>

#include <cstdint>
#include <vector>

#include "henn/ckks/errors.hpp"
#include "henn/ckks/keys.hpp"
#include "henn/ckks/objects.hpp"
#include "henn/ckks/parameters.hpp"
#include "henn/math/parallel.hpp"
#include "henn/math/random.hpp"

namespace henn::ckks::detail {

// Index in Context::qp() of limb `limb` of a polynomial holding the first level+1 primes of Q
// followed, when it has more limbs, by the primes of P.
inline std::size_t qp_index(const Context& ctx, int level, std::size_t limb) {
    const std::size_t q_limbs = static_cast<std::size_t>(level) + 1;
    return limb < q_limbs ? limb : ctx.q_count() + (limb - q_limbs);
}

inline int threads() {
    return math::thread_count();
}

// Stream numbers of seeded expansions: ciphertexts use streams [0, |QP|); key-switching key
// digit d uses streams kKeyStreamBase * (d + 1) + [0, |QP|).
inline constexpr std::uint64_t kKeyStreamBase = std::uint64_t{1} << 16;

// Forward/inverse NTT of every limb, in parallel across limbs.
void to_ntt(const Context& ctx, RnsPoly& poly, int level);
void from_ntt(const Context& ctx, RnsPoly& poly, int level);

// A polynomial with small signed coefficients, reduced into each limb and transformed.
void small_to_ntt(const Context& ctx, const std::int8_t* coeffs, RnsPoly& out, int level);

// Uniform polynomial sampled directly in NTT form: limb i comes from stream (base + i) of the
// seed, so expanding the first k limbs of a seed never depends on how many limbs follow.
void sample_uniform_ntt(const Context& ctx, const math::Seed& seed, std::uint64_t stream_base,
                        RnsPoly& out, int level);

// out[i] = in[perm[i]] realizes X -> X^g on NTT-form limbs.
std::vector<std::uint32_t> galois_permutation(const Context& ctx, u64 galois_element);

// A key as made (permuted_for == 1) held permuted for the Galois element g, and back: limb by
// limb, held[perm[k]] = made[k] with perm = galois_permutation(ctx, g).
void permute_key_for_galois(const Context& ctx, KeySwitchKey& key, u64 galois_element);
KeySwitchKey key_as_made(const Context& ctx, const KeySwitchKey& key);

// Fresh error polynomial (discrete Gaussian) in NTT form.
void sample_error_ntt(const Context& ctx, math::Prng& prng, RnsPoly& out, int level);

// A rounded (integer-valued) double to its residue mod q, exactly, for any magnitude.
u64 integer_double_to_residue(double x, const math::Modulus& q);

// ModDown: `extended` holds level+1 primes of Q then the primes of P (NTT form); writes
// round(extended / P) over Q_level into `out` (NTT form). Clobbers the P limbs of `extended`.
void mod_down(const Context& ctx, RnsPoly& extended, int level, RnsPoly& out);
// The same on raw limbs: `extended` holds level+1+|P| limbs of n words.
void mod_down(const Context& ctx, u64* extended, int level, RnsPoly& out);

// Per-thread scratch buffers of key switching, reused across calls (they grow, never shrink):
// a key switch at N = 2^15 needs tens of MB of temporaries, and fresh allocations of that size
// come from the OS page by page on every call. Buffer `slot` of the calling
// thread, at least `words` long; the pointer stays valid until the same thread asks for the
// same slot again. They hold ciphertext data only, never key material.
enum ScratchSlot : std::size_t {
    kScratchModDown,       // mod_down: the P part converted to Q
    kScratchCoefficients,  // key switching: the input in coefficient form
    kScratchPrepared,      // key switching: the digits scaled for base conversion
    kScratchDigitLimbs,    // key switching: every digit raised to one prime (per worker thread)
    kScratchExtended,      // key switching: the two accumulators over Q_level * P
    kScratchSlots
};
u64* thread_scratch(ScratchSlot slot, std::size_t words);

void check_hash(const Context& ctx, std::uint64_t hash, const char* what);

}  // namespace henn::ckks::detail
