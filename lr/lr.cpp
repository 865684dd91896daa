#include "henn/lr/lr.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <sstream>

#include "henn/approx/approximate.hpp"
#include "henn/data/data.hpp"

namespace henn::lr {

namespace {

double true_sigmoid(double u) {
    return 1.0 / (1.0 + std::exp(-u));
}

std::size_t next_power_of_two(std::size_t x) {
    std::size_t p = 1;
    while (p < x) p *= 2;
    return p;
}

// sum_i f(-v . z_i) z_i over the rows, z_i = (2 y_i - 1) [1, x_i]; also the largest |v . z_i|.
template <typename F>
std::vector<double> weighted_row_sum(const Problem& data, const std::vector<double>& v, F&& f,
                                     double* largest_inner = nullptr) {
    const std::size_t d = data.features + 1;
    std::vector<double> sum(d, 0.0), z(d);
    for (std::size_t i = 0; i < data.rows(); ++i) {
        const double sign = data.y[i] ? 1.0 : -1.0;
        z[0] = sign;
        for (std::size_t j = 0; j < data.features; ++j)
            z[j + 1] = sign * data.x[i * data.features + j];
        double u = 0;
        for (std::size_t j = 0; j < d; ++j) u += v[j] * z[j];
        if (largest_inner) *largest_inner = std::max(*largest_inner, std::abs(u));
        const double s = f(-u);
        for (std::size_t j = 0; j < d; ++j) sum[j] += s * z[j];
    }
    return sum;
}

// The shared update: v_{t+1} = keep v_t + gradient * sum + previous theta_t,
// theta_{t+1} = (v_{t+1} + mu theta_t) / (1 + mu).
template <typename F>
Model run(const Problem& train, const Hyperparameters& hyper, F&& f,
          double* largest_inner = nullptr) {
    train.validate();
    const std::size_t d = train.features + 1;
    std::vector<double> v(d, 0.0), theta(d, 0.0);
    for (const StepConstants& c : schedule(hyper, train.rows())) {
        const std::vector<double> sum = weighted_row_sum(train, v, f, largest_inner);
        std::vector<double> next(d);
        for (std::size_t j = 0; j < d; ++j)
            next[j] = c.keep * v[j] + c.gradient * sum[j] + c.previous * theta[j];
        for (std::size_t j = 0; j < d; ++j) theta[j] = (next[j] + c.mu * theta[j]) / (1.0 + c.mu);
        v = std::move(next);
    }
    return Model{theta};
}

}  // namespace

void Problem::validate() const {
    if (features == 0) throw LrError("a problem needs at least one feature");
    if (y.empty()) throw LrError("a problem needs at least one row");
    if (x.size() != y.size() * features) throw LrError("features do not match rows x features");
    for (int label : y)
        if (label != 0 && label != 1) throw LrError("labels must be 0 or 1", ErrorCategory::data);
    for (double value : x)
        if (!std::isfinite(value)) throw LrError("non-finite feature value", ErrorCategory::data);
}

Problem synthetic_problem(std::size_t rows, std::size_t features, std::uint64_t seed) {
    if (rows == 0 || features == 0) throw LrError("synthetic data needs rows and features");
    // mt19937_64's output is fixed by the standard; the distributions are not, so normal and
    // uniform variates are made here by Box-Muller and 53-bit division.
    std::mt19937_64 rng(seed);
    auto uniform = [&] { return static_cast<double>(rng() >> 11) * 0x1.0p-53; };
    auto normal = [&] {
        const double a = std::max(uniform(), 1e-300), b = uniform();
        return std::sqrt(-2.0 * std::log(a)) * std::cos(2.0 * M_PI * b);
    };
    std::vector<double> w(features + 1);
    for (auto& value : w) value = normal() * 1.5 / std::sqrt(static_cast<double>(features));
    Problem p;
    p.features = features;
    p.x.resize(rows * features);
    p.y.resize(rows);
    for (std::size_t i = 0; i < rows; ++i) {
        double u = w[0];
        for (std::size_t j = 0; j < features; ++j) {
            const double value = std::clamp(normal(), -4.0, 4.0);
            p.x[i * features + j] = value;
            u += w[j + 1] * value;
        }
        p.y[i] = uniform() < true_sigmoid(3.0 * u) ? 1 : 0;
    }
    return p;
}

Problem problem_from_table(const data::Table& table) {
    Problem p;
    p.features = table.columns;
    p.x = table.features;
    p.y.reserve(table.labels.size());
    for (auto label : table.labels) {
        if (label != 0 && label != 1)
            throw LrError("labels must be 0 or 1 (found " + std::to_string(label) + ")",
                          ErrorCategory::data);
        p.y.push_back(static_cast<int>(label));
    }
    return p;
}

Split split_rows(const Problem& all, double train_fraction, std::uint64_t seed) {
    all.validate();
    if (!(train_fraction > 0 && train_fraction <= 1))
        throw LrError("train fraction must be in (0, 1]");
    std::vector<std::size_t> order(all.rows());
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng(seed);
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
    const auto train_rows =
        static_cast<std::size_t>(std::llround(static_cast<double>(all.rows()) * train_fraction));
    if (train_rows == 0 || (train_fraction < 1 && train_rows == all.rows()))
        throw LrError("the split leaves a part empty");
    Split s;
    for (Problem* part : {&s.train, &s.test}) part->features = all.features;
    for (std::size_t k = 0; k < order.size(); ++k) {
        Problem& part = k < train_rows ? s.train : s.test;
        const std::size_t i = order[k];
        part.x.insert(part.x.end(), all.x.begin() + static_cast<long>(i * all.features),
                      all.x.begin() + static_cast<long>((i + 1) * all.features));
        part.y.push_back(all.y[i]);
    }
    return s;
}

Split split_and_standardize(const Problem& all, double train_fraction, std::uint64_t seed,
                            double clip) {
    if (!(train_fraction > 0 && train_fraction < 1))
        throw LrError("train fraction must be in (0, 1)");
    Split s = split_rows(all, train_fraction, seed);
    const auto standardizer = data::Standardizer::fit(s.train.x, all.features);
    standardizer.apply(s.train.x, clip);
    standardizer.apply(s.test.x, clip);
    return s;
}

std::string optimizer_name(Optimizer optimizer) {
    return optimizer == Optimizer::nesterov ? "nesterov" : "gd";
}

Optimizer parse_optimizer(const std::string& name) {
    if (name == "nesterov") return Optimizer::nesterov;
    if (name == "gd") return Optimizer::gradient_descent;
    throw LrError("unknown optimizer '" + name + "' (expected nesterov or gd)");
}

SigmoidApproximation make_sigmoid(const std::string& spec, double bound) {
    if (!(bound > 0 && std::isfinite(bound)))
        throw LrError("the sigmoid interval bound must be positive");
    SigmoidApproximation s;
    s.bound = bound;
    const approx::Interval interval{-bound, bound};
    if (spec == "poly3") {
        const std::vector<double> power{0.5, 0.197, 0.0, -0.004};
        s.p = approx::ChebyshevPolynomial::from_power_basis(power, interval);
        s.degree = 3;
        s.name = "poly3 (0.5 + 0.197x - 0.004x^3)";
    } else {
        const auto colon = spec.find(':');
        const std::string method = spec.substr(0, colon);
        int degree = 0;
        if (colon != std::string::npos) {
            try {
                degree = std::stoi(spec.substr(colon + 1));
            } catch (const std::exception&) {
                degree = 0;
            }
        }
        if ((method != "minimax" && method != "least-squares") ||
            (degree != 3 && degree != 5 && degree != 7))
            throw LrError("unknown sigmoid '" + spec +
                          "' (expected poly3, minimax:D or least-squares:D, D in 3, 5, 7)");
        approx::ApproxRequest request;
        request.function = approx::builtin_function("sigmoid");
        request.method = approx::parse_method(method);
        request.degree = degree;
        request.interval = interval;
        // Sigmoid - 1/2 is odd: keep exactly the odd terms (and the constant), which halves the
        // encrypted evaluation's baby steps.
        s.p = approx::approximate(request).polynomial.with_parity(approx::Parity::Odd, true);
        s.degree = degree;
        std::ostringstream name;
        name << spec << " on [" << -bound << ", " << bound << "]";
        s.name = name.str();
    }
    for (int k = 0; k <= 2000; ++k) {
        const double u = -bound + 2.0 * bound * k / 2000.0;
        s.max_error = std::max(s.max_error, std::abs(true_sigmoid(u) - s.p.evaluate(u)));
    }
    return s;
}

std::vector<StepConstants> schedule(const Hyperparameters& hyper, std::size_t rows) {
    if (hyper.iterations < 1) throw LrError("at least one iteration");
    if (!(hyper.learning_rate > 0) || !(hyper.l2 >= 0))
        throw LrError("learning rate > 0 and l2 >= 0 required");
    const double m = static_cast<double>(rows);
    const double decay = 1.0 - hyper.learning_rate * hyper.l2 / m;
    std::vector<StepConstants> out;
    double s = 1.0;
    for (int t = 0; t < hyper.iterations; ++t) {
        const double s_next = (1.0 + std::sqrt(1.0 + 4.0 * s * s)) / 2.0;
        StepConstants c;
        c.mu = hyper.optimizer == Optimizer::nesterov ? (s - 1.0) / s_next : 0.0;
        c.gradient = (1.0 + c.mu) * hyper.learning_rate / m;
        c.keep = (1.0 + c.mu) * decay;
        c.previous = -c.mu;
        out.push_back(c);
        s = s_next;
    }
    return out;
}

double Model::score(const double* x, std::size_t features) const {
    if (weights.size() != features + 1)
        throw LrError("model and data have different feature counts");
    double u = weights[0];
    for (std::size_t j = 0; j < features; ++j) u += weights[j + 1] * x[j];
    return u;
}

double max_weight_difference(const Model& a, const Model& b) {
    if (a.weights.size() != b.weights.size()) {
        throw LrError("models of " + std::to_string(a.weights.size()) + " and " +
                      std::to_string(b.weights.size()) + " coefficients");
    }
    double worst = 0;
    for (std::size_t j = 0; j < a.weights.size(); ++j)
        worst = std::max(worst, std::abs(a.weights[j] - b.weights[j]));
    return worst;
}

Metrics evaluate(const Model& model, const Problem& data) {
    data.validate();
    std::vector<std::pair<double, int>> scored(data.rows());
    std::size_t correct = 0;
    for (std::size_t i = 0; i < data.rows(); ++i) {
        const double u = model.score(&data.x[i * data.features], data.features);
        if (!std::isfinite(u))
            throw LrError("the model gives a non-finite score (diverged training)",
                          ErrorCategory::data);
        scored[i] = {u, data.y[i]};
        correct += (u > 0) == (data.y[i] == 1);
    }
    Metrics m;
    m.accuracy = static_cast<double>(correct) / static_cast<double>(data.rows());
    // AUC by ranks (Mann-Whitney), ties averaged.
    std::sort(scored.begin(), scored.end());
    double positives = 0, rank_sum = 0;
    for (std::size_t i = 0; i < scored.size();) {
        std::size_t j = i + 1;
        while (j < scored.size() && scored[j].first == scored[i].first) ++j;
        const double rank = 0.5 * static_cast<double>(i + 1 + j);
        for (std::size_t k = i; k < j; ++k)
            if (scored[k].second == 1) {
                rank_sum += rank;
                positives += 1;
            }
        i = j;
    }
    const double negatives = static_cast<double>(scored.size()) - positives;
    m.auc = positives > 0 && negatives > 0
                ? (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)
                : 0.5;
    return m;
}

Model train_float(const Problem& train, const Hyperparameters& hyper) {
    return run(train, hyper, true_sigmoid);
}

Model train_reference(const Problem& train, const Hyperparameters& hyper,
                      const SigmoidApproximation& sigmoid) {
    return run(train, hyper, [&](double u) { return sigmoid.evaluate(u); });
}

double sigmoid_bound_from_data(const Problem& train, const Hyperparameters& hyper) {
    double largest = 0;
    run(train, hyper, true_sigmoid, &largest);
    return std::max(4.0, std::ceil(1.25 * largest));
}

Packing Packing::make(std::size_t rows, std::size_t features, std::size_t slots) {
    Packing p;
    p.features = features;
    p.block = next_power_of_two(features + 1);
    p.slots = slots;
    p.rows = rows;
    if (rows == 0 || p.block > slots)
        throw LrError("the rows do not fit the slots", ErrorCategory::parameters);
    p.rows_per_ciphertext = slots / p.block;
    p.ciphertexts = (rows + p.rows_per_ciphertext - 1) / p.rows_per_ciphertext;
    return p;
}

std::vector<std::vector<double>> pack_rows(const Problem& data, const Packing& packing) {
    data.validate();
    if (data.rows() != packing.rows || data.features != packing.features)
        throw LrError("the packing was made for another shape");
    std::vector<std::vector<double>> out(packing.ciphertexts,
                                         std::vector<double>(packing.slots, 0.0));
    for (std::size_t i = 0; i < data.rows(); ++i) {
        auto& slots = out[i / packing.rows_per_ciphertext];
        const std::size_t base = (i % packing.rows_per_ciphertext) * packing.block;
        const double sign = data.y[i] ? 1.0 : -1.0;
        slots[base] = sign;
        for (std::size_t j = 0; j < data.features; ++j)
            slots[base + 1 + j] = sign * data.x[i * data.features + j];
    }
    return out;
}

std::vector<std::vector<double>> pack_features(const Problem& data, const Packing& packing) {
    if (data.features != packing.features || data.x.size() != packing.rows * data.features)
        throw LrError("the packing was made for another shape");
    for (double value : data.x)
        if (!std::isfinite(value)) throw LrError("non-finite feature value", ErrorCategory::data);
    std::vector<std::vector<double>> out(packing.ciphertexts,
                                         std::vector<double>(packing.slots, 0.0));
    for (std::size_t i = 0; i < packing.rows; ++i) {
        auto& slots = out[i / packing.rows_per_ciphertext];
        const std::size_t base = (i % packing.rows_per_ciphertext) * packing.block;
        slots[base] = 1.0;
        for (std::size_t j = 0; j < data.features; ++j)
            slots[base + 1 + j] = data.x[i * data.features + j];
    }
    return out;
}

std::vector<double> unpack_scores(const std::vector<std::vector<double>>& slots,
                                  const Packing& packing) {
    if (slots.size() != packing.ciphertexts)
        throw LrError("expected " + std::to_string(packing.ciphertexts) +
                          " score ciphertexts, got " + std::to_string(slots.size()),
                      ErrorCategory::data);
    std::vector<double> scores(packing.rows);
    for (std::size_t i = 0; i < packing.rows; ++i) {
        const auto& s = slots[i / packing.rows_per_ciphertext];
        const std::size_t at = (i % packing.rows_per_ciphertext) * packing.block;
        if (at >= s.size()) throw LrError("too few slots for the scores", ErrorCategory::data);
        scores[i] = s[at];
    }
    return scores;
}

std::vector<double> pack_weights(const std::vector<double>& weights, const Packing& packing) {
    if (weights.size() != packing.features + 1) throw LrError("weights do not match the packing");
    std::vector<double> slots(packing.slots, 0.0);
    for (std::size_t b = 0; b < packing.rows_per_ciphertext; ++b)
        std::copy(weights.begin(), weights.end(),
                  slots.begin() + static_cast<long>(b * packing.block));
    return slots;
}

std::vector<double> unpack_weights(const std::vector<double>& slots, const Packing& packing) {
    if (slots.size() < packing.features + 1) throw LrError("too few slots for the weights");
    return {slots.begin(), slots.begin() + static_cast<long>(packing.features + 1)};
}

}  // namespace henn::lr
