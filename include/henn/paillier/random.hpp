// Secure randomness for Paillier: every draw comes from OpenSSL's RAND_bytes (seeded by the OS).
#pragma once

#include <gmpxx.h>

namespace henn::paillier {

// Uniform in [0, 2^bits).
mpz_class random_bits(unsigned bits);
// Uniform in [0, bound), bound > 0 (rejection sampling, no modulo bias).
mpz_class random_below(const mpz_class& bound);
// Uniform unit of Z_n (gcd(r, n) = 1, r != 0).
mpz_class random_unit(const mpz_class& n);

}  // namespace henn::paillier
