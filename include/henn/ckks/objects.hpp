// The data objects of CKKS: RNS polynomials, plaintexts and ciphertexts. Every plaintext and
// ciphertext carries its metadata (level, scale, slot count, parameter hash), which every
// operation checks.
#pragma once

#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "henn/ckks/parameters.hpp"
#include "henn/math/block_pool.hpp"
#include "henn/math/random.hpp"

namespace henn::ckks {

// Polynomial storage: recycled large blocks (henn/math/block_pool.hpp), allocated without
// zeroing when asked to (value-initialization of a vector would write every word, which hot paths
// that overwrite everything do not need).
template <typename T>
using DefaultInitAllocator = math::PooledAllocator<T>;

// A polynomial in RNS form: `limbs` residue polynomials of n coefficients, limb-major.
// In CKKS objects the limbs are the first level+1 primes of Q, optionally followed by P.
struct RnsPoly {
    std::size_t n = 0;
    std::size_t limbs = 0;
    std::vector<u64, DefaultInitAllocator<u64>> data;

    struct Uninitialized {};
    static constexpr Uninitialized uninitialized{};

    RnsPoly() = default;
    // Zero polynomial.
    RnsPoly(std::size_t n_, std::size_t limbs_) : n(n_), limbs(limbs_), data(n_ * limbs_, 0) {}
    // Storage only, for results that are written in full.
    RnsPoly(std::size_t n_, std::size_t limbs_, Uninitialized)
        : n(n_), limbs(limbs_), data(n_ * limbs_) {}
    u64* limb(std::size_t i) { return data.data() + i * n; }
    const u64* limb(std::size_t i) const { return data.data() + i * n; }
    bool operator==(const RnsPoly&) const = default;
};

// An encoded message: NTT form, first level+1 primes of Q.
struct Plaintext {
    RnsPoly poly;
    int level = 0;
    double scale = 1;
    std::size_t slots = 0;
    std::uint64_t parameter_hash = 0;
};

// A ciphertext (c_0, c_1[, c_2]) decrypting to c_0 + c_1 s (+ c_2 s^2); NTT form.
struct Ciphertext {
    std::vector<RnsPoly> polys;
    int level = 0;
    double scale = 1;
    std::size_t slots = 0;
    std::uint64_t parameter_hash = 0;
    // Set by secret-key encryption: c_1 is the expansion of this seed, so serialization can
    // store 32 bytes instead of c_1. Cleared by any operation that changes c_1.
    std::optional<math::Seed> c1_seed;

    std::size_t size() const { return polys.size(); }
};

// The metadata of a plaintext or ciphertext, read and written in one place: every operation that
// makes a result sets all of it through set_metadata (never field by field), and circuits that
// track scales exactly relabel a scale through it too.
struct Metadata {
    int level = 0;
    double scale = 1;
    std::size_t slots = 0;
    std::uint64_t parameter_hash = 0;

    Metadata with_level(int new_level) const {
        Metadata m = *this;
        m.level = new_level;
        return m;
    }
    Metadata with_scale(double new_scale) const {
        Metadata m = *this;
        m.scale = new_scale;
        return m;
    }
};

template <typename Object>
concept HasMetadata = std::same_as<Object, Plaintext> || std::same_as<Object, Ciphertext>;

template <HasMetadata Object>
Metadata metadata(const Object& object) {
    return {object.level, object.scale, object.slots, object.parameter_hash};
}

template <HasMetadata Object>
void set_metadata(Object& object, const Metadata& m) {
    object.level = m.level;
    object.scale = m.scale;
    object.slots = m.slots;
    object.parameter_hash = m.parameter_hash;
}

}  // namespace henn::ckks
