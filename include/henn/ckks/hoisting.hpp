// Hoisting and the extended basis Q*P, made explicit.
//
// A rotation is an automorphism followed by a key switch; the key switch first decomposes c_1
// into digits raised to Q_level * P ("ModUp"), takes inner products with the key, then divides
// by P ("ModDown"). The automorphism commutes with the decomposition, so one decomposition can
// serve many rotations (hoisting: Evaluator::hoist, then Evaluator::rotate on the result), and
// results may stay in Q*P, be multiplied by plaintexts that also have P limbs, and be summed
// before a single ModDown (double hoisting: Evaluator::rotate_lazy, multiply_accumulate on
// ExtendedCiphertext, Evaluator::mod_down). This is what baby-step giant-step linear transforms
// (henn/circuits/linear_transform.hpp) are built on.
//
// The operations are members of Evaluator (henn/ckks/evaluator.hpp); this header holds the types
// and the encoding of extended plaintexts.
#pragma once

#include <complex>
#include <cstdint>
#include <span>
#include <vector>

#include "henn/ckks/encoder.hpp"
#include "henn/ckks/objects.hpp"
#include "henn/ckks/parameters.hpp"

namespace henn::ckks {

// A ciphertext together with the key-switching digits of its c_1, computed once
// (Evaluator::hoist). Any number of rotations and conjugations can then be applied to it, each
// costing only the inner product with its key and one ModDown (or none, lazily).
struct HoistedCiphertext {
    Ciphertext input;             // the ciphertext as given (size 2)
    std::vector<RnsPoly> digits;  // digit d of c_1 over Q_level * P, NTT form
    int level() const { return input.level; }
    std::size_t bytes() const;  // memory of input and digits
};

// A ciphertext over Q_level * P, NTT form, not yet divided by P: (c_0, c_1) with
// c_0 + c_1 s = P * (m + e) (mod Q_level * P). Limbs: the level+1 primes of Q, then the primes of
// P. Evaluator::mod_down divides by P and returns an ordinary ciphertext at the same level and
// scale. Lazy rotations, products with extended plaintexts and sums stay in this form.
struct ExtendedCiphertext {
    RnsPoly c0, c1;
    int level = 0;
    double scale = 1;
    std::size_t slots = 0;
    std::uint64_t parameter_hash = 0;
};

// A plaintext encoded once over the primes q_0..q_level and P (NTT form) and usable at any level
// up to `level`, both in Q (Evaluator::multiply_plain) and in Q*P (products with
// ExtendedCiphertext): the limbs a lower level needs are read in place, nothing is re-encoded.
// Limbs: q_0..q_level, then P.
struct ExtendedPlaintext {
    RnsPoly poly;
    int level = 0;
    double scale = 1;
    std::size_t slots = 0;
    std::uint64_t parameter_hash = 0;

    // Memory held, in bytes.
    std::size_t bytes() const { return poly.data.size() * sizeof(u64); }
    // An ordinary plaintext at `at_level` (<= level): a copy of the Q limbs it needs.
    Plaintext to_plaintext(int at_level) const;
};

// Encodes like Encoder::encode (same slots, scale and overflow rules), but over q_0..q_level and
// the special primes P. level -1: the top level.
ExtendedPlaintext encode_extended(const Encoder& encoder,
                                  std::span<const std::complex<double>> values, int level = -1,
                                  double scale = 0, std::size_t slots = 0);
ExtendedPlaintext encode_extended(const Encoder& encoder, std::span<const double> values,
                                  int level = -1, double scale = 0, std::size_t slots = 0);

}  // namespace henn::ckks
