// Homomorphic operations. The evaluator is stateless and const: one instance can serve many
// threads. It holds the evaluation keys it was given (never the secret key); an operation whose
// key is missing fails with MissingKeyError naming it. Keys may stop below the top level
// (KeySwitchKey::at_level, KeyGenerator::levelled_galois_keys): a key serves every ciphertext at
// its level or below, with the same result words as the top-level key; a ciphertext above it is
// refused with a LevelError naming the key and both levels.
//
// Level, scale and slot count are checked on every binary operation; `align` brings two
// operands to a common level and scale.
#pragma once

#include <complex>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "henn/ckks/hoisting.hpp"
#include "henn/ckks/keys.hpp"
#include "henn/ckks/objects.hpp"

namespace henn::ckks {

class Evaluator {
  public:
    explicit Evaluator(ContextPtr context, std::shared_ptr<const EvaluationKeys> keys = nullptr);

    const ContextPtr& context() const { return context_; }

    // Addition and subtraction: same level, scale and slot count.
    Ciphertext add(const Ciphertext& a, const Ciphertext& b) const;
    void add_inplace(Ciphertext& a, const Ciphertext& b) const;
    Ciphertext sub(const Ciphertext& a, const Ciphertext& b) const;
    void sub_inplace(Ciphertext& a, const Ciphertext& b) const;
    Ciphertext negate(const Ciphertext& a) const;
    void negate_inplace(Ciphertext& a) const;

    // With plaintexts (at the ciphertext's level or above; only the first limbs are used).
    Ciphertext add_plain(const Ciphertext& a, const Plaintext& p) const;
    void add_plain_inplace(Ciphertext& a, const Plaintext& p) const;
    Ciphertext sub_plain(const Ciphertext& a, const Plaintext& p) const;
    void sub_plain_inplace(Ciphertext& a, const Plaintext& p) const;
    // Result scale: a.scale * p.scale (rescale afterwards).
    Ciphertext multiply_plain(const Ciphertext& a, const Plaintext& p) const;
    void multiply_plain_inplace(Ciphertext& a, const Plaintext& p) const;

    // Constants. add_constant needs no level. multiply_constant multiplies by the integer
    // round(c * constant_scale) (0: the last prime at a's level, so that a rescale brings the
    // scale back exactly to a.scale). multiply_integer needs no level and keeps the scale.
    Ciphertext add_constant(const Ciphertext& a, std::complex<double> c) const;
    Ciphertext multiply_constant(const Ciphertext& a, double c, double constant_scale = 0) const;
    Ciphertext multiply_integer(const Ciphertext& a, std::int64_t k) const;

    // Ciphertext products. multiply gives a size-3 ciphertext; relinearize brings it back to
    // size 2 with the relinearization key.
    Ciphertext multiply(const Ciphertext& a, const Ciphertext& b) const;
    Ciphertext relinearize(const Ciphertext& a) const;
    Ciphertext multiply_relin(const Ciphertext& a, const Ciphertext& b) const;
    Ciphertext square_relin(const Ciphertext& a) const;

    // Divides by the last prime of the level: level - 1, scale / q_level.
    Ciphertext rescale(const Ciphertext& a) const;
    void rescale_inplace(Ciphertext& a) const;
    // Drops primes without dividing: the scale is unchanged.
    Ciphertext drop_level(const Ciphertext& a, int level) const;
    void drop_level_inplace(Ciphertext& a, int level) const;

    // Rotation of the slots left by `steps` (negative: right), and complex conjugation.
    Ciphertext rotate(const Ciphertext& a, int steps) const;
    Ciphertext conjugate(const Ciphertext& a) const;
    // The same plaintext under another secret: `key` from KeyGenerator::switching_key, made for
    // a.level or above (LevelError otherwise). Same level and scale.
    Ciphertext switch_key(const Ciphertext& a, const KeySwitchKey& key) const;
    // Many rotations of one ciphertext sharing a single decomposition (hoisting).
    std::vector<Ciphertext> rotate_hoisted(const Ciphertext& a, std::span<const int> steps) const;

    // Explicit hoisting and double hoisting (henn/ckks/hoisting.hpp; defined in hoisting.cpp).
    // Decomposes c_1 once into its key-switching digits over Q_level * P.
    HoistedCiphertext hoist(const Ciphertext& a) const;
    // A rotation or conjugation of a hoisted ciphertext: the automorphism is applied to the
    // digits during the inner product with the key, then one ModDown. Equal to rotate(a, steps).
    Ciphertext rotate(const HoistedCiphertext& h, int steps) const;
    Ciphertext conjugate(const HoistedCiphertext& h) const;
    // Lazy rotation: as rotate(h, steps), but left in Q*P without the ModDown (steps = 0 gives
    // extend(h.input)). Sum such results (with plaintext products) and divide by P once.
    ExtendedCiphertext rotate_lazy(const HoistedCiphertext& h, int steps) const;
    // Lazy rotation of a ciphertext already in Q*P: only c_1 is brought down to Q and
    // decomposed, c_0 stays in Q*P; the result is in Q*P (the giant steps of BSGS).
    ExtendedCiphertext rotate_lazy(const ExtendedCiphertext& a, int steps) const;
    // P * a over Q_level * P (exact, no noise): the extended form of an ordinary ciphertext.
    ExtendedCiphertext extend(const Ciphertext& a) const;
    // ModDown: divides by P with rounding; same level and scale.
    Ciphertext mod_down(const ExtendedCiphertext& a) const;
    // Sums in Q*P (same level, scale, slots).
    void add_inplace(ExtendedCiphertext& a, const ExtendedCiphertext& b) const;
    // Products with extended plaintexts (p.level >= the ciphertext's level); scale a.scale *
    // p.scale.
    ExtendedCiphertext multiply_plain(const ExtendedCiphertext& a,
                                      const ExtendedPlaintext& p) const;
    Ciphertext multiply_plain(const Ciphertext& a, const ExtendedPlaintext& p) const;
    // sum_i c_i * p_i in Q*P with one reduction per coefficient per 60 terms. The ciphertexts
    // share level, scale and slots, the plaintexts share a scale.
    ExtendedCiphertext multiply_accumulate(
        std::span<const ExtendedCiphertext* const> ciphertexts,
        std::span<const ExtendedPlaintext* const> plaintexts) const;

    // sum_i c_i * p_i with one modular reduction per coefficient at the end (lazy 128-bit
    // accumulation): the inner loop of dense and convolution layers. All ciphertexts share
    // level, scale and slots; all plaintexts share a scale. Result scale: c.scale * p.scale.
    Ciphertext multiply_accumulate(std::span<const Ciphertext* const> ciphertexts,
                                   std::span<const Plaintext* const> plaintexts) const;
    Ciphertext multiply_accumulate(std::span<const Ciphertext> ciphertexts,
                                   std::span<const Plaintext> plaintexts) const;
    // sum_i c_i * w_i for real weights, each multiplied as round(w_i * constant_scale) (0: the
    // last prime at the ciphertexts' level). Result scale: c.scale * constant_scale.
    Ciphertext multiply_accumulate(std::span<const Ciphertext* const> ciphertexts,
                                   std::span<const double> weights,
                                   double constant_scale = 0) const;
    Ciphertext multiply_accumulate(std::span<const Ciphertext> ciphertexts,
                                   std::span<const double> weights,
                                   double constant_scale = 0) const;

    // Brings two ciphertexts to the same level and scale: the higher level is dropped; a scale
    // that is an integer multiple of the other is matched by an integer product (no level),
    // otherwise by a constant product and a rescale (one level).
    std::pair<Ciphertext, Ciphertext> align(const Ciphertext& a, const Ciphertext& b) const;

    // Relative tolerance under which two scales count as equal.
    static constexpr double kScaleTolerance = 1e-10;

  private:
    struct Decomposition;
    Decomposition decompose(const RnsPoly& poly, int level) const;
    void key_switch(const Decomposition& digits, const KeySwitchKey& key,
                    const std::uint32_t* permutation, RnsPoly& out0, RnsPoly& out1) const;
    // decompose + key_switch of one polynomial without keeping its digits: each digit is raised
    // to one prime at a time and consumed at once (per-thread scratch, nothing allocated per
    // call). Same result words. For single key switches (relinearize, rotate, conjugate).
    void key_switch_fused(const RnsPoly& poly, int level, const KeySwitchKey& key,
                          const std::uint32_t* permutation, RnsPoly& out0, RnsPoly& out1) const;
    std::vector<RnsPoly> decompose_digits(const RnsPoly& poly, int level) const;
    // The inner products of key switching, left over Q_level * P (no ModDown).
    void key_switch_extended(const std::vector<RnsPoly>& digits, int level, const KeySwitchKey& key,
                             const std::uint32_t* permutation, RnsPoly& acc0, RnsPoly& acc1) const;
    // The same into level+1+|P| limbs of n words each.
    void key_switch_extended(const std::vector<RnsPoly>& digits, int level, const KeySwitchKey& key,
                             const std::uint32_t* permutation, u64* acc0, u64* acc1) const;
    void check_extended(const ExtendedCiphertext& a, const char* op) const;
    // The key of `element`, checked to serve ciphertexts at `level`: MissingKeyError without one,
    // LevelError naming the step (or conjugation), the element and both levels when it stops
    // below `level`. Called before any work.
    const KeySwitchKey& galois_key(u64 element, const char* what, int steps, int level) const;
    const KeySwitchKey& relinearization_key(const char* what, int level) const;
    // digits: the hoisted decomposition of a's c_1, or null to key-switch without one.
    Ciphertext apply_galois(const Ciphertext& a, const Decomposition* digits, u64 element,
                            const KeySwitchKey& key) const;
    void check(const Ciphertext& a, const char* op) const;
    void check_binary(const Ciphertext& a, const Ciphertext& b, const char* op) const;
    void check_plain(const Ciphertext& a, const Plaintext& p, const char* op) const;

    ContextPtr context_;
    std::shared_ptr<const EvaluationKeys> keys_;
};

}  // namespace henn::ckks
