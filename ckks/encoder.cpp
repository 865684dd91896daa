#include "henn/ckks/encoder.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "internal.hpp"

namespace henn::ckks {

namespace {

std::size_t resolve_slots(const Context& ctx, std::size_t slots, std::size_t count) {
    if (slots == 0) slots = ctx.max_slots();
    if (count > slots) {
        throw ParameterError(std::to_string(count) + " values do not fit in " +
                             std::to_string(slots) + " slots");
    }
    return slots;
}

// Garner's mixed-radix reconstruction of one coefficient from its residues, centered, as a
// long double. Exact digits are kept until the final conversion, so small negative values
// (close to Q) keep their full precision.
class CrtReconstructor {
  public:
    CrtReconstructor(const Context& ctx, int level) : ctx_(ctx), count_(level + 1) {
        inverses_.resize(count_ * count_);
        for (std::size_t j = 0; j < count_; ++j) {
            for (std::size_t k = 0; k < j; ++k) {
                const auto& qj = ctx.q()[j];
                inverses_[j * count_ + k] = math::ShoupConstant(
                    math::inverse_mod(qj.reduce(ctx.q()[k].value()), qj.value()), qj.value());
            }
        }
        digits_.resize(count_);
    }

    long double centered(const u64* residues) {
        const auto& q = ctx_.q();
        for (std::size_t j = 0; j < count_; ++j) {
            const u64 qj = q[j].value();
            u64 t = residues[j];
            for (std::size_t k = 0; k < j; ++k) {
                const auto& c = inverses_[j * count_ + k];
                t = math::mul_shoup(math::sub_mod(t, q[j].reduce(digits_[k]), qj), c.value, c.shoup,
                                    qj);
            }
            digits_[j] = t;
        }
        // Compare with (Q-1)/2, whose mixed-radix digits are (q_j - 1)/2.
        bool negative = false;
        for (std::size_t j = count_; j-- > 0;) {
            const u64 half = (q[j].value() - 1) / 2;
            if (digits_[j] != half) {
                negative = digits_[j] > half;
                break;
            }
        }
        if (negative) {  // Q - x = ((Q - 1) - x) + 1, digit by digit
            for (std::size_t j = 0; j < count_; ++j) digits_[j] = q[j].value() - 1 - digits_[j];
            for (std::size_t j = 0; j < count_; ++j) {
                if (++digits_[j] < q[j].value()) break;
                digits_[j] = 0;
            }
        }
        long double value = 0;
        for (std::size_t j = count_; j-- > 0;)
            value = value * static_cast<long double>(q[j].value()) + digits_[j];
        return negative ? -value : value;
    }

  private:
    const Context& ctx_;
    std::size_t count_;
    std::vector<math::ShoupConstant> inverses_;
    std::vector<u64> digits_;
};

}  // namespace

Encoder::Encoder(ContextPtr context) : context_(std::move(context)) {}

Plaintext Encoder::encode(std::span<const std::complex<double>> values, int level, double scale,
                          std::size_t slots) const {
    const Context& ctx = *context_;
    if (level < 0) level = ctx.max_level();
    if (level > ctx.max_level()) {
        throw LevelError("cannot encode at level " + std::to_string(level) + ": the top level is " +
                         std::to_string(ctx.max_level()));
    }
    if (scale == 0) scale = ctx.default_scale();
    if (!(scale >= 1) || !std::isfinite(scale))
        throw ScaleError("the scale must be a finite number >= 1");
    slots = resolve_slots(ctx, slots, values.size());
    std::vector<std::complex<double>> w(slots);
    std::copy(values.begin(), values.end(), w.begin());
    ctx.fft(slots).embed_inverse(w);

    const std::size_t n = ctx.n();
    const std::size_t gap = n / (2 * slots);
    // Coefficients must stay below Q_level / 2 in magnitude; compare in log2 to avoid overflow.
    double log_q_level = 0;
    for (int i = 0; i <= level; ++i)
        log_q_level += std::log2(static_cast<double>(ctx.q()[i].value()));
    std::vector<double> coeffs(2 * slots);
    double largest = 0;
    for (std::size_t k = 0; k < slots; ++k) {
        coeffs[k] = std::round(w[k].real() * scale);
        coeffs[k + slots] = std::round(w[k].imag() * scale);
        largest = std::max({largest, std::fabs(coeffs[k]), std::fabs(coeffs[k + slots])});
    }
    if (!std::isfinite(largest) || (largest > 0 && std::log2(largest) >= log_q_level - 1)) {
        std::ostringstream msg;
        msg << "encoding overflow: a coefficient of 2^" << std::log2(largest)
            << " does not fit Q at level " << level << " (2^" << log_q_level
            << "); lower the scale or the values";
        throw ScaleError(msg.str());
    }

    Plaintext pt;
    pt.level = level;
    pt.scale = scale;
    pt.slots = slots;
    pt.parameter_hash = ctx.parameter_hash();
    pt.poly = RnsPoly(n, level + 1);
#pragma omp parallel for num_threads(detail::threads()) if (detail::threads() > 1)
    for (int i = 0; i <= level; ++i) {
        const math::Modulus& q = ctx.q()[i];
        u64* dst = pt.poly.limb(i);
        for (std::size_t k = 0; k < slots; ++k) {
            dst[k * gap] = detail::integer_double_to_residue(coeffs[k], q);
            dst[k * gap + n / 2] = detail::integer_double_to_residue(coeffs[k + slots], q);
        }
        math::ntt_forward(dst, ctx.ntt(i));
    }
    return pt;
}

Plaintext Encoder::encode(std::span<const double> values, int level, double scale,
                          std::size_t slots) const {
    std::vector<std::complex<double>> complex_values(values.begin(), values.end());
    return encode(complex_values, level, scale, slots);
}

Plaintext Encoder::encode_constant(std::complex<double> value, int level, double scale,
                                   std::size_t slots) const {
    std::vector<std::complex<double>> values(slots == 0 ? context_->max_slots() : slots, value);
    return encode(values, level, scale, slots);
}

std::vector<std::complex<double>> Encoder::decode(const Plaintext& pt) const {
    const Context& ctx = *context_;
    detail::check_hash(ctx, pt.parameter_hash, "the plaintext");
    if (pt.level < 0 || pt.level > ctx.max_level() ||
        pt.poly.limbs != static_cast<std::size_t>(pt.level) + 1 || pt.poly.n != ctx.n()) {
        throw MismatchError("malformed plaintext: its level and limb count disagree");
    }
    if (pt.slots == 0 || pt.slots > ctx.max_slots() || (pt.slots & (pt.slots - 1)) != 0) {
        throw MismatchError("malformed plaintext: invalid slot count");
    }
    RnsPoly coeffs = pt.poly;
    detail::from_ntt(ctx, coeffs, pt.level);
    const std::size_t slots = pt.slots, n = ctx.n(), gap = n / (2 * slots);
    std::vector<std::complex<double>> w(slots);
    CrtReconstructor crt(ctx, pt.level);
    std::vector<u64> residues(pt.level + 1);
    auto value_at = [&](std::size_t index) {
        for (int i = 0; i <= pt.level; ++i) residues[i] = coeffs.limb(i)[index];
        return static_cast<double>(crt.centered(residues.data()) / pt.scale);
    };
    for (std::size_t k = 0; k < slots; ++k) w[k] = {value_at(k * gap), value_at(k * gap + n / 2)};
    ctx.fft(slots).embed(w);
    return w;
}

std::vector<double> Encoder::decode_real(const Plaintext& pt) const {
    auto values = decode(pt);
    std::vector<double> out(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) out[i] = values[i].real();
    return out;
}

namespace {
PrecisionStats stats_from_errors(std::vector<double> errors) {
    PrecisionStats s;
    s.count = errors.size();
    if (errors.empty()) return s;
    auto bits = [](double e) { return e <= 0 ? 64.0 : -std::log2(e); };
    double sum = 0;
    for (double e : errors) sum += e;
    s.mean_error = sum / errors.size();
    s.max_error = *std::max_element(errors.begin(), errors.end());
    std::nth_element(errors.begin(), errors.begin() + errors.size() / 2, errors.end());
    s.median_bits = bits(errors[errors.size() / 2]);
    s.min_bits = bits(s.max_error);
    s.mean_bits = bits(s.mean_error);
    return s;
}
}  // namespace

// Comparing a prefix would hide a decoder that returns too few (or too many) values.
static void require_same_length(std::size_t actual, std::size_t expected) {
    if (actual != expected) {
        throw MismatchError("precision: " + std::to_string(actual) + " values compared against " +
                            std::to_string(expected) +
                            " reference values; pass spans of equal length");
    }
}

PrecisionStats precision(std::span<const std::complex<double>> actual,
                         std::span<const std::complex<double>> expected) {
    require_same_length(actual.size(), expected.size());
    const std::size_t count = actual.size();
    std::vector<double> errors(count);
    for (std::size_t i = 0; i < count; ++i) errors[i] = std::abs(actual[i] - expected[i]);
    return stats_from_errors(std::move(errors));
}

PrecisionStats precision(std::span<const double> actual, std::span<const double> expected) {
    require_same_length(actual.size(), expected.size());
    const std::size_t count = actual.size();
    std::vector<double> errors(count);
    for (std::size_t i = 0; i < count; ++i) errors[i] = std::fabs(actual[i] - expected[i]);
    return stats_from_errors(std::move(errors));
}

}  // namespace henn::ckks
