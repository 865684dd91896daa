#include "henn/paillier/random.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <vector>

#include "henn/paillier/paillier.hpp"

namespace henn::paillier {

mpz_class random_bits(unsigned bits) {
    mpz_class result;
    if (bits == 0) return result;
    std::vector<unsigned char> buffer((bits + 7) / 8);
    if (RAND_bytes(buffer.data(), static_cast<int>(buffer.size())) != 1)
        throw PaillierError("paillier: OpenSSL RAND_bytes failed");
    mpz_import(result.get_mpz_t(), buffer.size(), 1, 1, 1, 0, buffer.data());
    OPENSSL_cleanse(buffer.data(), buffer.size());
    // Keep exactly `bits` low bits.
    mpz_fdiv_r_2exp(result.get_mpz_t(), result.get_mpz_t(), bits);
    return result;
}

mpz_class random_below(const mpz_class& bound) {
    if (bound <= 0) throw PaillierError("paillier: random_below needs a positive bound");
    const unsigned bits = static_cast<unsigned>(mpz_sizeinbase(bound.get_mpz_t(), 2));
    for (;;) {
        mpz_class candidate = random_bits(bits);
        if (candidate < bound) return candidate;
    }
}

mpz_class random_unit(const mpz_class& n) {
    for (;;) {
        mpz_class r = random_below(n);
        if (r == 0) continue;
        mpz_class g;
        mpz_gcd(g.get_mpz_t(), r.get_mpz_t(), n.get_mpz_t());
        if (g == 1) return r;
    }
}

}  // namespace henn::paillier
