// Randomness: 32-byte seeds from the operating system (getrandom), expanded into a stream with
// AES-256 in counter mode (OpenSSL). The same seed always gives the same stream, which is what
// lets a ciphertext or key store its uniform half as a seed.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "henn/math/modarith.hpp"

namespace henn::math {

using Seed = std::array<std::uint8_t, 32>;

// A fresh seed from the operating system's entropy source. Throws henn::Error (crypto) if the
// kernel does not provide one.
Seed os_random_seed();

// Overwrites memory in a way the compiler may not optimize away (OpenSSL's cleanse).
void secure_wipe(void* data, std::size_t size);

class Prng {
  public:
    // Stream `stream` of the seed: distinct streams of one seed are independent, which lets a
    // seeded object expand each of its parts on its own.
    explicit Prng(const Seed& seed, std::uint64_t stream = 0);
    // A stream seeded from the OS: the only constructor library code uses for secrets.
    static Prng from_os();
    ~Prng();
    Prng(const Prng&) = delete;
    Prng& operator=(const Prng&) = delete;
    Prng(Prng&&) noexcept;
    Prng& operator=(Prng&&) noexcept;

    void fill(std::uint8_t* out, std::size_t size);
    std::uint64_t next_u64();

  private:
    void refill();
    struct CipherState;
    std::unique_ptr<CipherState> state_;
    std::array<std::uint8_t, 4096> buffer_{};
    std::size_t position_ = 0;
};

// Deterministic seeds for tests and reproducible benchmarks only: a seed derived from a
// counter. Library code never calls this; it exists so tests can fix their randomness.
Seed test_only_seed(std::uint64_t value);

// Uniform residues mod q.
void sample_uniform(Prng& prng, const Modulus& q, u64* out, std::size_t n);
// Whether `values` can begin what sample_uniform draws from a fresh `prng` of this stream:
// checks the first `count` draws (those sample_uniform keeps; a rejected draw is redrawn at the
// end of its block and skipped here). A cheap check that a polynomial is still the expansion of
// its seed: any homomorphic operation changes every coefficient.
bool uniform_prefix_matches(Prng& prng, const Modulus& q, const u64* values, std::size_t count);

// Uniform ternary values in {-1, 0, 1}.
void sample_ternary(Prng& prng, std::int8_t* out, std::size_t n);

// Centered discrete Gaussian with standard deviation sigma, cut at |x| <= bound. Sampled in
// constant time per value by a full scan of a cumulative table.
inline constexpr double kDefaultErrorStdDev = 3.19;
inline constexpr int kDefaultErrorBound = 19;  // about 6 sigma
void sample_gaussian(Prng& prng, std::int8_t* out, std::size_t n,
                     double sigma = kDefaultErrorStdDev, int bound = kDefaultErrorBound);

}  // namespace henn::math
