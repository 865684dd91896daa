// Primes for RNS-CKKS: q = 1 mod 2N so that Z_q holds a primitive 2N-th root of unity.
#pragma once

#include <cstdint>
#include <vector>

#include "henn/math/modarith.hpp"

namespace henn::math {

// Deterministic Miller-Rabin for all 64-bit integers.
bool is_prime(u64 n);

// `count` distinct primes q = 1 mod 2n (n a power of two), each as close to 2^bits as
// possible, taken above and below 2^bits so that the chain's product stays near 2^(bits*count)
// (which keeps CKKS scales stable after rescaling). A prime just above 2^bits has bits+1 binary
// digits but log2 within 2^-20 of bits. For bits = 61 all primes are below 2^61. Primes listed
// in `exclude` are skipped. Throws henn::InvalidArgument if bits is outside [18, 61] or not
// enough primes exist.
std::vector<u64> generate_ntt_primes(int bits, int count, u64 ring_degree,
                                     const std::vector<u64>& exclude = {});

// A generator of the order-2n subgroup of Z_q^*: a primitive 2n-th root of unity, the smallest
// one in a fixed search so the choice is reproducible.
u64 primitive_root_of_unity(u64 two_n, const Modulus& q);

}  // namespace henn::math
