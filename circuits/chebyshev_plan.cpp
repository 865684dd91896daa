// The baby-step giant-step plan for Chebyshev series under CKKS (moved here from approx, which
// stays numerics only): the plan, its plaintext trace and the pieces the encrypted evaluator
// shares.
#include "henn/circuits/chebyshev_plan.hpp"

#include <algorithm>
#include <bit>
#include <map>
#include <set>
#include <stdexcept>
#include <string>

#include "henn/error.hpp"

namespace henn::circuits {

using approx::ChebyshevPolynomial;
using approx::Parity;
using approx::parity_name;

int multiplicative_depth(int degree) {
    if (degree < 0) throw InvalidArgument("degree must be >= 0");
    return degree == 0 ? 0 : static_cast<int>(std::bit_width(static_cast<unsigned>(degree)));
}

namespace {

bool matches(int index, Parity parity) {
    if (parity == Parity::Even) return index % 2 == 0;
    if (parity == Parity::Odd) return index % 2 == 1;
    return true;
}

// Largest index below `limit` with the parity (for None: limit - 1).
int top_index_below(int limit, Parity parity) {
    int i = limit - 1;
    while (i > 0 && !matches(i, parity)) --i;
    return i;
}

struct PlanBuilder {
    const EvaluationPlan& plan;
    std::set<int> needed;
    std::set<int> giants;
    int splits = 0;

    void piece(int degree, int levels) {
        const int giant = plan_giant_step(plan, degree, levels);
        if (giant == 0) {
            for (int i = 1; i <= degree; ++i) {
                if (matches(i, plan.parity)) needed.insert(i);
            }
            return;
        }
        giants.insert(giant);
        needed.insert(giant);
        const int quotient_degree = degree - giant;
        if (quotient_degree >= 1) {
            ++splits;
            piece(quotient_degree, levels - 1);
        }
        piece(top_index_below(giant, plan.parity), levels);
    }

    void close_dependencies() {
        std::vector<int> work(needed.begin(), needed.end());
        while (!work.empty()) {
            const int i = work.back();
            work.pop_back();
            if (i < 2) continue;
            std::vector<int> deps;
            if (std::has_single_bit(static_cast<unsigned>(i))) {
                deps = {i / 2};
            } else {
                const int low = std::bit_floor(static_cast<unsigned>(i));
                deps = {low, i - low, 2 * low - i};
            }
            for (int d : deps) {
                if (d >= 1 && needed.insert(d).second) work.push_back(d);
            }
        }
    }
};

}  // namespace

int leaf_levels(int degree) {
    if (degree < 0) throw InvalidArgument("degree must be >= 0");
    return degree == 0 ? 0
                       : static_cast<int>(std::bit_width(static_cast<unsigned>(degree - 1))) + 1;
}

int plan_giant_step(const EvaluationPlan& plan, int piece_degree, int levels) {
    if (piece_degree < 0 || multiplicative_depth(piece_degree) > levels) {
        throw InternalError("plan_giant_step: a piece of degree " + std::to_string(piece_degree) +
                            " cannot be evaluated in " + std::to_string(levels) + " levels");
    }
    if (piece_degree < (1 << plan.baby_step_log2) && leaf_levels(piece_degree) <= levels) return 0;
    // Here piece_degree >= 2 (degree 1 needs 1 level, which multiplicative_depth guarantees).
    return static_cast<int>(std::bit_floor(static_cast<unsigned>(piece_degree)));
}

ChebyshevSplit split_at_giant_step(std::span<const double> c, int giant, Parity parity) {
    const int degree = static_cast<int>(c.size()) - 1;
    if (giant < 1 || degree < giant)
        throw InvalidArgument("split_at_giant_step: degree below the giant step");
    ChebyshevSplit split;
    split.quotient.assign(static_cast<std::size_t>(degree - giant + 1), 0.0);
    split.quotient[0] = c[static_cast<std::size_t>(giant)];
    for (int i = 1; i <= degree - giant; ++i) {
        split.quotient[static_cast<std::size_t>(i)] = 2.0 * c[static_cast<std::size_t>(giant + i)];
    }
    // T_{g+i} = 2 T_g T_i - T_{g-i}: the -T_{g-i} terms fold into the remainder.
    const int remainder_degree = top_index_below(giant, parity);
    split.remainder.assign(static_cast<std::size_t>(remainder_degree + 1), 0.0);
    for (int j = 0; j <= remainder_degree; ++j) {
        const int mirror = 2 * giant - j;
        split.remainder[static_cast<std::size_t>(j)] =
            c[static_cast<std::size_t>(j)] -
            (mirror <= degree ? c[static_cast<std::size_t>(mirror)] : 0.0);
    }
    return split;
}

EvaluationPlan plan_evaluation_with_baby_steps(int degree, Parity parity, int baby_step_log2) {
    if (degree < 0 || degree > 1 << 20) throw InvalidArgument("degree out of range");
    EvaluationPlan plan;
    plan.degree = degree;
    plan.parity = parity;
    plan.depth = multiplicative_depth(degree);
    if (degree == 0) return plan;
    if (baby_step_log2 < 1 || baby_step_log2 > plan.depth) {
        throw InvalidArgument("baby_step_log2 must lie in [1, ceil(log2(degree + 1))]");
    }
    if (parity == Parity::Odd && degree % 2 == 0) {
        throw InvalidArgument("an odd polynomial has odd degree");
    }
    if (parity == Parity::Even && degree % 2 == 1) {
        throw InvalidArgument("an even polynomial has even degree");
    }
    plan.baby_step_log2 = baby_step_log2;
    PlanBuilder builder{plan, {}, {}, 0};
    builder.piece(degree, plan.depth);
    builder.close_dependencies();
    for (int i : builder.needed) {
        if (i >= 2) plan.chebyshev_powers.push_back(i);
    }
    plan.giant_steps.assign(builder.giants.begin(), builder.giants.end());
    plan.split_multiplications = builder.splits;
    plan.ct_multiplications = static_cast<int>(plan.chebyshev_powers.size()) + builder.splits;
    return plan;
}

EvaluationPlan plan_evaluation(int degree, Parity parity) {
    if (degree == 0) return plan_evaluation_with_baby_steps(0, parity, 0);
    // A nominal degree whose parity contradicts the polynomial's (e.g. trailing zero of an odd
    // polynomial) is planned at the largest degree of that parity.
    if (parity == Parity::Odd && degree % 2 == 0) --degree;
    if (parity == Parity::Even && degree % 2 == 1) --degree;
    if (degree == 0) return plan_evaluation_with_baby_steps(0, parity, 0);
    const int depth = multiplicative_depth(degree);
    EvaluationPlan best;
    for (int l = 1; l <= depth; ++l) {
        EvaluationPlan candidate = plan_evaluation_with_baby_steps(degree, parity, l);
        if (l == 1 || candidate.ct_multiplications < best.ct_multiplications)
            best = std::move(candidate);
    }
    return best;
}

namespace {

struct TracedValue {
    double value = 0.0;
    int depth = 0;
};

struct PlanTracer {
    const EvaluationPlan& plan;
    std::map<int, TracedValue> powers;  // T_i(t)
    int multiplications = 0;

    TracedValue power(int i) const {
        const auto it = powers.find(i);
        if (it == powers.end()) throw InternalError("plan does not provide T_" + std::to_string(i));
        return it->second;
    }

    TracedValue product(TracedValue a, TracedValue b) {
        ++multiplications;
        return {a.value * b.value, std::max(a.depth, b.depth) + 1};
    }

    // Same recursion as PlanBuilder::piece, on actual coefficients (c.size() - 1 = nominal degree).
    // `extra` holds the constant-quotient terms c_g T_g merged into this remainder chain's sum.
    TracedValue piece(const std::vector<double>& c, int levels,
                      std::vector<std::pair<double, int>> extra = {}) {
        const int degree = static_cast<int>(c.size()) - 1;
        const int giant = plan_giant_step(plan, degree, levels);
        if (giant == 0) {
            TracedValue sum{c[0], 0};
            auto add_term = [&](double coefficient, int i) {
                const TracedValue term = power(i);
                sum.value += coefficient * term.value;
                sum.depth = std::max(sum.depth, term.depth + 1);  // the scalar product's level
            };
            for (int i = 1; i <= degree; ++i) {
                if (matches(i, plan.parity)) add_term(c[static_cast<std::size_t>(i)], i);
            }
            for (const auto& [coefficient, i] : extra) add_term(coefficient, i);
            return sum;
        }
        const ChebyshevSplit split = split_at_giant_step(c, giant, plan.parity);
        TracedValue high{0.0, 0};
        if (split.quotient.size() == 1) {
            extra.emplace_back(split.quotient[0], giant);  // a scalar product, summed with r
        } else {
            high = product(piece(split.quotient, levels - 1), power(giant));
        }
        const TracedValue low = piece(split.remainder, levels, std::move(extra));
        return {high.value + low.value, std::max(high.depth, low.depth)};
    }
};

}  // namespace

PlanTrace trace_plan(const ChebyshevPolynomial& p, const EvaluationPlan& plan, double x) {
    const std::vector<double>& all = p.coefficients();
    for (std::size_t k = 0; k < all.size(); ++k) {
        const bool covered = static_cast<int>(k) <= plan.degree &&
                             (k == 0 || matches(static_cast<int>(k), plan.parity));
        if (!covered && all[k] != 0.0) {
            throw InvalidArgument("plan (degree " + std::to_string(plan.degree) + ", parity " +
                                  parity_name(plan.parity) + ") does not cover coefficient " +
                                  std::to_string(k));
        }
    }
    std::vector<double> c(static_cast<std::size_t>(plan.degree + 1), 0.0);
    for (std::size_t k = 0; k < c.size() && k < all.size(); ++k) c[k] = all[k];
    PlanTracer tracer{plan, {}, 0};
    const double t = p.interval().to_unit(x);
    tracer.powers[1] = {t, 0};
    for (int i : plan.chebyshev_powers) {
        TracedValue v;
        if (std::has_single_bit(static_cast<unsigned>(i))) {
            const TracedValue half = tracer.power(i / 2);
            v = tracer.product(half, half);
            v.value = 2.0 * v.value - 1.0;
        } else {
            const int low = std::bit_floor(static_cast<unsigned>(i));
            v = tracer.product(tracer.power(low), tracer.power(i - low));
            v.value = 2.0 * v.value - tracer.power(2 * low - i).value;
        }
        tracer.powers[i] = v;
    }
    PlanTrace trace;
    if (plan.degree == 0) {
        trace.value = c[0];
        return trace;
    }
    const TracedValue result = tracer.piece(c, plan.depth);
    trace.value = result.value;
    trace.depth = result.depth;
    trace.ct_multiplications = tracer.multiplications;
    return trace;
}

}  // namespace henn::circuits
