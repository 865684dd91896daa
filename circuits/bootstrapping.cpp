#include "henn/circuits/bootstrapping.hpp"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <iomanip>
#include <limits>
#include <map>
#include <memory>
#include <numbers>
#include <sstream>

#include "henn/circuits/polynomial.hpp"
#include "henn/error.hpp"
#include "henn/math/modarith.hpp"
#include "henn/math/ntt.hpp"
#include "henn/math/parallel.hpp"
#include "henn/math/random.hpp"

namespace henn::circuits {

using ckks::Ciphertext;
using ckks::Context;
using ckks::u64;

// ---------------------------------------------------------------------------------------------
// Secret-key bootstrapper (tests only)

SecretKeyBootstrapperForTests::SecretKeyBootstrapperForTests(ckks::ContextPtr context,
                                                             const ckks::SecretKey& secret_key,
                                                             int output_level, double input_bound)
    : context_(context),
      encoder_(context),
      encryptor_(context, secret_key),
      decryptor_(context, secret_key),
      output_level_(output_level < 0 ? context->max_level() : output_level),
      input_bound_(input_bound) {
    if (output_level_ > context_->max_level()) {
        throw ckks::LevelError("SecretKeyBootstrapperForTests: output level " +
                               std::to_string(output_level_) + " is above the top level " +
                               std::to_string(context_->max_level()));
    }
    if (!(input_bound_ > 0) || !std::isfinite(input_bound_)) {
        throw ckks::ParameterError(
            "SecretKeyBootstrapperForTests: the input bound must be a positive number");
    }
}

Ciphertext SecretKeyBootstrapperForTests::bootstrap(const Ciphertext& input) const {
    if (input.parameter_hash != context_->parameter_hash()) {
        throw ckks::MismatchError(
            "SecretKeyBootstrapperForTests: the ciphertext was made under other parameters");
    }
    if (input.size() != 2)
        throw ckks::MismatchError(
            "SecretKeyBootstrapperForTests: relinearize the ciphertext first");
    const ckks::Plaintext plain = decryptor_.decrypt(input);
    const std::vector<std::complex<double>> values = encoder_.decode(plain);
    double largest = 0;
    std::size_t where = 0;
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (std::abs(values[i]) > largest) largest = std::abs(values[i]), where = i;
    }
    if (!(largest <= input_bound_)) {
        std::ostringstream msg;
        msg << "bootstrapping input out of range: slot " << where << " has magnitude " << largest
            << " > " << input_bound_ << "; scale the values into [-" << input_bound_ << ", "
            << input_bound_ << "] before bootstrapping";
        throw BootstrapInputError(msg.str());
    }
    return encryptor_.encrypt(encoder_.encode(values, output_level_, input.scale, input.slots));
}

// ---------------------------------------------------------------------------------------------
// Parameters

namespace {

std::size_t log2_exact(std::size_t v) {
    return static_cast<std::size_t>(__builtin_ctzll(v));
}

double cosine_argument(const BootstrappingLiteral& lit, double y) {
    const double bound = static_cast<double>(lit.k) + 1;
    return 2 * std::numbers::pi * (bound * y - 0.25) / std::exp2(lit.double_angle);
}

}  // namespace

BootstrappingParametersPtr BootstrappingParameters::create(const BootstrappingLiteral& lit) {
    auto fail = [](const std::string& msg) {
        throw ckks::ParameterError("bootstrapping parameters: " + msg);
    };
    if (lit.log_n < 4 || lit.log_n > 17) fail("log_n must be in [4, 17]");
    const std::size_t max_slots = std::size_t{1} << (lit.log_n - 1);
    const std::size_t slots = lit.slots == 0 ? max_slots : lit.slots;
    if (slots != max_slots)
        fail("only full slots (N/2) are supported yet; got " + std::to_string(lit.slots));
    const int stages = static_cast<int>(log2_exact(slots));
    if (lit.coeffs_to_slots_levels < 1 || lit.coeffs_to_slots_levels > stages)
        fail("coeffs_to_slots_levels must be in [1, log2(slots)]");
    if (lit.slots_to_coeffs_levels < 1 || lit.slots_to_coeffs_levels > stages)
        fail("slots_to_coeffs_levels must be in [1, log2(slots)]");
    if (lit.k < 1 || lit.k > 1024) fail("k must be in [1, 1024]");
    if (lit.double_angle < 0 || lit.double_angle > 10) fail("double_angle must be in [0, 10]");
    if (lit.cosine_degree < 2 || lit.cosine_degree > 255) fail("cosine_degree must be in [2, 255]");
    if (lit.arcsine_degree != 0 && lit.arcsine_degree != 3 && lit.arcsine_degree != 5)
        fail("arcsine_degree must be 0 (none), 3 or 5");
    if (lit.secret_hamming_weight < 0 || lit.secret_hamming_weight > (1 << lit.log_n))
        fail("secret_hamming_weight must be in [0, N]");
    if (lit.ephemeral_hamming_weight < 0 || lit.ephemeral_hamming_weight > (1 << lit.log_n))
        fail("ephemeral_hamming_weight must be in [0, N]");
    if (!(lit.key_byte_weight >= 0) || !std::isfinite(lit.key_byte_weight))
        fail("key_byte_weight must be >= 0");
    if (lit.log_default_scale > lit.log_q0 - 6)
        fail("q_0 must exceed the scale by at least 2^6 (EvalMod's error grows with Delta / q_0)");

    auto params = std::shared_ptr<BootstrappingParameters>(new BootstrappingParameters());
    params->literal_ = lit;
    params->slots_ = slots;

    // The cosine interpolant and its error on a dense grid.
    params->cosine_ = approx::ChebyshevPolynomial::interpolate(
        [&](double y) { return std::cos(cosine_argument(lit, y)); }, lit.cosine_degree,
        approx::Interval{-1, 1});
    double worst = 0;
    for (int i = 0; i <= 4000; ++i) {
        const double y = -1 + i / 2000.0;
        worst = std::max(worst,
                         std::abs(params->cosine_.evaluate(y) - std::cos(cosine_argument(lit, y))));
    }
    params->cosine_error_ = worst;
    if (worst > std::exp2(-30)) {
        std::ostringstream msg;
        msg << "the cosine interpolant of degree " << lit.cosine_degree << " is off by " << worst
            << " (> 2^-30); raise cosine_degree or double_angle";
        fail(msg.str());
    }

    BootstrappingLevels& lv = params->levels_;
    lv.cosine_depth = ChebyshevEvaluator::depth(params->cosine_);
    if (lit.arcsine_degree == 5) {
        const double taylor[6] = {0, 1, 0, 1.0 / 6, 0, 3.0 / 40};
        params->arcsine_ = approx::ChebyshevPolynomial::from_power_basis(taylor, {-1, 1});
    }
    lv.arcsine_depth = lit.arcsine_degree == 5   ? ChebyshevEvaluator::depth(params->arcsine_)
                       : lit.arcsine_degree == 3 ? 2
                                                 : 0;
    const int eval_mod_levels = lv.cosine_depth + lit.double_angle + lv.arcsine_depth;
    lv.output = static_cast<int>(lit.log_residual.size());
    lv.eval_mod_end = lv.output + lit.slots_to_coeffs_levels;
    lv.coeffs_to_slots_end = lv.eval_mod_end + eval_mod_levels;
    lv.top = lv.coeffs_to_slots_end + lit.coeffs_to_slots_levels;

    ckks::ParametersLiteral ckks_lit;
    ckks_lit.log_n = lit.log_n;
    ckks_lit.log_q.push_back(lit.log_q0);
    for (int b : lit.log_residual) ckks_lit.log_q.push_back(b);
    for (int i = 0; i < lit.slots_to_coeffs_levels; ++i)
        ckks_lit.log_q.push_back(lit.log_slots_to_coeffs_prime);
    for (int i = 0; i < eval_mod_levels; ++i) ckks_lit.log_q.push_back(lit.log_eval_mod_prime);
    for (int i = 0; i < lit.coeffs_to_slots_levels; ++i)
        ckks_lit.log_q.push_back(lit.log_coeffs_to_slots_prime);
    ckks_lit.log_p = lit.log_p;
    ckks_lit.log_default_scale = lit.log_default_scale;
    ckks_lit.security = lit.security;
    ckks_lit.allow_insecure = lit.allow_insecure;
    params->context_ = Context::create(ckks_lit);  // the security check happens here
    return params;
}

double BootstrappingParameters::log2_failure_probability() const {
    // I_j = (c_0 + c_1 s)_j / q_0 rounded: a sum of h + 1 independent terms uniform in [-1/2, 1/2]
    // (h nonzero coefficients of s; a dense secret counts all N), Irwin-Hall shifted to 0.
    // |I_j| > k needs |S| > k + 1/2, impossible when (h + 1) / 2 <= k + 1/2.
    // With encapsulation, ModRaise happens under the ephemeral secret of weight h'.
    const double n = static_cast<double>(context_->n());
    const int h = literal_.ephemeral_hamming_weight > 0 ? literal_.ephemeral_hamming_weight
                                                        : literal_.secret_hamming_weight;
    const double terms = (h == 0 ? n : h) + 1;
    const double t = literal_.k + 0.5;
    if (terms / 2 <= t) return -std::numeric_limits<double>::infinity();
    // Chernoff with the exact moment generating function of the uniform term, sinh(l/2) / (l/2):
    // P(|S| >= t) <= 2 min_l exp(-l t) (sinh(l/2) / (l/2))^terms; union over the N coefficients.
    auto log_bound = [&](double l) {
        return -l * t + terms * std::log(std::sinh(l / 2) / (l / 2));
    };
    double best = 0;
    for (double l = 1e-3; l < 200; l *= 1.01) best = std::min(best, log_bound(l));
    return std::log2(2 * n) + best / std::numbers::ln2;
}

std::string BootstrappingParameters::describe() const {
    const Context& ctx = *context_;
    const BootstrappingLiteral& lit = literal_;
    std::ostringstream out;
    out << std::fixed << std::setprecision(1);
    out << "ring            N = 2^" << lit.log_n << ", " << slots_ << " slots\n";
    out << "log2(QP)        " << ctx.log_qp() << " <= " << ckks::max_log_qp(lit.log_n, lit.security)
        << " (" << ckks::to_string(lit.security) << ")"
        << (ctx.insecure() ? "  INSECURE (test parameters)" : "") << "\n";
    out << "secret          "
        << (lit.secret_hamming_weight == 0 ? std::string("dense ternary")
                                           : "h = " + std::to_string(lit.secret_hamming_weight))
        << (lit.ephemeral_hamming_weight > 0
                ? "; ModRaise under an ephemeral sparse secret, h' = " +
                      std::to_string(lit.ephemeral_hamming_weight) +
                      " (encapsulation: switching keys at levels 0 and " +
                      std::to_string(levels_.top) + ")"
                : std::string("; ModRaise under it (no encapsulation)"))
        << "\n";
    out << "EvalMod         K = " << lit.k << ", cosine degree " << lit.cosine_degree
        << " (error 2^" << std::log2(cosine_error_) << "), " << lit.double_angle << " double angles"
        << (lit.arcsine_degree ? ", arcsine degree " + std::to_string(lit.arcsine_degree) : "")
        << ", q_0 / Delta = 2^" << lit.log_q0 - lit.log_default_scale << "\n";
    const double f = log2_failure_probability();
    out << "failure prob.   "
        << (std::isinf(f) ? std::string("0 (|I| <= K always)")
                          : "<= 2^" +
                                [&] {
                                    std::ostringstream s;
                                    s << std::fixed << std::setprecision(1) << f;
                                    return s.str();
                                }())
        << " per bootstrap\n";
    out << "level map       (level: prime bits)\n";
    auto bits = [&](int level) { return std::log2(static_cast<double>(ctx.q()[level].value())); };
    auto range = [&](const char* name, int hi, int lo) {
        out << "  " << std::setw(15) << std::left << name << std::right;
        if (hi < lo) {
            out << " -\n";
            return;
        }
        out << " levels " << lo << ".." << hi << ":";
        for (int l = hi; l >= lo; --l) out << " " << std::setprecision(0) << bits(l);
        out << std::setprecision(1) << "\n";
    };
    range("CoeffsToSlots", levels_.top, levels_.coeffs_to_slots_end + 1);
    range("EvalMod", levels_.coeffs_to_slots_end, levels_.eval_mod_end + 1);
    range("SlotsToCoeffs", levels_.eval_mod_end, levels_.output + 1);
    range("residual", levels_.output, 1);
    range("q_0", 0, 0);
    out << "  special primes P: " << ctx.p_count()
        << " (key-switching digits at the top: " << ctx.digit_count(ctx.max_level()) << ")\n";
    out << "output level    " << levels_.output << " at scale 2^" << lit.log_default_scale << "\n";
    return out.str();
}

namespace {
ckks::SecretKey make_sparse_secret(const Context& ctx, int h, math::Prng& prng) {
    const std::size_t n = ctx.n();
    if (h <= 0 || static_cast<std::size_t>(h) > n) {
        throw ckks::ParameterError("sparse secret: the Hamming weight must be in [1, N]");
    }
    std::vector<std::uint32_t> positions(n);
    for (std::size_t i = 0; i < n; ++i) positions[i] = static_cast<std::uint32_t>(i);
    std::vector<std::int8_t> s(n, 0);
    for (int i = 0; i < h; ++i) {
        // Partial Fisher-Yates; the modulo bias is < n / 2^64.
        const std::size_t j = i + prng.next_u64() % (n - i);
        std::swap(positions[i], positions[j]);
        s[positions[i]] = (prng.next_u64() & 1) ? 1 : -1;
    }
    ckks::RnsPoly poly(n, ctx.q_count() + ctx.p_count());
    for (std::size_t i = 0; i < ctx.qp().size(); ++i) {
        const u64 q = ctx.qp()[i].value();
        u64* limb = poly.limb(i);
        for (std::size_t k = 0; k < n; ++k) limb[k] = math::from_signed(s[k], q);
        math::ntt_forward(limb, ctx.ntt(i));
    }
    math::secure_wipe(s.data(), s.size());
    math::secure_wipe(positions.data(), positions.size() * sizeof(std::uint32_t));
    return ckks::SecretKey(std::move(poly), ctx.parameter_hash());
}
}  // namespace

ckks::SecretKey sparse_secret_key(const Context& context, int hamming_weight) {
    math::Prng prng = math::Prng::from_os();
    return make_sparse_secret(context, hamming_weight, prng);
}

ckks::SecretKey sparse_secret_key_for_tests(const Context& context, int hamming_weight,
                                            const math::Seed& seed) {
    math::Prng prng(seed);
    return make_sparse_secret(context, hamming_weight, prng);
}

// ---------------------------------------------------------------------------------------------
// ModRaise

Ciphertext mod_raise(const Context& ctx, const Ciphertext& in, int level) {
    if (level < 0) level = ctx.max_level();
    if (in.level != 0)
        throw ckks::LevelError("mod_raise: the ciphertext must be at level 0 (drop_level first)");
    if (in.size() != 2) throw ckks::MismatchError("mod_raise: relinearize the ciphertext first");
    if (in.parameter_hash != ctx.parameter_hash())
        throw ckks::MismatchError("mod_raise: other parameters");
    const std::size_t n = ctx.n();
    const u64 q0 = ctx.q()[0].value();
    Ciphertext out;
    ckks::set_metadata(out, ckks::metadata(in).with_level(level));
    for (const ckks::RnsPoly& poly : in.polys) {
        std::vector<u64> coeffs(poly.limb(0), poly.limb(0) + n);
        math::ntt_inverse(coeffs.data(), ctx.ntt(0));
        ckks::RnsPoly raised(n, static_cast<std::size_t>(level) + 1, ckks::RnsPoly::uninitialized);
        for (int i = 0; i <= level; ++i) {
            const u64 q = ctx.q()[i].value();
            u64* limb = raised.limb(i);
            for (std::size_t k = 0; k < n; ++k) {
                // Centered representative of the residue mod q_0, then reduced mod q_i.
                const u64 c = coeffs[k];
                limb[k] =
                    c > q0 / 2 ? math::from_signed(-static_cast<std::int64_t>(q0 - c), q) : c % q;
            }
            math::ntt_forward(limb, ctx.ntt(i));
        }
        out.polys.push_back(std::move(raised));
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// DFT factors

namespace {

using LComplex = std::complex<long double>;
using LDiagonals = std::map<std::size_t, std::vector<LComplex>>;

// The twiddles of the stage of length len of the embedding (see math/fft.cpp): butterfly j uses
// zeta^(5^j mod 4 len), zeta a primitive (4 len)-th root of unity.
std::vector<LComplex> twiddles(std::size_t len) {
    const std::size_t period = 4 * len;
    std::vector<LComplex> out(len / 2);
    std::size_t power = 1;
    for (std::size_t j = 0; j < len / 2; ++j) {
        const long double angle = 2.0L * std::numbers::pi_v<long double> *
                                  static_cast<long double>(power) /
                                  static_cast<long double>(period);
        out[j] = {std::cos(angle), std::sin(angle)};
        power = (power * 5) % period;
    }
    return out;
}

// One butterfly stage as diagonals (y[t] = sum_k d_k[t] x[t + k]).
LDiagonals stage(std::size_t n, std::size_t len, bool inverse) {
    const std::size_t half = len / 2;
    const std::vector<LComplex> tw = twiddles(len);
    LDiagonals d;
    auto at = [&](std::size_t offset) -> std::vector<LComplex>& {
        auto& v = d[offset % n];
        if (v.empty()) v.assign(n, LComplex(0));
        return v;
    };
    for (std::size_t t = 0; t < n; ++t) {
        const std::size_t p = t % len;
        if (!inverse) {
            // y[i+j] = x[i+j] + w x[i+j+half]; y[i+j+half] = x[i+j] - w x[i+j+half].
            if (p < half) {
                at(0)[t] += 1;
                at(half)[t] += tw[p];
            } else {
                at(n - half)[t] += 1;
                at(0)[t] -= tw[p - half];
            }
        } else {
            // y[i+j] = (x[i+j] + x[i+j+half]) / 2; y[i+j+half] = conj(w) (x[i+j] - x[i+j+half])
            // / 2.
            if (p < half) {
                at(0)[t] += 0.5L;
                at(half)[t] += 0.5L;
            } else {
                const LComplex w = std::conj(tw[p - half]);
                at(n - half)[t] += 0.5L * w;
                at(0)[t] -= 0.5L * w;
            }
        }
    }
    return d;
}

// a after b: (a b)_{i+j}[t] = sum a_i[t] b_j[t + i].
LDiagonals compose(const LDiagonals& a, const LDiagonals& b, std::size_t n) {
    LDiagonals c;
    for (const auto& [i, ai] : a) {
        for (const auto& [j, bj] : b) {
            auto& out = c[(i + j) % n];
            if (out.empty()) out.assign(n, LComplex(0));
            for (std::size_t t = 0; t < n; ++t) out[t] += ai[t] * bj[(t + i) % n];
        }
    }
    return c;
}

std::vector<Diagonals> grouped_factors(std::size_t ring_degree, std::size_t slots, int levels,
                                       bool inverse) {
    if (slots < 2 || (slots & (slots - 1)) != 0 || slots > ring_degree / 2) {
        throw ckks::ParameterError(
            "DFT factors: the slot count must be a power of two in [2, N/2]");
    }
    const int stages = static_cast<int>(log2_exact(slots));
    if (levels < 1 || levels > stages)
        throw ckks::ParameterError("DFT factors: levels must be in [1, log2(slots)]");
    // Stage lengths in the order they are applied.
    std::vector<std::size_t> lengths;
    for (std::size_t len = 2; len <= slots; len <<= 1) lengths.push_back(len);
    if (inverse) std::reverse(lengths.begin(), lengths.end());
    std::vector<Diagonals> factors;
    std::size_t next = 0;
    for (int g = 0; g < levels; ++g) {
        const std::size_t count = stages / levels + (g < stages % levels ? 1 : 0);
        LDiagonals product;
        for (std::size_t s = 0; s < count; ++s, ++next) {
            LDiagonals st = stage(slots, lengths[next], inverse);
            product = product.empty() ? std::move(st) : compose(st, product, slots);
        }
        Diagonals out;
        out.slots = slots;
        for (const auto& [k, v] : product) {
            long double largest = 0;
            for (const auto& x : v) largest = std::max(largest, std::abs(x));
            if (largest < 1e-12L) continue;  // cancelled exactly
            std::vector<Complex> values(slots);
            for (std::size_t t = 0; t < slots; ++t)
                values[t] =
                    Complex(static_cast<double>(v[t].real()), static_cast<double>(v[t].imag()));
            out.diagonals.emplace(k, std::move(values));
        }
        factors.push_back(std::move(out));
    }
    return factors;
}

}  // namespace

std::vector<Diagonals> slots_to_coeffs_factors(std::size_t ring_degree, std::size_t slots,
                                               int levels) {
    return grouped_factors(ring_degree, slots, levels, false);
}

std::vector<Diagonals> coeffs_to_slots_factors(std::size_t ring_degree, std::size_t slots,
                                               int levels) {
    return grouped_factors(ring_degree, slots, levels, true);
}

// ---------------------------------------------------------------------------------------------
// The real bootstrapper

namespace {

// The levels the DFT factors are applied at, in order.
std::vector<int> coeffs_to_slots_levels(const BootstrappingParameters& p) {
    std::vector<int> out;
    for (int l = p.levels().top; l > p.levels().coeffs_to_slots_end; --l) out.push_back(l);
    return out;
}
std::vector<int> slots_to_coeffs_levels(const BootstrappingParameters& p) {
    std::vector<int> out;
    for (int l = p.levels().eval_mod_end; l > p.levels().output; --l) out.push_back(l);
    return out;
}

double prime(const Context& ctx, int level) {
    return static_cast<double>(ctx.q()[level].value());
}

BsgsCostModel dft_cost_model(const BootstrappingParameters& p) {
    BsgsCostModel model;
    model.key_byte_weight = p.literal().key_byte_weight;
    model.chained_giant_steps = p.literal().chained_giant_steps;
    return model;
}

// Bytes of the keys for these rotation uses plus the fixed ones, each key only down to its level.
std::size_t rotation_bytes(const Context& ctx, const std::map<int, int>& step_levels) {
    std::size_t bytes = 0;
    for (const auto& [step, level] : step_levels) bytes += ckks::switch_key_bytes(ctx, level);
    return bytes;
}

std::size_t fixed_key_bytes(const BootstrappingParameters& p) {
    const Context& ctx = *p.context();
    const int level = p.levels().coeffs_to_slots_end;
    std::size_t bytes = 2 * ckks::switch_key_bytes(ctx, level);  // relinearization, conjugation
    if (p.literal().ephemeral_hamming_weight > 0)
        bytes += ckks::switch_key_bytes(ctx, 0) + ckks::switch_key_bytes(ctx, p.levels().top);
    return bytes;
}

// The splits of the six DFT factors chosen together under the key budget: for each factor the
// distinct plans over b (time only, chained or not as the literal says) within 4x of its fastest,
// then every combination, keeping the cheapest whose keys fit.
std::vector<BsgsPlan> plans_under_budget(const BootstrappingParameters& p,
                                         const std::vector<std::vector<std::size_t>>& indices,
                                         const std::vector<int>& levels) {
    const Context& ctx = *p.context();
    const std::size_t slots = p.slots();
    BsgsCostModel time_only;
    time_only.chained_giant_steps = p.literal().chained_giant_steps;
    std::vector<std::vector<BsgsPlan>> candidates(indices.size());
    for (std::size_t f = 0; f < indices.size(); ++f) {
        double fastest = std::numeric_limits<double>::infinity();
        std::vector<BsgsPlan> all;
        for (std::size_t b = 1; b <= slots; b *= 2) {
            BsgsPlan plan = plan_bsgs_with_baby(ctx, levels[f], indices[f], slots, b, time_only);
            fastest = std::min(fastest, plan.cost);
            const bool same = std::any_of(all.begin(), all.end(), [&](const BsgsPlan& q) {
                return q.rotation_steps == plan.rotation_steps &&
                       q.key_switches == plan.key_switches;
            });
            if (!same) all.push_back(std::move(plan));
        }
        for (auto& plan : all) {
            if (plan.cost <= 4 * fastest) candidates[f].push_back(std::move(plan));
        }
    }
    const std::size_t budget = p.literal().key_budget_bytes;
    const std::size_t fixed = fixed_key_bytes(p);
    std::vector<std::size_t> choice(indices.size()), best_choice;
    double best_cost = std::numeric_limits<double>::infinity();
    std::size_t best_bytes = 0, smallest = std::numeric_limits<std::size_t>::max();
    std::map<int, int> steps;  // step -> highest level, for the factors chosen so far
    auto search = [&](auto&& self, std::size_t f, double cost) -> void {
        if (f == indices.size()) {
            const std::size_t bytes = fixed + rotation_bytes(ctx, steps);
            smallest = std::min(smallest, bytes);
            if (bytes <= budget &&
                (cost < best_cost || (cost == best_cost && bytes < best_bytes))) {
                best_cost = cost, best_bytes = bytes, best_choice = choice;
            }
            return;
        }
        for (std::size_t c = 0; c < candidates[f].size(); ++c) {
            if (cost + candidates[f][c].cost >= best_cost) continue;
            const std::map<int, int> saved = steps;
            for (int step : candidates[f][c].rotation_steps) {
                auto [it, fresh] = steps.emplace(step, levels[f]);
                if (!fresh) it->second = std::max(it->second, levels[f]);
            }
            choice[f] = c;
            self(self, f + 1, cost + candidates[f][c].cost);
            steps = saved;
        }
    };
    search(search, 0, 0.0);
    if (best_choice.empty()) {
        std::ostringstream msg;
        msg << "bootstrapping parameters: no split of the DFT factors fits the key budget of "
            << std::fixed << std::setprecision(2) << static_cast<double>(budget) / (1 << 30)
            << " GiB (the smallest needs " << static_cast<double>(smallest) / (1 << 30)
            << " GiB); raise key_budget_bytes or use more special primes";
        throw ckks::ParameterError(msg.str());
    }
    std::vector<BsgsPlan> out;
    for (std::size_t f = 0; f < indices.size(); ++f) out.push_back(candidates[f][best_choice[f]]);
    return out;
}

// The scale ModRaise labels the raised ciphertext with: its slots then hold t / (q_0 2 (k + 1)),
// so that CoeffsToSlots' real and imaginary parts come out as x / (k + 1) in [-1, 1].
double raised_scale(const BootstrappingParameters& p) {
    return prime(*p.context(), 0) * 2 * p.eval_mod_bound();
}

}  // namespace

std::size_t DftPlans::key_switches() const {
    std::size_t total = 0;
    for (const auto& plan : coeffs_to_slots) total += plan.key_switches;
    for (const auto& plan : slots_to_coeffs) total += plan.key_switches;
    return total;
}

DftPlans CkksBootstrapper::dft_plans(const BootstrappingParameters& params) {
    const Context& ctx = *params.context();
    const std::size_t slots = params.slots();
    DftPlans out;
    out.coeffs_to_slots_levels = coeffs_to_slots_levels(params);
    out.slots_to_coeffs_levels = slots_to_coeffs_levels(params);
    std::vector<std::vector<std::size_t>> indices;
    for (const auto& f :
         coeffs_to_slots_factors(ctx.n(), slots, params.literal().coeffs_to_slots_levels))
        indices.push_back(f.indices());
    for (const auto& f :
         slots_to_coeffs_factors(ctx.n(), slots, params.literal().slots_to_coeffs_levels))
        indices.push_back(f.indices());
    std::vector<int> levels = out.coeffs_to_slots_levels;
    levels.insert(levels.end(), out.slots_to_coeffs_levels.begin(),
                  out.slots_to_coeffs_levels.end());
    std::vector<BsgsPlan> plans;
    if (params.literal().key_budget_bytes > 0) {
        plans = plans_under_budget(params, indices, levels);
    } else {
        for (std::size_t f = 0; f < indices.size(); ++f)
            plans.push_back(plan_bsgs(ctx, levels[f], indices[f], slots, dft_cost_model(params)));
    }
    const std::size_t cts = out.coeffs_to_slots_levels.size();
    out.coeffs_to_slots.assign(plans.begin(), plans.begin() + static_cast<std::ptrdiff_t>(cts));
    out.slots_to_coeffs.assign(plans.begin() + static_cast<std::ptrdiff_t>(cts), plans.end());
    return out;
}

BootstrappingKeyRequirements CkksBootstrapper::key_requirements(
    const BootstrappingParameters& params) {
    const DftPlans plans = dft_plans(params);
    BootstrappingKeyRequirements req;
    for (std::size_t i = 0; i < plans.coeffs_to_slots.size(); ++i)
        req.rotations.push_back(
            {plans.coeffs_to_slots[i].rotation_steps, plans.coeffs_to_slots_levels[i], false});
    for (std::size_t i = 0; i < plans.slots_to_coeffs.size(); ++i)
        req.rotations.push_back(
            {plans.slots_to_coeffs[i].rotation_steps, plans.slots_to_coeffs_levels[i], false});
    req.conjugation_level = params.levels().coeffs_to_slots_end;
    req.relinearization_level = params.levels().coeffs_to_slots_end;
    req.encapsulation = params.literal().ephemeral_hamming_weight > 0;
    req.top_level = params.levels().top;
    return req;
}

std::size_t BootstrappingKeyRequirements::key_bytes(const Context& context,
                                                    std::size_t slots) const {
    return plan_rotation_keys(context, rotations, slots).key_bytes +
           ckks::switch_key_bytes(context, conjugation_level) +
           ckks::switch_key_bytes(context, relinearization_level) +
           (encapsulation
                ? ckks::switch_key_bytes(context, 0) + ckks::switch_key_bytes(context, top_level)
                : 0);
}

std::size_t BootstrappingKeyRequirements::key_count(const Context& context,
                                                    std::size_t slots) const {
    return plan_rotation_keys(context, rotations, slots).keys.size() + 2 + (encapsulation ? 2 : 0);
}

namespace {
EncapsulationKeys make_encapsulation(ckks::KeyGenerator& keygen, const BootstrappingParameters& p,
                                     const math::Seed* seed) {
    const int h = p.literal().ephemeral_hamming_weight;
    if (h <= 0) {
        throw ckks::ParameterError(
            "make_encapsulation_keys: the parameters have no ephemeral secret "
            "(ephemeral_hamming_weight 0)");
    }
    const ckks::ContextPtr& ctx = p.context();
    if (keygen.secret_key().parameter_hash() != ctx->parameter_hash())
        throw ckks::MismatchError(
            "make_encapsulation_keys: the key generator has other parameters");
    ckks::SecretKey sparse = seed ? sparse_secret_key_for_tests(*ctx, h, *seed)
                                  : sparse_secret_key(*ctx, h);  // wiped when destroyed
    EncapsulationKeys keys;
    {
        auto sparse_keygen = seed ? std::make_unique<ckks::KeyGenerator>(ctx, sparse, *seed)
                                  : std::make_unique<ckks::KeyGenerator>(ctx, sparse);
        keys.to_sparse = sparse_keygen->switching_key(keygen.secret_key(), 0);
    }
    keys.to_dense = keygen.switching_key(sparse, p.levels().top);
    return keys;
}
}  // namespace

EncapsulationKeys make_encapsulation_keys(ckks::KeyGenerator& keygen,
                                          const BootstrappingParameters& params) {
    return make_encapsulation(keygen, params, nullptr);
}

EncapsulationKeys make_encapsulation_keys_for_tests(ckks::KeyGenerator& keygen,
                                                    const BootstrappingParameters& params,
                                                    const math::Seed& seed) {
    return make_encapsulation(keygen, params, &seed);
}

ckks::EvaluationKeys BootstrappingKeyRequirements::generate(ckks::KeyGenerator& keygen,
                                                            const Context& context,
                                                            std::size_t slots) const {
    ckks::EvaluationKeys keys;
    keys.relinearization = keygen.relinearization_key(relinearization_level);
    keys.galois = plan_rotation_keys(context, rotations, slots).generate(keygen);
    keygen.add_galois_keys(keys.galois, {}, true, conjugation_level);
    return keys;
}

CkksBootstrapper::CkksBootstrapper(BootstrappingParametersPtr params,
                                   std::shared_ptr<const ckks::Evaluator> evaluator,
                                   std::shared_ptr<const EncapsulationKeys> encapsulation)
    : params_(std::move(params)),
      evaluator_(std::move(evaluator)),
      encapsulation_(std::move(encapsulation)),
      encoder_(params_->context()) {
    if (params_->literal().ephemeral_hamming_weight > 0 && !encapsulation_) {
        throw ckks::MissingKeyError(
            "CkksBootstrapper: the parameters ask for sparse-secret encapsulation "
            "(ephemeral_hamming_weight > 0): give it the keys of make_encapsulation_keys");
    }
    if (!evaluator_ ||
        evaluator_->context()->parameter_hash() != params_->context()->parameter_hash()) {
        throw ckks::MismatchError(
            "CkksBootstrapper: the evaluator must be made under the bootstrapping parameters' "
            "context");
    }
    const Context& ctx = *params_->context();
    const BootstrappingLevels& lv = params_->levels();
    const std::size_t slots = params_->slots();

    // CoeffsToSlots runs at the scale of the first EvalMod prime (the scale ChebyshevEvaluator
    // works best at): the first factor raises the raised scale q_0 2 (K + 1) to it. Its key
    // switches and rescales add errors of fixed size relative to the scale, which EvalMod
    // amplifies by (K + 1) q_0 / Delta: at the raised scale they would not shrink with q_0 / Delta.
    const DftPlans plans = dft_plans(*params_);
    const auto cts =
        coeffs_to_slots_factors(ctx.n(), slots, params_->literal().coeffs_to_slots_levels);
    const auto& cts_levels = plans.coeffs_to_slots_levels;
    const double cts_scale = prime(ctx, lv.coeffs_to_slots_end);
    for (std::size_t i = 0; i < cts.size(); ++i) {
        LinearTransform::Options options;
        options.level = cts_levels[i];
        const double scale_in = i == 0 ? raised_scale(*params_) : cts_scale;
        options.scale = prime(ctx, cts_levels[i]) * cts_scale / scale_in;
        options.cost = dft_cost_model(*params_);
        options.baby = plans.coeffs_to_slots[i].baby;
        coeffs_to_slots_.emplace_back(encoder_, cts[i], options);
    }

    // EvalMod scales, backwards from the end: the arcsine lands at the prime above its last level
    // (any input scale), a double angle at level l maps scale s to s^2 / q_l.
    const int r = params_->literal().double_angle;
    const int cosine_end = lv.coeffs_to_slots_end - lv.cosine_depth;
    eval_mod_scale_ = prime(ctx, lv.eval_mod_end + 1);
    double_angle_scale_ = prime(ctx, lv.eval_mod_end + lv.arcsine_depth + 1);
    double s = double_angle_scale_;
    for (int i = r - 1; i >= 0; --i) s = std::sqrt(s * prime(ctx, cosine_end - i));
    cosine_scale_ = s;

    // SlotsToCoeffs brings the relabelled message scale, Delta 2 pi eval_mod_scale / q_0, back to
    // the input's Delta: each factor by the same ratio, so that every factor's diagonals keep
    // about log2(q_l) bits (in one factor, q_0 / Delta = 2^6 would leave them 2^17 less).
    const double q0 = prime(ctx, 0);
    const auto stc =
        slots_to_coeffs_factors(ctx.n(), slots, params_->literal().slots_to_coeffs_levels);
    const auto& stc_levels = plans.slots_to_coeffs_levels;
    const double ratio = std::pow(q0 / (2 * std::numbers::pi * eval_mod_scale_),
                                  1.0 / static_cast<double>(stc.size()));
    for (std::size_t i = 0; i < stc.size(); ++i) {
        LinearTransform::Options options;
        options.level = stc_levels[i];
        options.scale = prime(ctx, stc_levels[i]) * ratio;
        options.cost = dft_cost_model(*params_);
        options.baby = plans.slots_to_coeffs[i].baby;
        slots_to_coeffs_.emplace_back(encoder_, stc[i], options);
    }
}

std::size_t CkksBootstrapper::plaintext_bytes() const {
    std::size_t total = 0;
    for (const auto& t : coeffs_to_slots_) total += t.plaintext_bytes();
    for (const auto& t : slots_to_coeffs_) total += t.plaintext_bytes();
    return total;
}

std::pair<Ciphertext, Ciphertext> CkksBootstrapper::coeffs_to_slots(
    const Ciphertext& raised) const {
    const ckks::Evaluator& ev = *evaluator_;
    Ciphertext v = raised;
    for (const auto& t : coeffs_to_slots_) v = t.evaluate(ev, v);
    // v = w / 2 with w = t_lo + i t_hi (bit-reversed); real part v + conj(v), imaginary part
    // -i (v - conj(v)); multiplying by -i is the exact product with -X^(N/2).
    const Ciphertext conj = ev.conjugate(v);
    Ciphertext real = ev.add(v, conj);
    Ciphertext diff = ev.sub(v, conj);
    const ckks::Plaintext minus_i = encoder_.encode_constant({0, -1}, diff.level, 1.0, diff.slots);
    Ciphertext imaginary = ev.multiply_plain(diff, minus_i);
    ckks::set_metadata(imaginary, ckks::metadata(imaginary).with_scale(diff.scale));
    return {std::move(real), std::move(imaginary)};
}

Ciphertext CkksBootstrapper::eval_mod(const Ciphertext& y, double message_scale, double q0) const {
    const ckks::Evaluator& ev = *evaluator_;
    const BootstrappingLevels& lv = params_->levels();
    if (y.level != lv.coeffs_to_slots_end) {
        throw ckks::LevelError("eval_mod: the input must be at level " +
                               std::to_string(lv.coeffs_to_slots_end));
    }
    ChebyshevEvaluator cheb(ev);
    Ciphertext c = cheb.evaluate(y, params_->cosine(), cosine_scale_);
    for (int i = 0; i < params_->literal().double_angle; ++i) {
        // cos(2a) = 2 cos(a)^2 - 1
        c = ev.square_relin(c);
        ev.rescale_inplace(c);
        c = ev.add(c, c);
        c = ev.add_constant(c, -1.0);
    }
    if (params_->literal().arcsine_degree == 3) {
        // arcsin(s) ~ s + s^3 / 6 for the small s = sin(2 pi x) at x near an integer.
        const double coefficients[4] = {0, 1, 0, 1.0 / 6};
        c = evaluate_power_basis(ev, c, coefficients, eval_mod_scale_);
    } else if (params_->literal().arcsine_degree == 5) {
        c = cheb.evaluate(c, params_->arcsine(), eval_mod_scale_);
    }
    const double drift = std::abs(c.scale / eval_mod_scale_ - 1);
    if (c.level != lv.eval_mod_end || drift > 1e-9) {
        throw InternalError("eval_mod: landed at level " + std::to_string(c.level) +
                            ", scale off by " + std::to_string(drift) + " (a bug)");
    }
    // c holds sin(2 pi x) (or its arcsine) ~ 2 pi m Delta / q_0: relabelled, the same polynomial
    // reads as m.
    ckks::set_metadata(c, ckks::metadata(c).with_scale(eval_mod_scale_ * 2 * std::numbers::pi *
                                                       message_scale / q0));
    return c;
}

Ciphertext CkksBootstrapper::slots_to_coeffs(const Ciphertext& real,
                                             const Ciphertext& imaginary) const {
    const ckks::Evaluator& ev = *evaluator_;
    const ckks::Plaintext i_unit =
        encoder_.encode_constant({0, 1}, imaginary.level, 1.0, imaginary.slots);
    Ciphertext w = ev.multiply_plain(imaginary, i_unit);
    ckks::set_metadata(w, ckks::metadata(w).with_scale(imaginary.scale));
    w = ev.add(real, w);
    for (const auto& t : slots_to_coeffs_) w = t.evaluate(ev, w);
    return w;
}

Ciphertext CkksBootstrapper::bootstrap(const Ciphertext& input) const {
    return bootstrap_with_timings(input, nullptr);
}

Ciphertext CkksBootstrapper::bootstrap_with_timings(const Ciphertext& input,
                                                    BootstrapTimings* timings) const {
    const Context& ctx = *params_->context();
    const ckks::Evaluator& ev = *evaluator_;
    if (input.parameter_hash != ctx.parameter_hash()) {
        throw ckks::MismatchError("bootstrap: the ciphertext was made under other parameters");
    }
    if (input.slots != params_->slots()) {
        throw BootstrapInputError("bootstrap: the ciphertext has " + std::to_string(input.slots) +
                                  " slots, the parameters " + std::to_string(params_->slots()));
    }
    if (input.size() != 2) throw BootstrapInputError("bootstrap: relinearize the ciphertext first");
    const double q0 = prime(ctx, 0);
    // |m| <= 1 keeps m Delta / q_0 small enough for sin(2 pi x) / (2 pi) ~ x.
    if (!(input.scale >= 1) || input.scale > q0 / 64) {
        std::ostringstream msg;
        msg << "bootstrap: input scale 2^" << std::log2(input.scale) << " is too large for q_0 = 2^"
            << std::log2(q0) << " (at most q_0 / 2^6); rescale first";
        throw BootstrapInputError(msg.str());
    }
    using Clock = std::chrono::steady_clock;
    auto seconds = [](Clock::time_point a, Clock::time_point b) {
        return std::chrono::duration<double>(b - a).count();
    };
    const auto cpu = math::process_cpu_seconds;
    const double c0 = cpu();
    const auto t0 = Clock::now();
    Ciphertext level0 = input.level == 0 ? input : ev.drop_level(input, 0);
    // Encapsulation: raised under the ephemeral sparse secret (|I| <= h' / 2), then back.
    if (encapsulation_) level0 = ev.switch_key(level0, encapsulation_->to_sparse);
    Ciphertext raised = mod_raise(ctx, level0, params_->levels().top);
    if (encapsulation_) raised = ev.switch_key(raised, encapsulation_->to_dense);
    ckks::set_metadata(raised, ckks::metadata(raised).with_scale(raised_scale(*params_)));
    const auto t1 = Clock::now();
    const double c1 = cpu();
    // Named references, not a structured binding: OpenMP's outlined regions below capture them,
    // which clang before 16 refuses for structured bindings.
    const std::pair<Ciphertext, Ciphertext> parts = coeffs_to_slots(raised);
    const Ciphertext& real = parts.first;
    const Ciphertext& imaginary = parts.second;
    const auto t2 = Clock::now();
    const double c2 = cpu();
    // The two EvalMods are independent: with two or more threads each runs on its own thread
    // (the limb loops inside are then serial, OpenMP nesting being off), which scales better than
    // splitting every product's few limbs across threads.
    Ciphertext m_real, m_imag;
    if (math::thread_count() >= 2) {
        std::exception_ptr failure[2];
#pragma omp parallel sections num_threads(2)
        {
#pragma omp section
            {
                try {
                    m_real = eval_mod(real, input.scale, q0);
                } catch (...) {
                    failure[0] = std::current_exception();
                }
            }
#pragma omp section
            {
                try {
                    m_imag = eval_mod(imaginary, input.scale, q0);
                } catch (...) {
                    failure[1] = std::current_exception();
                }
            }
        }
        for (const auto& f : failure) {
            if (f) std::rethrow_exception(f);
        }
    } else {
        m_real = eval_mod(real, input.scale, q0);
        m_imag = eval_mod(imaginary, input.scale, q0);
    }
    const auto t3 = Clock::now();
    const double c3 = cpu();
    Ciphertext out = slots_to_coeffs(m_real, m_imag);
    const auto t4 = Clock::now();
    const double c4 = cpu();
    // The scales were chosen so that this is the input's scale up to rounding: make it exact.
    if (std::abs(out.scale / input.scale - 1) > 1e-9) {
        throw InternalError("bootstrap: output scale drifted (a bug)");
    }
    ckks::set_metadata(out, ckks::metadata(out).with_scale(input.scale));
    if (timings) {
        timings->mod_raise = seconds(t0, t1);
        timings->coeffs_to_slots = seconds(t1, t2);
        timings->eval_mod = seconds(t2, t3);
        timings->slots_to_coeffs = seconds(t3, t4);
        timings->cpu_mod_raise = c1 - c0;
        timings->cpu_coeffs_to_slots = c2 - c1;
        timings->cpu_eval_mod = c3 - c2;
        timings->cpu_slots_to_coeffs = c4 - c3;
    }
    return out;
}

}  // namespace henn::circuits
