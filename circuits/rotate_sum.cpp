#include "henn/circuits/rotate_sum.hpp"

#include <set>

#include "henn/ckks/errors.hpp"
#include "henn/ckks/hoisting.hpp"

namespace henn::circuits {

namespace {

bool is_power_of_two(std::size_t x) {
    return x != 0 && (x & (x - 1)) == 0;
}

int normalize(long long step, std::size_t slots) {
    const auto s = static_cast<long long>(slots);
    return static_cast<int>(((step % s) + s) % s);
}

void validate(std::size_t count, std::size_t slots, std::size_t radix) {
    if (!is_power_of_two(count) || !is_power_of_two(radix) || radix < 2 || count > slots) {
        throw ckks::ParameterError(
            "rotate_and_sum: count and radix must be powers of two (radix >= 2), count <= slots");
    }
}

// Stage k sums `terms` copies spaced by `spacing` (the number of terms summed so far times the
// stride).
template <typename Stage>
void for_each_stage(std::size_t count, long long stride, std::size_t radix, Stage&& stage) {
    for (std::size_t done = 1; done < count;) {
        const std::size_t terms = std::min(radix, count / done);
        stage(terms, static_cast<long long>(done) * stride);
        done *= terms;
    }
}

}  // namespace

std::vector<int> rotate_and_sum_steps(std::size_t count, long long stride, std::size_t slots,
                                      std::size_t radix) {
    validate(count, slots, radix);
    std::set<int> steps;
    for_each_stage(count, stride, radix, [&](std::size_t terms, long long spacing) {
        for (std::size_t i = 1; i < terms; ++i) {
            const int k = normalize(static_cast<long long>(i) * spacing, slots);
            if (k != 0) steps.insert(k);
        }
    });
    return {steps.begin(), steps.end()};
}

ckks::Ciphertext rotate_and_sum(const ckks::Evaluator& ev, const ckks::Ciphertext& x,
                                std::size_t count, long long stride, std::size_t radix) {
    validate(count, x.slots, radix);
    ckks::Ciphertext acc = x;
    for_each_stage(count, stride, radix, [&](std::size_t terms, long long spacing) {
        if (terms == 2) {  // one rotation: hoisting would save nothing
            const int k = normalize(spacing, x.slots);
            ev.add_inplace(acc, k == 0 ? acc : ev.rotate(acc, k));
            return;
        }
        const ckks::HoistedCiphertext hoisted = ev.hoist(acc);
        ckks::ExtendedCiphertext sum = ev.rotate_lazy(hoisted, 0);
        for (std::size_t i = 1; i < terms; ++i) {
            const int k = normalize(static_cast<long long>(i) * spacing, x.slots);
            ev.add_inplace(sum, ev.rotate_lazy(hoisted, k));
        }
        acc = ev.mod_down(sum);
    });
    return acc;
}

std::vector<double> rotate_and_sum_reference(const std::vector<double>& x, std::size_t count,
                                             long long stride) {
    const std::size_t slots = x.size();
    std::vector<double> y(slots, 0.0);
    for (std::size_t t = 0; t < slots; ++t) {
        for (std::size_t j = 0; j < count; ++j) {
            y[t] += x[static_cast<std::size_t>(
                normalize(static_cast<long long>(t) + static_cast<long long>(j) * stride, slots))];
        }
    }
    return y;
}

}  // namespace henn::circuits
