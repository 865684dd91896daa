#include "henn/math/fft.hpp"

#include <cmath>
#include <numbers>
#include <stdexcept>

#include "henn/error.hpp"
#include "henn/math/ntt.hpp"

namespace henn::math {

namespace {
void bit_reverse_permute(std::vector<std::complex<double>>& v) {
    const std::size_t n = v.size();
    const int bits = __builtin_ctzll(n);
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t r = reverse_bits(i, bits);
        if (i < r) std::swap(v[i], v[r]);
    }
}
}  // namespace

CkksFft::CkksFft(std::size_t ring_degree, std::size_t slots)
    : ring_degree_(ring_degree), slots_(slots), m_(2 * ring_degree) {
    if (ring_degree < 4 || (ring_degree & (ring_degree - 1)) != 0) {
        throw InvalidArgument("ring degree must be a power of two >= 4");
    }
    if (slots == 0 || (slots & (slots - 1)) != 0 || slots > ring_degree / 2) {
        throw InvalidArgument("slot count must be a power of two in [1, N/2]");
    }
    roots_.resize(m_ + 1);
    for (std::size_t k = 0; k <= m_; ++k) {
        // Use symmetry so that exact values (1, i, -1, -i) come out exact.
        const long double angle = 2.0L * std::numbers::pi_v<long double> * k / m_;
        roots_[k] = {static_cast<double>(std::cos(angle)), static_cast<double>(std::sin(angle))};
    }
    rotation_group_.resize(slots_);
    std::size_t power = 1;
    for (std::size_t j = 0; j < slots_; ++j) {
        rotation_group_[j] = power;
        power = (power * 5) % m_;
    }
}

void CkksFft::embed(std::vector<std::complex<double>>& v) const {
    if (v.size() != slots_) throw InvalidArgument("wrong number of slots");
    const std::size_t n = slots_;
    bit_reverse_permute(v);
    for (std::size_t len = 2; len <= n; len <<= 1) {
        const std::size_t half = len >> 1;
        const std::size_t quarter_period = len << 2;  // 4*len divides M
        const std::size_t gap = m_ / quarter_period;
        for (std::size_t i = 0; i < n; i += len) {
            for (std::size_t j = 0; j < half; ++j) {
                const std::size_t idx = (rotation_group_[j] % quarter_period) * gap;
                const std::complex<double> u = v[i + j];
                const std::complex<double> w = v[i + j + half] * roots_[idx];
                v[i + j] = u + w;
                v[i + j + half] = u - w;
            }
        }
    }
}

void CkksFft::embed_inverse(std::vector<std::complex<double>>& v) const {
    if (v.size() != slots_) throw InvalidArgument("wrong number of slots");
    const std::size_t n = slots_;
    for (std::size_t len = n; len >= 2; len >>= 1) {
        const std::size_t half = len >> 1;
        const std::size_t quarter_period = len << 2;
        const std::size_t gap = m_ / quarter_period;
        for (std::size_t i = 0; i < n; i += len) {
            for (std::size_t j = 0; j < half; ++j) {
                const std::size_t idx =
                    (quarter_period - (rotation_group_[j] % quarter_period)) * gap;
                const std::complex<double> u = v[i + j] + v[i + j + half];
                const std::complex<double> w = (v[i + j] - v[i + j + half]) * roots_[idx];
                v[i + j] = u;
                v[i + j + half] = w;
            }
        }
    }
    const double inv = 1.0 / static_cast<double>(n);
    for (auto& x : v) x *= inv;
    bit_reverse_permute(v);
}

}  // namespace henn::math
