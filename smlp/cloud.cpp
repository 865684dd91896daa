#include "henn/smlp/cloud.hpp"

#include <chrono>
#include <deque>

#include "henn/math/parallel.hpp"
#include "henn/paillier/multiexp.hpp"
#include "henn/paillier/random.hpp"

namespace henn::smlp {

using paillier::PowerTable;
using paillier::random_below;
using paillier::random_bits;

void EncryptedModel::validate() const {
    shape.validate();
    if (weights.size() != shape.layers() || biases.size() != shape.layers())
        throw SmlpError("smlp: encrypted model has the wrong number of layers");
    for (std::size_t l = 0; l < shape.layers(); ++l)
        if (weights[l].size() != shape.widths[l] * shape.widths[l + 1] ||
            biases[l].size() != shape.widths[l + 1])
            throw SmlpError("smlp: encrypted model layer " + std::to_string(l) +
                            " has the wrong size");
}

struct Cloud::Matrix {
    std::size_t rows = 0, cols = 0;
    std::vector<Ciphertext> v;
    Matrix() = default;
    Matrix(std::size_t r, std::size_t c) : rows(r), cols(c), v(r * c) {}
    Ciphertext& at(std::size_t i, std::size_t j) { return v[i * cols + j]; }
    const Ciphertext& at(std::size_t i, std::size_t j) const { return v[i * cols + j]; }
    Matrix transposed() const {
        Matrix t(cols, rows);
        for (std::size_t i = 0; i < rows; ++i)
            for (std::size_t j = 0; j < cols; ++j) t.at(j, i) = at(i, j);
        return t;
    }
};

struct Cloud::ForwardState {
    std::vector<Matrix> activations;  // input first, scale f
    std::vector<Matrix> steps;        // per hidden layer, Enc(0/1)
};

Cloud::Cloud(paillier::PublicKey key, FixedPointConfig config, HelperLink& helper)
    : key_(std::move(key)), config_(config), helper_(helper) {
    config_.validate(key_);
    if (!(helper_.public_key() == key_))
        throw SmlpError("smlp: S2 decrypts under a different key than the owner's public key");
}

void Cloud::set_model(EncryptedModel model) {
    model.validate();
    model_ = std::move(model);
}

const EncryptedModel& Cloud::model() const {
    if (!model_) throw SmlpError("smlp: no model has been set up");
    return *model_;
}

void Cloud::add_data(const EncryptedDataset& data) {
    if (data.features == 0 || data.outputs == 0 || data.x.size() % data.features != 0 ||
        data.y.size() != data.rows() * data.outputs)
        throw SmlpError("smlp: encrypted data set has inconsistent sizes");
    if (data_.features != 0 && (data_.features != data.features || data_.outputs != data.outputs))
        throw SmlpError("smlp: uploaded rows differ in width from earlier ones");
    data_.features = data.features;
    data_.outputs = data.outputs;
    data_.x.insert(data_.x.end(), data.x.begin(), data.x.end());
    data_.y.insert(data_.y.end(), data.y.begin(), data.y.end());
}

void Cloud::clear_data() {
    data_ = EncryptedDataset{};
}

// Products of encrypted matrices (and element-wise products) with S2's help. S1 draws uniform
// masks U < 2^mb and sends A' = A - R with R = U - 2^(mb+1), rerandomized: A' is positive and below
// 2^(mb+2), so S2 can decrypt it modulo p alone. S2 returns Enc(A'B'), and
// AB = A'B' + A S + R B - R S, where A S = A U_S - 2^(mb+1) rowsum(A) (likewise R B): sums of
// ciphertext powers with non-negative exponents (multi-exponentiations) and a few corrections.
std::vector<Cloud::Matrix> Cloud::products(
    const std::vector<std::pair<const Matrix*, const Matrix*>>& pairs,
    const std::vector<std::pair<const Matrix*, const Matrix*>>& elementwise) {
    const unsigned mask_bits = config_.product_mask_bits();
    const mpz_class offset = mpz_class(1) << (mask_bits + 1);
    MultiplyRequest request;
    request.operand_bits = mask_bits + 2;
    std::vector<std::vector<mpz_class>> left_masks, right_masks;  // U
    auto masked = [&](const Matrix& m, std::vector<mpz_class>& masks) {
        std::vector<Ciphertext> out;
        out.reserve(m.v.size());
        for (const auto& c : m.v) {
            masks.push_back(random_bits(mask_bits));
            out.push_back(key_.rerandomize(key_.add_plain(c, offset - masks.back())));
        }
        return out;
    };
    for (const auto& [a, b] : pairs) {
        if (a->cols != b->rows) throw SmlpError("smlp: internal: matrix shapes do not chain");
        MaskedProduct p;
        p.kind = MaskedProduct::Kind::matrix;
        p.rows = a->rows;
        p.inner = a->cols;
        p.cols = b->cols;
        left_masks.emplace_back();
        right_masks.emplace_back();
        p.left = masked(*a, left_masks.back());
        p.right = masked(*b, right_masks.back());
        request.products.push_back(std::move(p));
    }
    for (const auto& [a, b] : elementwise) {
        if (a->v.size() != b->v.size())
            throw SmlpError("smlp: internal: element-wise size mismatch");
        MaskedProduct p;
        p.kind = MaskedProduct::Kind::elementwise;
        left_masks.emplace_back();
        right_masks.emplace_back();
        p.left = masked(*a, left_masks.back());
        p.right = masked(*b, right_masks.back());
        request.products.push_back(std::move(p));
    }
    const MultiplyResponse response = helper_.multiply(request);
    if (response.results.size() != request.products.size())
        throw SmlpError("smlp: S2 answered a different number of products");

    std::vector<Matrix> results;
    for (std::size_t p = 0; p < request.products.size(); ++p) {
        const auto& masked_product = request.products[p];
        if (response.results[p].size() != masked_product.result_size())
            throw SmlpError("smlp: S2 answered a product of the wrong size");
        for (const auto& c : response.results[p]) key_.check_ciphertext(c);
        const auto& u_r = left_masks[p];
        const auto& u_s = right_masks[p];
        if (p < pairs.size()) {
            const Matrix& a = *pairs[p].first;
            const Matrix& b = *pairs[p].second;
            const std::size_t n = a.cols;
            std::deque<PowerTable> a_tables, b_tables;
            for (const auto& c : a.v) a_tables.emplace_back(key_, c);
            for (const auto& c : b.v) b_tables.emplace_back(key_, c);
            // -2^(mb+1) (rowsum_i(A) + colsum_k(B)), split per row and per column.
            std::vector<Ciphertext> row_terms(a.rows), col_terms(b.cols);
            for (std::size_t i = 0; i < a.rows; ++i) {
                Ciphertext sum = a.at(i, 0);
                for (std::size_t j = 1; j < n; ++j) sum = key_.add(sum, a.at(i, j));
                row_terms[i] = key_.mul_plain(sum, -offset);
            }
            for (std::size_t k = 0; k < b.cols; ++k) {
                Ciphertext sum = b.at(0, k);
                for (std::size_t j = 1; j < n; ++j) sum = key_.add(sum, b.at(j, k));
                col_terms[k] = key_.mul_plain(sum, -offset);
            }
            Matrix out(a.rows, b.cols);
            std::vector<const PowerTable*> tables(2 * n);
            std::vector<const mpz_class*> exponents(2 * n);
            for (std::size_t i = 0; i < a.rows; ++i)
                for (std::size_t k = 0; k < b.cols; ++k) {
                    mpz_class rs = 0;
                    for (std::size_t j = 0; j < n; ++j) {
                        tables[j] = &a_tables[i * n + j];
                        exponents[j] = &u_s[j * b.cols + k];
                        tables[n + j] = &b_tables[j * b.cols + k];
                        exponents[n + j] = &u_r[i * n + j];
                        rs += (u_r[i * n + j] - offset) * (u_s[j * b.cols + k] - offset);
                    }
                    Ciphertext value =
                        paillier::multi_exponentiate(key_, tables, exponents, mask_bits);
                    value = key_.add(value, key_.add(row_terms[i], col_terms[k]));
                    out.at(i, k) =
                        key_.add_plain(key_.add(response.results[p][i * b.cols + k], value), -rs);
                }
            results.push_back(std::move(out));
        } else {
            const Matrix& a = *elementwise[p - pairs.size()].first;
            const Matrix& b = *elementwise[p - pairs.size()].second;
            Matrix out(a.rows, a.cols);
            for (std::size_t i = 0; i < a.v.size(); ++i) {
                const mpz_class r = u_r[i] - offset, s = u_s[i] - offset;
                const Ciphertext as = key_.mul_plain(a.v[i], s);
                const Ciphertext rb = key_.mul_plain(b.v[i], r);
                out.v[i] =
                    key_.add_plain(key_.add(key_.add(response.results[p][i], as), rb), -(r * s));
            }
            results.push_back(std::move(out));
        }
    }
    return results;
}

Cloud::Matrix Cloud::product(const Matrix& left, const Matrix& right) {
    return std::move(products({{&left, &right}}, {}).front());
}

// ReLU of values at scale 2f, rescaled to scale f. S2 sees each value only multiplied by a
// random positive factor (its sign survives) and, separately, additively masked; the batch is
// permuted with a secret permutation so S2 cannot tell which neuron or sample a sign belongs to.
void Cloud::relu(const Matrix& wide, Matrix& activation, Matrix& step) {
    const unsigned f = config_.scale_bits, value_bits = config_.wide_bits,
                   stat = config_.statistical_bits;
    const std::size_t count = wide.v.size();
    std::vector<std::size_t> permutation(count);
    for (std::size_t i = 0; i < count; ++i) permutation[i] = i;
    for (std::size_t i = count; i > 1; --i)
        std::swap(permutation[i - 1], permutation[random_below(i).get_ui()]);

    ReluRequest request;
    request.shift = f;
    request.value_bits = value_bits;
    request.statistical_bits = stat;
    std::vector<mpz_class> masks(count);
    const mpz_class offset = mpz_class(1) << value_bits;
    const mpz_class probe_offset = mpz_class(1) << (value_bits + stat);  // keeps probes positive
    for (std::size_t slot = 0; slot < count; ++slot) {
        const std::size_t i = permutation[slot];
        const mpz_class factor = random_bits(stat) + 1;
        masks[i] = random_bits(value_bits + stat);
        request.probes.push_back(
            key_.rerandomize(key_.add_plain(key_.mul_plain(wide.v[i], factor), probe_offset)));
        request.carriers.push_back(key_.rerandomize(key_.add_plain(wide.v[i], offset + masks[i])));
    }
    const ReluResponse response = helper_.relu(request);
    if (response.steps.size() != count || response.relus.size() != count)
        throw SmlpError("smlp: S2 answered a ReLU request of the wrong size");
    activation = Matrix(wide.rows, wide.cols);
    step = Matrix(wide.rows, wide.cols);
    const mpz_class offset_after_shift = mpz_class(1) << (value_bits - f);
    for (std::size_t slot = 0; slot < count; ++slot) {
        const std::size_t i = permutation[slot];
        key_.check_ciphertext(response.steps[slot]);
        key_.check_ciphertext(response.relus[slot]);
        // S2 returned bit * (q + c) with c = 2^(V-f) + floor(m / 2^f): subtract bit * c.
        const mpz_class c = offset_after_shift + (masks[i] >> f);
        step.v[i] = response.steps[slot];
        activation.v[i] = key_.sub(response.relus[slot], key_.mul_plain(response.steps[slot], c));
    }
}

std::vector<Ciphertext> Cloud::rescale(const std::vector<Ciphertext>& values,
                                       const std::vector<unsigned>& shifts) {
    const unsigned value_bits = config_.wide_bits, stat = config_.statistical_bits;
    RescaleRequest request;
    request.value_bits = value_bits;
    request.statistical_bits = stat;
    request.shifts = shifts;
    std::vector<mpz_class> masks;
    const mpz_class offset = mpz_class(1) << value_bits;
    for (const auto& v : values) {
        masks.push_back(random_bits(value_bits + stat));
        request.values.push_back(key_.rerandomize(key_.add_plain(v, offset + masks.back())));
    }
    const RescaleResponse response = helper_.rescale(request);
    if (response.values.size() != values.size())
        throw SmlpError("smlp: S2 answered a rescale request of the wrong size");
    std::vector<Ciphertext> out;
    for (std::size_t i = 0; i < values.size(); ++i) {
        key_.check_ciphertext(response.values[i]);
        const mpz_class c = (mpz_class(1) << (value_bits - shifts[i])) + (masks[i] >> shifts[i]);
        out.push_back(key_.add_plain(response.values[i], -c));
    }
    return out;
}

Cloud::ForwardState Cloud::forward(const Matrix& input, bool keep_for_training) {
    const EncryptedModel& m = model();
    const unsigned f = config_.scale_bits;
    ForwardState state;
    state.activations.push_back(input);
    for (std::size_t l = 0; l < m.shape.layers(); ++l) {
        Matrix w(m.shape.widths[l], m.shape.widths[l + 1]);
        w.v = m.weights[l];
        Matrix z = product(state.activations.back(), w);  // scale 2f
        std::vector<Ciphertext> bias;
        for (const auto& b : m.biases[l]) bias.push_back(key_.mul_plain(b, mpz_class(1) << f));
        for (std::size_t i = 0; i < z.rows; ++i)
            for (std::size_t k = 0; k < z.cols; ++k) z.at(i, k) = key_.add(z.at(i, k), bias[k]);
        if (l + 1 < m.shape.layers()) {
            Matrix activation, step;
            relu(z, activation, step);
            state.activations.push_back(std::move(activation));
            if (keep_for_training) state.steps.push_back(std::move(step));
        } else {
            Matrix out(z.rows, z.cols);
            out.v = rescale(z.v, std::vector<unsigned>(z.v.size(), f));
            state.activations.push_back(std::move(out));
        }
        if (!keep_for_training && state.activations.size() > 2)
            state.activations.erase(state.activations.begin());  // only the last is needed
    }
    return state;
}

void Cloud::train_batch(const std::vector<std::size_t>& rows, const TrainSchedule& schedule) {
    EncryptedModel& m = *model_;
    const unsigned f = config_.scale_bits;
    const std::size_t b = rows.size(), layers = m.shape.layers();
    const mpz_class step(static_cast<long>(step_integer(schedule.learning_rate, b, f)));

    Matrix x(b, data_.features), y(b, data_.outputs);
    for (std::size_t r = 0; r < b; ++r) {
        for (std::size_t j = 0; j < data_.features; ++j)
            x.at(r, j) = data_.x[rows[r] * data_.features + j];
        for (std::size_t k = 0; k < data_.outputs; ++k)
            y.at(r, k) = data_.y[rows[r] * data_.outputs + k];
    }
    ForwardState state = forward(x, true);
    Matrix delta = state.activations.back();  // scale f
    for (std::size_t i = 0; i < delta.v.size(); ++i) delta.v[i] = key_.sub(delta.v[i], y.v[i]);

    for (std::size_t l = layers; l-- > 0;) {
        const std::size_t in = m.shape.widths[l], out = m.shape.widths[l + 1];
        Matrix w(in, out);
        w.v = m.weights[l];
        const Matrix activation_t = state.activations[l].transposed();
        const Matrix w_t = w.transposed();
        std::vector<std::pair<const Matrix*, const Matrix*>> pairs{{&activation_t, &delta}};
        if (l > 0) pairs.push_back({&delta, &w_t});
        std::vector<Matrix> prods =
            products(pairs, {});  // gradient (in x out), back (b x in), scale 2f

        // One rescale round for the weight and bias updates and the back-propagated error.
        std::vector<Ciphertext> values;
        std::vector<unsigned> shifts;
        for (const auto& g : prods[0].v) {
            values.push_back(key_.mul_plain(g, step));  // scale 3f
            shifts.push_back(2 * f);
        }
        for (std::size_t k = 0; k < out; ++k) {
            Ciphertext sum = delta.at(0, k);
            for (std::size_t i = 1; i < b; ++i) sum = key_.add(sum, delta.at(i, k));
            values.push_back(key_.mul_plain(sum, step));  // scale 2f
            shifts.push_back(f);
        }
        if (l > 0)
            for (const auto& e : prods[1].v) {
                values.push_back(e);
                shifts.push_back(f);
            }
        const std::vector<Ciphertext> scaled = rescale(values, shifts);
        for (std::size_t i = 0; i < in * out; ++i)
            m.weights[l][i] = key_.sub(m.weights[l][i], scaled[i]);
        for (std::size_t k = 0; k < out; ++k)
            m.biases[l][k] = key_.sub(m.biases[l][k], scaled[in * out + k]);
        if (l > 0) {
            Matrix back(b, in);
            back.v.assign(scaled.begin() + static_cast<std::ptrdiff_t>(in * out + out),
                          scaled.end());
            delta = std::move(products({}, {{&state.steps[l - 1], &back}}).front());
        }
    }
}

TrainingReport Cloud::train(const TrainSchedule& schedule, const EpochCallback& on_epoch) {
    if (!model_) throw SmlpError("smlp: no model has been set up");
    if (data_.rows() == 0) throw SmlpError("smlp: no training data has been uploaded");
    if (data_.features != model_->shape.inputs() || data_.outputs != model_->shape.outputs())
        throw SmlpError("smlp: uploaded data does not match the model's input/output widths");
    if (schedule.batch_size == 0 || schedule.batch_size > 4096)
        throw SmlpError("smlp: batch size must be in [1, 4096]");
    if (schedule.epochs > 100000) throw SmlpError("smlp: too many epochs");
    (void)step_integer(schedule.learning_rate, schedule.batch_size, config_.scale_bits);
    TrainingReport report;
    for (std::size_t epoch = 0; epoch < schedule.epochs; ++epoch) {
        const Traffic before = helper_.traffic();
        const double s1_cpu_before = math::process_cpu_seconds(),
                     s2_cpu_before = helper_.helper_cpu_seconds();
        const auto start = std::chrono::steady_clock::now();
        const auto order = epoch_order(data_.rows(), schedule.seed, epoch);
        for (std::size_t first = 0; first < order.size(); first += schedule.batch_size) {
            const std::size_t last = std::min(order.size(), first + schedule.batch_size);
            train_batch(std::vector<std::size_t>(order.begin() + static_cast<std::ptrdiff_t>(first),
                                                 order.begin() + static_cast<std::ptrdiff_t>(last)),
                        schedule);
        }
        const Traffic after = helper_.traffic();
        EpochReport epoch_report;
        epoch_report.epoch = epoch;
        epoch_report.samples = order.size();
        epoch_report.seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        epoch_report.s1_cpu_seconds = math::process_cpu_seconds() - s1_cpu_before;
        if (s2_cpu_before >= 0)
            epoch_report.s2_cpu_seconds = helper_.helper_cpu_seconds() - s2_cpu_before;
        epoch_report.traffic.bytes_sent = after.bytes_sent - before.bytes_sent;
        epoch_report.traffic.bytes_received = after.bytes_received - before.bytes_received;
        epoch_report.traffic.rounds = after.rounds - before.rounds;
        if (on_epoch) on_epoch(epoch_report);
        report.epochs.push_back(epoch_report);
    }
    return report;
}

std::vector<Ciphertext> Cloud::classify(const std::vector<Ciphertext>& features, std::size_t rows) {
    const EncryptedModel& m = model();
    if (rows == 0 || features.size() != rows * m.shape.inputs())
        throw SmlpError("smlp: query size does not match rows x model inputs");
    for (const auto& c : features) key_.check_ciphertext(c);
    std::vector<Ciphertext> scores;
    constexpr std::size_t kChunk = 32;  // bounds the size of each round's messages
    for (std::size_t first = 0; first < rows; first += kChunk) {
        const std::size_t count = std::min(kChunk, rows - first);
        Matrix x(count, m.shape.inputs());
        std::copy(
            features.begin() + static_cast<std::ptrdiff_t>(first * m.shape.inputs()),
            features.begin() + static_cast<std::ptrdiff_t>((first + count) * m.shape.inputs()),
            x.v.begin());
        const ForwardState state = forward(x, false);
        scores.insert(scores.end(), state.activations.back().v.begin(),
                      state.activations.back().v.end());
    }
    return scores;
}

}  // namespace henn::smlp
