#include "henn/smlp/protocol.hpp"

#include <time.h>

#include <cmath>
#include <random>
#include <string>

namespace henn::smlp {

void FixedPointConfig::validate(const paillier::PublicKey& key) const {
    if (scale_bits < 4 || scale_bits > 40)
        throw SmlpError("smlp: scale_bits must be in [4, 40], got " + std::to_string(scale_bits),
                        ErrorCategory::parameters);
    if (operand_bits <= scale_bits || operand_bits > 512)
        throw SmlpError("smlp: operand_bits must exceed scale_bits (and be <= 512)",
                        ErrorCategory::parameters);
    if (wide_bits < 3 * scale_bits + 1 || wide_bits > 1024)
        throw SmlpError("smlp: wide_bits must hold products of operands and values at scale 3f",
                        ErrorCategory::parameters);
    if (statistical_bits < 20 || statistical_bits > 128)
        throw SmlpError("smlp: statistical_bits must be in [20, 128]", ErrorCategory::parameters);
    // S2 decrypts modulo p only, so carriers, probes (offset r v, r <= 2^stat) and masked
    // operands must stay below 2^(modulus_bits/2 - 2); its sums of products below n/2.
    const unsigned below_p = key.modulus_bits() / 2 - 2;
    if (wide_bits + statistical_bits + 1 > below_p || product_mask_bits() + 2 > below_p ||
        2 * (product_mask_bits() + 2) + 17 >= key.modulus_bits())
        throw SmlpError("smlp: fixed-point layout needs larger plaintexts than the key offers",
                        ErrorCategory::parameters);
}

void ModelShape::validate() const {
    if (widths.size() < 2)
        throw SmlpError("smlp: a model needs at least an input and an output width",
                        ErrorCategory::parameters);
    for (std::size_t w : widths)
        if (w == 0 || w > 4096)
            throw SmlpError("smlp: layer widths must be in [1, 4096]", ErrorCategory::parameters);
}

std::vector<std::size_t> epoch_order(std::size_t rows, std::uint64_t seed, std::size_t epoch) {
    std::vector<std::size_t> order(rows);
    for (std::size_t i = 0; i < rows; ++i) order[i] = i;
    std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + epoch);
    for (std::size_t i = rows; i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
    return order;
}

std::int64_t step_integer(double learning_rate, std::size_t batch, unsigned scale_bits) {
    if (!(learning_rate > 0) || !std::isfinite(learning_rate) || batch == 0)
        throw SmlpError("smlp: learning rate must be positive and finite",
                        ErrorCategory::parameters);
    const double scaled =
        std::ldexp(learning_rate / static_cast<double>(batch), static_cast<int>(scale_bits));
    if (scaled > std::ldexp(1.0, 30))
        throw SmlpError("smlp: learning rate too large", ErrorCategory::parameters);
    const auto step = static_cast<std::int64_t>(std::llround(scaled));
    if (step == 0)
        throw SmlpError("smlp: learning rate / batch underflows the fixed-point scale",
                        ErrorCategory::parameters);
    return step;
}

void MaskedProduct::validate() const {
    constexpr std::size_t kMaxDim = 1u << 16;
    if (kind == Kind::matrix) {
        if (rows == 0 || inner == 0 || cols == 0 || rows > kMaxDim || inner > kMaxDim ||
            cols > kMaxDim)
            throw SmlpError("smlp: matrix product dimensions out of range");
        if (left.size() != rows * inner || right.size() != inner * cols)
            throw SmlpError("smlp: matrix product operand sizes do not match its dimensions");
    } else if (kind == Kind::elementwise) {
        if (left.size() != right.size() || left.empty())
            throw SmlpError(
                "smlp: element-wise product needs two non-empty operands of equal length");
    } else {
        throw SmlpError("smlp: unknown product kind");
    }
}

}  // namespace henn::smlp
