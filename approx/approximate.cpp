// The seven approximation methods. Every method computes Chebyshev coefficients on [a, b]
// directly (t = (2x - a - b) / (b - a)); the power basis is only an export format.
#include "henn/approx/approximate.hpp"

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <set>
#include <sstream>
#include <stdexcept>

#include "henn/error.hpp"
#include "numerics.hpp"

namespace henn::approx {

namespace {

constexpr int kMaxDegree = 63;

using detail::chebyshev_matrix;
using detail::chebyshev_row;

// f checked for finiteness: a NaN from a user callable must not become a silent garbage fit.
struct CheckedFunction {
    const TargetFunction& f;
    double operator()(double x) const {
        const double y = f.value(x);
        if (!std::isfinite(y)) {
            std::ostringstream message;
            message << "function '" << f.name << "' is not finite at x = " << x;
            throw InvalidArgument(message.str());
        }
        return y;
    }
};

std::vector<double> kinks_inside(const TargetFunction& f, Interval interval) {
    std::vector<double> inside;
    for (double k : f.kinks) {
        if (k > interval.lo && k < interval.hi) inside.push_back(k);
    }
    return inside;
}

std::vector<double> solve_least_squares(const Eigen::MatrixXd& a, const Eigen::VectorXd& b,
                                        const char* what) {
    Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(a);
    if (qr.rank() < a.cols()) {
        throw InvalidArgument(std::string(what) + ": the fitting points determine only a degree-" +
                              std::to_string(qr.rank() - 1) +
                              " polynomial; give more distinct points or lower the degree");
    }
    const Eigen::VectorXd c = qr.solve(b);
    return std::vector<double>(c.data(), c.data() + c.size());
}

// ---- 1. least squares on equispaced points ----------------------------------------------------

ChebyshevPolynomial least_squares(const ApproxRequest& r, Approximation& out) {
    const int d = r.degree;
    const int points =
        r.least_squares_points > 0 ? r.least_squares_points : std::max(1000, 20 * (d + 1));
    if (points < d + 1) {
        throw InvalidArgument("least squares needs at least degree + 1 points");
    }
    const CheckedFunction f{r.function};
    std::vector<double> ts(static_cast<std::size_t>(points));
    Eigen::VectorXd values(points);
    for (int i = 0; i < points; ++i) {
        const double t = points == 1 ? 0.0 : -1.0 + 2.0 * i / (points - 1);
        ts[static_cast<std::size_t>(i)] = t;
        values(i) = f(r.interval.from_unit(t));
    }
    out.details.emplace_back("points", points);
    return {solve_least_squares(chebyshev_matrix(ts, d), values, "least squares"), r.interval};
}

// ---- 2. Taylor series --------------------------------------------------------------------------

// Taylor coefficients a_n = f^(n)(c) / n!, n = 0..d.
std::vector<double> taylor_coefficients(const TargetFunction& target, double center, int d,
                                        Interval interval, Approximation& out) {
    for (double k : target.kinks) {
        if (std::abs(center - k) <= 1e-12 * (1.0 + std::abs(k))) {
            std::ostringstream message;
            message << "Taylor series of '" << target.name << "' at " << center
                    << " does not exist (the function has a kink there); choose another centre";
            throw InvalidArgument(message.str());
        }
    }
    std::vector<double> a(static_cast<std::size_t>(d + 1), 0.0);
    if (target.complex_value) {
        // Cauchy's integral on a circle of radius rho < the radius of convergence, by the
        // trapezoid rule (spectrally accurate for periodic integrands).
        double radius = std::numeric_limits<double>::infinity();
        for (const auto& s : target.singularities) radius = std::min(radius, std::abs(s - center));
        const double rho = std::isfinite(radius) ? 0.8 * radius : 2.0;
        constexpr int kPoints = 512;
        std::vector<std::complex<double>> values(kPoints);
        for (int j = 0; j < kPoints; ++j) {
            const std::complex<double> w = std::polar(1.0, 2.0 * std::numbers::pi * j / kPoints);
            values[static_cast<std::size_t>(j)] = target.complex_value(center + rho * w);
            if (!std::isfinite(values[static_cast<std::size_t>(j)].real())) {
                throw InvalidArgument("complex_value is not finite on the Taylor circle");
            }
        }
        for (int n = 0; n <= d; ++n) {
            std::complex<double> sum = 0.0;
            for (int j = 0; j < kPoints; ++j) {
                sum += values[static_cast<std::size_t>(j)] *
                       std::polar(1.0, -2.0 * std::numbers::pi * n * j / kPoints);
            }
            a[static_cast<std::size_t>(n)] = sum.real() / kPoints / std::pow(rho, n);
        }
        out.details.emplace_back("cauchy_radius", rho);
        return a;
    }
    // Real fallback: interpolate on a small interval around c that avoids the kinks, read the
    // derivatives off the interpolant. Good to a handful of digits for low orders only.
    double h = 0.25 * interval.width();
    for (double k : target.kinks) h = std::min(h, 0.5 * std::abs(center - k));
    const int order = std::min(2 * d + 8, 40);
    const Interval local{center - h, center + h};
    const CheckedFunction f{target};
    const ChebyshevPolynomial interpolant = ChebyshevPolynomial::interpolate(f, order, local);
    // Chop the Chebyshev tail at the rounding level first (as Chebfun does): converting noise to
    // the power basis and dividing by h^n would blow it up.
    std::vector<double> chopped = interpolant.coefficients();
    double largest = 0.0;
    for (double v : chopped) largest = std::max(largest, std::abs(v));
    while (chopped.size() > 1 && std::abs(chopped.back()) <= 1e-13 * largest) chopped.pop_back();
    const std::vector<double> in_t =
        ChebyshevPolynomial(chopped, local).to_unit_power_basis();  // powers of (x - c) / h
    for (std::size_t n = 0; n < in_t.size() && n <= static_cast<std::size_t>(d); ++n) {
        a[n] = in_t[n] / std::pow(h, static_cast<double>(n));
    }
    out.warnings.push_back(
        "Taylor coefficients from real interpolation (no complex extension of f): "
        "high orders are inaccurate" +
        std::string(d > order ? ", orders above " + std::to_string(order) + " are set to 0" : ""));
    return a;
}

ChebyshevPolynomial taylor(const ApproxRequest& r, Approximation& out) {
    const double center = r.taylor_center.value_or(r.interval.midpoint());
    if (!std::isfinite(center)) throw InvalidArgument("Taylor centre must be finite");
    const std::vector<double> a =
        taylor_coefficients(r.function, center, r.degree, r.interval, out);
    out.details.emplace_back("taylor_center", center);
    // The Taylor polynomial is exact at degree + 1 Chebyshev nodes; Horner in (x - c).
    return ChebyshevPolynomial::interpolate(
        [&](double x) {
            double v = 0.0;
            for (std::size_t n = a.size(); n-- > 0;) v = v * (x - center) + a[n];
            return v;
        },
        r.degree, r.interval);
}

// ---- 3. Chebyshev projection -------------------------------------------------------------------

// c_k = (2/pi) int_0^pi g(cos theta) cos(k theta) d theta (c_0 with 1/pi), composite
// Gauss-Legendre in theta, split where the kinks are.
ChebyshevPolynomial chebyshev_projection(const std::function<double(double)>& g,
                                         const std::vector<double>& kinks, int d,
                                         Interval interval) {
    std::vector<double> theta_breaks;
    for (double k : kinks) {
        const double t = interval.to_unit(k);
        if (t > -1.0 && t < 1.0) theta_breaks.push_back(std::acos(t));
    }
    const detail::QuadratureRule rule =
        detail::composite_rule(0.0, std::numbers::pi, theta_breaks, 128, 24);
    std::vector<double> c(static_cast<std::size_t>(d + 1), 0.0);
    for (std::size_t i = 0; i < rule.nodes.size(); ++i) {
        const double theta = rule.nodes[i];
        const double weighted = rule.weights[i] * g(interval.from_unit(std::cos(theta)));
        for (int k = 0; k <= d; ++k)
            c[static_cast<std::size_t>(k)] += weighted * std::cos(k * theta);
    }
    for (int k = 0; k <= d; ++k)
        c[static_cast<std::size_t>(k)] *= (k == 0 ? 1.0 : 2.0) / std::numbers::pi;
    return {c, interval};
}

ChebyshevPolynomial chebyshev(const ApproxRequest& r, Approximation&) {
    const CheckedFunction f{r.function};
    return chebyshev_projection(f, r.function.kinks, r.degree, r.interval);
}

// ---- 4. projection under a modified weight ----------------------------------------------------

// Weighted least squares on a fine composite Gauss-Legendre grid: the Householder QR of the
// weighted Chebyshev matrix is Gram-Schmidt orthogonalization of the basis under the weighted
// inner product, done stably.
ChebyshevPolynomial weighted_fit(const std::function<double(double)>& f,
                                 const std::function<double(double)>& weight,
                                 const std::vector<double>& breaks, int d, Interval interval,
                                 const char* what) {
    const detail::QuadratureRule rule =
        detail::composite_rule(interval.lo, interval.hi, breaks, 160, 24);
    std::vector<double> ts;
    std::vector<double> root_weights;
    std::vector<double> values;
    double largest = 0.0;
    for (std::size_t i = 0; i < rule.nodes.size(); ++i) {
        const double w = weight(rule.nodes[i]);
        if (!std::isfinite(w) || w < 0) {
            std::ostringstream message;
            message << what << ": weight must be finite and >= 0, got " << w
                    << " at x = " << rule.nodes[i];
            throw InvalidArgument(message.str());
        }
        largest = std::max(largest, w);
        ts.push_back(interval.to_unit(rule.nodes[i]));
        root_weights.push_back(std::sqrt(w * rule.weights[i]));
        values.push_back(f(rule.nodes[i]));
    }
    if (largest == 0.0)
        throw InvalidArgument(std::string(what) + ": the weight vanishes on the whole interval");
    Eigen::MatrixXd a = chebyshev_matrix(ts, d);
    Eigen::VectorXd b(static_cast<Eigen::Index>(ts.size()));
    for (std::size_t i = 0; i < ts.size(); ++i) {
        a.row(static_cast<Eigen::Index>(i)) *= root_weights[i];
        b(static_cast<Eigen::Index>(i)) = root_weights[i] * values[i];
    }
    return {solve_least_squares(a, b, what), interval};
}

std::function<double(double)> cryptodl_weight(const TargetFunction& f, Interval interval,
                                              std::string& label) {
    if (f.name == "sigmoid" || f.name == "tanh") {
        const double l = std::max(std::abs(interval.lo), std::abs(interval.hi));
        label = "exp(-(l/x)^2)";
        return [l](double x) { return x == 0.0 ? 0.0 : std::exp(-(l / x) * (l / x)); };
    }
    label = "exp(-1/(1e-5+x^2))";
    return [](double x) { return std::exp(-1.0 / (1e-5 + x * x)); };
}

ChebyshevPolynomial modified_weight(const ApproxRequest& r, Approximation& out) {
    std::string label = "custom";
    const std::function<double(double)> weight =
        r.weight ? r.weight : cryptodl_weight(r.function, r.interval, label);
    std::vector<double> breaks = r.function.kinks;
    breaks.push_back(0.0);  // CryptoDL's weights are flat to all orders at 0
    const CheckedFunction f{r.function};
    ChebyshevPolynomial p =
        weighted_fit(f, weight, breaks, r.degree, r.interval, "modified weight");
    out.warnings.push_back("weight: " + label);
    return p;
}

// ---- 5. CryptoDL's derivative method -----------------------------------------------------------

// Integrates a degree d-1 approximation of f' and fixes the constant at an anchor (0 if inside
// [a, b], else the midpoint) so that p(anchor) = f(anchor).
ChebyshevPolynomial integrate_derivative(const std::function<double(double)>& derivative,
                                         const std::vector<double>& kinks,
                                         const TargetFunction& target, int d, Interval interval) {
    const ChebyshevPolynomial slope = chebyshev_projection(derivative, kinks, d - 1, interval);
    ChebyshevPolynomial p = slope.antiderivative();
    const double anchor = (interval.lo <= 0.0 && 0.0 <= interval.hi) ? 0.0 : interval.midpoint();
    std::vector<double> c = p.coefficients();
    c[0] += CheckedFunction{target}(anchor)-p.evaluate(anchor);
    return {std::move(c), interval};
}

double grid_max_error(const std::function<double(double)>& f, const ChebyshevPolynomial& p,
                      const std::vector<double>& grid) {
    double worst = 0.0;
    for (double x : grid) worst = std::max(worst, std::abs(f(x) - p.evaluate(x)));
    return worst;
}

ChebyshevPolynomial derivative_method(const ApproxRequest& r, Approximation& out) {
    if (r.degree < 1) throw InvalidArgument("the derivative method needs degree >= 1");
    const CheckedFunction f{r.function};
    if (r.function.name != "relu") {
        if (!r.function.derivative) {
            throw InvalidArgument(
                "the derivative method needs f' (TargetFunction::derivative) for '" +
                r.function.name + "'");
        }
        return integrate_derivative(r.function.derivative, r.function.kinks, r.function, r.degree,
                                    r.interval);
    }
    // relu' is a step: replace it by sigmoid(k x) (smooth, so its projection converges).
    auto build = [&](double k) {
        return integrate_derivative(
            [k](double x) {
                const double z = k * x;
                return z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z));
            },
            {}, r.function, r.degree, r.interval);
    };
    double k = 0.0;
    if (r.derivative_steepness) {
        k = *r.derivative_steepness;
        if (!(k > 0) || !std::isfinite(k))
            throw InvalidArgument("derivative steepness must be > 0");
    } else {
        // The steepness trades the step's sharpness against how well degree d-1 can follow it:
        // scan log k, then golden-section refine the best bracket.
        const std::vector<double> grid =
            detail::dense_grid(r.interval.lo, r.interval.hi, r.function.kinks, 400);
        const double scale = std::max(std::abs(r.interval.lo), std::abs(r.interval.hi));
        auto objective = [&](double log_k) {
            return grid_max_error(f, build(std::exp(log_k)), grid);
        };
        const double lo = std::log(0.05 / scale), hi = std::log(200.0 / scale);
        constexpr int kScan = 33;
        int best = 0;
        std::vector<double> scores(kScan);
        for (int i = 0; i < kScan; ++i) {
            scores[static_cast<std::size_t>(i)] = objective(lo + (hi - lo) * i / (kScan - 1));
            if (scores[static_cast<std::size_t>(i)] < scores[static_cast<std::size_t>(best)])
                best = i;
        }
        double a = lo + (hi - lo) * std::max(0, best - 1) / (kScan - 1);
        double b = lo + (hi - lo) * std::min(kScan - 1, best + 1) / (kScan - 1);
        const double ratio = 0.5 * (std::sqrt(5.0) - 1.0);
        double c = b - ratio * (b - a), e = a + ratio * (b - a);
        double fc = objective(c), fe = objective(e);
        for (int i = 0; i < 30; ++i) {
            if (fc < fe) {
                b = e;
                e = c;
                fe = fc;
                c = b - ratio * (b - a);
                fc = objective(c);
            } else {
                a = c;
                c = e;
                fc = fe;
                e = a + ratio * (b - a);
                fe = objective(e);
            }
        }
        const double best_scan = lo + (hi - lo) * best / (kScan - 1);
        double log_k = fc < fe ? c : e;
        if (std::min(fc, fe) > scores[static_cast<std::size_t>(best)]) log_k = best_scan;
        k = std::exp(log_k);
    }
    out.details.emplace_back("steepness", k);
    return build(k);
}

// ---- 6. minimax (Remez exchange) ----------------------------------------------------------------

ChebyshevPolynomial minimax(const ApproxRequest& r, Approximation& out) {
    const int d = r.degree;
    const Interval interval = r.interval;
    const CheckedFunction f{r.function};
    const std::vector<double> kinks = kinks_inside(r.function, interval);
    const std::vector<double> grid =
        detail::dense_grid(interval.lo, interval.hi, kinks, std::max(2000, 80 * (d + 2)));
    const std::size_t references = static_cast<std::size_t>(d + 2);

    // Start from the Chebyshev projection: its error nearly equioscillates already.
    ChebyshevPolynomial best = chebyshev_projection(f, r.function.kinks, d, interval);
    auto error_of = [&](const ChebyshevPolynomial& p) {
        return std::function<double(double)>([&f, &p](double x) { return f(x) - p.evaluate(x); });
    };
    ChebyshevPolynomial current = best;
    std::vector<detail::Extremum> extrema = detail::sign_run_extrema(error_of(current), grid);
    double best_error = 0.0;
    for (const auto& e : extrema) best_error = std::max(best_error, std::abs(e.value));
    double scale = 0.0;
    for (double x : grid) scale = std::max(scale, std::abs(f(x)));
    if (best_error <= 1e-14 * std::max(1.0, scale)) {
        out.details.emplace_back("remez_iterations", 0);
        return best;  // f is (numerically) a polynomial of degree <= d
    }
    std::vector<double> reference;
    if (extrema.size() >= references) {
        for (const auto& e : detail::select_alternating(extrema, references))
            reference.push_back(e.x);
    } else {
        for (std::size_t i = 0; i < references; ++i) {
            reference.push_back(
                interval.from_unit(-std::cos(std::numbers::pi * static_cast<double>(i) / (d + 1))));
        }
    }

    int iteration = 0;
    bool converged = false;
    double levelled = 0.0;
    double relative_gap = 1.0;
    for (; iteration < 100; ++iteration) {
        // Solve p(x_i) + (-1)^i E = f(x_i), i = 0..d+1, in the Chebyshev basis.
        Eigen::MatrixXd system(d + 2, d + 2);
        Eigen::VectorXd rhs(d + 2);
        for (int i = 0; i <= d + 1; ++i) {
            // row() of a column-major matrix is strided: fill through a temporary.
            std::vector<double> row(static_cast<std::size_t>(d + 1));
            chebyshev_row(interval.to_unit(reference[static_cast<std::size_t>(i)]), d, row.data());
            for (int k = 0; k <= d; ++k) system(i, k) = row[static_cast<std::size_t>(k)];
            system(i, d + 1) = i % 2 == 0 ? 1.0 : -1.0;
            rhs(i) = f(reference[static_cast<std::size_t>(i)]);
        }
        const Eigen::VectorXd solution = system.fullPivLu().solve(rhs);
        if (!solution.allFinite()) break;
        current = ChebyshevPolynomial(std::vector<double>(solution.data(), solution.data() + d + 1),
                                      interval);
        levelled = std::abs(solution(d + 1));
        extrema = detail::sign_run_extrema(error_of(current), grid);
        double max_error = 0.0;
        for (const auto& e : extrema) max_error = std::max(max_error, std::abs(e.value));
        if (max_error < best_error) {
            best_error = max_error;
            best = current;
        }
        relative_gap = (max_error - levelled) / max_error;
        // Converged when the error equioscillates to 1e-10 relative, or to the rounding floor of
        // evaluating f and p (below it the extrema are noise).
        const double rounding_floor = 1e-14 * std::max(1.0, scale);
        if (max_error - levelled <= std::max(1e-10 * max_error, rounding_floor)) {
            converged = true;
            break;
        }
        if (extrema.size() < references) break;
        std::vector<double> next;
        for (const auto& e : detail::select_alternating(extrema, references)) next.push_back(e.x);
        if (next == reference) break;
        reference = std::move(next);
    }
    out.details.emplace_back("remez_iterations", iteration + 1);
    out.details.emplace_back("remez_relative_gap", relative_gap);
    if (!converged && relative_gap > 1e-4) {
        out.warnings.push_back("Remez stopped before equioscillation (relative gap " +
                               std::to_string(relative_gap) +
                               "); the best polynomial found is returned");
    }
    return best;
}

// ---- 7. least squares under the empirical distribution ----------------------------------------

ChebyshevPolynomial empirical(const ApproxRequest& r, Approximation& out) {
    if (r.samples.empty())
        throw InvalidArgument("the empirical method needs samples of pre-activation values");
    const double mix = r.empirical_uniform_mix;
    if (!(mix >= 0.0 && mix < 1.0))
        throw InvalidArgument("empirical_uniform_mix must lie in [0, 1)");
    const int d = r.degree;
    const Eigen::Index columns = d + 2;  // basis columns and the right-hand side
    const CheckedFunction f{r.function};
    // Streaming QR of [A | b]: the triangular factor of all rows so far, stacked with the next
    // block, so millions of samples never form one matrix.
    Eigen::MatrixXd triangle = Eigen::MatrixXd::Zero(0, columns);
    auto absorb = [&](const Eigen::MatrixXd& block) {
        Eigen::MatrixXd stacked(triangle.rows() + block.rows(), columns);
        stacked << triangle, block;
        Eigen::HouseholderQR<Eigen::MatrixXd> qr(stacked);
        const Eigen::Index keep = std::min<Eigen::Index>(stacked.rows(), columns);
        triangle = qr.matrixQR().topRows(keep).triangularView<Eigen::Upper>();
    };
    const double sample_weight = std::sqrt((1.0 - mix) / static_cast<double>(r.samples.size()));
    constexpr std::size_t kBlock = 4096;
    std::vector<double> row(static_cast<std::size_t>(d + 1));
    std::set<double> distinct;
    for (std::size_t start = 0; start < r.samples.size(); start += kBlock) {
        const std::size_t count = std::min(kBlock, r.samples.size() - start);
        Eigen::MatrixXd block(static_cast<Eigen::Index>(count), columns);
        for (std::size_t i = 0; i < count; ++i) {
            const double x = r.samples[start + i];
            if (!std::isfinite(x))
                throw InvalidArgument("sample " + std::to_string(start + i) + " is not finite");
            if (distinct.size() <= static_cast<std::size_t>(d)) distinct.insert(x);
            chebyshev_row(r.interval.to_unit(x), d, row.data());
            for (int k = 0; k <= d; ++k)
                block(static_cast<Eigen::Index>(i), k) =
                    sample_weight * row[static_cast<std::size_t>(k)];
            block(static_cast<Eigen::Index>(i), d + 1) = sample_weight * f(x);
        }
        absorb(block);
    }
    if (mix == 0.0 && distinct.size() <= static_cast<std::size_t>(d)) {
        throw InvalidArgument("the empirical method at degree " + std::to_string(d) +
                              " needs at least " + std::to_string(d + 1) +
                              " distinct sample values, got " + std::to_string(distinct.size()));
    }
    if (mix > 0.0) {
        const detail::QuadratureRule rule =
            detail::composite_rule(r.interval.lo, r.interval.hi, r.function.kinks, 64, 16);
        Eigen::MatrixXd block(static_cast<Eigen::Index>(rule.nodes.size()), columns);
        for (std::size_t i = 0; i < rule.nodes.size(); ++i) {
            const double w = std::sqrt(mix * rule.weights[i] / r.interval.width());
            chebyshev_row(r.interval.to_unit(rule.nodes[i]), d, row.data());
            for (int k = 0; k <= d; ++k)
                block(static_cast<Eigen::Index>(i), k) = w * row[static_cast<std::size_t>(k)];
            block(static_cast<Eigen::Index>(i), d + 1) = w * f(rule.nodes[i]);
        }
        absorb(block);
    }
    const Eigen::MatrixXd r_factor = triangle.topLeftCorner(d + 1, d + 1);
    const Eigen::VectorXd qtb = triangle.col(d + 1).head(d + 1);
    const double largest = r_factor.diagonal().cwiseAbs().maxCoeff();
    if (r_factor.diagonal().cwiseAbs().minCoeff() <= 1e-13 * largest) {
        throw InvalidArgument(
            "the empirical fit is rank deficient: the samples do not determine a degree-" +
            std::to_string(d) + " polynomial; lower the degree or raise the uniform mix");
    }
    const Eigen::VectorXd c = r_factor.triangularView<Eigen::Upper>().solve(qtb);
    std::size_t outside = 0;
    for (double x : r.samples) outside += (x < r.interval.lo || x > r.interval.hi) ? 1 : 0;
    if (outside > 0) {
        out.warnings.push_back(
            std::to_string(outside) + " of " + std::to_string(r.samples.size()) +
            " samples lie outside the interval (fitted anyway; widen the interval?)");
    }
    out.details.emplace_back("samples", static_cast<double>(r.samples.size()));
    out.details.emplace_back("uniform_mix", mix);
    return {std::vector<double>(c.data(), c.data() + c.size()), r.interval};
}

}  // namespace

std::string method_name(Method method) {
    switch (method) {
        case Method::LeastSquares:
            return "least-squares";
        case Method::Taylor:
            return "taylor";
        case Method::Chebyshev:
            return "chebyshev";
        case Method::ModifiedWeight:
            return "modified-weight";
        case Method::Derivative:
            return "derivative";
        case Method::Minimax:
            return "minimax";
        case Method::Empirical:
            return "empirical";
    }
    return "unknown";
}

std::vector<Method> all_methods() {
    return {Method::LeastSquares, Method::Taylor,  Method::Chebyshev, Method::ModifiedWeight,
            Method::Derivative,   Method::Minimax, Method::Empirical};
}

Method parse_method(std::string_view name) {
    std::string known;
    for (Method m : all_methods()) {
        if (method_name(m) == name) return m;
        known += (known.empty() ? "" : ", ") + method_name(m);
    }
    throw InvalidArgument("unknown method '" + std::string(name) + "' (known: " + known + ")");
}

ErrorStats interval_error(const TargetFunction& target, const ChebyshevPolynomial& p) {
    const Interval interval = p.interval();
    const CheckedFunction f{target};
    const std::vector<double> kinks = kinks_inside(target, interval);
    const auto error = [&](double x) { return f(x) - p.evaluate(x); };
    const std::vector<double> grid =
        detail::dense_grid(interval.lo, interval.hi, kinks, std::max(2000, 80 * (p.degree() + 2)));
    ErrorStats stats;
    for (const auto& e : detail::sign_run_extrema(error, grid))
        stats.max_error = std::max(stats.max_error, std::abs(e.value));
    const detail::QuadratureRule rule =
        detail::composite_rule(interval.lo, interval.hi, kinks, 96, 24);
    double integral = 0.0;
    for (std::size_t i = 0; i < rule.nodes.size(); ++i) {
        const double e = error(rule.nodes[i]);
        integral += rule.weights[i] * e * e;
    }
    stats.l2_error = std::sqrt(integral / interval.width());
    return stats;
}

ErrorStats sample_error(const TargetFunction& target, const ChebyshevPolynomial& p,
                        const std::vector<double>& samples) {
    if (samples.empty()) throw InvalidArgument("no samples to measure the error on");
    const CheckedFunction f{target};
    ErrorStats stats;
    double sum = 0.0;
    for (double x : samples) {
        if (!std::isfinite(x)) throw InvalidArgument("a sample is not finite");
        const double e = f(x) - p.evaluate(x);
        stats.max_error = std::max(stats.max_error, std::abs(e));
        sum += e * e;
    }
    stats.l2_error = std::sqrt(sum / static_cast<double>(samples.size()));
    return stats;
}

Approximation approximate(const ApproxRequest& request) {
    request.interval.validate();
    if (request.degree < 0 || request.degree > kMaxDegree) {
        throw InvalidArgument("degree " + std::to_string(request.degree) + " is out of range [0, " +
                              std::to_string(kMaxDegree) + "]");
    }
    if (!request.function.value) throw InvalidArgument("the target function has no callable");
    Approximation out;
    out.function = request.function.name;
    out.method = request.method;
    out.degree = request.degree;
    out.interval = request.interval;
    ChebyshevPolynomial p;
    switch (request.method) {
        case Method::LeastSquares:
            p = least_squares(request, out);
            break;
        case Method::Taylor:
            p = taylor(request, out);
            break;
        case Method::Chebyshev:
            p = chebyshev(request, out);
            break;
        case Method::ModifiedWeight:
            p = modified_weight(request, out);
            break;
        case Method::Derivative:
            p = derivative_method(request, out);
            break;
        case Method::Minimax:
            p = minimax(request, out);
            break;
        case Method::Empirical:
            p = empirical(request, out);
            break;
    }
    // Exact zeros where the result is odd or even (within rounding) let the encrypted evaluator
    // skip half the terms.
    // The constant term is a free plaintext addition, so parity is judged without it.
    const Parity strict_parity = p.parity(1e-9);
    const Parity parity =
        strict_parity != Parity::None ? strict_parity : p.parity_except_constant(1e-9);
    p = p.with_parity(parity, /*keep_constant=*/strict_parity == Parity::None);
    // Top coefficients that are rounding noise (e.g. the cubic term of relu's best cubic, which is
    // its best quadratic) are dropped from the cost: the evaluator need not pay for them.
    std::vector<double> c = p.coefficients();
    double largest = 0.0;
    for (double v : c) largest = std::max(largest, std::abs(v));
    int effective_degree = request.degree;
    while (effective_degree > 0 &&
           std::abs(c[static_cast<std::size_t>(effective_degree)]) <= 1e-14 * largest) {
        c[static_cast<std::size_t>(effective_degree)] = 0.0;
        --effective_degree;
    }
    out.polynomial = ChebyshevPolynomial(std::move(c), request.interval);
    if (effective_degree < request.degree)
        out.details.emplace_back("effective_degree", effective_degree);
    out.power_coefficients = out.polynomial.to_power_basis();
    out.power_basis_roundoff = out.polynomial.power_basis_roundoff();
    out.interval_error = interval_error(request.function, out.polynomial);
    if (!request.samples.empty())
        out.sample_error = sample_error(request.function, out.polynomial, request.samples);
    out.parity = parity;
    out.effective_degree = effective_degree;
    if (out.power_basis_roundoff > 0.01 * out.interval_error.max_error &&
        out.power_basis_roundoff > 1e-12) {
        std::ostringstream message;
        message << "power-basis coefficients lose precision: evaluating them in double differs "
                   "from the "
                   "Chebyshev form by up to "
                << out.power_basis_roundoff << " on the interval; evaluate in the Chebyshev basis";
        out.warnings.push_back(message.str());
    }
    return out;
}

}  // namespace henn::approx
