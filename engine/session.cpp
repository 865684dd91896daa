#include "henn/engine/session.hpp"

#include <omp.h>

#include <cmath>
#include <map>
#include <string>

#include "henn/circuits/polynomial.hpp"
#include "henn/ckks/errors.hpp"
#include "henn/ckks/matrix_product.hpp"
#include "henn/engine/errors.hpp"
#include "henn/math/ntt.hpp"
#include "henn/math/parallel.hpp"
#include "henn/math/vector_ops.hpp"
#include "lowering.hpp"
#include "planning.hpp"

namespace henn::engine {
namespace {

bool close_scale(double a, double b) {
    return std::abs(a - b) <= 1e-9 * std::max(std::abs(a), std::abs(b));
}

// Runs body(i) for i < count on the library's threads; the first exception is rethrown.
template <typename F>
void parallel_for(std::size_t count, F&& body) {
    std::exception_ptr error;
#pragma omp parallel for schedule(dynamic) num_threads(math::thread_count())
    for (std::size_t i = 0; i < count; ++i) {
        try {
            body(i);
        } catch (...) {
#pragma omp critical
            if (!error) error = std::current_exception();
        }
    }
    if (error) std::rethrow_exception(error);
}

}  // namespace

namespace {
// Checked before the evaluator sees the keys, so a foreign key set is a KeyMismatchError.
std::shared_ptr<const ckks::EvaluationKeys> keys_for(const CompiledModel& model,
                                                     const EvaluationKeyBundle& keys) {
    if (keys.model_hash != model.hash())
        throw KeyMismatchError("the evaluation keys were made for another compiled model");
    return keys.keys;
}
}  // namespace

Session::Session(CompiledModelPtr model, const EvaluationKeyBundle& keys)
    : model_(std::move(model)),
      keys_(keys_for(*model_, keys)),
      evaluator_(model_->context(), keys_) {
    const auto& need = model_->keys();
    const ckks::Context& ctx = *model_->context();
    if (need.relinearization && (!keys_ || !keys_->relinearization)) {
        throw KeyMismatchError("the evaluation keys lack the relinearization key this model needs");
    }
    if (need.conjugation && (!keys_ || !keys_->galois.has(ctx.galois_element_for_conjugation()))) {
        throw KeyMismatchError(
            "the evaluation keys lack the conjugation key this model needs (complex slot packing)");
    }
    for (int step : need.rotations) {
        if (!keys_ || !keys_->galois.has(ctx.galois_element_for_rotation(step))) {
            throw KeyMismatchError("the evaluation keys lack the rotation key for step " +
                                   std::to_string(step));
        }
    }
    if (keys_ && keys_->relinearization &&
        keys_->relinearization->parameter_hash != ctx.parameter_hash()) {
        throw KeyMismatchError("the relinearization key was made under other parameters");
    }
    quarter_ntt_.resize(ctx.q_count());
    for (std::size_t i = 0; i < ctx.q_count(); ++i) {
        auto& v = quarter_ntt_[i];
        v.assign(ctx.n(), 0);
        v[ctx.n() / 4] = 1;  // X^(N/4): its square X^(N/2) is i in every slot
        math::ntt_forward(v.data(), ctx.ntt(i));
    }
}

ckks::Ciphertext Session::square_real(const ckks::Ciphertext& x, double beta,
                                      bool relinearize) const {
    ckks::Ciphertext y = relinearize ? evaluator_.square_relin(x) : evaluator_.multiply(x, x);
    if (beta != 0) evaluator_.add_inplace(y, evaluator_.multiply_constant(x, beta, x.scale));
    evaluator_.rescale_inplace(y);
    return y;
}

// z = a + ib holds two samples. With u = z + conj(z) = 2a and v = z - conj(z) = 2ib,
// u^2 - i v^2 = 4 (a^2 + i b^2): both samples squared, for one conjugation and one
// relinearization; the factor 4 goes into the scale. With m = X^(N/4), m^2 = X^(N/2) is i in every
// slot, so u^2 - i v^2 = (u - m v)(u + m v) exactly modulo every prime (the same words as the two
// squares): one tensor product, and m applied to two polynomials instead of i to three.
ckks::Ciphertext Session::square_complex(const ckks::Ciphertext& z, double beta,
                                         bool relinearize) const {
    const ckks::Context& ctx = *model_->context();
    const ckks::Ciphertext zc = evaluator_.conjugate(z);
    const ckks::Ciphertext u = evaluator_.add(z, zc);
    ckks::Ciphertext mv = evaluator_.sub(z, zc);
    for (auto& poly : mv.polys) {
        for (std::size_t i = 0; i < poly.limbs; ++i) {
            math::mul_mod_vec(poly.limb(i), quarter_ntt_[i].data(), poly.limb(i), ctx.n(),
                              ctx.q()[i]);
        }
    }
    ckks::Ciphertext d = evaluator_.multiply(evaluator_.sub(u, mv), evaluator_.add(u, mv));
    if (relinearize) d = evaluator_.relinearize(d);
    d.scale = d.scale * 4.0;
    if (beta != 0) evaluator_.add_inplace(d, evaluator_.multiply_constant(z, beta, 4.0 * z.scale));
    evaluator_.rescale_inplace(d);
    return d;
}

std::vector<ckks::Ciphertext> Session::naive_linear(
    std::size_t stage, const std::vector<const ckks::Ciphertext*>& inputs, std::int64_t lo,
    std::int64_t hi) const {
    const auto& l = std::get<LinearStage>(model_->stages()[stage].op);
    const ckks::ConstantMatrix& matrix = model_->matrix(stage);
    const double cs = matrix.constant_scale();
    std::vector<ckks::Ciphertext> out(static_cast<std::size_t>(hi - lo));
    parallel_for(out.size(), [&](std::size_t i) {
        const std::int64_t r = lo + static_cast<std::int64_t>(i);
        ckks::Ciphertext sum;
        bool first = true;
        auto add_term = [&](const ckks::Ciphertext& x, double w) {
            ckks::Ciphertext t = evaluator_.multiply_constant(x, w, cs);
            if (first)
                sum = std::move(t);
            else
                evaluator_.add_inplace(sum, t);
            first = false;
        };
        for (std::size_t e = l.row_begin[r]; e < l.row_begin[r + 1]; ++e)
            add_term(*inputs[l.column[e]], l.weight[e]);
        if (l.bias[r] != 0.0 && model_->bias_input(stage))
            add_term(*model_->bias_input(stage), l.bias[r]);
        if (first) sum = evaluator_.multiply_constant(*inputs[0], 0.0, cs);  // an empty row
        out[i] = std::move(sum);
    });
    return out;
}

std::vector<ckks::Ciphertext> Session::activate(std::size_t stage, std::vector<ckks::Ciphertext> in,
                                                bool relinearize) const {
    const auto& a = std::get<ActivationStage>(model_->stages()[stage].op);
    const int degree = detail::activation_degree(a);
    const bool complex = model_->slot_packing() == SlotPacking::complex;
    std::vector<ckks::Ciphertext> out(in.size());
    parallel_for(in.size(), [&](std::size_t i) {
        if (degree == 2) {
            out[i] = complex ? square_complex(in[i], a.coefficients[1], relinearize)
                             : square_real(in[i], a.coefficients[1], relinearize);
        } else {
            out[i] = circuits::evaluate_polynomial(evaluator_, in[i], a.coefficients, a.interval_lo,
                                                   a.interval_hi, in[i].scale);
        }
        in[i] = ckks::Ciphertext();  // streaming: free the input as soon as it is used
    });
    return out;
}

EncryptedBatch Session::run(EncryptedBatch inputs, const RunOptions& options) const {
    if (model_->packing() == Packing::latency) return run_latency(std::move(inputs), options);
    const CompiledModel& m = *model_;
    const ckks::Context& ctx = *m.context();
    if (inputs.model_hash != m.hash())
        throw KeyMismatchError("the input ciphertexts were made for another compiled model");
    if (static_cast<std::int64_t>(inputs.ciphertexts.size()) != m.input_size()) {
        throw FormatError("run: " + std::to_string(inputs.ciphertexts.size()) +
                          " input ciphertexts, the model takes " + std::to_string(m.input_size()));
    }
    if (inputs.samples <= 0 || inputs.samples > m.batch_size())
        throw FormatError("run: bad sample count");
    for (const auto& c : inputs.ciphertexts) {
        if (c.parameter_hash != ctx.parameter_hash())
            throw KeyMismatchError("run: an input was encrypted under other parameters");
        if (c.size() != 2 || c.level != m.input_level() || c.slots != ctx.max_slots() ||
            !close_scale(c.scale, m.input_scale())) {
            throw FormatError(
                "run: an input ciphertext is not at the level, scale and slot count of a fresh "
                "input of this model");
        }
    }
    auto cancelled = [&] { return options.cancel && options.cancel->load(); };
    const std::int64_t chunk = std::max<std::int64_t>(1, options.chunk);
    // Squares whose sums the next linear stage relinearizes (detail::relinearized_by_consumer);
    // tracing decrypts every stage, so it keeps every ciphertext relinearized.
    auto late = [&](std::size_t k) {
        return !options.trace &&
               detail::relinearized_by_consumer(m.stages(), k, m.lazy_relinearization());
    };
    // The bias column of a stage whose inputs are 3-polynomial sums gets a zero third polynomial.
    std::map<std::size_t, ckks::Ciphertext> wide_bias;
    auto bias_for = [&](std::size_t stage, std::size_t size) -> const ckks::Ciphertext* {
        const ckks::Ciphertext* one = m.bias_input(stage);
        if (one == nullptr || one->size() == size) return one;
        auto [it, inserted] = wide_bias.try_emplace(stage, *one);
        if (inserted)
            it->second.polys.emplace_back(ctx.n(), static_cast<std::size_t>(one->level) + 1);
        return &it->second;
    };
    auto relinearize_all = [&](std::vector<ckks::Ciphertext>& cts) {
        parallel_for(cts.size(), [&](std::size_t i) {
            if (cts[i].size() == 3) cts[i] = evaluator_.relinearize(cts[i]);
        });
    };
    std::vector<ckks::Ciphertext> current = std::move(inputs.ciphertexts);
    const auto& stages = m.stages();
    for (std::size_t k = 0; k < stages.size(); ++k) {
        const StagePlan& s = stages[k];
        if (cancelled()) throw EngineError("cancelled", ErrorCategory::usage);
        std::vector<ckks::Ciphertext> next;
        if (const auto* l = std::get_if<LinearStage>(&s.op)) {
            // Fuse the activation that follows, chunk by chunk, unless tracing wants this stage's
            // outputs.
            const bool fuse = !options.trace && k + 1 < stages.size() &&
                              std::holds_alternative<ActivationStage>(stages[k + 1].op);
            std::vector<const ckks::Ciphertext*> ptrs;
            ptrs.reserve(current.size() + 1);
            for (const auto& c : current) ptrs.push_back(&c);
            if (const ckks::Ciphertext* one = bias_for(k, current.empty() ? 2 : current[0].size()))
                ptrs.push_back(one);
            const ckks::ConstantMatrix& matrix = m.matrix(k);
            // Streaming: when a linear stage consumes this one's activated outputs, each chunk goes
            // straight into that stage's sums, so the activated layer is never held whole.
            const bool stream = fuse && !options.reference_kernels && k + 2 < stages.size() &&
                                m.column_block(k + 2, 0) != nullptr;
            const std::int64_t step = stream ? CompiledModel::kStreamColumns : chunk;
            std::vector<ckks::Ciphertext> sums;
            if (stream)
                sums.resize(
                    static_cast<std::size_t>(std::get<LinearStage>(stages[k + 2].op).outputs));
            else
                next.reserve(static_cast<std::size_t>(l->outputs));
            for (std::int64_t lo = 0; lo < l->outputs; lo += step) {
                if (cancelled()) throw EngineError("cancelled", ErrorCategory::usage);
                const std::int64_t hi = std::min(l->outputs, lo + step);
                std::vector<ckks::Ciphertext> part =
                    options.reference_kernels ? naive_linear(k, ptrs, lo, hi)
                                              : matrix.multiply(ptrs, static_cast<std::size_t>(lo),
                                                                static_cast<std::size_t>(hi));
                parallel_for(part.size(),
                             [&](std::size_t i) { evaluator_.rescale_inplace(part[i]); });
                relinearize_all(part);
                if (fuse) part = activate(k + 1, std::move(part), !late(k + 1));
                if (stream) {
                    const auto block = static_cast<std::size_t>(lo / CompiledModel::kStreamColumns);
                    std::vector<const ckks::Ciphertext*> block_inputs;
                    for (const auto& c : part) block_inputs.push_back(&c);
                    const ckks::ConstantMatrix* consumer = m.column_block(k + 2, block);
                    if (hi == l->outputs && consumer->columns() == block_inputs.size() + 1) {
                        block_inputs.push_back(bias_for(k + 2, block_inputs[0]->size()));
                    }
                    consumer->multiply_accumulate(block_inputs, sums);
                } else {
                    for (auto& c : part) next.push_back(std::move(c));
                }
                if (options.progress) options.progress(k, hi, l->outputs);
            }
            if (fuse) {
                if (options.progress) options.progress(k + 1, l->outputs, l->outputs);
                ++k;
            }
            if (stream) {
                // The consumer's products are complete: one rescale per output, as its own stage.
                ++k;
                parallel_for(sums.size(),
                             [&](std::size_t i) { evaluator_.rescale_inplace(sums[i]); });
                relinearize_all(sums);
                next = std::move(sums);
                if (options.progress) {
                    options.progress(k, static_cast<std::int64_t>(next.size()),
                                     static_cast<std::int64_t>(next.size()));
                }
            }
        } else {
            next = activate(k, std::move(current), !late(k));
            if (options.progress)
                options.progress(k, static_cast<std::int64_t>(next.size()),
                                 static_cast<std::int64_t>(next.size()));
        }
        current = std::move(next);
        // Every stage must land where the plan says: a mismatch is a bug, never silently absorbed.
        const StagePlan& done = stages[k];
        for (const auto& c : current) {
            if (c.level != done.level_out || !close_scale(c.scale, done.scale_out)) {
                throw InternalError("stage '" + done.name + "' produced level " +
                                    std::to_string(c.level) + ", scale 2^" +
                                    std::to_string(std::log2(c.scale)) + "; the plan says level " +
                                    std::to_string(done.level_out) + ", scale 2^" +
                                    std::to_string(std::log2(done.scale_out)));
            }
        }
        if (options.trace) options.trace(k, current);
    }
    EncryptedBatch out;
    out.model_hash = m.hash();
    out.samples = inputs.samples;
    out.ciphertexts = std::move(current);
    return out;
}

}  // namespace henn::engine
