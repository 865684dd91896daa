#include "henn/circuits/linear_transform.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <functional>
#include <iomanip>
#include <limits>
#include <optional>
#include <set>
#include <sstream>

#include "henn/ckks/errors.hpp"
#include "henn/math/parallel.hpp"

namespace henn::circuits {

using ckks::Ciphertext;
using ckks::Context;
using ckks::Evaluator;
using ckks::ExtendedCiphertext;
using ckks::ExtendedPlaintext;

namespace {

bool is_power_of_two(std::size_t x) {
    return x != 0 && (x & (x - 1)) == 0;
}

std::size_t mod_slots(long long step, std::size_t slots) {
    const long long s = static_cast<long long>(slots);
    return static_cast<std::size_t>(((step % s) + s) % s);
}

int resolve_level(const Context& ctx, int level) {
    if (level < 0) level = ctx.max_level();
    if (level > ctx.max_level()) {
        throw ckks::LevelError("level " + std::to_string(level) + " is above the top level " +
                               std::to_string(ctx.max_level()));
    }
    return level;
}

std::string mib(std::size_t bytes) {
    std::ostringstream out;
    out << std::fixed << std::setprecision(1) << static_cast<double>(bytes) / (1024.0 * 1024.0)
        << " MiB";
    return out.str();
}

// Costs in passes of modular products over one limb (see BsgsCostModel).
struct KeySwitchCosts {
    double hoist;  // decomposition of one polynomial
    double baby;   // one lazy rotation from a hoisted decomposition
    double giant;  // one lazy rotation of an extended ciphertext (half ModDown + decomposition +
                   // inner product)
    double final_down;  // the ModDown of both polynomials at the end
    double product;     // one plaintext product in Q*P (both polynomials)
};

KeySwitchCosts costs(const Context& ctx, int level) {
    const double ntt = std::log2(static_cast<double>(ctx.n())) / 2;
    const double q = level + 1, a = static_cast<double>(ctx.p_count());
    const double d = static_cast<double>(ctx.digit_count(level)), ext = q + a;
    const double digit_primes = std::min(a, q);
    // Decomposition: inverse NTT of q limbs; per digit, a base conversion to the other primes and
    // their forward NTTs.
    const double decompose =
        q * ntt + d * (digit_primes * (ext - digit_primes) + (ext - digit_primes) * ntt);
    const double inner = 2 * d * ext;
    const double half_down = a * ntt + a * q + q * ntt + q;
    return {decompose, inner + q, half_down + decompose + inner + ext, 2 * half_down, 2 * ext};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Diagonals

Diagonals Diagonals::from_matrix(std::span<const Complex> matrix, std::size_t rows,
                                 std::size_t cols, std::size_t slots) {
    if (!is_power_of_two(slots))
        throw ckks::ParameterError("Diagonals::from_matrix: slots must be a power of two");
    if (rows == 0 || cols == 0 || rows > slots || cols > slots) {
        throw ckks::ParameterError("Diagonals::from_matrix: a " + std::to_string(rows) + " x " +
                                   std::to_string(cols) + " matrix does not fit " +
                                   std::to_string(slots) +
                                   " slots (use MatrixVectorProduct for larger shapes)");
    }
    if (matrix.size() != rows * cols) {
        throw ckks::MismatchError("Diagonals::from_matrix: expected " +
                                  std::to_string(rows * cols) + " entries, got " +
                                  std::to_string(matrix.size()));
    }
    Diagonals d;
    d.slots = slots;
    for (std::size_t t = 0; t < rows; ++t) {
        for (std::size_t j = 0; j < cols; ++j) {
            const Complex v = matrix[t * cols + j];
            if (v == Complex(0)) continue;
            const std::size_t k =
                mod_slots(static_cast<long long>(j) - static_cast<long long>(t), slots);
            auto& diag = d.diagonals[k];
            if (diag.empty()) diag.assign(slots, 0.0);
            diag[t] = v;
        }
    }
    return d;
}

Diagonals Diagonals::from_matrix(std::span<const double> matrix, std::size_t rows, std::size_t cols,
                                 std::size_t slots) {
    std::vector<Complex> c(matrix.begin(), matrix.end());
    return from_matrix(c, rows, cols, slots);
}

std::vector<Complex> Diagonals::apply(std::span<const Complex> x) const {
    if (x.size() != slots)
        throw ckks::MismatchError("Diagonals::apply: the vector needs one value per slot");
    std::vector<Complex> y(slots, 0.0);
    for (const auto& [k, diag] : diagonals) {
        for (std::size_t t = 0; t < slots; ++t) y[t] += diag[t] * x[(t + k) % slots];
    }
    return y;
}

std::vector<std::size_t> Diagonals::indices() const {
    std::vector<std::size_t> out;
    for (const auto& [k, diag] : diagonals) out.push_back(k);
    return out;
}

// ---------------------------------------------------------------------------------------------
// Planning

std::pair<int, int> BsgsPlan::split(std::size_t k, std::size_t slots) const {
    if (grid_stride == 0) {
        const int i = static_cast<int>(k % baby);
        return {i, static_cast<int>(k) - i};
    }
    const auto s = static_cast<long long>(grid_stride);
    const long long signed_k = k <= slots / 2
                                   ? static_cast<long long>(k)
                                   : static_cast<long long>(k) - static_cast<long long>(slots);
    const long long shifted = signed_k - grid_phase;
    const long long q = shifted >= 0 ? shifted / s : -((-shifted + s - 1) / s);  // floor
    const long long r = shifted - q * s;
    const auto rows = static_cast<long long>(grid_rows);
    const long long i = s * (((q % rows) + rows) % rows) + r % static_cast<long long>(baby);
    return {static_cast<int>(i), static_cast<int>(mod_slots(signed_k - i, slots))};
}

std::string BsgsPlan::describe() const {
    std::ostringstream out;
    if (grid_stride > 0) {
        out << "BSGS grid " << grid_rows << " x " << baby << " (row " << grid_stride
            << "): " << baby_steps.size() << " baby + " << giant_steps.size()
            << " giant rotations, " << plaintext_products << " plaintext products, "
            << rotation_steps.size() << " keys (" << mib(key_bytes) << ")";
        return out.str();
    }
    out << "BSGS b = " << baby << ": " << baby_steps.size() << " baby + "
        << (chained ? positive_chain + negative_chain : giant_steps.size()) << " giant rotations"
        << (chained ? " (chained)" : "") << ", " << plaintext_products << " plaintext products, "
        << rotation_steps.size() << " keys (" << mib(key_bytes) << ")";
    return out.str();
}

namespace {

// The plan of the split `shape` describes (baby, and the grid fields), its steps and cost.
BsgsPlan plan_split(const Context& ctx, int level, std::span<const std::size_t> indices,
                    std::size_t slots, BsgsPlan plan, const BsgsCostModel& model) {
    std::set<int> babies, giants;
    for (std::size_t k : indices) {
        if (k >= slots)
            throw ckks::ParameterError("plan_bsgs: diagonal index " + std::to_string(k) +
                                       " >= slots");
        const auto [i, g] = plan.split(k, slots);
        if (i != 0) babies.insert(i);
        if (g != 0) giants.insert(g);
    }
    const std::size_t baby = plan.baby;
    plan.baby_steps.assign(babies.begin(), babies.end());
    plan.giant_steps.assign(giants.begin(), giants.end());
    std::set<int> all(babies);
    std::size_t giant_switches = giants.size();
    if (model.chained_giant_steps && plan.grid_stride == 0) {
        plan.chained = true;
        for (int g : giants) {
            const auto u = static_cast<std::size_t>(g);
            if (u <= slots / 2)
                plan.positive_chain = std::max(plan.positive_chain, u / baby);
            else
                plan.negative_chain = std::max(plan.negative_chain, (slots - u) / baby);
        }
        if (plan.positive_chain > 0) all.insert(static_cast<int>(baby));
        if (plan.negative_chain > 0) all.insert(static_cast<int>(slots - baby));
        giant_switches = plan.positive_chain + plan.negative_chain;
    } else {
        all.insert(giants.begin(), giants.end());
    }
    plan.rotation_steps.assign(all.begin(), all.end());
    plan.key_switches = babies.size() + giant_switches;
    plan.plaintext_products = indices.size();
    plan.key_bytes = all.size() * ckks::switch_key_bytes(ctx, level);
    std::size_t new_keys = 0;
    for (int step : all)
        new_keys +=
            std::binary_search(model.keyed_steps.begin(), model.keyed_steps.end(), step) ? 0 : 1;
    const KeySwitchCosts c = costs(ctx, level);
    plan.cost =
        (babies.empty() ? 0 : c.hoist) + babies.size() * c.baby +
        static_cast<double>(giant_switches) * c.giant + c.final_down + indices.size() * c.product +
        model.key_byte_weight * static_cast<double>(new_keys * ckks::switch_key_bytes(ctx, level));
    return plan;
}

// Grid splits worth trying for `indices`: the row strides and phases their runs of consecutive
// diagonals suggest (the two most frequent gaps between run starts, each with its most frequent
// phase), baby widths from the typical run length and powers of two, a few row counts.
std::vector<BsgsPlan> grid_shapes(std::span<const std::size_t> indices, std::size_t slots) {
    std::vector<long long> k;
    for (std::size_t i : indices) {
        k.push_back(i <= slots / 2 ? static_cast<long long>(i)
                                   : static_cast<long long>(i) - static_cast<long long>(slots));
    }
    std::sort(k.begin(), k.end());
    std::vector<long long> starts, lengths;
    for (std::size_t t = 0; t < k.size(); ++t) {
        if (t == 0 || k[t] != k[t - 1] + 1) {
            starts.push_back(k[t]);
            lengths.push_back(1);
        } else {
            ++lengths.back();
        }
    }
    if (starts.size() < 3) return {};
    std::map<long long, std::size_t> gaps;
    for (std::size_t t = 1; t < starts.size(); ++t) ++gaps[starts[t] - starts[t - 1]];
    std::vector<std::pair<std::size_t, long long>> by_count;
    for (const auto& [gap, count] : gaps) {
        if (gap >= 2 && static_cast<std::size_t>(gap) <= slots / 4)
            by_count.emplace_back(count, gap);
    }
    std::sort(by_count.rbegin(), by_count.rend());
    std::vector<long long> sorted_lengths = lengths;
    std::sort(sorted_lengths.begin(), sorted_lengths.end());
    const long long typical = sorted_lengths[sorted_lengths.size() / 2];
    std::vector<BsgsPlan> shapes;
    for (std::size_t c = 0; c < std::min<std::size_t>(2, by_count.size()); ++c) {
        const long long stride = by_count[c].second;
        std::map<long long, std::size_t> phases;
        for (long long start : starts) ++phases[((start % stride) + stride) % stride];
        long long phase = 0;
        std::size_t most = 0;
        for (const auto& [p, count] : phases) {
            if (count > most) {
                phase = p;
                most = count;
            }
        }
        std::set<long long> widths{std::min(typical, stride), stride};
        for (long long w = 1; w < stride; w *= 2) widths.insert(w);
        for (long long width : widths) {
            for (std::size_t rows : {1, 2, 3, 4, 5, 6, 8, 10, 12, 16}) {
                // Baby steps stay below slots / 2, so each is one rotation key as given.
                if (static_cast<std::size_t>(stride) * rows > slots / 2) break;
                BsgsPlan shape;
                shape.baby = static_cast<std::size_t>(width);
                shape.grid_stride = static_cast<std::size_t>(stride);
                shape.grid_rows = rows;
                shape.grid_phase = phase;
                shapes.push_back(shape);
            }
        }
    }
    return shapes;
}

}  // namespace

BsgsPlan plan_bsgs_with_baby(const Context& ctx, int level, std::span<const std::size_t> indices,
                             std::size_t slots, std::size_t baby, const BsgsCostModel& model) {
    level = resolve_level(ctx, level);
    if (!is_power_of_two(baby) || baby > slots) {
        throw ckks::ParameterError(
            "plan_bsgs: the baby-step count must be a power of two <= the slot count");
    }
    BsgsPlan shape;
    shape.baby = baby;
    return plan_split(ctx, level, indices, slots, shape, model);
}

BsgsPlan plan_bsgs(const Context& ctx, int level, std::span<const std::size_t> indices,
                   std::size_t slots, const BsgsCostModel& model) {
    if (!is_power_of_two(slots))
        throw ckks::ParameterError("plan_bsgs: slots must be a power of two");
    std::optional<BsgsPlan> best;
    auto consider = [&](BsgsPlan p) {
        if (model.max_keys != 0 && p.rotation_steps.size() > model.max_keys) return;
        if (!best || p.cost < best->cost) best = std::move(p);
    };
    for (std::size_t b = 1; b <= slots; b *= 2)
        consider(plan_bsgs_with_baby(ctx, level, indices, slots, b, model));
    if (model.grid_splits && !model.chained_giant_steps) {
        const int resolved = resolve_level(ctx, level);
        for (const BsgsPlan& shape : grid_shapes(indices, slots))
            consider(plan_split(ctx, resolved, indices, slots, shape, model));
    }
    if (!best) {
        throw ckks::ParameterError("plan_bsgs: no split needs at most " +
                                   std::to_string(model.max_keys) + " rotation keys");
    }
    return *best;
}

// ---------------------------------------------------------------------------------------------
// LinearTransform

LinearTransform::LinearTransform(const ckks::Encoder& encoder, const Diagonals& diagonals,
                                 const Options& options)
    : method_(options.method) {
    const Context& ctx = *encoder.context();
    level_ = resolve_level(ctx, options.level);
    if (level_ < 1) throw ckks::LevelError("LinearTransform: needs a level >= 1 (it consumes one)");
    slots_ = diagonals.slots;
    if (!is_power_of_two(slots_) || slots_ > ctx.max_slots()) {
        throw ckks::ParameterError("LinearTransform: the slot count must be a power of two <= N/2");
    }
    if (diagonals.diagonals.empty())
        throw ckks::ParameterError("LinearTransform: the map has no nonzero diagonal");
    for (const auto& [k, diag] : diagonals.diagonals) {
        if (k >= slots_ || diag.size() != slots_) {
            throw ckks::MismatchError("LinearTransform: diagonal " + std::to_string(k) +
                                      " must have index < slots and " + std::to_string(slots_) +
                                      " values");
        }
    }
    indices_ = diagonals.indices();
    const double scale =
        options.scale != 0 ? options.scale : static_cast<double>(ctx.q()[level_].value());

    if (method_ == Method::Bsgs) {
        plan_ = options.baby != 0
                    ? plan_bsgs_with_baby(ctx, level_, indices_, slots_, options.baby, options.cost)
                    : plan_bsgs(ctx, level_, indices_, slots_, options.cost);
        steps_ = plan_.rotation_steps;
        std::vector<Complex> rotated(slots_);
        for (const auto& [k, diag] : diagonals.diagonals) {
            const auto [i, g] = plan_.split(k, slots_);
            // rot_-g(d_k)[u] = d_k[u - g]: the giant rotation then lines it up again.
            for (std::size_t u = 0; u < slots_; ++u)
                rotated[u] = diag[mod_slots(static_cast<long long>(u) - g, slots_)];
            giant_groups_[g].emplace_back(
                i, ckks::encode_extended(encoder, rotated, level_, scale, slots_));
        }
    } else {
        for (const auto& [k, diag] : diagonals.diagonals) {
            plain_diagonals_.push_back(encoder.encode(diag, level_, scale, slots_));
            if (k != 0) steps_.push_back(static_cast<int>(k));
        }
        plan_.baby = slots_;
        plan_.rotation_steps = steps_;
        plan_.key_switches = steps_.size();
        plan_.plaintext_products = indices_.size();
        plan_.key_bytes = steps_.size() * ckks::switch_key_bytes(ctx, level_);
    }
}

std::size_t LinearTransform::key_switches() const {
    return plan_.key_switches;
}

std::size_t LinearTransform::plaintext_bytes() const {
    std::size_t total = 0;
    for (const auto& [g, group] : giant_groups_) {
        for (const auto& [i, pt] : group) total += pt.bytes();
    }
    for (const auto& pt : plain_diagonals_) total += pt.poly.data.size() * sizeof(ckks::u64);
    return total;
}

Ciphertext LinearTransform::evaluate(const Evaluator& ev, const Ciphertext& x) const {
    if (x.slots != slots_) {
        throw ckks::MismatchError("LinearTransform: the ciphertext has " + std::to_string(x.slots) +
                                  " slots, the transform " + std::to_string(slots_));
    }
    if (x.level > level_ || x.level < 1) {
        throw ckks::LevelError(
            "LinearTransform: the ciphertext is at level " + std::to_string(x.level) +
            "; this transform was encoded for levels 1.." + std::to_string(level_));
    }
    return method_ == Method::Bsgs ? evaluate_bsgs(ev, x) : evaluate_per_diagonal(ev, x);
}

namespace {

// Runs body(0..count-1), in parallel across the process's threads when there are two or more
// items (each item's limb loops then run serially, OpenMP nesting being off): at N = 2^13..2^14
// a transform's independent rotations split better across cores than one rotation's few limbs.
template <typename Body>
void for_each_item(std::size_t count, const Body& body) {
    const int threads = math::thread_count();
    if (threads < 2 || count < 2) {
        for (std::size_t k = 0; k < count; ++k) body(k);
        return;
    }
    std::vector<std::exception_ptr> failures(count);
    const auto n = static_cast<std::int64_t>(count);
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (std::int64_t k = 0; k < n; ++k) {
        try {
            body(static_cast<std::size_t>(k));
        } catch (...) {
            failures[static_cast<std::size_t>(k)] = std::current_exception();
        }
    }
    for (const auto& f : failures) {
        if (f) std::rethrow_exception(f);
    }
}

}  // namespace

Ciphertext LinearTransform::evaluate_bsgs(const Evaluator& ev, const Ciphertext& x) const {
    std::set<int> used_babies;
    for (const auto& [g, group] : giant_groups_) {
        for (const auto& [i, pt] : group) used_babies.insert(i);
    }
    const std::vector<int> steps(used_babies.begin(), used_babies.end());
    std::optional<ckks::HoistedCiphertext> hoisted;
    if (std::any_of(steps.begin(), steps.end(), [](int i) { return i != 0; }))
        hoisted = ev.hoist(x);
    std::vector<std::optional<ExtendedCiphertext>> rotated(steps.size());
    for_each_item(steps.size(), [&](std::size_t k) {
        rotated[k] = steps[k] == 0 ? ev.extend(x) : ev.rotate_lazy(*hoisted, steps[k]);
    });
    hoisted.reset();
    std::map<int, const ExtendedCiphertext*> babies;
    for (std::size_t k = 0; k < steps.size(); ++k) babies.emplace(steps[k], &*rotated[k]);

    std::vector<const decltype(giant_groups_)::value_type*> groups;
    for (const auto& entry : giant_groups_) groups.push_back(&entry);
    auto inner_sum = [&](const auto& group) {
        std::vector<const ExtendedCiphertext*> cs;
        std::vector<const ExtendedPlaintext*> ps;
        for (const auto& [i, pt] : group) {
            cs.push_back(babies.at(i));
            ps.push_back(&pt);
        }
        return ev.multiply_accumulate(cs, ps);
    };
    if (plan_.chained)
        return evaluate_chained(ev, groups.size(), [&](std::size_t k) {
            return std::make_pair(groups[k]->first, inner_sum(groups[k]->second));
        });

    // Giant steps in rounds of one per thread, each round's inner sums added in order.
    const std::size_t round = static_cast<std::size_t>(std::max(1, math::thread_count()));
    std::optional<ExtendedCiphertext> acc;
    for (std::size_t begin = 0; begin < groups.size(); begin += round) {
        const std::size_t end = std::min(groups.size(), begin + round);
        std::vector<std::optional<ExtendedCiphertext>> inner(end - begin);
        for_each_item(end - begin, [&](std::size_t k) {
            const auto& [g, group] = *groups[begin + k];
            ExtendedCiphertext sum = inner_sum(group);
            if (g != 0) sum = ev.rotate_lazy(sum, g);
            inner[k] = std::move(sum);
        });
        for (auto& sum : inner) {
            if (acc) {
                ev.add_inplace(*acc, *sum);
            } else {
                acc = std::move(*sum);
            }
        }
    }
    return ev.rescale(ev.mod_down(*acc));
}

Ciphertext LinearTransform::evaluate_chained(
    const Evaluator& ev, std::size_t groups,
    const std::function<std::pair<int, ExtendedCiphertext>(std::size_t)>& inner_sum) const {
    // Every inner sum s_g (in parallel), then sum_g rot_g(s_g) as s_0 + P + N with
    // P = rot_b(s_b + rot_b(s_2b + ... rot_b(s_Jb))) and N likewise by -b (the two chains in
    // parallel).
    std::vector<std::optional<std::pair<int, ExtendedCiphertext>>> sums(groups);
    for_each_item(groups, [&](std::size_t k) { sums[k] = inner_sum(k); });
    const std::size_t b = plan_.baby;
    std::optional<ExtendedCiphertext> zero;
    std::map<std::size_t, ExtendedCiphertext*> positive, negative;  // by |g| / b
    for (auto& entry : sums) {
        auto& [g, sum] = *entry;
        const auto u = static_cast<std::size_t>(g);
        if (g == 0)
            zero = std::move(sum);
        else if (u <= slots_ / 2)
            positive[u / b] = &sum;
        else
            negative[(slots_ - u) / b] = &sum;
    }
    std::optional<ExtendedCiphertext> chains[2];
    for_each_item(2, [&](std::size_t side) {
        const auto& terms = side == 0 ? positive : negative;
        if (terms.empty()) return;
        const int step = static_cast<int>(side == 0 ? b : slots_ - b);
        std::optional<ExtendedCiphertext> acc;
        for (std::size_t j = terms.rbegin()->first; j >= 1; --j) {
            if (acc) acc = ev.rotate_lazy(*acc, step);
            if (auto it = terms.find(j); it != terms.end()) {
                if (acc)
                    ev.add_inplace(*acc, *it->second);
                else
                    acc = std::move(*it->second);
            }
        }
        chains[side] = ev.rotate_lazy(*acc, step);
    });
    std::optional<ExtendedCiphertext> total = std::move(zero);
    for (auto& chain : chains) {
        if (!chain) continue;
        if (total)
            ev.add_inplace(*total, *chain);
        else
            total = std::move(chain);
    }
    return ev.rescale(ev.mod_down(*total));
}

Ciphertext LinearTransform::evaluate_per_diagonal(const Evaluator& ev, const Ciphertext& x) const {
    // In chunks, so a transform with thousands of diagonals never holds them all rotated.
    constexpr std::size_t kChunk = 32;
    std::optional<Ciphertext> acc;
    for (std::size_t begin = 0; begin < indices_.size(); begin += kChunk) {
        const std::size_t end = std::min(indices_.size(), begin + kChunk);
        std::vector<Ciphertext> rotated;
        if (method_ == Method::Hoisted) {
            std::vector<int> steps(indices_.begin() + begin, indices_.begin() + end);
            rotated = ev.rotate_hoisted(x, steps);
        } else {
            for (std::size_t t = begin; t < end; ++t) {
                rotated.push_back(indices_[t] == 0 ? x
                                                   : ev.rotate(x, static_cast<int>(indices_[t])));
            }
        }
        std::vector<const Ciphertext*> cs;
        std::vector<const ckks::Plaintext*> ps;
        for (std::size_t t = begin; t < end; ++t) {
            cs.push_back(&rotated[t - begin]);
            ps.push_back(&plain_diagonals_[t]);
        }
        Ciphertext part = ev.multiply_accumulate(std::span<const Ciphertext* const>(cs),
                                                 std::span<const ckks::Plaintext* const>(ps));
        if (acc) {
            ev.add_inplace(*acc, part);
        } else {
            acc = std::move(part);
        }
    }
    return ev.rescale(*acc);
}

// ---------------------------------------------------------------------------------------------
// MatrixVectorProduct

MatrixVectorProduct::MatrixVectorProduct(const ckks::Encoder& encoder,
                                         std::span<const Complex> matrix, std::size_t rows,
                                         std::size_t cols, const LinearTransform::Options& options,
                                         std::size_t slots)
    : rows_(rows), cols_(cols) {
    const Context& ctx = *encoder.context();
    slots_ = slots == 0 ? ctx.max_slots() : slots;
    if (rows == 0 || cols == 0) throw ckks::ParameterError("MatrixVectorProduct: empty matrix");
    if (matrix.size() != rows * cols) {
        throw ckks::MismatchError("MatrixVectorProduct: expected " + std::to_string(rows * cols) +
                                  " entries");
    }
    input_blocks_ = (cols + slots_ - 1) / slots_;
    output_blocks_ = (rows + slots_ - 1) / slots_;
    const int level = resolve_level(ctx, options.level);
    scale_ = options.scale != 0 ? options.scale : static_cast<double>(ctx.q()[level].value());
    LinearTransform::Options block_options = options;
    block_options.level = level;
    block_options.scale = scale_;
    for (std::size_t rb = 0; rb < output_blocks_; ++rb) {
        for (std::size_t cb = 0; cb < input_blocks_; ++cb) {
            const std::size_t r0 = rb * slots_, c0 = cb * slots_;
            const std::size_t r = std::min(slots_, rows - r0), c = std::min(slots_, cols - c0);
            std::vector<Complex> block(r * c);
            bool nonzero = false;
            for (std::size_t i = 0; i < r; ++i) {
                for (std::size_t j = 0; j < c; ++j) {
                    block[i * c + j] = matrix[(r0 + i) * cols + c0 + j];
                    nonzero |= block[i * c + j] != Complex(0);
                }
            }
            if (!nonzero) continue;
            blocks_.emplace(
                std::piecewise_construct, std::forward_as_tuple(rb, cb),
                std::forward_as_tuple(encoder, Diagonals::from_matrix(block, r, c, slots_),
                                      block_options));
        }
    }
}

MatrixVectorProduct::MatrixVectorProduct(const ckks::Encoder& encoder,
                                         std::span<const double> matrix, std::size_t rows,
                                         std::size_t cols, const LinearTransform::Options& options,
                                         std::size_t slots)
    : MatrixVectorProduct(encoder, std::vector<Complex>(matrix.begin(), matrix.end()), rows, cols,
                          options, slots) {}

std::vector<int> MatrixVectorProduct::rotation_steps() const {
    std::set<int> all;
    for (const auto& [key, t] : blocks_)
        all.insert(t.rotation_steps().begin(), t.rotation_steps().end());
    return {all.begin(), all.end()};
}

std::size_t MatrixVectorProduct::plaintext_bytes() const {
    std::size_t total = 0;
    for (const auto& [key, t] : blocks_) total += t.plaintext_bytes();
    return total;
}

std::vector<Ciphertext> MatrixVectorProduct::evaluate(const Evaluator& ev,
                                                      std::span<const Ciphertext> x) const {
    if (x.size() != input_blocks_) {
        throw ckks::MismatchError("MatrixVectorProduct: expected " + std::to_string(input_blocks_) +
                                  " input ciphertexts (ceil(cols / slots)), got " +
                                  std::to_string(x.size()));
    }
    std::vector<Ciphertext> y;
    for (std::size_t rb = 0; rb < output_blocks_; ++rb) {
        std::optional<Ciphertext> acc;
        for (std::size_t cb = 0; cb < input_blocks_; ++cb) {
            auto it = blocks_.find({rb, cb});
            if (it == blocks_.end()) continue;
            Ciphertext part = it->second.evaluate(ev, x[cb]);
            if (acc) {
                ev.add_inplace(*acc, part);
            } else {
                acc = std::move(part);
            }
        }
        // An all-zero row block: an encryption of zeros at the same level and scale.
        if (!acc) acc = ev.rescale(ev.multiply_constant(x[0], 0.0, scale_));
        y.push_back(std::move(*acc));
    }
    return y;
}

// ---------------------------------------------------------------------------------------------
// Helpers

std::vector<int> inner_sum_steps(std::size_t block, std::size_t stride, std::size_t slots) {
    if (!is_power_of_two(block) || stride == 0) {
        throw ckks::ParameterError(
            "inner_sum: the block must be a power of two and the stride positive");
    }
    std::set<int> steps;
    for (std::size_t s = 1; s < block; s *= 2) {
        const std::size_t k = mod_slots(static_cast<long long>(s * stride), slots);
        if (k != 0) steps.insert(static_cast<int>(k));
    }
    return {steps.begin(), steps.end()};
}

Ciphertext inner_sum(const Evaluator& ev, const Ciphertext& x, std::size_t block,
                     std::size_t stride) {
    (void)inner_sum_steps(block, stride, x.slots);  // validates
    Ciphertext acc = x;
    for (std::size_t s = 1; s < block; s *= 2) {
        const std::size_t k = mod_slots(static_cast<long long>(s * stride), x.slots);
        ev.add_inplace(acc, k == 0 ? acc : ev.rotate(acc, static_cast<int>(k)));
    }
    return acc;
}

std::vector<int> replicate_steps(std::size_t length, std::size_t copies, std::size_t slots) {
    if (!is_power_of_two(copies) || length == 0 || length * copies > slots) {
        throw ckks::ParameterError(
            "replicate: copies must be a power of two and length * copies <= slots");
    }
    std::vector<int> steps;
    for (std::size_t c = 1; c < copies; c *= 2) {
        steps.push_back(static_cast<int>(mod_slots(-static_cast<long long>(length * c), slots)));
    }
    return steps;
}

Ciphertext replicate(const Evaluator& ev, const Ciphertext& x, std::size_t length,
                     std::size_t copies) {
    const std::vector<int> steps = replicate_steps(length, copies, x.slots);
    Ciphertext acc = x;
    for (int k : steps) ev.add_inplace(acc, ev.rotate(acc, k));  // right by length * 2^i
    return acc;
}

std::vector<double> mask_values(std::size_t slots, std::size_t begin, std::size_t end) {
    if (begin > end || end > slots) throw ckks::ParameterError("mask: need begin <= end <= slots");
    std::vector<double> m(slots, 0.0);
    std::fill(m.begin() + static_cast<long>(begin), m.begin() + static_cast<long>(end), 1.0);
    return m;
}

Ciphertext apply_mask(const Evaluator& ev, const ckks::Encoder& encoder, const Ciphertext& x,
                      std::size_t begin, std::size_t end) {
    const double q = static_cast<double>(ev.context()->q()[x.level].value());
    const auto m = mask_values(x.slots, begin, end);
    Ciphertext r = ev.rescale(ev.multiply_plain(x, encoder.encode(m, x.level, q, x.slots)));
    return r;
}

// ---------------------------------------------------------------------------------------------
// Rotation-key planning

namespace {
// Signed binary digits of k with no two adjacent nonzero (non-adjacent form): k = sum d_j 2^j.
std::vector<std::pair<int, int>> naf(std::size_t k) {
    std::vector<std::pair<int, int>> digits;  // (position, +1/-1)
    long long v = static_cast<long long>(k);
    for (int j = 0; v != 0; ++j, v /= 2) {
        if (v % 2 != 0) {
            const int d = (v % 4 == 1) ? 1 : -1;
            digits.emplace_back(j, d);
            v -= d;
        }
    }
    return digits;
}
}  // namespace

std::vector<int> RotationKeyPlan::steps() const {
    std::vector<int> out;
    for (const auto& [k, level] : keys) out.push_back(k);
    return out;
}

ckks::GaloisKeys RotationKeyPlan::generate(ckks::KeyGenerator& keygen) const {
    std::map<int, std::vector<int>> by_level;
    for (const auto& [k, level] : keys) by_level[level].push_back(k);
    ckks::GaloisKeys out;
    for (const auto& [level, steps] : by_level) keygen.add_galois_keys(out, steps, false, level);
    return out;
}

std::string RotationKeyPlan::report() const {
    std::ostringstream out;
    out << requested_steps << " distinct rotations requested, " << keys.size() << " keys";
    if (!compositions.empty())
        out << " (" << compositions.size() << " steps composed from a base set)";
    out << ", " << mib(key_bytes) << " (all at the top level: " << mib(top_level_bytes) << ")";
    std::map<int, std::size_t> per_level;
    for (const auto& [k, level] : keys) ++per_level[level];
    for (const auto& [level, count] : per_level) out << "; " << count << " to level " << level;
    return out.str();
}

RotationKeyPlan plan_rotation_keys(const Context& ctx, std::span<const RotationUse> uses,
                                   std::size_t slots, std::size_t max_key_bytes) {
    if (!is_power_of_two(slots) || slots > ctx.max_slots()) {
        throw ckks::ParameterError("plan_rotation_keys: slots must be a power of two <= N/2");
    }
    std::map<int, int> level_of;     // step -> highest level used at
    std::map<int, bool> composable;  // step -> every use allows composition
    for (const RotationUse& use : uses) {
        const int level = resolve_level(ctx, use.level);
        for (int step : use.steps) {
            const int k = static_cast<int>(mod_slots(step, slots));
            if (k == 0) continue;
            auto [it, fresh] = level_of.emplace(k, level);
            if (!fresh) it->second = std::max(it->second, level);
            auto [c, fresh_c] = composable.emplace(k, use.composable);
            if (!fresh_c) c->second = c->second && use.composable;
        }
    }
    auto bytes_of = [&](const std::map<int, int>& keys) {
        std::size_t total = 0;
        for (const auto& [k, level] : keys) total += ckks::switch_key_bytes(ctx, level);
        return total;
    };
    RotationKeyPlan plan;
    plan.slots = slots;
    plan.requested_steps = level_of.size();
    plan.keys = level_of;
    plan.key_bytes = bytes_of(plan.keys);
    if (max_key_bytes != 0 && plan.key_bytes > max_key_bytes) {
        std::map<int, int> base;
        std::map<int, std::vector<int>> compositions;
        for (const auto& [k, level] : level_of) {
            if (!composable.at(k)) {
                auto [it, fresh] = base.emplace(k, level);
                if (!fresh) it->second = std::max(it->second, level);
                continue;
            }
            std::vector<int> sequence;
            for (auto [position, sign] : naf(static_cast<std::size_t>(k))) {
                const std::size_t power = std::size_t{1} << position;
                if (power >= slots) continue;  // a rotation by a multiple of the slot count
                const int step = static_cast<int>(sign > 0 ? power : slots - power);
                sequence.push_back(step);
                auto [it, fresh] = base.emplace(step, level);
                if (!fresh) it->second = std::max(it->second, level);
            }
            if (sequence.size() > 1) compositions[k] = sequence;
        }
        if (bytes_of(base) < plan.key_bytes) {
            plan.keys = std::move(base);
            plan.compositions = std::move(compositions);
            plan.key_bytes = bytes_of(plan.keys);
        }
    }
    plan.top_level_bytes = plan.keys.size() * ckks::switch_key_bytes(ctx);
    return plan;
}

Ciphertext rotate(const Evaluator& ev, const Ciphertext& x, int step, const RotationKeyPlan& plan) {
    if (x.slots != plan.slots) {
        throw ckks::MismatchError("rotate: the key plan is for " + std::to_string(plan.slots) +
                                  " slots, the ciphertext has " + std::to_string(x.slots));
    }
    const int k = static_cast<int>(mod_slots(step, plan.slots));
    if (k == 0) return x;
    auto it = plan.compositions.find(k);
    if (it == plan.compositions.end()) return ev.rotate(x, k);
    Ciphertext r = x;
    for (int s : it->second) r = ev.rotate(r, s);
    return r;
}

}  // namespace henn::circuits
