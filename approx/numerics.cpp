#include "numerics.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <numbers>
#include <stdexcept>

#include "henn/error.hpp"

namespace henn::approx::detail {

const QuadratureRule& gauss_legendre(int order) {
    static std::mutex mutex;
    static std::map<int, QuadratureRule> cache;
    std::lock_guard lock(mutex);
    if (auto it = cache.find(order); it != cache.end()) return it->second;
    if (order < 1 || order > 1000) throw InvalidArgument("Gauss-Legendre order out of range");
    QuadratureRule rule;
    rule.nodes.resize(static_cast<std::size_t>(order));
    rule.weights.resize(static_cast<std::size_t>(order));
    const double n = order;
    for (int i = 0; i < order; ++i) {
        // Tricomi's initial guess, then Newton on P_n.
        double x = std::cos(std::numbers::pi * (i + 0.75) / (n + 0.5));
        double derivative = 1.0;
        for (int iteration = 0; iteration < 100; ++iteration) {
            double p0 = 1.0, p1 = x;
            for (int k = 2; k <= order; ++k) {
                const double p2 = ((2.0 * k - 1.0) * x * p1 - (k - 1.0) * p0) / k;
                p0 = p1;
                p1 = p2;
            }
            const double pn = order == 1 ? x : p1;
            const double pn_minus_1 = order == 1 ? 1.0 : p0;
            derivative = n * (x * pn - pn_minus_1) / (x * x - 1.0);
            const double step = pn / derivative;
            x -= step;
            if (std::abs(step) < 1e-16) break;
        }
        rule.nodes[static_cast<std::size_t>(i)] = x;
        rule.weights[static_cast<std::size_t>(i)] = 2.0 / ((1.0 - x * x) * derivative * derivative);
    }
    return cache.emplace(order, std::move(rule)).first->second;
}

QuadratureRule composite_rule(double lo, double hi, const std::vector<double>& breakpoints,
                              int panels, int order) {
    std::vector<double> cuts{lo};
    std::vector<double> inside;
    for (double b : breakpoints) {
        if (b > lo && b < hi) inside.push_back(b);
    }
    std::sort(inside.begin(), inside.end());
    cuts.insert(cuts.end(), inside.begin(), inside.end());
    cuts.push_back(hi);
    const QuadratureRule& base = gauss_legendre(order);
    QuadratureRule rule;
    const double total = hi - lo;
    for (std::size_t piece = 0; piece + 1 < cuts.size(); ++piece) {
        const double a = cuts[piece], b = cuts[piece + 1];
        if (!(b > a)) continue;
        const int count = std::max(4, static_cast<int>(std::ceil(panels * (b - a) / total)));
        for (int p = 0; p < count; ++p) {
            const double pa = a + (b - a) * p / count;
            const double pb = a + (b - a) * (p + 1) / count;
            const double half = 0.5 * (pb - pa), mid = 0.5 * (pa + pb);
            for (std::size_t i = 0; i < base.nodes.size(); ++i) {
                rule.nodes.push_back(mid + half * base.nodes[i]);
                rule.weights.push_back(half * base.weights[i]);
            }
        }
    }
    return rule;
}

void chebyshev_row(double t, int degree, double* out) {
    out[0] = 1.0;
    if (degree >= 1) out[1] = t;
    for (int k = 2; k <= degree; ++k) out[k] = 2.0 * t * out[k - 1] - out[k - 2];
}

Eigen::MatrixXd chebyshev_matrix(const std::vector<double>& ts, int degree) {
    Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> m(
        static_cast<Eigen::Index>(ts.size()), degree + 1);
    for (std::size_t i = 0; i < ts.size(); ++i)
        chebyshev_row(ts[i], degree, m.row(static_cast<Eigen::Index>(i)).data());
    return m;
}

std::vector<double> dense_grid(double lo, double hi, const std::vector<double>& breakpoints,
                               int points) {
    std::vector<double> grid;
    grid.reserve(static_cast<std::size_t>(2 * points + 4 + breakpoints.size()));
    const double mid = 0.5 * (lo + hi), half = 0.5 * (hi - lo);
    for (int i = 0; i <= points; ++i) {
        grid.push_back(mid - half * std::cos(std::numbers::pi * i / points));
        grid.push_back(lo + (hi - lo) * i / points);
    }
    for (double b : breakpoints) {
        if (b > lo && b < hi) grid.push_back(b);
    }
    grid.push_back(lo);
    grid.push_back(hi);
    for (double& x : grid) x = std::clamp(x, lo, hi);
    std::sort(grid.begin(), grid.end());
    grid.erase(std::unique(grid.begin(), grid.end()), grid.end());
    return grid;
}

namespace {

// Maximizes sign * error on [a, b] by golden-section search, starting from the best known point.
Extremum refine(const std::function<double(double)>& error, double a, double b, double sign,
                Extremum best) {
    const double ratio = 0.5 * (std::sqrt(5.0) - 1.0);
    double c = b - ratio * (b - a), d = a + ratio * (b - a);
    double fc = sign * error(c), fd = sign * error(d);
    for (int iteration = 0; iteration < 60 && b - a > 1e-15 * (1.0 + std::abs(a)); ++iteration) {
        if (fc > fd) {
            b = d;
            d = c;
            fd = fc;
            c = b - ratio * (b - a);
            fc = sign * error(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + ratio * (b - a);
            fd = sign * error(d);
        }
    }
    const double x = fc > fd ? c : d;
    const double value = error(x);
    if (sign * value > sign * best.value) return {x, value};
    return best;
}

}  // namespace

std::vector<Extremum> sign_run_extrema(const std::function<double(double)>& error,
                                       const std::vector<double>& grid) {
    const std::size_t n = grid.size();
    std::vector<double> values(n);
    for (std::size_t i = 0; i < n; ++i) values[i] = error(grid[i]);
    std::vector<Extremum> extrema;
    std::size_t i = 0;
    while (i < n) {
        // A run: points whose sign is the run's sign or zero.
        double sign = 0.0;
        std::size_t start = i, best = i;
        for (; i < n; ++i) {
            const double s = values[i] > 0 ? 1.0 : (values[i] < 0 ? -1.0 : 0.0);
            if (sign == 0.0) sign = s;
            if (s != 0.0 && s != sign) break;
            if (std::abs(values[i]) > std::abs(values[best])) best = i;
        }
        if (sign == 0.0) continue;  // an all-zero tail has no extremum
        const double left = grid[best > start ? best - 1 : best];
        const double right = grid[best + 1 < i ? best + 1 : best];
        Extremum candidate{grid[best], values[best]};
        if (right > left) candidate = refine(error, left, right, sign, candidate);
        extrema.push_back(candidate);
    }
    return extrema;
}

std::vector<Extremum> select_alternating(std::vector<Extremum> extrema, std::size_t count) {
    while (extrema.size() > count) {
        if (extrema.size() == count + 1) {
            // Dropping an end keeps alternation.
            if (std::abs(extrema.front().value) < std::abs(extrema.back().value)) {
                extrema.erase(extrema.begin());
            } else {
                extrema.pop_back();
            }
            continue;
        }
        auto smallest = std::min_element(extrema.begin(), extrema.end(),
                                         [](const Extremum& a, const Extremum& b) {
                                             return std::abs(a.value) < std::abs(b.value);
                                         });
        const std::size_t k = static_cast<std::size_t>(smallest - extrema.begin());
        if (k == 0 || k + 1 == extrema.size()) {
            extrema.erase(smallest);
            continue;
        }
        // Removing an interior point puts its two neighbours (same sign) side by side: keep the
        // larger of them.
        const std::size_t drop =
            std::abs(extrema[k - 1].value) < std::abs(extrema[k + 1].value) ? k - 1 : k + 1;
        extrema.erase(extrema.begin() + static_cast<std::ptrdiff_t>(std::max(k, drop)));
        extrema.erase(extrema.begin() + static_cast<std::ptrdiff_t>(std::min(k, drop)));
    }
    return extrema;
}

}  // namespace henn::approx::detail
