#include "henn/smlp/plain.hpp"

#include <algorithm>
#include <cmath>
#include <random>

namespace henn::smlp {

Dataset from_table(const data::Table& table) {
    if (table.columns == 0 || table.features.size() != table.rows() * table.columns)
        throw SmlpError("smlp: table features do not match its rows and columns");
    Dataset out;
    out.features = table.columns;
    out.outputs = 1;
    out.x = table.features;
    out.y.reserve(table.rows());
    for (std::size_t i = 0; i < table.rows(); ++i) {
        const std::int64_t label = table.labels[i];
        if (label != 0 && label != 1)
            throw SmlpError("smlp: row " + std::to_string(i) + ": label " + std::to_string(label) +
                            " (two classes, 0 and 1, expected)");
        out.y.push_back(label == 1 ? 1.0 : -1.0);
    }
    return out;
}

std::pair<Dataset, Dataset> split(const Dataset& data, std::size_t train_rows) {
    if (train_rows > data.rows()) throw SmlpError("smlp: split beyond the data set");
    Dataset train{data.features, data.outputs, {}, {}}, test = train;
    train.x.assign(data.x.begin(),
                   data.x.begin() + static_cast<std::ptrdiff_t>(train_rows * data.features));
    train.y.assign(data.y.begin(),
                   data.y.begin() + static_cast<std::ptrdiff_t>(train_rows * data.outputs));
    test.x.assign(data.x.begin() + static_cast<std::ptrdiff_t>(train_rows * data.features),
                  data.x.end());
    test.y.assign(data.y.begin() + static_cast<std::ptrdiff_t>(train_rows * data.outputs),
                  data.y.end());
    return {train, test};
}

Dataset shuffle_rows(const Dataset& data, std::uint64_t seed) {
    Dataset out{data.features, data.outputs, {}, {}};
    for (std::size_t row : epoch_order(data.rows(), seed, 0)) {
        out.x.insert(out.x.end(), data.x.begin() + static_cast<std::ptrdiff_t>(row * data.features),
                     data.x.begin() + static_cast<std::ptrdiff_t>((row + 1) * data.features));
        out.y.insert(out.y.end(), data.y.begin() + static_cast<std::ptrdiff_t>(row * data.outputs),
                     data.y.begin() + static_cast<std::ptrdiff_t>((row + 1) * data.outputs));
    }
    return out;
}

Dataset head(const Dataset& data, std::size_t rows) {
    return split(data, std::min(rows, data.rows())).first;
}

void standardize(Dataset& train, Dataset& test, double clip) {
    const std::size_t f = train.features;
    if (train.rows() == 0 || test.features != f) throw SmlpError("smlp: cannot standardize");
    const auto standardizer = data::Standardizer::fit(train.x, f);
    standardizer.apply(train.x, clip);
    standardizer.apply(test.x, clip);
}

PlainModel initial_model(const ModelShape& shape, std::uint64_t seed) {
    shape.validate();
    PlainModel model{shape, {}, {}};
    std::mt19937_64 rng(seed);
    for (std::size_t l = 0; l < shape.layers(); ++l) {
        const std::size_t in = shape.widths[l], out = shape.widths[l + 1];
        const double limit = std::sqrt(6.0 / static_cast<double>(in + out));
        std::vector<double> w(in * out);
        for (double& v : w) v = (static_cast<double>(rng() >> 11) * 0x1.0p-53 * 2 - 1) * limit;
        model.weights.push_back(std::move(w));
        model.biases.emplace_back(out, 0.0);
    }
    return model;
}

PlainModel quantize(const PlainModel& model, unsigned scale_bits) {
    PlainModel q = model;
    const double scale = std::ldexp(1.0, static_cast<int>(scale_bits));
    for (auto* group : {&q.weights, &q.biases})
        for (auto& layer : *group)
            for (double& v : layer) v = std::nearbyint(v * scale) / scale;
    return q;
}

namespace {
// Forward pass in doubles; returns per-layer activations (input first) and pre-activations.
void forward_float(const PlainModel& m, const double* x, std::size_t rows,
                   std::vector<std::vector<double>>& activations,
                   std::vector<std::vector<double>>& pre) {
    activations.assign(1, std::vector<double>(x, x + rows * m.shape.inputs()));
    pre.clear();
    for (std::size_t l = 0; l < m.shape.layers(); ++l) {
        const std::size_t in = m.shape.widths[l], out = m.shape.widths[l + 1];
        std::vector<double> z(rows * out);
        for (std::size_t i = 0; i < rows; ++i)
            for (std::size_t k = 0; k < out; ++k) {
                double s = m.biases[l][k];
                for (std::size_t j = 0; j < in; ++j)
                    s += activations[l][i * in + j] * m.weights[l][j * out + k];
                z[i * out + k] = s;
            }
        pre.push_back(z);
        if (l + 1 < m.shape.layers())
            for (double& v : z) v = std::max(v, 0.0);
        activations.push_back(std::move(z));
    }
}
}  // namespace

std::vector<double> predict(const PlainModel& model, const Dataset& data) {
    std::vector<std::vector<double>> activations, pre;
    forward_float(model, data.x.data(), data.rows(), activations, pre);
    return activations.back();
}

double accuracy(const std::vector<double>& scores, const Dataset& data) {
    const std::size_t rows = data.rows(), k = data.outputs;
    if (rows == 0 || scores.size() != rows * k) throw SmlpError("smlp: accuracy: size mismatch");
    std::size_t correct = 0;
    for (std::size_t i = 0; i < rows; ++i) {
        if (k == 1) {
            correct += (scores[i] >= 0) == (data.y[i] >= 0);
        } else {
            auto argmax = [&](const std::vector<double>& v) {
                return std::max_element(v.begin() + static_cast<std::ptrdiff_t>(i * k),
                                        v.begin() + static_cast<std::ptrdiff_t>((i + 1) * k)) -
                       v.begin();
            };
            correct += argmax(scores) == argmax(data.y);
        }
    }
    return static_cast<double>(correct) / static_cast<double>(rows);
}

double max_abs_difference(const PlainModel& a, const PlainModel& b) {
    if (!(a.shape == b.shape)) throw SmlpError("smlp: models differ in shape");
    double worst = 0;
    for (std::size_t l = 0; l < a.shape.layers(); ++l) {
        for (std::size_t i = 0; i < a.weights[l].size(); ++i)
            worst = std::max(worst, std::abs(a.weights[l][i] - b.weights[l][i]));
        for (std::size_t i = 0; i < a.biases[l].size(); ++i)
            worst = std::max(worst, std::abs(a.biases[l][i] - b.biases[l][i]));
    }
    return worst;
}

namespace {
void check_training_inputs(const PlainModel& model, const Dataset& data, const TrainSchedule& s) {
    model.shape.validate();
    if (data.features != model.shape.inputs() || data.outputs != model.shape.outputs())
        throw SmlpError("smlp: data set does not match the model's input/output widths");
    if (s.batch_size == 0 || data.rows() == 0) throw SmlpError("smlp: empty batch or data set");
}
}  // namespace

PlainModel train_float(PlainModel model, const Dataset& data, const TrainSchedule& schedule) {
    check_training_inputs(model, data, schedule);
    const auto& widths = model.shape.widths;
    const std::size_t layers = model.shape.layers();
    for (std::size_t epoch = 0; epoch < schedule.epochs; ++epoch) {
        const auto order = epoch_order(data.rows(), schedule.seed, epoch);
        for (std::size_t start = 0; start < order.size(); start += schedule.batch_size) {
            const std::size_t b = std::min(schedule.batch_size, order.size() - start);
            std::vector<double> x, y;
            for (std::size_t r = 0; r < b; ++r) {
                const std::size_t row = order[start + r];
                x.insert(x.end(), data.x.begin() + static_cast<std::ptrdiff_t>(row * data.features),
                         data.x.begin() + static_cast<std::ptrdiff_t>((row + 1) * data.features));
                y.insert(y.end(), data.y.begin() + static_cast<std::ptrdiff_t>(row * data.outputs),
                         data.y.begin() + static_cast<std::ptrdiff_t>((row + 1) * data.outputs));
            }
            std::vector<std::vector<double>> act, pre;
            forward_float(model, x.data(), b, act, pre);
            std::vector<double> delta(b * widths[layers]);
            for (std::size_t i = 0; i < delta.size(); ++i) delta[i] = act[layers][i] - y[i];
            const double step = schedule.learning_rate / static_cast<double>(b);
            for (std::size_t l = layers; l-- > 0;) {
                const std::size_t in = widths[l], out = widths[l + 1];
                std::vector<double> previous;
                if (l > 0) {
                    previous.assign(b * in, 0.0);
                    for (std::size_t i = 0; i < b; ++i)
                        for (std::size_t j = 0; j < in; ++j) {
                            double s = 0;
                            for (std::size_t k = 0; k < out; ++k)
                                s += delta[i * out + k] * model.weights[l][j * out + k];
                            previous[i * in + j] = pre[l - 1][i * in + j] > 0 ? s : 0.0;
                        }
                }
                for (std::size_t j = 0; j < in; ++j)
                    for (std::size_t k = 0; k < out; ++k) {
                        double g = 0;
                        for (std::size_t i = 0; i < b; ++i)
                            g += act[l][i * in + j] * delta[i * out + k];
                        model.weights[l][j * out + k] -= step * g;
                    }
                for (std::size_t k = 0; k < out; ++k) {
                    double g = 0;
                    for (std::size_t i = 0; i < b; ++i) g += delta[i * out + k];
                    model.biases[l][k] -= step * g;
                }
                delta = std::move(previous);
            }
        }
    }
    return model;
}

namespace {
using Wide = __int128;  // products at scale 3f exceed 64 bits

// The protocol's rescaling returns floor(v / 2^bits) plus a random carry that is 1 with
// probability frac(v / 2^bits): stochastic rounding, unbiased. Its deterministic counterpart is
// rounding to nearest; floor would drift from it by half a unit per rescale.
Wide rescale(Wide v, unsigned bits) {
    return (v + (Wide{1} << (bits - 1))) >> bits;
}

std::int64_t to_fixed(double v, unsigned f) {
    return static_cast<std::int64_t>(std::nearbyint(std::ldexp(v, static_cast<int>(f))));
}
}  // namespace

PlainModel train_fixed_point(const PlainModel& initial, const Dataset& data,
                             const TrainSchedule& schedule, const FixedPointConfig& config) {
    check_training_inputs(initial, data, schedule);
    const unsigned f = config.scale_bits;
    const auto& widths = initial.shape.widths;
    const std::size_t layers = initial.shape.layers();
    std::vector<std::vector<Wide>> w(layers), bias(layers);
    for (std::size_t l = 0; l < layers; ++l) {
        for (double v : initial.weights[l]) w[l].push_back(to_fixed(v, f));
        for (double v : initial.biases[l]) bias[l].push_back(to_fixed(v, f));
    }
    for (std::size_t epoch = 0; epoch < schedule.epochs; ++epoch) {
        const auto order = epoch_order(data.rows(), schedule.seed, epoch);
        for (std::size_t start = 0; start < order.size(); start += schedule.batch_size) {
            const std::size_t b = std::min(schedule.batch_size, order.size() - start);
            const Wide step = step_integer(schedule.learning_rate, b, f);
            std::vector<std::vector<Wide>> act(1), positive(layers);
            std::vector<Wide> y;
            for (std::size_t r = 0; r < b; ++r) {
                const std::size_t row = order[start + r];
                for (std::size_t j = 0; j < data.features; ++j)
                    act[0].push_back(to_fixed(data.x[row * data.features + j], f));
                for (std::size_t k = 0; k < data.outputs; ++k)
                    y.push_back(to_fixed(data.y[row * data.outputs + k], f));
            }
            for (std::size_t l = 0; l < layers; ++l) {
                const std::size_t in = widths[l], out = widths[l + 1];
                std::vector<Wide> next(b * out);
                positive[l].assign(b * out, 0);
                for (std::size_t i = 0; i < b; ++i)
                    for (std::size_t k = 0; k < out; ++k) {
                        Wide z = bias[l][k] << f;  // scale 2f
                        for (std::size_t j = 0; j < in; ++j)
                            z += act[l][i * in + j] * w[l][j * out + k];
                        if (l + 1 < layers) {
                            positive[l][i * out + k] = z > 0;
                            next[i * out + k] = z > 0 ? rescale(z, f) : 0;
                        } else {
                            next[i * out + k] = rescale(z, f);
                        }
                    }
                act.push_back(std::move(next));
            }
            std::vector<Wide> delta(b * widths[layers]);
            for (std::size_t i = 0; i < delta.size(); ++i) delta[i] = act[layers][i] - y[i];
            for (std::size_t l = layers; l-- > 0;) {
                const std::size_t in = widths[l], out = widths[l + 1];
                std::vector<Wide> previous;
                if (l > 0) {
                    previous.assign(b * in, 0);
                    for (std::size_t i = 0; i < b; ++i)
                        for (std::size_t j = 0; j < in; ++j) {
                            Wide e = 0;  // scale 2f
                            for (std::size_t k = 0; k < out; ++k)
                                e += delta[i * out + k] * w[l][j * out + k];
                            previous[i * in + j] = positive[l - 1][i * in + j] * rescale(e, f);
                        }
                }
                for (std::size_t j = 0; j < in; ++j)
                    for (std::size_t k = 0; k < out; ++k) {
                        Wide g = 0;  // scale 2f
                        for (std::size_t i = 0; i < b; ++i)
                            g += act[l][i * in + j] * delta[i * out + k];
                        w[l][j * out + k] -= rescale(g * step, 2 * f);
                    }
                for (std::size_t k = 0; k < out; ++k) {
                    Wide g = 0;  // scale f
                    for (std::size_t i = 0; i < b; ++i) g += delta[i * out + k];
                    bias[l][k] -= rescale(g * step, f);
                }
                delta = std::move(previous);
            }
        }
    }
    PlainModel result = initial;
    for (std::size_t l = 0; l < layers; ++l) {
        for (std::size_t i = 0; i < w[l].size(); ++i)
            result.weights[l][i] = std::ldexp(static_cast<double>(w[l][i]), -static_cast<int>(f));
        for (std::size_t i = 0; i < bias[l].size(); ++i)
            result.biases[l][i] = std::ldexp(static_cast<double>(bias[l][i]), -static_cast<int>(f));
    }
    return result;
}

}  // namespace henn::smlp
