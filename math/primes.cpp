#include "henn/math/primes.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "henn/error.hpp"

namespace henn::math {

bool is_prime(u64 n) {
    if (n < 2) return false;
    for (u64 p : {2ULL, 3ULL, 5ULL, 7ULL, 11ULL, 13ULL, 17ULL, 19ULL, 23ULL, 29ULL, 31ULL, 37ULL}) {
        if (n % p == 0) return n == p;
    }
    u64 d = n - 1;
    int s = 0;
    while ((d & 1) == 0) {
        d >>= 1;
        ++s;
    }
    auto mul = [n](u64 a, u64 b) { return static_cast<u64>(static_cast<u128>(a) * b % n); };
    auto power = [&](u64 b, u64 e) {
        u64 result = 1;
        while (e != 0) {
            if (e & 1) result = mul(result, b);
            b = mul(b, b);
            e >>= 1;
        }
        return result;
    };
    // These bases are a proven deterministic set for all n < 2^64.
    for (u64 a : {2ULL, 3ULL, 5ULL, 7ULL, 11ULL, 13ULL, 17ULL, 19ULL, 23ULL, 29ULL, 31ULL, 37ULL}) {
        u64 x = power(a, d);
        if (x == 1 || x == n - 1) continue;
        bool composite = true;
        for (int i = 1; i < s; ++i) {
            x = mul(x, x);
            if (x == n - 1) {
                composite = false;
                break;
            }
        }
        if (composite) return false;
    }
    return true;
}

std::vector<u64> generate_ntt_primes(int bits, int count, u64 ring_degree,
                                     const std::vector<u64>& exclude) {
    if (bits < 18 || bits > kMaxModulusBits) {
        throw InvalidArgument("prime size " + std::to_string(bits) +
                              " bits is outside the supported range [18, 61]");
    }
    if (ring_degree == 0 || (ring_degree & (ring_degree - 1)) != 0) {
        throw InvalidArgument("ring degree must be a power of two");
    }
    const u64 step = 2 * ring_degree;
    const u64 center = u64{1} << bits;
    std::vector<u64> primes;
    auto usable = [&](u64 candidate) {
        return is_prime(candidate) &&
               std::find(exclude.begin(), exclude.end(), candidate) == exclude.end() &&
               std::find(primes.begin(), primes.end(), candidate) == primes.end();
    };
    // Candidates are 1 mod 2n on both sides of 2^bits. Taking the side that pulls the running
    // product back towards 2^(bits * k) keeps the chain's primes, and so the CKKS scale after
    // each rescale, centred on 2^bits. Above 2^61 is out of range, so 61-bit chains go down only.
    const bool can_go_up = bits < kMaxModulusBits;
    const u64 lowest = u64{1} << (bits - 1);
    const u64 highest = can_go_up ? (u64{1} << (bits + 1)) - 1 : center;
    u64 next_down = center + 1 - step;  // largest candidate below 2^bits
    u64 next_up = center + 1;           // smallest candidate above 2^bits
    double log_excess = 0;              // sum over chosen primes of log2(p) - bits
    auto find_down = [&]() -> u64 {
        while (next_down > lowest) {
            u64 c = next_down;
            next_down -= step;
            if (usable(c)) return c;
        }
        return 0;
    };
    auto find_up = [&]() -> u64 {
        while (can_go_up && next_up < highest - step) {
            u64 c = next_up;
            next_up += step;
            if (usable(c)) return c;
        }
        return 0;
    };
    while (static_cast<int>(primes.size()) < count) {
        u64 chosen = (log_excess > 0 || !can_go_up) ? find_down() : find_up();
        if (chosen == 0) chosen = can_go_up ? find_up() : 0;
        if (chosen == 0) chosen = find_down();
        if (chosen == 0) {
            throw InvalidArgument("not enough primes of about " + std::to_string(bits) +
                                  " bits congruent to 1 mod " + std::to_string(step));
        }
        log_excess += std::log2(static_cast<double>(chosen)) - bits;
        primes.push_back(chosen);
    }
    return primes;
}

u64 primitive_root_of_unity(u64 two_n, const Modulus& q) {
    const u64 qv = q.value();
    if ((qv - 1) % two_n != 0) {
        throw InvalidArgument("modulus " + std::to_string(qv) + " is not 1 mod " +
                              std::to_string(two_n));
    }
    const u64 cofactor = (qv - 1) / two_n;
    for (u64 g = 2; g < qv; ++g) {
        u64 root = pow_mod(g, cofactor, q);
        // root has order dividing two_n; it is primitive iff root^(n) = -1.
        if (pow_mod(root, two_n / 2, q) == qv - 1) return root;
    }
    throw InvalidArgument("no primitive root of unity found");
}

}  // namespace henn::math
