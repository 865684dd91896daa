// Random inputs for tests, drawn from the caller's generator (fixed seeds).
#pragma once

#include <cstddef>
#include <random>
#include <vector>

namespace henn::test {

// n values uniform in [lo, hi).
inline std::vector<double> random_vector(std::size_t n, std::mt19937_64& rng, double lo,
                                         double hi) {
    std::uniform_real_distribution<double> u(lo, hi);
    std::vector<double> v(n);
    for (auto& x : v) x = u(rng);
    return v;
}

}  // namespace henn::test
