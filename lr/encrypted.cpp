#include "henn/lr/encrypted.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <exception>
#include <set>
#include <sstream>

#include "henn/circuits/polynomial.hpp"
#include "henn/circuits/polynomial_plan.hpp"
#include "henn/circuits/rotate_sum.hpp"
#include "henn/ckks/errors.hpp"
#include "henn/math/parallel.hpp"

namespace henn::lr {

namespace {

// q(t) = factor * p(-bound t) on [-1, 1]: the sigmoid of the negated inner product, with the mask's
// 1/bound undone. In the Chebyshev basis of [-bound, bound], p(u) = sum c_k T_k(u / bound), so
// q(t) = sum factor (-1)^k c_k T_k(t).
approx::ChebyshevPolynomial negated_unit_polynomial(const SigmoidApproximation& sigmoid,
                                                    double factor) {
    std::vector<double> c = sigmoid.p.coefficients();
    for (std::size_t k = 0; k < c.size(); ++k) c[k] *= (k % 2 ? -factor : factor);
    return approx::ChebyshevPolynomial(std::move(c), approx::Interval{-1.0, 1.0})
        .with_parity(approx::Parity::Odd, true);
}

int polynomial_depth(const SigmoidApproximation& sigmoid) {
    return circuits::plan_polynomial(negated_unit_polynomial(sigmoid, 1.0)).depth;
}

double prime(const ckks::Context& context, int level) {
    return static_cast<double>(context.q()[static_cast<std::size_t>(level)].value());
}

ckks::Ciphertext at_level(const ckks::Evaluator& ev, const ckks::Ciphertext& x, int level) {
    return x.level == level ? x : ev.drop_level(x, level);
}

// c * x, one level down from `level`, scale kept (the constant is scaled by the prime it is
// rescaled by).
ckks::Ciphertext times_constant(const ckks::Evaluator& ev, const ckks::Ciphertext& x, double c,
                                int level) {
    return ev.rescale(ev.multiply_constant(at_level(ev, x, level + 1), c));
}

}  // namespace

int levels_per_iteration(const SigmoidApproximation& sigmoid) {
    return 3 + polynomial_depth(sigmoid);
}

int levels_needed(int iterations, Optimizer optimizer, int per_iteration, bool from_zero) {
    if (iterations < 1) return 0;
    int levels = from_zero ? 1 + (iterations - 1) * per_iteration : iterations * per_iteration;
    // Nesterov's theta' = (v' + mu theta) / (1 + mu) costs one level after the last step (mu_0 =
    // 0).
    if (optimizer == Optimizer::nesterov && (iterations > 1 || !from_zero)) levels += 1;
    return levels;
}

int max_levels(int log_n, const ChainOptions& o) {
    const int budget = ckks::max_log_qp(log_n, ckks::SecurityLevel::k128);
    int best = 0;
    for (int levels = 1; levels < 60; ++levels) {
        const int special = (levels + 1 + o.digits - 1) / o.digits;
        if (o.first_bits + levels * o.scale_bits + special * o.special_bits <= budget)
            best = levels;
    }
    return best;
}

std::string TrainingPlan::describe() const {
    std::ostringstream s;
    s << "N = 2^" << parameters.log_n << ", " << levels << " levels of " << chain.scale_bits
      << " bits (" << per_iteration << " per iteration), " << packing.ciphertexts
      << " ciphertext(s) of " << packing.rows_per_ciphertext << " rows x " << packing.block
      << " slots, " << rotation_steps.size() << " rotation keys; sigmoid " << sigmoid.name << "; "
      << optimizer_name(hyper.optimizer) << ", " << hyper.iterations << " iterations, "
      << (mode == Mode::non_interactive
              ? std::string("non-interactive")
              : "client-aided refresh every " + std::to_string(refresh_every))
      << "; at most " << max_noninteractive_iterations
      << " iterations without a refresh in this ring";
    return s.str();
}

TrainingPlan plan_training(std::size_t rows, std::size_t features, const Hyperparameters& hyper,
                           const SigmoidApproximation& sigmoid, Mode mode, int refresh_every,
                           const ChainOptions& chain) {
    (void)schedule(hyper, rows);  // validates the hyperparameters
    TrainingPlan plan;
    plan.hyper = hyper;
    plan.sigmoid = sigmoid;
    plan.mode = mode;
    plan.chain = chain;
    plan.per_iteration = levels_per_iteration(sigmoid);
    if (chain.scoring_levels < 0 || chain.scoring_levels > 8)
        throw LrError("scoring levels must be in [0, 8]");
    int needed = 0;
    if (mode == Mode::non_interactive) {
        needed = levels_needed(hyper.iterations, hyper.optimizer, plan.per_iteration, true);
    } else {
        if (refresh_every < 1) throw LrError("client-aided refresh needs refresh_every >= 1");
        plan.refresh_every = refresh_every;
        const int k = std::min(refresh_every, hyper.iterations);
        needed = std::max(levels_needed(k, hyper.optimizer, plan.per_iteration, true),
                          levels_needed(k, hyper.optimizer, plan.per_iteration, false));
    }
    needed += chain.scoring_levels;
    const int lo = chain.log_n ? chain.log_n : 13, hi = chain.log_n ? chain.log_n : 16;
    int log_n = 0;
    if (chain.test_only_insecure) {
        if (!chain.log_n) throw LrError("test-only insecure parameters need an explicit ring");
        log_n = chain.log_n;
    }
    for (int n = lo; n <= hi && !log_n; ++n) {
        if (max_levels(n, chain) >= needed && (std::size_t{1} << (n - 1)) >= 2 * (features + 1))
            log_n = n;
    }
    if (!log_n) {
        int most = 0;
        const int cap = max_levels(hi, chain);
        while (levels_needed(most + 1, hyper.optimizer, plan.per_iteration, true) +
                   chain.scoring_levels <=
               cap)
            ++most;
        std::ostringstream msg;
        msg << hyper.iterations << " iterations need " << needed << " levels of "
            << chain.scale_bits << " bits";
        if (chain.scoring_levels)
            msg << " (" << chain.scoring_levels << " of them kept for scoring)";
        msg << "; at 128-bit security N = 2^" << hi << " holds " << cap << " (at most " << most
            << " iterations non-interactively with this sigmoid and optimizer); use client-aided "
               "refresh"
            << " (or bootstrapping, once available)";
        throw LrError(msg.str(), ErrorCategory::parameters);
    }
    plan.levels = needed;
    {
        const int cap = chain.test_only_insecure ? needed : max_levels(log_n, chain);
        int most = 0;
        while (levels_needed(most + 1, hyper.optimizer, plan.per_iteration, true) +
                   chain.scoring_levels <=
               cap)
            ++most;
        plan.max_noninteractive_iterations = most;
    }
    auto& lit = plan.parameters;
    lit.log_n = log_n;
    lit.log_q.assign(1, chain.first_bits);
    lit.log_q.insert(lit.log_q.end(), static_cast<std::size_t>(needed), chain.scale_bits);
    lit.log_p.assign(static_cast<std::size_t>((needed + 1 + chain.digits - 1) / chain.digits),
                     chain.special_bits);
    lit.log_default_scale = chain.scale_bits;
    lit.security = ckks::SecurityLevel::k128;
    lit.allow_insecure = chain.test_only_insecure;
    plan.packing = Packing::make(rows, features, std::size_t{1} << (log_n - 1));
    std::set<int> steps;
    const auto& p = plan.packing;
    for (auto s : circuits::rotate_and_sum_steps(p.block, 1, p.slots, chain.radix)) steps.insert(s);
    for (auto s : circuits::rotate_and_sum_steps(p.block, -1, p.slots, chain.radix))
        steps.insert(s);
    if (p.rows_per_ciphertext > 1)
        for (auto s : circuits::rotate_and_sum_steps(
                 p.rows_per_ciphertext, static_cast<long long>(p.block), p.slots, chain.radix))
            steps.insert(s);
    plan.rotation_steps.assign(steps.begin(), steps.end());
    return plan;
}

int max_iterations_in_chain(const TrainingPlan& plan) {
    int most = 0;
    while (levels_needed(most + 1, plan.hyper.optimizer, plan.per_iteration, true) +
               plan.chain.scoring_levels <=
           plan.levels)
        ++most;
    return most;
}

TrainingPlan with_iterations(const TrainingPlan& plan, int iterations) {
    if (iterations < 1) throw LrError("at least one iteration");
    const int most = max_iterations_in_chain(plan);
    if (plan.mode == Mode::non_interactive && iterations > most) {
        std::ostringstream msg;
        msg << iterations << " iterations need "
            << levels_needed(iterations, plan.hyper.optimizer, plan.per_iteration, true) +
                   plan.chain.scoring_levels
            << " levels; the chain of these keys has " << plan.levels << " (at most " << most
            << " iterations non-interactively with this sigmoid and optimizer"
            << (plan.chain.scoring_levels
                    ? ", keeping " + std::to_string(plan.chain.scoring_levels) + " for scoring"
                    : std::string())
            << "); make keys for more levels or use client-aided refresh";
        throw LrError(msg.str(), ErrorCategory::parameters);
    }
    TrainingPlan out = plan;
    out.hyper.iterations = iterations;
    return out;
}

// ---- server ----

EncryptedTrainer::EncryptedTrainer(ckks::ContextPtr context,
                                   std::shared_ptr<const ckks::EvaluationKeys> keys,
                                   TrainingPlan plan, std::vector<ckks::Ciphertext> rows)
    : context_(std::move(context)),
      evaluator_(context_, std::move(keys)),
      encoder_(context_),
      plan_(std::move(plan)),
      schedule_(schedule(plan_.hyper, plan_.packing.rows)),
      rows_(std::move(rows)) {
    if (rows_.size() != plan_.packing.ciphertexts)
        throw LrError("expected " + std::to_string(plan_.packing.ciphertexts) +
                          " row ciphertexts, got " + std::to_string(rows_.size()),
                      ErrorCategory::protocol);
    for (const auto& ct : rows_) {
        if (ct.slots != plan_.packing.slots || ct.level != context_->max_level() ||
            ct.size() != 2 || std::abs(ct.scale / context_->default_scale() - 1) > 1e-9)
            throw LrError("a row ciphertext has the wrong slots, level, size or scale",
                          ErrorCategory::protocol);
    }
    row_sum_ = rows_[0];
    for (std::size_t c = 1; c < rows_.size(); ++c) evaluator_.add_inplace(row_sum_, rows_[c]);
}

void EncryptedTrainer::set_state(WeightsState state) {
    if (!state.zero) {
        if (!state.v || !state.theta)
            throw LrError("a weights state needs v and theta", ErrorCategory::protocol);
        for (const auto* ct : {&*state.v, &*state.theta})
            if (ct->slots != plan_.packing.slots || ct->size() != 2 ||
                std::abs(ct->scale / context_->default_scale() - 1) > 1e-9)
                throw LrError("a weights ciphertext has the wrong slots, size or scale",
                              ErrorCategory::protocol);
        if (state.theta->level < state.v->level - 1)
            throw LrError("theta must be at most one level below v", ErrorCategory::protocol);
    }
    if (state.iteration < 0 || state.iteration > plan_.hyper.iterations)
        throw LrError("weights state at an impossible iteration", ErrorCategory::protocol);
    state_ = std::move(state);
    since_refresh_ = 0;
}

bool EncryptedTrainer::can_step() const {
    if (state_.iteration >= plan_.hyper.iterations) return false;
    if (state_.zero) return context_->max_level() >= 1;
    const StepConstants& c = schedule_[static_cast<std::size_t>(state_.iteration)];
    return state_.v->level - plan_.per_iteration >= (c.mu > 0 ? 1 : 0);
}

void EncryptedTrainer::step() {
    if (!can_step())
        throw LrError("no levels left for another iteration (refresh first)",
                      ErrorCategory::crypto);
    const auto& ev = evaluator_;
    const Packing& pk = plan_.packing;
    const std::size_t radix = plan_.chain.radix;
    const StepConstants& c = schedule_[static_cast<std::size_t>(state_.iteration)];
    const double delta = context_->default_scale();

    if (state_.zero) {
        // v = theta = 0: every inner product is 0, the gradient is p(0) * sum_i z_i.
        if (c.mu != 0)
            throw LrError("internal: the first step has no momentum", ErrorCategory::internal);
        ckks::Ciphertext g = times_constant(ev, row_sum_, c.gradient * plan_.sigmoid.evaluate(0.0),
                                            row_sum_.level - 1);
        if (pk.rows_per_ciphertext > 1)
            g = circuits::rotate_and_sum(ev, g, pk.rows_per_ciphertext,
                                         static_cast<long long>(pk.block), radix);
        state_.v = g;
        state_.theta = std::move(g);
        state_.zero = false;
        ++state_.iteration;
        return;
    }

    const ckks::Ciphertext& v = *state_.v;
    const int l = v.level;
    const auto q = negated_unit_polynomial(plan_.sigmoid, c.gradient);
    const int depth = circuits::plan_polynomial(q).depth;
    const int l_poly = l - 2 - depth;  // level of the sigmoid values
    const int l_out = l_poly - 1;      // level of the gradient and the new weights

    // The mask: 1/bound at the first slot of every block, scaled so the product lands at delta.
    std::vector<double> mask(pk.slots, 0.0);
    for (std::size_t b = 0; b < pk.rows_per_ciphertext; ++b)
        mask[b * pk.block] = 1.0 / plan_.sigmoid.bound;
    const double product_scale = rows_[0].scale * v.scale / prime(*context_, l);
    const ckks::Plaintext mask_plain =
        encoder_.encode(mask, l - 1, delta * prime(*context_, l - 1) / product_scale, pk.slots);
    const double sigmoid_scale = delta * prime(*context_, l_poly) / rows_[0].scale;

    // The row ciphertexts are independent until their gradients are summed: with several of them
    // the threads share the ciphertexts (the evaluator is const and thread-safe), with one the
    // threads work inside each operation (across RNS limbs).
    const auto count = static_cast<long>(rows_.size());
    std::vector<std::optional<ckks::Ciphertext>> partial(rows_.size());
    std::exception_ptr failure;
#pragma omp parallel for schedule(dynamic, 1) if (count > 1)
    for (long c = 0; c < count; ++c) {
        try {
            const ckks::Ciphertext& z = rows_[static_cast<std::size_t>(c)];
            ckks::Ciphertext inner = ev.rescale(ev.multiply_relin(at_level(ev, z, l), v));
            inner = circuits::rotate_and_sum(ev, inner, pk.block, 1, radix);
            inner = ev.rescale(ev.multiply_plain(inner, mask_plain));
            inner = circuits::rotate_and_sum(ev, inner, pk.block, -1, radix);
            const ckks::Ciphertext s = circuits::evaluate_polynomial(ev, inner, q, sigmoid_scale);
            partial[static_cast<std::size_t>(c)] =
                ev.rescale(ev.multiply_relin(s, at_level(ev, z, l_poly)));
        } catch (...) {
#pragma omp critical(henn_lr_failure)
            if (!failure) failure = std::current_exception();
        }
    }
    if (failure) std::rethrow_exception(failure);
    ckks::Ciphertext next = std::move(*partial[0]);
    for (std::size_t c = 1; c < partial.size(); ++c) ev.add_inplace(next, *partial[c]);
    if (pk.rows_per_ciphertext > 1)
        next = circuits::rotate_and_sum(ev, next, pk.rows_per_ciphertext,
                                        static_cast<long long>(pk.block), radix);
    ev.add_inplace(next, times_constant(ev, v, c.keep, l_out));
    if (c.mu > 0) ev.add_inplace(next, times_constant(ev, *state_.theta, c.previous, l_out));

    if (c.mu > 0) {
        ckks::Ciphertext theta = times_constant(ev, next, 1.0 / (1.0 + c.mu), l_out - 1);
        ev.add_inplace(theta, times_constant(ev, *state_.theta, c.mu / (1.0 + c.mu), l_out - 1));
        state_.theta = std::move(theta);
        state_.v = std::move(next);
    } else {
        state_.v = next;
        state_.theta = std::move(next);
    }
    ++state_.iteration;
}

void EncryptedTrainer::train(Refresher* refresher,
                             const std::function<void(const IterationReport&)>& progress) {
    while (state_.iteration < plan_.hyper.iterations) {
        bool refreshed = false;
        const bool due = plan_.mode == Mode::client_aided && !state_.zero &&
                         since_refresh_ >= plan_.refresh_every;
        if (due || !can_step()) {
            if (!refresher || plan_.mode != Mode::client_aided)
                throw LrError("the chain allows no more iterations (" +
                                  std::to_string(state_.iteration) + " done); a refresh is needed",
                              ErrorCategory::parameters);
            refresher->refresh(state_);
            since_refresh_ = 0;
            refreshed = true;
            if (!can_step())
                throw LrError("still no levels after a refresh", ErrorCategory::internal);
        }
        const auto t0 = std::chrono::steady_clock::now();
        const double cpu0 = math::process_cpu_seconds();
        step();
        ++since_refresh_;
        if (progress) {
            IterationReport r;
            r.iteration = state_.iteration;
            r.level = state_.v->level;
            r.seconds =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            r.cpu_seconds = math::process_cpu_seconds() - cpu0;
            r.refreshed_before = refreshed;
            progress(r);
        }
    }
}

const ckks::Ciphertext& EncryptedTrainer::model() const {
    if (state_.zero || !state_.theta) throw LrError("no iteration has run yet");
    return *state_.theta;
}

// ---- client ----

Client::Client(const TrainingPlan& plan)
    : plan_(plan), context_(ckks::Context::create(plan.parameters)) {
    keygen_ = std::make_unique<ckks::KeyGenerator>(context_);
    make_tools(nullptr);
}

Client::Client(const TrainingPlan& plan, const math::Seed& test_only_seed)
    : plan_(plan), context_(ckks::Context::create(plan.parameters)) {
    keygen_ = std::make_unique<ckks::KeyGenerator>(context_, test_only_seed);
    make_tools(&test_only_seed);
}

Client::Client(const TrainingPlan& plan, ckks::ContextPtr context, ckks::SecretKey secret_key)
    : plan_(plan), context_(std::move(context)) {
    if (!context_ || context_->log_n() != plan.parameters.log_n ||
        context_->max_level() != static_cast<int>(plan.parameters.log_q.size()) - 1)
        throw LrError("the parameters are not the plan's", ErrorCategory::protocol);
    if (secret_key.parameter_hash() != context_->parameter_hash())
        throw LrError("the secret key belongs to other parameters (another key directory)",
                      ErrorCategory::protocol);
    keygen_ = std::make_unique<ckks::KeyGenerator>(context_, std::move(secret_key));
    make_tools(nullptr);
}

void Client::make_tools(const math::Seed* test_only_seed) {
    encoder_ = std::make_unique<ckks::Encoder>(context_);
    encryptor_ = std::make_unique<ckks::Encryptor>(context_, keygen_->secret_key());
    if (test_only_seed) {
        math::Seed encryption_seed = *test_only_seed;
        encryption_seed[0] ^= 0x5a;
        encryptor_->use_test_only_seed(encryption_seed);
    }
    decryptor_ = std::make_unique<ckks::Decryptor>(context_, keygen_->secret_key());
}

ckks::EvaluationKeys Client::evaluation_keys() {
    return keygen_->evaluation_keys(plan_.rotation_steps);
}

ckks::PublicKey Client::public_key() {
    return keygen_->public_key();
}

std::vector<ckks::Ciphertext> Client::encrypt_features(const Problem& rows) const {
    const Packing packing = Packing::make(rows.rows(), rows.features, plan_.packing.slots);
    if (rows.features != plan_.packing.features)
        throw LrError("the rows have " + std::to_string(rows.features) + " features, the plan " +
                          std::to_string(plan_.packing.features),
                      ErrorCategory::data);
    std::vector<ckks::Ciphertext> out;
    for (const auto& slots : pack_features(rows, packing))
        out.push_back(encryptor_->encrypt(encoder_->encode(slots, -1, 0, packing.slots)));
    return out;
}

std::vector<ckks::Ciphertext> Client::encrypt_rows(const Problem& train) const {
    std::vector<ckks::Ciphertext> out;
    for (const auto& slots : pack_rows(train, plan_.packing))
        out.push_back(encryptor_->encrypt(encoder_->encode(slots, -1, 0, plan_.packing.slots)));
    return out;
}

ckks::Ciphertext Client::encrypt_weights(const std::vector<double>& weights) const {
    return encryptor_->encrypt(
        encoder_->encode(pack_weights(weights, plan_.packing), -1, 0, plan_.packing.slots));
}

std::vector<double> Client::decrypt_weights(const ckks::Ciphertext& ct) const {
    return unpack_weights(encoder_->decode_real(decryptor_->decrypt(ct)), plan_.packing);
}

std::vector<double> Client::decrypt_scores(std::span<const ckks::Ciphertext> scores,
                                           const Packing& packing) const {
    std::vector<std::vector<double>> slots;
    slots.reserve(scores.size());
    for (const auto& ct : scores) slots.push_back(encoder_->decode_real(decryptor_->decrypt(ct)));
    return unpack_scores(slots, packing);
}

void Client::refresh(WeightsState& state) const {
    if (state.zero) return;
    if (!state.v || !state.theta)
        throw LrError("a weights state needs v and theta", ErrorCategory::protocol);
    const auto v = decrypt_weights(*state.v);
    const auto theta = decrypt_weights(*state.theta);
    state.v = encrypt_weights(v);
    state.theta = encrypt_weights(theta);
}

}  // namespace henn::lr
