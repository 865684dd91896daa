// The vector NTT kernels against the portable ones: every kernel this CPU has, every size from
// 2 to 2^16, every prime size from 20 to 61 bits, lazy inputs in [0, 4q).
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "henn/error.hpp"
#include "henn/math/ntt.hpp"
#include "henn/math/primes.hpp"

using namespace henn::math;

namespace {

constexpr NttKernel kVectorKernels[] = {NttKernel::avx2, NttKernel::avx512, NttKernel::avx512ifma};

std::vector<NttKernel> available_vector_kernels() {
    std::vector<NttKernel> kernels;
    for (NttKernel kernel : kVectorKernels) {
        if (ntt_kernel_available(kernel)) kernels.push_back(kernel);
    }
    return kernels;
}

// Uniform in [0, 4q): the widest inputs the transforms accept.
std::vector<u64> random_lazy(std::size_t n, u64 q, std::mt19937_64& rng) {
    std::uniform_int_distribution<u64> dist(0, 4 * q - 1);
    std::vector<u64> a(n);
    for (auto& x : a) x = dist(rng);
    return a;
}

// Forward and inverse of `input` with `kernel` equal the portable results, and the round trip
// of a reduced input gives it back.
void expect_matches_portable(NttKernel kernel, const NttTables& tables,
                             const std::vector<u64>& input, const std::string& where) {
    const u64 q = tables.modulus().value();
    auto expected = input;
    ntt_forward_portable(expected.data(), tables);
    auto actual = input;
    ntt_forward(actual.data(), tables, kernel);
    ASSERT_EQ(actual, expected) << "forward " << where;

    expected = input;
    ntt_inverse_portable(expected.data(), tables);
    actual = input;
    ntt_inverse(actual.data(), tables, kernel);
    ASSERT_EQ(actual, expected) << "inverse " << where;

    auto reduced = input;
    for (auto& x : reduced) x %= q;
    auto round_trip = reduced;
    ntt_forward(round_trip.data(), tables, kernel);
    ntt_inverse(round_trip.data(), tables, kernel);
    ASSERT_EQ(round_trip, reduced) << "round trip " << where;
}

}  // namespace

TEST(NttSimd, KernelNamesRoundTripAndSelectionIsAvailable) {
    for (NttKernel kernel :
         {NttKernel::portable, NttKernel::avx2, NttKernel::avx512, NttKernel::avx512ifma}) {
        EXPECT_EQ(ntt_kernel_from_name(ntt_kernel_name(kernel)), kernel);
    }
    EXPECT_THROW(ntt_kernel_from_name("sse2"), henn::InvalidArgument);
    EXPECT_THROW(ntt_kernel_from_name(""), henn::InvalidArgument);
    EXPECT_TRUE(ntt_kernel_available(NttKernel::portable));
    EXPECT_TRUE(ntt_kernel_available(ntt_selected_kernel()));
    EXPECT_STREQ(ntt_kernel_name(), ntt_kernel_name(ntt_selected_kernel()));
    const char* forced = std::getenv("HENN_NTT_KERNEL");
    if (forced != nullptr && *forced != '\0') {
        EXPECT_STREQ(ntt_kernel_name(), forced);
    }
}

TEST(NttSimd, UnavailableKernelIsRejected) {
    for (NttKernel kernel : kVectorKernels) {
        if (ntt_kernel_available(kernel)) continue;
        NttTables tables(16, Modulus(generate_ntt_primes(30, 1, 16)[0]));
        std::vector<u64> a(16, 1);
        EXPECT_THROW(ntt_forward(a.data(), tables, kernel), henn::InvalidArgument);
        EXPECT_THROW(ntt_inverse(a.data(), tables, kernel), henn::InvalidArgument);
    }
}

TEST(NttSimd, AllSizesAndPrimeSizesMatchPortable) {
    const auto kernels = available_vector_kernels();
    if (kernels.empty()) GTEST_SKIP() << "this CPU has no vector NTT kernel";
    std::mt19937_64 rng(2024);
    int cases = 0;
    for (int log_n = 1; log_n <= 16; ++log_n) {
        const std::size_t n = std::size_t{1} << log_n;
        for (int bits = 20; bits <= 61; ++bits) {
            std::vector<u64> primes;
            try {
                primes = generate_ntt_primes(bits, 1, n);
            } catch (const henn::InvalidArgument&) {
                continue;  // no prime = 1 mod 2n near 2^bits (only for small bits, large n)
            }
            const NttTables tables(n, Modulus(primes[0]));
            const auto input = random_lazy(n, primes[0], rng);
            for (NttKernel kernel : kernels) {
                expect_matches_portable(kernel, tables, input,
                                        std::string(ntt_kernel_name(kernel)) + " n=" +
                                            std::to_string(n) + " q=" + std::to_string(primes[0]));
                if (HasFatalFailure()) return;
                ++cases;
            }
        }
    }
    // Every (n, bits) pair of the loop has a prime: all 16 x 42 were tested on every kernel.
    EXPECT_EQ(cases, static_cast<int>(kernels.size()) * 16 * 42);
}

TEST(NttSimd, ExtremeInputsAtTheLargestModuli) {
    // All-(4q-1) and all-zero inputs at the top of the 61-bit range and on both sides of the
    // IFMA bound 2^50 and of AVX2's narrow bound 2^30 (lazy values in 32 bits below it), where the
    // lazy bounds are tightest.
    const auto kernels = available_vector_kernels();
    if (kernels.empty()) GTEST_SKIP() << "this CPU has no vector NTT kernel";
    for (std::size_t n : {16u, 64u, 4096u}) {
        std::vector<u64> moduli = generate_ntt_primes(61, 2, n);
        for (int bound_bits : {50, 30}) {
            // The largest NTT prime below 2^bound_bits and the smallest above it.
            const u64 bound = u64{1} << bound_bits;
            u64 below = bound + 1 - 2 * n, above = bound + 1;
            while (!is_prime(below)) below -= 2 * n;
            while (!is_prime(above)) above += 2 * n;
            moduli.push_back(below);
            moduli.push_back(above);
        }
        for (u64 q : moduli) {
            const NttTables tables(n, Modulus(q));
            for (u64 fill : {4 * q - 1, 2 * q, q - 1, u64{0}}) {
                const std::vector<u64> input(n, fill);
                for (NttKernel kernel : kernels) {
                    expect_matches_portable(
                        kernel, tables, input,
                        std::string(ntt_kernel_name(kernel)) + " n=" + std::to_string(n) +
                            " q=" + std::to_string(q) + " fill=" + std::to_string(fill));
                    if (HasFatalFailure()) return;
                }
            }
        }
    }
}

TEST(NttSimd, ManyRandomInputsAtCkksSizes) {
    const auto kernels = available_vector_kernels();
    if (kernels.empty()) GTEST_SKIP() << "this CPU has no vector NTT kernel";
    std::mt19937_64 rng(77);
    for (std::size_t n : {8192u, 32768u}) {
        for (int bits : {30, 49, 50, 51, 59, 60}) {
            for (u64 q : generate_ntt_primes(bits, 2, n)) {
                const NttTables tables(n, Modulus(q));
                for (int trial = 0; trial < 2; ++trial) {
                    const auto input = random_lazy(n, q, rng);
                    for (NttKernel kernel : kernels) {
                        expect_matches_portable(kernel, tables, input,
                                                std::string(ntt_kernel_name(kernel)) + " n=" +
                                                    std::to_string(n) + " q=" + std::to_string(q));
                        if (HasFatalFailure()) return;
                    }
                }
            }
        }
    }
}
