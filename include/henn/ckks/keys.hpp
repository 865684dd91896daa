// Keys and key generation. Keys live in explicit objects handed to the roles that need them;
// nothing is global. Secret material is wiped from memory when its object is destroyed.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "henn/ckks/objects.hpp"
#include "henn/ckks/parameters.hpp"

namespace henn::ckks {

// The secret s, uniform ternary, in NTT form over Q and P. Never leaves the client.
class SecretKey {
  public:
    SecretKey() = default;
    SecretKey(RnsPoly poly, std::uint64_t parameter_hash);
    ~SecretKey();
    SecretKey(const SecretKey&) = default;
    SecretKey& operator=(const SecretKey&);
    SecretKey(SecretKey&&) noexcept;
    SecretKey& operator=(SecretKey&&) noexcept;

    const RnsPoly& poly() const { return poly_; }
    std::uint64_t parameter_hash() const { return hash_; }

  private:
    void wipe();
    RnsPoly poly_;
    std::uint64_t hash_ = 0;
};

// (b, a) = (-a s + e, a) over Q and P, NTT form.
struct PublicKey {
    RnsPoly b, a;
    std::uint64_t parameter_hash = 0;
};

// A hybrid key-switching key from s' to s: for each digit d, (b_d, a_d) over Q*P with
// b_d = -a_d s + e_d + P * s' on the primes of digit d. NTT form.
struct KeySwitchKey {
    std::vector<RnsPoly> b, a;
    // When set, a_d is the expansion of this seed (stream d) and may be omitted on the wire.
    std::optional<math::Seed> a_seed;
    // The Galois element g whose automorphism's inverse permutes every limb of b_d and a_d as held
    // in memory; 1 when they are held as made. KeyGenerator and the loaders hold Galois keys so:
    // key switching then takes its inner products on the unrotated digits in order and permutes
    // only their two results, instead of every digit (the same result words). Serialization
    // writes the key as made, whatever this says.
    std::uint64_t permuted_for = 1;

    // The highest ciphertext level this key switches: a key made for level l holds the primes
    // q_0..q_l then P (KeyGenerator::galois_keys with a level), and the digits of that level.
    // -1 for an empty key.
    int max_level(std::size_t p_count) const {
        return b.empty() ? -1 : static_cast<int>(b[0].limbs) - static_cast<int>(p_count) - 1;
    }
    int level(const Context& context) const { return max_level(context.p_count()); }
    // The same key for ciphertexts up to `level` only (<= this key's level): the first
    // digit_count(level) digits, each keeping the limbs of q_0..q_level and P, which are exactly
    // the words the evaluator reads at that level (so key switching with it gives the same result
    // words). The seed is kept: the remaining limbs of a_d are still its expansion. LevelError for
    // a level outside [0, this key's level], MismatchError for a malformed key.
    KeySwitchKey at_level(const Context& context, int level) const;
    // Bytes held in memory (both key polynomials of every digit).
    std::size_t bytes() const;
};

// Bytes in memory of one key-switching key generated for ciphertexts up to `level` (-1: the
// top level): digit_count(level) digits, two polynomials of level+1+|P| limbs each.
std::size_t switch_key_bytes(const Context& context, int level = -1);

struct RelinearizationKey {
    KeySwitchKey key;
    std::uint64_t parameter_hash = 0;
    // The key for ciphertexts up to `level` only (KeySwitchKey::at_level).
    RelinearizationKey at_level(const Context& context, int level) const;
};

struct GaloisKeys {
    std::map<u64, KeySwitchKey> keys;  // by Galois element
    std::uint64_t parameter_hash = 0;
    bool has(u64 galois_element) const { return keys.count(galois_element) != 0; }
    // Bytes held in memory by all keys.
    std::size_t bytes() const;
};

// Rotation step -> the highest ciphertext level its key must switch (-1: the top level).
using StepLevels = std::map<int, int>;

// What an evaluator needs from the client: relinearization and Galois keys, never s.
struct EvaluationKeys {
    std::optional<RelinearizationKey> relinearization;
    GaloisKeys galois;
};

class KeyGenerator {
  public:
    // A fresh secret key from OS randomness.
    explicit KeyGenerator(ContextPtr context);
    // Deterministic key generation for tests and reproducible benchmarks only.
    KeyGenerator(ContextPtr context, const math::Seed& test_only_seed);
    // Reuse an existing secret key.
    KeyGenerator(ContextPtr context, SecretKey secret_key);
    // The same with deterministic evaluation keys, for tests only.
    KeyGenerator(ContextPtr context, SecretKey secret_key, const math::Seed& test_only_seed);

    const SecretKey& secret_key() const { return secret_; }
    PublicKey public_key();
    // With `level` >= 0 the key only relinearizes ciphertexts up to that level; -1: the top level.
    RelinearizationKey relinearization_key(int level = -1);
    // Galois keys for rotations by each step (left for positive, right for negative) and,
    // when `conjugation` is set, for complex conjugation, all in one call. With `level` >= 0 the
    // keys only switch ciphertexts up to that level (primes q_0..q_level and P): smaller keys for
    // rotations used late in a circuit; -1: the top level.
    GaloisKeys galois_keys(const std::vector<int>& steps, bool conjugation = false, int level = -1);
    // A key that switches ciphertexts encrypted under `from` (same parameters) to this
    // generator's secret (Evaluator::switch_key), for ciphertexts up to `level` (-1: the top). Used
    // by bootstrapping's sparse-secret encapsulation.
    KeySwitchKey switching_key(const SecretKey& from, int level = -1);
    // Adds keys for further steps to an existing set. A step it already holds at the requested
    // level or above is skipped; one it holds only at a lower level is made again at this one.
    void add_galois_keys(GaloisKeys& keys, const std::vector<int>& steps, bool conjugation = false,
                         int level = -1);
    // Keys for a set of steps in one call, each only down to its own level (step -> level, -1:
    // the top level; steps that share a Galois element get the higher of their levels), and the
    // conjugation key, when asked for, at `conjugation_level`; made in the order of the steps,
    // conjugation last. A key made at level l from a given generator state equals, word for word,
    // the top-level key made from that state dropped to l (KeySwitchKey::at_level).
    GaloisKeys levelled_galois_keys(const StepLevels& step_levels, bool conjugation = false,
                                    int conjugation_level = -1);
    void add_levelled_galois_keys(GaloisKeys& keys, const StepLevels& step_levels,
                                  bool conjugation = false, int conjugation_level = -1);
    // All of the above in one bundle.
    EvaluationKeys evaluation_keys(const std::vector<int>& rotation_steps,
                                   bool conjugation = false);

  private:
    KeySwitchKey make_switch_key(const RnsPoly& new_secret_ntt, int level = -1);
    // Makes (or remakes at a higher level) the key of each Galois element at its level, in order.
    void add_galois_elements(GaloisKeys& keys,
                             const std::vector<std::pair<u64, int>>& element_levels);
    ContextPtr context_;
    SecretKey secret_;
    math::Prng prng_;
};

// Applies the automorphism X -> X^galois_element to a polynomial in NTT form, limb by limb.
void apply_galois_ntt(const Context& context, u64 galois_element, const RnsPoly& in, RnsPoly& out);

}  // namespace henn::ckks
