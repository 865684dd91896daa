// Compilation: lowering, calibration, parameter choice, simulated run.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>

#include "henn/circuits/polynomial_plan.hpp"
#include "henn/ckks/errors.hpp"
#include "henn/engine/compiled_model.hpp"
#include "henn/engine/errors.hpp"
#include "henn/engine/latency.hpp"
#include "latency.hpp"
#include "lowering.hpp"
#include "planning.hpp"

namespace henn::engine {
namespace {

using detail::activation_degree;

// 64 pseudo-random inputs in [0, 1] when the user gives no calibration set (fixed seed).
std::vector<double> synthetic_calibration(std::int64_t input_size, std::int64_t count) {
    std::vector<double> v(static_cast<std::size_t>(input_size * count));
    std::uint64_t state = 0x9e3779b97f4a7c15ull;
    for (double& x : v) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        x = static_cast<double>(state >> 11) * 0x1p-53;
    }
    return v;
}

// Runs the stages in float64 over the calibration samples and records, per stage, the largest
// |output| and the range of its input.
void calibrate(std::vector<StagePlan>& stages, const std::vector<double>& samples,
               std::int64_t count, std::int64_t input_size) {
    std::vector<double> sum_squares(stages.size(), 0.0);
    std::vector<double> values(stages.size(), 0.0);
    for (auto& s : stages) {
        s.max_abs_out = 0;
        s.input_min = std::numeric_limits<double>::infinity();
        s.input_max = -std::numeric_limits<double>::infinity();
        s.input_rms_max = 0;
    }
    for (std::int64_t k = 0; k < count; ++k) {
        std::vector<double> x(samples.begin() + k * input_size,
                              samples.begin() + (k + 1) * input_size);
        for (std::size_t i = 0; i < stages.size(); ++i) {
            auto& s = stages[i];
            double sample_squares = 0;
            for (double v : x) {
                s.input_min = std::min(s.input_min, v);
                s.input_max = std::max(s.input_max, v);
                sample_squares += v * v;
            }
            sum_squares[i] += sample_squares;
            if (!x.empty()) {
                s.input_rms_max = std::max(
                    s.input_rms_max, std::sqrt(sample_squares / static_cast<double>(x.size())));
            }
            values[i] += static_cast<double>(x.size());
            x = detail::apply_stage(s, x);
            for (double v : x) {
                if (!std::isfinite(v)) {
                    throw CompileError("stage '" + s.name +
                                       "' produces a non-finite value on the calibration set");
                }
                s.max_abs_out = std::max(s.max_abs_out, std::abs(v));
            }
        }
    }
    for (std::size_t i = 0; i < stages.size(); ++i)
        stages[i].input_rms = std::sqrt(sum_squares[i] / std::max(values[i], 1.0));
}

int total_depth(const std::vector<StagePlan>& stages) {
    int d = 0;
    for (const auto& s : stages) d += s.depth;
    return d;
}

std::size_t max_row_entries(const LinearStage& l) {
    std::size_t best = 0;
    for (std::int64_t r = 0; r < l.outputs; ++r)
        best = std::max(best, l.row_begin[r + 1] - l.row_begin[r]);
    return best;
}

double max_row_norm(const LinearStage& l) {
    double best = 0;
    for (std::int64_t r = 0; r < l.outputs; ++r) {
        double sum = 0;
        for (std::size_t e = l.row_begin[r]; e < l.row_begin[r + 1]; ++e)
            sum += l.weight[e] * l.weight[e];
        best = std::max(best, std::sqrt(sum));
    }
    return best;
}

}  // namespace

namespace detail {

bool relinearized_by_consumer(const std::vector<StagePlan>& stages, std::size_t k, bool lazy) {
    if (!lazy || k == 0 || k + 1 >= stages.size()) return false;
    const auto* a = std::get_if<ActivationStage>(&stages[k].op);
    return a != nullptr && activation_degree(*a) == 2 &&
           std::holds_alternative<LinearStage>(stages[k - 1].op) &&
           std::holds_alternative<LinearStage>(stages[k + 1].op);
}

// Stage depths and product counts, given the packings.
void cost_stages(std::vector<StagePlan>& stages, SlotPacking slots, bool lazy) {
    for (std::size_t k = 0; k < stages.size(); ++k) {
        auto& s = stages[k];
        if (auto* l = std::get_if<LinearStage>(&s.op)) {
            const bool relinearizes = k > 0 && relinearized_by_consumer(stages, k - 1, lazy);
            s.depth = 1;
            s.ct_multiplications = 0;
            s.key_switches = relinearizes ? l->outputs : 0;
            s.multiply_accumulates = static_cast<std::int64_t>(l->weight.size());
            std::ostringstream d;
            d << l->inputs << " -> " << l->outputs << ", " << l->weight.size() << " weights";
            if (relinearizes) d << ", " << l->outputs << " relinearizations of the squares' sums";
            s.detail = d.str();
            continue;
        }
        const auto& a = std::get<ActivationStage>(s.op);
        const int degree = activation_degree(a);
        if (degree == 2) {
            const bool complex = slots == SlotPacking::complex;
            const bool late = relinearized_by_consumer(stages, k, lazy);
            s.depth = 1;
            s.ct_multiplications = a.width * (complex ? 2 : 1);
            s.key_switches = a.width * ((complex ? 1 : 0) + (late ? 0 : 1));
            std::ostringstream d;
            d << "x^2";
            if (a.coefficients[1] != 0)
                d << (a.coefficients[1] > 0 ? " + " : " - ") << std::abs(a.coefficients[1]) << " x";
            d << ", depth 1" << (complex ? ", conjugation + 2 tensor products" : ", 1 product")
              << (late ? ", relinearized after the next linear stage" : " + 1 relinearization");
            s.detail = d.str();
        } else {
            const auto plan =
                circuits::plan_polynomial(a.coefficients, a.interval_lo, a.interval_hi);
            s.depth = plan.depth;
            s.ct_multiplications = a.width * plan.ct_multiplications;
            s.key_switches = s.ct_multiplications;
            s.detail = plan.describe();
        }
    }
}

double estimate_precision_bits(const std::vector<StagePlan>& stages, const NoiseModel& model) {
    const double n = std::ldexp(1.0, model.log_n);
    const double scale = model.scale;
    // Per-slot standard deviations in the canonical embedding: fresh encryption error
    // (sigma = 3.2 per coefficient) with encoding round-off, and the round-off of a rescale
    // (uniform in [-1/2, 1/2] on c0 and on c1 times a ternary secret of ~2N/3 nonzeros).
    const double fresh = std::sqrt(n * (3.2 * 3.2 + 1.0 / 12.0)) / scale;
    const double rescale = std::sqrt(n * (1.0 + 2.0 * n / 3.0) / 12.0) / scale;
    // A key switch: each digit (uniform below D_j) times the key's error, divided by P, plus the
    // mod-down's round-off (as a rescale's). Double-hoisted baby steps stay over PQ until the
    // giant step's mod-down, at the product's scale, so they add only the first term.
    const double digits_noise = n * 3.2 / std::sqrt(3.0) * model.key_switch_digit_ratio / scale;
    const double key_switch = digits_noise + rescale;
    // The rescale of an unrelinearized square also rounds its third polynomial, which decrypts
    // times s^2. In a slot that is e(zeta) |s(zeta)|^2 with |s(zeta)|^2 about exponential of mean
    // 2N/3: not Gaussian, its worst slot of N/2 is ~ln(N/2) means (an equivalent deviation of
    // half of that fits the tests' measurements: 6.4 bits lost at N = 2^13, scale 2^32).
    const double rescale_of_three =
        rescale + std::sqrt(n / 12.0) * (2.0 * n / 3.0) * 0.5 * std::log(n / 2.0) / scale;
    double error = fresh;
    for (std::size_t k = 0; k < stages.size(); ++k) {
        const StagePlan& s = stages[k];
        if (const auto* l = std::get_if<LinearStage>(&s.op)) {
            // Input noise through the weights, the rounding of the weights to integers at
            // weight_scale (independent, uniform: 1/sqrt(12) of a unit per weight, so the sum over
            // a row weighs by the row's inputs' norm: at most its entries times the largest
            // value, and at most the norm of the worst calibration sample), the rescale's
            // round-off.
            const double input_bound = std::max(std::abs(s.input_min), std::abs(s.input_max));
            const double rows = static_cast<double>(max_row_entries(*l));
            const double row_input_squares =
                std::min(rows * input_bound * input_bound,
                         static_cast<double>(l->inputs) * s.input_rms_max * s.input_rms_max);
            const double row_norm = max_row_norm(*l);
            const double rounding = std::sqrt(row_input_squares / 12.0) / model.weight_scale;
            if (model.latency) {
                // Every baby step's rotation adds its digits' noise to the input copy the
                // diagonals multiply; a dense stage may be folded, and its rotate-and-sum (at
                // most log2(slots / outputs) rotations, after the rescale) adds a whole key
                // switch per step.
                const double fold_steps =
                    s.has_dense
                        ? std::max(0.0, std::log2(n / 2.0 / static_cast<double>(l->outputs)))
                        : 0.0;
                error = row_norm * (error + digits_noise) + rounding + rescale +
                        std::sqrt(fold_steps) * key_switch;
            } else {
                error = row_norm * error + rounding + rescale;
            }
            // The relinearization after the rescale: its mod-down rounds about as a rescale does.
            if (k > 0 && relinearized_by_consumer(stages, k - 1, model.lazy)) error += rescale;
        } else {
            const auto& a = std::get<ActivationStage>(s.op);
            // Noise is additive and independent of the value, so its growth through p is p' at a
            // typical input (the RMS), not at the extreme one; the final 5 sigma covers the tails.
            double derivative = 0;
            const double m = s.input_rms;
            for (std::size_t k = 1; k < a.coefficients.size(); ++k) {
                derivative += static_cast<double>(k) * std::abs(a.coefficients[k]) *
                              std::pow(m, static_cast<double>(k - 1));
            }
            const bool late = relinearized_by_consumer(stages, k, model.lazy);
            error = derivative * error + (late ? rescale_of_three : s.depth * rescale);
        }
    }
    // The worst of many thousand slots is about five standard deviations; one more bit covers
    // what the model leaves out (the second component of complex slots, correlations).
    return -std::log2(10.0 * error);
}

// Levels and scales through the stages as the session computes them, with value bounds checked
// against the modulus at every point. Throws CompileError naming the stage.
void simulate(std::vector<StagePlan>& stages, const ckks::Context& ctx, double input_scale,
              SlotPacking packing) {
    int level = ctx.max_level();
    double scale = input_scale;
    auto log_q = [&](int l) {
        double bits = 0;
        for (int i = 0; i <= l; ++i) bits += std::log2(static_cast<double>(ctx.q()[i].value()));
        return bits;
    };
    // A value of magnitude up to `bound` (x4 margin over calibration) at `scale` must stay below
    // Q_level / 2, or it wraps around the modulus.
    auto check_room = [&](const StagePlan& s, double bound, double at_scale, int at_level,
                          const char* where) {
        const double need = std::log2(std::max(bound, 1e-3) * 4.0) + std::log2(at_scale) + 1.0;
        if (need > log_q(at_level)) {
            std::ostringstream m;
            m << "stage '" << s.name << "': values up to " << bound << " at scale 2^"
              << std::log2(at_scale) << " need " << need << " bits " << where << ", level "
              << at_level << " has " << log_q(at_level)
              << "; use a larger first prime or smaller scale";
            throw CompileError(m.str());
        }
    };
    for (auto& s : stages) {
        s.level_in = level;
        s.scale_in = scale;
        if (level < s.depth) {
            throw CompileError("stage '" + s.name + "' needs " + std::to_string(s.depth) +
                               " levels, " + std::to_string(level) + " are left");
        }
        if (std::holds_alternative<LinearStage>(s.op)) {
            const double q = static_cast<double>(ctx.q()[level].value());
            const double pre = scale * linear_constant_scale(q, input_scale, scale);
            check_room(s, s.max_abs_out, pre, level, "before its rescale");
            scale = pre / q;
            level -= 1;
        } else {
            const auto& a = std::get<ActivationStage>(s.op);
            if (activation_degree(a) == 2) {
                const double q = static_cast<double>(ctx.q()[level].value());
                double pre = scale * scale;
                if (packing == SlotPacking::complex) pre = pre * 4.0;
                check_room(s, s.max_abs_out, pre, level, "before its rescale");
                scale = pre / q;
                level -= 1;
            } else {
                level -= s.depth;  // evaluate_polynomial lands at the input scale (target_scale)
            }
        }
        check_room(s, s.max_abs_out, scale, level, "at its output");
        s.level_out = level;
        s.scale_out = scale;
    }
}

}  // namespace detail

namespace {

// The bit sizes of a chain: q_0, the primes in the order the stages consume them (listed from
// q_1 up), and the special primes of hybrid key switching.
struct PrimeLayout {
    std::vector<int> log_q;
    int special = 1;
    int special_bits = 0;
    double digit_ratio = 0;  // sqrt(sum over digits of (D_j / P)^2) at the top level
    int total() const {
        return std::accumulate(log_q.begin(), log_q.end(), 0) + special * special_bits;
    }
};

PrimeLayout prime_layout(const std::vector<StagePlan>& stages, int scale_bits, int linear_bits,
                         int value_bits, int bound) {
    PrimeLayout layout;
    const int first_bits = std::min(60, scale_bits + value_bits + 1);
    layout.log_q.push_back(first_bits);
    std::vector<int> consumed;
    for (const auto& st : stages) {
        for (int i = 0; i < st.depth; ++i)
            consumed.push_back(st.kind == "linear" ? linear_bits : scale_bits);
    }
    layout.log_q.insert(layout.log_q.end(), consumed.rbegin(), consumed.rend());
    const int widest = *std::max_element(layout.log_q.begin(), layout.log_q.end());
    const int q_total = std::accumulate(layout.log_q.begin(), layout.log_q.end(), 0);
    // Hybrid key switching: each digit holds |P| primes of Q, and P's primes are each wider than
    // any of Q's (by up to 6 bits, which makes key switching's noise small beside a rescale's).
    // Three digits keep key switches cheap; when the ring's modulus budget is short, a narrower
    // margin, then fewer special primes (more, smaller digits) leave more of it to Q: a smaller
    // ring at the price of more digits per key switch.
    const int preferred = std::max(1, static_cast<int>((layout.log_q.size() + 2) / 3));
    layout.special = preferred;
    layout.special_bits = std::min(60, widest + 6);
    bool fits = false;
    for (int special = preferred; special >= 1 && !fits; --special) {
        for (int margin = 6; margin >= 1 && !fits; --margin) {
            const int bits = std::min(60, widest + margin);
            if (bound > 0 && q_total + special * bits <= bound) {
                layout.special = special;
                layout.special_bits = bits;
                fits = true;
            }
        }
    }
    const int p_bits = layout.special * layout.special_bits;
    double ratio_squares = 0;
    const auto digit_primes = static_cast<std::size_t>(layout.special);
    for (std::size_t d = 0; d < layout.log_q.size(); d += digit_primes) {
        int digit_bits = 0;
        for (std::size_t i = d; i < std::min(layout.log_q.size(), d + digit_primes); ++i)
            digit_bits += layout.log_q[i];
        ratio_squares += std::exp2(2.0 * (digit_bits - p_bits));
    }
    layout.digit_ratio = std::sqrt(ratio_squares);
    return layout;
}

}  // namespace

std::shared_ptr<const CompiledModel> CompiledModel::compile(const nn::Model& model,
                                                            const CompileOptions& options,
                                                            std::vector<std::string>* warnings) {
    std::vector<std::string> local_warnings;
    std::vector<std::string>& warn = warnings ? *warnings : local_warnings;
    const bool latency = options.packing == Packing::latency;
    std::vector<StagePlan> stages = detail::lower(model);
    const std::int64_t input_size = nn::shape_size(model.input_shape());

    // Calibration.
    std::vector<double> samples = options.calibration;
    std::int64_t count = options.calibration_count;
    if (samples.empty()) {
        count = 64;
        samples = synthetic_calibration(input_size, count);
        warn.push_back(
            "no calibration set: value bounds come from 64 random inputs in [0, 1]; pass a "
            "calibration "
            "set (e.g. --calibration mnist:DIR) for bounds that match real data");
    }
    if (count <= 0 || static_cast<std::int64_t>(samples.size()) != count * input_size) {
        throw CompileError("calibration: " + std::to_string(samples.size()) + " values are not " +
                           std::to_string(count) + " samples of " + std::to_string(input_size));
    }
    calibrate(stages, samples, count, input_size);

    // Activation intervals: warn when calibration leaves them, and give the Chebyshev path an
    // interval when the model has none.
    bool all_quadratic = true;
    for (auto& s : stages) {
        auto* a = std::get_if<ActivationStage>(&s.op);
        if (!a) continue;
        if (activation_degree(*a) > 2) all_quadratic = false;
        if (a->interval_lo < a->interval_hi) {
            if (s.input_min < a->interval_lo || s.input_max > a->interval_hi) {
                std::ostringstream m;
                m << "layer '" << s.name << "': calibration inputs reach [" << s.input_min << ", "
                  << s.input_max << "], outside the activation's interval [" << a->interval_lo
                  << ", " << a->interval_hi
                  << "]; encrypted results follow the polynomial there, not the function it "
                     "approximates";
                warn.push_back(m.str());
            }
        } else if (activation_degree(*a) > 3) {
            const double m = std::max(std::abs(s.input_min), std::abs(s.input_max)) * 1.25;
            a->interval_lo = -m;
            a->interval_hi = m;
        }
    }
    SlotPacking slots = options.slot_packing;
    if (latency && slots == SlotPacking::complex)
        throw CompileError("latency packing uses real slots");
    if (latency) slots = SlotPacking::real;
    if (slots == SlotPacking::automatic)
        slots = all_quadratic ? SlotPacking::complex : SlotPacking::real;
    if (slots == SlotPacking::complex && !all_quadratic) {
        throw CompileError(
            "complex slot packing supports activations of degree <= 2 only; use real packing");
    }
    if (latency && options.lazy_relinearization) {
        throw CompileError(
            "lazy relinearization applies to batch packing (latency packing has no linear stage "
            "summing squares)");
    }
    const bool lazy = options.lazy_relinearization;
    detail::cost_stages(stages, slots, lazy);
    const int depth = total_depth(stages);

    // q_0 holds the outputs (x4 margin over calibration) at the scale; every level above holds
    // more, and the simulated run checks each stage's room.
    const double output_bound = std::max(1.0, stages.back().max_abs_out);
    const int first_value_bits = static_cast<int>(std::ceil(std::log2(output_bound * 4.0)));
    // The target is relative to the outputs' range (logits of magnitude 64 need 6 fewer bits of
    // absolute precision than values below 1 for the same argmax); the estimate is absolute.
    const double absolute_target = options.target_precision_bits - std::log2(output_bound);

    // The smallest secure ring, then the smallest scale meeting the target precision.
    std::vector<int> rings;
    if (options.log_n)
        rings = {options.log_n};
    else
        rings = {12, 13, 14, 15, 16};
    std::vector<int> scales;
    if (options.scale_bits)
        scales = {options.scale_bits};
    else
        for (int b = 20; b <= 50; ++b) scales.push_back(b);

    std::string last_problem;
    for (int log_n : rings) {
        const int bound = ckks::max_log_qp(log_n, options.security);
        for (int scale_bits : scales) {
            // Linear stages bring the scale back to the input scale by their constant scale, so
            // the primes they rescale by only set how finely weights are rounded: they can be
            // smaller than the scale (fewer bits on the wire, smaller rings).
            PrimeLayout primes;
            double estimate = 0;
            for (int bits = std::min(20, scale_bits); bits <= scale_bits; ++bits) {
                primes = prime_layout(stages, scale_bits, bits, first_value_bits, bound);
                detail::NoiseModel noise;
                noise.log_n = log_n;
                noise.scale = std::ldexp(1.0, scale_bits);
                // Latency packing encodes weights as slots of diagonals: the rounding of N
                // coefficients reaches every slot, sqrt(N) times a rounded integer weight's.
                noise.weight_scale =
                    std::ldexp(1.0, bits) / (latency ? std::sqrt(std::ldexp(1.0, log_n)) : 1.0);
                noise.lazy = lazy;
                noise.latency = latency;
                noise.key_switch_digit_ratio = primes.digit_ratio;
                estimate = detail::estimate_precision_bits(stages, noise);
                if (estimate >= absolute_target) break;
            }
            if (!options.scale_bits && estimate < absolute_target) continue;
            if (bound == 0 || primes.total() > bound) {
                std::ostringstream m;
                m << "depth " << depth << " at scale 2^" << scale_bits
                  << " needs log2(QP) = " << primes.total() << ", 2^" << log_n << " allows "
                  << bound << " at " << ckks::to_string(options.security);
                last_problem = m.str();
                if (!options.scale_bits) break;  // larger scales only need more
                continue;
            }
            ckks::ParametersLiteral lit;
            lit.log_n = log_n;
            lit.log_q = primes.log_q;
            lit.log_p.assign(static_cast<std::size_t>(primes.special), primes.special_bits);
            lit.log_default_scale = scale_bits;
            lit.security = options.security;
            ckks::ContextPtr ctx;
            try {
                ctx = ckks::Context::create(lit);
            } catch (const ckks::ParameterError& e) {
                last_problem = e.what();
                continue;
            }
            const double input_scale = std::ldexp(1.0, scale_bits);
            try {
                detail::simulate(stages, *ctx, input_scale, slots);
            } catch (const CompileError& e) {
                last_problem = e.what();
                continue;
            }
            std::shared_ptr<LatencyLayout> layout;
            if (latency) {
                try {
                    layout = std::make_shared<LatencyLayout>(detail::plan_latency_layout(
                        model, stages, *ctx, options.latency_naive_diagonals,
                        options.latency_input_copies));
                } catch (const CompileError& e) {
                    last_problem = e.what();
                    break;  // a larger scale does not make room: the next ring
                }
            }
            auto compiled = std::shared_ptr<CompiledModel>(new CompiledModel());
            compiled->input_shape_ = model.input_shape();
            compiled->metadata_ = model.metadata();
            compiled->context_ = ctx;
            compiled->stages_ = std::move(stages);
            compiled->packing_ = options.packing;
            compiled->slot_packing_ = slots;
            compiled->lazy_relinearization_ = lazy;
            compiled->latency_layout_ = std::move(layout);
            compiled->input_size_ = input_size;
            compiled->output_size_ = nn::shape_size(model.output_shape());
            compiled->input_scale_ = input_scale;
            compiled->expected_precision_bits_ = estimate;
            compiled->keys_.relinearization =
                depth > 0 &&
                std::any_of(compiled->stages_.begin(), compiled->stages_.end(),
                            [](const StagePlan& s) { return s.ct_multiplications > 0; });
            compiled->keys_.conjugation =
                slots == SlotPacking::complex && compiled->keys_.relinearization;
            compiled->finish();
            return compiled;
        }
    }
    std::ostringstream m;
    m << "no " << ckks::to_string(options.security)
      << " parameters up to N = 2^16 fit this model (depth " << depth;
    int d = 0;
    for (const auto& s : stages) {
        d += s.depth;
        m << (d == s.depth ? ": " : ", ") << s.name << " " << s.depth;
    }
    m << ") at " << options.target_precision_bits << " bits of precision";
    if (output_bound > 1) m << " below the outputs' largest value, " << output_bound;
    if (!last_problem.empty()) m << "; last attempt: " << last_problem;
    throw CompileError(m.str());
}

}  // namespace henn::engine
