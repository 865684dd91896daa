// Residue number system helpers: fast (approximate) base conversion between two sets of
// coprime moduli, used by rescaling and hybrid key switching.
#pragma once

#include <cstddef>
#include <vector>

#include "henn/math/modarith.hpp"
#include "henn/math/vector_ops.hpp"

namespace henn::math {

// Converts x given by residues modulo Q = q_0...q_{k-1} to residues modulo each p_j of another
// base, computing sum_i [x_i * (Q/q_i)^-1]_{q_i} * (Q/q_i) mod p_j. The result equals x + u*Q
// for some 0 <= u < k (no correction of the Q-overflow): hybrid key switching tolerates it.
class BaseConverter {
  public:
    BaseConverter(std::vector<Modulus> from, std::vector<Modulus> to);

    const std::vector<Modulus>& from() const { return from_; }
    const std::vector<Modulus>& to() const { return to_; }

    // input: from().size() limbs of n coefficients each (limb-major, contiguous);
    // output: to().size() limbs of n coefficients. Inputs must be reduced.
    void convert(const u64* input, u64* output, std::size_t n) const;

    // Exact conversion of the centered representative of x (in [-Q/2, Q/2)): the overflow
    // count is estimated in floating point from sum_i y_i / q_i and removed. Used where a bias
    // would hurt, e.g. dividing by P with rounding.
    void convert_centered(const u64* input, u64* output, std::size_t n) const;

    // convert() one target limb at a time, for callers that consume each limb right away (key
    // switching raises a digit to one prime, transforms it and takes its inner product while the
    // limb is in cache, instead of keeping the whole conversion). prepare() computes the
    // from().size() limbs y_i = x_i (Q/q_i)^-1 mod q_i into `scratch` (from().size() * n words)
    // and returns them, or returns `input` itself when there is one source prime (y_0 = x_0);
    // convert_prepared() then writes limb `target` of convert()'s output, bit-identical to it.
    const u64* prepare(const u64* input, u64* scratch, std::size_t n) const;
    void convert_prepared(const u64* prepared, std::size_t target, u64* output,
                          std::size_t n) const;

    // The same with a given vector kernel (henn::InvalidArgument if this CPU lacks it) instead
    // of the selected one (vector_selected_kernel()); every kernel gives the same words.
    void convert(const u64* input, u64* output, std::size_t n, VectorKernel kernel) const;
    void convert_centered(const u64* input, u64* output, std::size_t n, VectorKernel kernel) const;
    const u64* prepare(const u64* input, u64* scratch, std::size_t n, VectorKernel kernel) const;
    void convert_prepared(const u64* prepared, std::size_t target, u64* output, std::size_t n,
                          VectorKernel kernel) const;

  private:
    std::vector<Modulus> from_;
    std::vector<Modulus> to_;
    std::vector<ShoupConstant> punctured_inverse_;  // (Q/q_i)^-1 mod q_i
    std::vector<u64> punctured_mod_to_;             // (Q/q_i) mod p_j, row j, column i
    std::vector<u64> product_mod_to_;               // Q mod p_j
    std::vector<double> inverse_moduli_;            // 1 / q_i
};

}  // namespace henn::math
