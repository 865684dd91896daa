// Rotate-and-sum with hoisting: slot t of the result holds sum_{j < count} x[t + j * stride]
// (indices mod the slot count, stride of either sign). The sum is built in stages of `radix`
// terms: each stage decomposes its input once (Evaluator::hoist), forms its radix - 1 rotations
// lazily in Q*P, adds them there and divides by P once. radix 2 is the classic log2(count)
// rotations with one key each; a larger radix trades rotation keys for fewer decompositions.
// No level is consumed. This is the inner-product and gradient-sum step of packed logistic
// regression (Kim et al. 2018) and of any row-wise or column-wise sum over a packed matrix.
#pragma once

#include <cstddef>
#include <vector>

#include "henn/ckks/evaluator.hpp"

namespace henn::circuits {

// The rotation steps (normalized to [1, slots)) rotate_and_sum needs keys for, ascending.
// count and radix are powers of two (radix >= 2); throws ckks::ParameterError otherwise.
std::vector<int> rotate_and_sum_steps(std::size_t count, long long stride, std::size_t slots,
                                      std::size_t radix = 2);

ckks::Ciphertext rotate_and_sum(const ckks::Evaluator& evaluator, const ckks::Ciphertext& x,
                                std::size_t count, long long stride, std::size_t radix = 2);

// The same on plaintext slot values (the reference the encrypted result is tested against).
std::vector<double> rotate_and_sum_reference(const std::vector<double>& x, std::size_t count,
                                             long long stride);

}  // namespace henn::circuits
