#include "henn/circuits/polynomial.hpp"

#include <bit>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "henn/ckks/errors.hpp"
#include "henn/error.hpp"

namespace henn::circuits {

using approx::ChebyshevPolynomial;
using approx::Parity;
using ckks::Ciphertext;

namespace {

// Scales computed two ways (sigma * (P / sigma), or P / q after a rescale) agree to a few ulps;
// anything further off is a bug in the scale bookkeeping, not rounding.
constexpr double kScaleBookkeepingTolerance = 1e-12;

void set_exact_scale(Ciphertext& ct, double scale, const char* where) {
    if (std::fabs(ct.scale - scale) > kScaleBookkeepingTolerance * scale) {
        throw InternalError(std::string("polynomial evaluation: scale bookkeeping is off at ") +
                            where);
    }
    ckks::set_metadata(ct, ckks::metadata(ct).with_scale(scale));
}

// An encryption of zero at `like`'s level and slots, labelled `scale` (zero has every scale).
Ciphertext zero_like(const ckks::Evaluator& ev, const Ciphertext& like, double scale) {
    Ciphertext zero = ev.multiply_integer(like, 0);
    ckks::set_metadata(zero, ckks::metadata(like).with_scale(scale));
    return zero;
}

bool is_unit_interval(const approx::Interval& interval) {
    return interval.lo == -1.0 && interval.hi == 1.0;
}

// ceil(log2 i): the level of T_i below T_1.
int power_depth(int i) {
    return i <= 1 ? 0 : static_cast<int>(std::bit_width(static_cast<unsigned>(i - 1)));
}

bool matches(int index, Parity parity) {
    if (parity == Parity::Even) return index % 2 == 0;
    if (parity == Parity::Odd) return index % 2 == 1;
    return true;
}

// The coefficients evaluate() works on: parity cleaned up (coefficients within 1e-9 of the
// largest that break it are dropped), trailing zeros removed.
struct Prepared {
    std::vector<double> coefficients;
    Parity parity = Parity::None;
    int degree() const { return static_cast<int>(coefficients.size()) - 1; }
};

Prepared prepare(const ChebyshevPolynomial& p) {
    Prepared out;
    out.parity = p.parity_except_constant();
    const ChebyshevPolynomial cleaned =
        out.parity == Parity::None ? p : p.with_parity(out.parity, /*keep_constant=*/true);
    out.coefficients = cleaned.coefficients();
    while (out.coefficients.size() > 1 && out.coefficients.back() == 0.0)
        out.coefficients.pop_back();
    if (out.degree() <= 1) out.parity = out.degree() == 1 ? Parity::Odd : Parity::None;
    return out;
}

double checked_target_scale(double target_scale, const Ciphertext& x) {
    const double scale = target_scale == 0 ? x.scale : target_scale;
    if (!std::isfinite(scale) || !(scale >= 1)) {
        throw ckks::ScaleError("polynomial evaluation: the target scale must be finite and >= 1");
    }
    return scale;
}

// One evaluation: the power basis and the recursive pieces of the plan.
class Run {
  public:
    Run(const ckks::Evaluator& ev, const EvaluationPlan& plan, EvaluationReport& report)
        : ev_(ev), ctx_(*ev.context()), plan_(plan), report_(report) {}

    // t at `top`; builds sigma and every T_i of the plan.
    void build_powers(Ciphertext t) {
        top_ = t.level;
        sigma_.assign(static_cast<std::size_t>(plan_.depth) + 2, 0.0);
        sigma_[0] = t.scale;
        for (int j = 0; j + 1 < static_cast<int>(sigma_.size()) && top_ - j >= 1; ++j) {
            sigma_[j + 1] = sigma_[j] * sigma_[j] / prime(top_ - j);
        }
        powers_.emplace(1, std::move(t));
        for (int i : plan_.chebyshev_powers) {
            Ciphertext product;
            if (std::has_single_bit(static_cast<unsigned>(i))) {
                const Ciphertext& half = powers_.at(i / 2);
                product = multiply(half, half);
                product = ev_.multiply_integer(product, 2);
                product = ev_.add_constant(product, -1.0);
            } else {
                // T_i = 2 T_low T_{i-low} - T_{2 low - i}, the product at depth j = log2(low).
                const int low = static_cast<int>(std::bit_floor(static_cast<unsigned>(i)));
                const int j = power_depth(low);
                product = multiply(powers_.at(low), at_depth(i - low, j));
                product = ev_.multiply_integer(product, 2);
                const int mirror = 2 * low - i;
                // Brought to the product's scale by an integer close to sigma_j^2 /
                // sigma(T_mirror), without a rescale of its own: the product's rescale covers it.
                Ciphertext subtrahend =
                    ev_.multiply_constant(dropped(mirror, top_ - j), 1.0,
                                          sigma_[j] * sigma_[j] / sigma_[power_depth(mirror)]);
                set_exact_scale(subtrahend, product.scale, "T_i construction");
                ev_.sub_inplace(product, subtrahend);
            }
            rescale(product, sigma_[power_depth(i)]);
            powers_.emplace(i, std::move(product));
        }
    }

    // The piece with coefficients c (nominal degree c.size() - 1), at `level` and scale `scale`.
    Ciphertext piece(const std::vector<double>& c, int level, double scale) {
        Ciphertext pre = piece_before_rescale(c, level, scale, {});
        rescale(pre, scale);
        return pre;
    }

  private:
    using Term = std::pair<double, int>;  // coefficient, index i of T_i

    double prime(int level) const {
        return static_cast<double>(ctx_.q()[static_cast<std::size_t>(level)].value());
    }

    Ciphertext multiply(const Ciphertext& a, const Ciphertext& b) {
        ++report_.ct_multiplications;
        return ev_.multiply_relin(a, b);
    }

    void rescale(Ciphertext& ct, double exact_scale) {
        ev_.rescale_inplace(ct);
        ++report_.rescales;
        set_exact_scale(ct, exact_scale, "rescale");
    }

    // T_i at a level at or below its own (dropping primes is free and keeps the scale).
    const Ciphertext& dropped(int i, int level) {
        const Ciphertext& own = powers_.at(i);
        if (own.level == level) return own;
        auto key = std::make_pair(i, level);
        auto it = dropped_.find(key);
        if (it == dropped_.end()) it = dropped_.emplace(key, ev_.drop_level(own, level)).first;
        return it->second;
    }

    // T_i at depth j >= its own, with scale sigma_j: a constant product (by an integer close to
    // sigma_j q / sigma(T_i)) and a rescale, from the level just above, which T_i has to spare.
    const Ciphertext& at_depth(int i, int j) {
        const int own = power_depth(i);
        if (own == j) return powers_.at(i);
        auto key = std::make_pair(i, j);
        auto it = normalized_.find(key);
        if (it == normalized_.end()) {
            const int from = top_ - j + 1;
            Ciphertext c =
                ev_.multiply_constant(dropped(i, from), 1.0, sigma_[j] * prime(from) / sigma_[own]);
            rescale(c, sigma_[j]);
            it = normalized_.emplace(key, std::move(c)).first;
        }
        return it->second;
    }

    // The piece before its final rescale: level + 1, scale `scale` * q_{level+1}. `extra` are
    // scalar multiples c_g T_g of giant steps (constant quotients) summed into the leaf that ends
    // this remainder chain.
    Ciphertext piece_before_rescale(const std::vector<double>& c, int level, double scale,
                                    std::vector<Term> extra) {
        const int degree = static_cast<int>(c.size()) - 1;
        const int giant = plan_giant_step(plan_, degree, top_ - level);
        const double pre_scale = scale * prime(level + 1);
        if (giant == 0) return leaf_before_rescale(c, level, pre_scale, extra);

        const ChebyshevSplit split = split_at_giant_step(c, giant, plan_.parity);
        std::optional<Ciphertext> high;
        if (split.quotient.size() == 1) {
            extra.emplace_back(split.quotient[0], giant);
        } else {
            // q T_g at level + 1 must have scale pre_scale: q is produced at pre_scale /
            // sigma(T_g).
            const int k = power_depth(giant);
            const Ciphertext quotient = piece(split.quotient, level + 1, pre_scale / sigma_[k]);
            high = multiply(quotient, dropped(giant, level + 1));
            set_exact_scale(*high, pre_scale, "giant step");
        }
        Ciphertext low = piece_before_rescale(split.remainder, level, scale, std::move(extra));
        if (high) ev_.add_inplace(low, *high);
        return low;
    }

    // sum_i c_i T_i + c_0 at level + 1 and scale pre_scale: one multiply-accumulate per depth (the
    // T_i of one depth share a scale), each weight encoded at pre_scale / sigma(T_i).
    Ciphertext leaf_before_rescale(const std::vector<double>& c, int level, double pre_scale,
                                   const std::vector<Term>& extra) {
        std::map<int, std::pair<std::vector<const Ciphertext*>, std::vector<double>>> by_depth;
        auto add_term = [&](double coefficient, int i) {
            if (coefficient == 0.0) return;
            auto& group = by_depth[power_depth(i)];
            group.first.push_back(&dropped(i, level + 1));
            group.second.push_back(coefficient);
        };
        for (int i = 1; i < static_cast<int>(c.size()); ++i) {
            if (matches(i, plan_.parity)) add_term(c[static_cast<std::size_t>(i)], i);
        }
        for (const auto& [coefficient, i] : extra) add_term(coefficient, i);

        std::optional<Ciphertext> sum;
        for (const auto& [depth, group] : by_depth) {
            Ciphertext part = ev_.multiply_accumulate(
                std::span<const Ciphertext* const>(group.first),
                std::span<const double>(group.second), pre_scale / sigma_[depth]);
            set_exact_scale(part, pre_scale, "leaf");
            if (sum) {
                ev_.add_inplace(*sum, part);
            } else {
                sum = std::move(part);
            }
        }
        if (!sum) sum = zero_like(ev_, dropped(1, level + 1), pre_scale);  // only a constant
        if (c[0] != 0.0) *sum = ev_.add_constant(*sum, c[0]);
        return std::move(*sum);
    }

    const ckks::Evaluator& ev_;
    const ckks::Context& ctx_;
    const EvaluationPlan& plan_;
    EvaluationReport& report_;
    int top_ = 0;
    std::vector<double> sigma_;                             // scale of T_i at depth j
    std::map<int, Ciphertext> powers_;                      // T_i at level top - depth(i)
    std::map<std::pair<int, int>, Ciphertext> dropped_;     // (i, level)
    std::map<std::pair<int, int>, Ciphertext> normalized_;  // (i, depth)
};

}  // namespace

ChebyshevEvaluator::ChebyshevEvaluator(const ckks::Evaluator& evaluator) : evaluator_(evaluator) {}

EvaluationPlan ChebyshevEvaluator::plan(const ChebyshevPolynomial& p) {
    const Prepared prepared = prepare(p);
    return plan_evaluation(prepared.degree(), prepared.parity);
}

int ChebyshevEvaluator::depth(const ChebyshevPolynomial& p) {
    const int degree = prepare(p).degree();
    const bool interval_change = !is_unit_interval(p.interval()) && degree >= 2;
    return multiplicative_depth(degree) + (interval_change ? 1 : 0);
}

Ciphertext ChebyshevEvaluator::evaluate(const Ciphertext& x, const ChebyshevPolynomial& p,
                                        double target_scale, EvaluationReport* report) const {
    const ckks::Evaluator& ev = evaluator_;
    Prepared prepared = prepare(p);
    EvaluationReport local;
    EvaluationReport& rep = report ? *report : local;
    rep = EvaluationReport{};
    rep.plan = plan_evaluation(prepared.degree(), prepared.parity);
    const int levels = depth(p);
    if (x.level < levels) {
        throw ckks::LevelError("polynomial evaluation: degree " +
                               std::to_string(prepared.degree()) + " needs " +
                               std::to_string(levels) + " levels, the ciphertext has " +
                               std::to_string(x.level) + "; use more levels or a lower degree");
    }
    const double scale = checked_target_scale(target_scale, x);
    const approx::Interval& interval = p.interval();

    if (prepared.degree() == 0) {
        Ciphertext result = ev.add_constant(zero_like(ev, x, scale), prepared.coefficients[0]);
        rep.levels_consumed = 0;
        return result;
    }

    Ciphertext t = x;
    std::vector<double>& c = prepared.coefficients;
    if (!is_unit_interval(interval)) {
        const double alpha = 2.0 / interval.width(),
                     beta = -(interval.lo + interval.hi) / interval.width();
        if (prepared.degree() == 1) {
            // c_0 + c_1 (alpha x + beta): the interval change folds into the one scalar product.
            c = {c[0] + c[1] * beta, c[1] * alpha};
        } else {
            t = ev.multiply_constant(
                x, alpha);  // by round(alpha q), so the rescale returns to x.scale
            ev.rescale_inplace(t);
            ++rep.rescales;
            set_exact_scale(t, x.scale, "interval change");
            if (beta != 0.0) t = ev.add_constant(t, beta);
        }
    }

    Run run(ev, rep.plan, rep);
    const int top = t.level;
    run.build_powers(std::move(t));
    Ciphertext result = run.piece(c, top - rep.plan.depth, scale);
    rep.levels_consumed = x.level - result.level;
    return result;
}

// ---------------------------------------------------------------------------------------------
// Power basis, degree <= 3

Ciphertext evaluate_power_basis(const ckks::Evaluator& ev, const Ciphertext& x,
                                std::span<const double> ascending_coefficients, double target_scale,
                                EvaluationReport* report) {
    std::vector<double> a(ascending_coefficients.begin(), ascending_coefficients.end());
    for (double v : a) {
        if (!std::isfinite(v))
            throw InvalidArgument("evaluate_power_basis: coefficients must be finite");
    }
    while (a.size() > 1 && a.back() == 0.0) a.pop_back();
    if (a.empty() || a.size() > 4) {
        throw InvalidArgument(
            "evaluate_power_basis: between 1 and 4 coefficients (degree <= 3); use "
            "ChebyshevEvaluator for higher degrees");
    }
    const int degree = static_cast<int>(a.size()) - 1;
    EvaluationReport local;
    EvaluationReport& rep = report ? *report : local;
    rep = EvaluationReport{};
    rep.plan.degree = degree;
    rep.plan.depth = degree == 3 ? 2 : (degree >= 1 ? 1 : 0);
    if (x.level < rep.plan.depth) {
        throw ckks::LevelError("evaluate_power_basis: degree " + std::to_string(degree) +
                               " needs " + std::to_string(rep.plan.depth) +
                               " levels, the ciphertext has " + std::to_string(x.level));
    }
    if (degree == 2 && target_scale != 0) {
        throw InvalidArgument(
            "evaluate_power_basis: a depth-1 quadratic folds a_2 into its scale; "
            "target_scale must be 0 (or use ChebyshevEvaluator at depth 2)");
    }
    const ckks::Context& ctx = *ev.context();
    auto prime = [&](int level) {
        return static_cast<double>(ctx.q()[static_cast<std::size_t>(level)].value());
    };
    const int L = x.level;
    const double s = x.scale;

    Ciphertext result;
    if (degree == 0) {
        result = ev.add_constant(zero_like(ev, x, checked_target_scale(target_scale, x)), a[0]);
    } else if (degree == 1) {
        const double scale = checked_target_scale(target_scale, x);
        const double pre_scale = scale * prime(L);
        result = ev.multiply_constant(x, a[1], pre_scale / s);
        set_exact_scale(result, pre_scale, "linear");
        result = ev.add_constant(result, a[0]);
        ev.rescale_inplace(result);
        ++rep.rescales;
        set_exact_scale(result, scale, "linear result");
    } else if (degree == 2) {
        // x^2 at scale s^2 is a_2 x^2 at scale s^2 / a_2: the scale absorbs a_2 (negated for a_2 <
        // 0).
        ++rep.ct_multiplications;
        result = ev.multiply_relin(x, x);
        const double pre_scale = s * s / std::fabs(a[2]);
        if (a[2] < 0) ev.negate_inplace(result);
        ckks::set_metadata(result, ckks::metadata(result).with_scale(pre_scale));
        if (a[1] != 0.0) {
            Ciphertext linear = ev.multiply_constant(x, a[1], pre_scale / s);
            set_exact_scale(linear, pre_scale, "quadratic");
            ev.add_inplace(result, linear);
        }
        result = ev.add_constant(result, a[0]);
        ev.rescale_inplace(result);
        ++rep.rescales;
    } else {
        // (a_3 x) x^2 + a_2 x^2 + a_1 x + a_0, all terms meeting at pre_scale on level L - 1.
        const double scale = checked_target_scale(target_scale, x);
        const double pre_scale = scale * prime(L - 1);
        ++rep.ct_multiplications;
        Ciphertext square = ev.multiply_relin(x, x);
        ev.rescale_inplace(square);
        const double square_scale = s * s / prime(L);
        set_exact_scale(square, square_scale, "square");
        // a_3 x at the scale that makes (a_3 x) x^2 land at pre_scale.
        const double cubic_factor_scale = pre_scale / square_scale;
        Ciphertext a3x = ev.multiply_constant(x, a[3], cubic_factor_scale * prime(L) / s);
        ev.rescale_inplace(a3x);
        set_exact_scale(a3x, cubic_factor_scale, "a_3 x");
        ++rep.ct_multiplications;
        result = ev.multiply_relin(a3x, square);
        set_exact_scale(result, pre_scale, "cubic");
        rep.rescales += 2;
        if (a[2] != 0.0) {
            Ciphertext quadratic = ev.multiply_constant(square, a[2], pre_scale / square_scale);
            set_exact_scale(quadratic, pre_scale, "a_2 x^2");
            ev.add_inplace(result, quadratic);
        }
        if (a[1] != 0.0) {
            Ciphertext linear = ev.multiply_constant(ev.drop_level(x, L - 1), a[1], pre_scale / s);
            set_exact_scale(linear, pre_scale, "a_1 x");
            ev.add_inplace(result, linear);
        }
        result = ev.add_constant(result, a[0]);
        ev.rescale_inplace(result);
        ++rep.rescales;
        set_exact_scale(result, scale, "cubic result");
    }
    rep.levels_consumed = x.level - result.level;
    return result;
}

// ---------------------------------------------------------------------------------------------
// The one entry point: plan_polynomial chooses, evaluate_polynomial follows the same choice.

std::string basis_name(PolynomialBasis basis) {
    return basis == PolynomialBasis::power ? "power" : "chebyshev";
}

std::string PolynomialPlan::describe() const {
    std::string text = "degree " + std::to_string(degree) + ", " + basis_name(basis) + " basis";
    if (basis == PolynomialBasis::chebyshev) {
        char interval[80];
        std::snprintf(interval, sizeof interval, " on [%g,%g]", interval_lo, interval_hi);
        text += interval;
    }
    text += ", depth " + std::to_string(depth) + ", " + std::to_string(ct_multiplications) +
            (ct_multiplications == 1 ? " product" : " products");
    return text;
}

namespace {

// What plan_polynomial chose, with the coefficients evaluate_polynomial then evaluates.
struct Choice {
    PolynomialPlan plan;
    std::vector<double> power;  // basis == power: ascending, trailing zeros dropped
    std::optional<ChebyshevPolynomial> chebyshev;  // basis == chebyshev
};

// Levels and products of evaluate_power_basis by degree (0..3).
constexpr int kPowerDepth[4] = {0, 1, 1, 2};
constexpr int kPowerProducts[4] = {0, 0, 1, 2};

void trim_trailing_zeros(std::vector<double>& a) {
    while (a.size() > 1 && a.back() == 0.0) a.pop_back();
}

Choice chebyshev_choice(ChebyshevPolynomial p) {
    Choice choice;
    choice.plan.basis = PolynomialBasis::chebyshev;
    choice.plan.degree = prepare(p).degree();
    choice.plan.chebyshev = ChebyshevEvaluator::plan(p);
    choice.plan.depth = ChebyshevEvaluator::depth(p);
    choice.plan.ct_multiplications = choice.plan.chebyshev.ct_multiplications;
    choice.plan.interval_lo = p.interval().lo;
    choice.plan.interval_hi = p.interval().hi;
    choice.chebyshev = std::move(p);
    return choice;
}

// `power` trimmed, degree <= 3; `chebyshev` the same polynomial in the Chebyshev basis (needed for
// degree 3 only, to compare depths).
Choice low_degree_choice(std::vector<double> power, double lo, double hi,
                         const std::optional<ChebyshevPolynomial>& chebyshev) {
    const int degree = static_cast<int>(power.size()) - 1;
    if (degree == 3 && chebyshev) {
        Choice alternative = chebyshev_choice(*chebyshev);
        if (alternative.plan.depth < kPowerDepth[3]) return alternative;
    }
    Choice choice;
    choice.plan.basis = PolynomialBasis::power;
    choice.plan.degree = degree;
    choice.plan.depth = kPowerDepth[degree];
    choice.plan.ct_multiplications = kPowerProducts[degree];
    choice.plan.interval_lo = lo;
    choice.plan.interval_hi = hi;
    choice.power = std::move(power);
    return choice;
}

Choice choose(std::span<const double> power_coefficients, double lo, double hi) {
    if (power_coefficients.empty()) throw InvalidArgument("plan_polynomial: no coefficients");
    for (double v : power_coefficients) {
        if (!std::isfinite(v))
            throw InvalidArgument("plan_polynomial: coefficients must be finite");
    }
    if (!std::isfinite(lo) || !std::isfinite(hi) || lo > hi) {
        throw InvalidArgument("plan_polynomial: the interval [" + std::to_string(lo) + ", " +
                              std::to_string(hi) + "] is not lo <= hi with finite bounds");
    }
    std::vector<double> a(power_coefficients.begin(), power_coefficients.end());
    trim_trailing_zeros(a);
    const int degree = static_cast<int>(a.size()) - 1;
    if (degree <= 2) return low_degree_choice(std::move(a), lo, hi, std::nullopt);
    // lo == hi: no interval known; [-1, 1] needs no interval change.
    const approx::Interval interval =
        lo < hi ? approx::Interval{lo, hi} : approx::Interval{-1.0, 1.0};
    ChebyshevPolynomial chebyshev = ChebyshevPolynomial::from_power_basis(a, interval);
    if (degree == 3) return low_degree_choice(std::move(a), lo, hi, chebyshev);
    return chebyshev_choice(std::move(chebyshev));
}

Choice choose(const ChebyshevPolynomial& p) {
    const Prepared prepared = prepare(p);
    if (prepared.degree() > 3) return chebyshev_choice(p);
    std::vector<double> a =
        ChebyshevPolynomial(prepared.coefficients, p.interval()).to_power_basis();
    trim_trailing_zeros(a);
    if (a.size() > 4)
        return chebyshev_choice(p);  // not reachable: the power degree is the Chebyshev one
    return low_degree_choice(std::move(a), p.interval().lo, p.interval().hi, p);
}

Ciphertext evaluate_choice(const ckks::Evaluator& ev, const Ciphertext& x, const Choice& choice,
                           double target_scale, EvaluationReport* report) {
    EvaluationReport local;
    EvaluationReport& rep = report ? *report : local;
    Ciphertext result;
    if (choice.plan.basis == PolynomialBasis::chebyshev) {
        result = ChebyshevEvaluator(ev).evaluate(x, *choice.chebyshev, target_scale, &rep);
    } else if (choice.plan.degree == 2 && target_scale != 0) {
        // a_2 is folded into the scale of the single rescale, so the landing scale is fixed.
        const double q =
            static_cast<double>(ev.context()->q()[static_cast<std::size_t>(x.level)].value());
        const double landing = x.scale * x.scale / std::fabs(choice.power[2]) / q;
        if (!(std::fabs(target_scale - landing) <= kScaleBookkeepingTolerance * landing)) {
            throw InvalidArgument(
                "evaluate_polynomial: a quadratic lands at scale 2^" +
                std::to_string(std::log2(landing)) +
                " (a_2 folded into it, one level); pass target_scale 0 or that scale");
        }
        result = evaluate_power_basis(ev, x, choice.power, 0, &rep);
        set_exact_scale(result, target_scale, "quadratic target");
    } else {
        result = evaluate_power_basis(ev, x, choice.power, target_scale, &rep);
    }
    if (rep.levels_consumed != choice.plan.depth ||
        rep.ct_multiplications != choice.plan.ct_multiplications) {
        throw InternalError("evaluate_polynomial: consumed " + std::to_string(rep.levels_consumed) +
                            " levels and " + std::to_string(rep.ct_multiplications) +
                            " products, the plan says " + choice.plan.describe());
    }
    return result;
}

}  // namespace

PolynomialPlan plan_polynomial(std::span<const double> power_coefficients, double lo, double hi) {
    return choose(power_coefficients, lo, hi).plan;
}

PolynomialPlan plan_polynomial(const ChebyshevPolynomial& p) {
    return choose(p).plan;
}

Ciphertext evaluate_polynomial(const ckks::Evaluator& evaluator, const Ciphertext& x,
                               std::span<const double> power_coefficients, double lo, double hi,
                               double target_scale, EvaluationReport* report) {
    return evaluate_choice(evaluator, x, choose(power_coefficients, lo, hi), target_scale, report);
}

Ciphertext evaluate_polynomial(const ckks::Evaluator& evaluator, const Ciphertext& x,
                               const ChebyshevPolynomial& p, double target_scale,
                               EvaluationReport* report) {
    return evaluate_choice(evaluator, x, choose(p), target_scale, report);
}

}  // namespace henn::circuits
