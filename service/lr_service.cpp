#include "henn/service/lr_service.hpp"

#include <sys/resource.h>

#include <chrono>
#include <cmath>

#include "henn/ckks/errors.hpp"
#include "henn/ckks/serialization.hpp"

namespace henn::service {

namespace v1 = henn::lr::v1;
using lr::LrError;

namespace {

std::span<const std::uint8_t> as_span(const std::string& bytes) {
    return {reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()};
}

std::string to_string(const std::vector<std::uint8_t>& bytes) {
    return std::string(bytes.begin(), bytes.end());
}

std::uint64_t peak_memory_bytes() {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    return static_cast<std::uint64_t>(usage.ru_maxrss) * 1024;
}

// Errors become statuses naming the problem: no request can crash the server.
template <class Handler>
grpc::Status guarded(const char* what, Handler&& handler) {
    try {
        handler();
        return grpc::Status::OK;
    } catch (const LrError& e) {
        const auto code = e.category() == ErrorCategory::internal
                              ? grpc::StatusCode::INTERNAL
                              : grpc::StatusCode::INVALID_ARGUMENT;
        return {code, std::string(what) + ": " + e.what()};
    } catch (const ckks::Error& e) {
        return {grpc::StatusCode::INVALID_ARGUMENT, std::string(what) + ": " + e.what()};
    } catch (const std::exception& e) {
        return {grpc::StatusCode::INTERNAL, std::string(what) + ": " + e.what()};
    }
}

}  // namespace

void to_proto(const lr::TrainingConfig& c, v1::Config& out) {
    out.set_rows(c.rows);
    out.set_features(static_cast<std::uint32_t>(c.features));
    out.set_optimizer(lr::optimizer_name(c.hyper.optimizer));
    out.set_learning_rate(c.hyper.learning_rate);
    out.set_l2(c.hyper.l2);
    out.set_iterations(static_cast<std::uint32_t>(c.hyper.iterations));
    out.set_sigmoid(c.sigmoid);
    out.set_sigmoid_bound(c.sigmoid_bound);
    out.set_refresh_every(static_cast<std::uint32_t>(c.refresh_every));
    out.set_log_n(static_cast<std::uint32_t>(c.chain.log_n));
    out.set_radix(static_cast<std::uint32_t>(c.chain.radix));
}

lr::TrainingConfig from_proto(const v1::Config& in) {
    auto fail = [](const std::string& m) {
        throw LrError("config: " + m, ErrorCategory::protocol);
    };
    lr::TrainingConfig c;
    if (in.rows() == 0 || in.rows() > 100'000'000) fail("rows out of range");
    if (in.features() == 0 || in.features() > 4096) fail("features out of range");
    if (in.iterations() == 0 || in.iterations() > 10'000) fail("iterations out of range");
    if (!(in.learning_rate() > 0 && in.learning_rate() < 1e6) || !(in.l2() >= 0 && in.l2() < 1e9))
        fail("learning rate or l2 out of range");
    if (!(in.sigmoid_bound() > 0 && in.sigmoid_bound() <= 1024)) fail("sigmoid bound out of range");
    if (in.refresh_every() > 10'000) fail("refresh interval out of range");
    if (in.log_n() != 0 && (in.log_n() < 13 || in.log_n() > 16))
        fail("ring out of range (2^13..2^16)");
    if (in.radix() != 0 && (in.radix() < 2 || in.radix() > 64 || (in.radix() & (in.radix() - 1))))
        fail("radix must be a power of two in [2, 64]");
    c.rows = in.rows();
    c.features = in.features();
    c.hyper.optimizer = lr::parse_optimizer(in.optimizer());
    c.hyper.learning_rate = in.learning_rate();
    c.hyper.l2 = in.l2();
    c.hyper.iterations = static_cast<int>(in.iterations());
    c.sigmoid = in.sigmoid();
    c.sigmoid_bound = in.sigmoid_bound();
    c.refresh_every = static_cast<int>(in.refresh_every());
    c.chain.log_n = static_cast<int>(in.log_n());
    if (in.radix()) c.chain.radix = in.radix();
    return c;
}

// ---- server ----

struct LrTrainingService::Session {
    std::mutex mutex;
    lr::TrainingConfig config;
    lr::TrainingPlan plan;
    ckks::ContextPtr context;
    std::shared_ptr<ckks::EvaluationKeys> keys = std::make_shared<ckks::EvaluationKeys>();
    std::vector<ckks::Ciphertext> rows;
    bool training = false;
};

std::shared_ptr<LrTrainingService::Session> LrTrainingService::session(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    const auto it = sessions_.find(id);
    if (it == sessions_.end())
        throw LrError("unknown session " + std::to_string(id), ErrorCategory::protocol);
    return it->second;
}

grpc::Status LrTrainingService::Open(grpc::ServerContext*, const v1::OpenRequest* request,
                                     v1::OpenReply* reply) {
    return guarded("Open", [&] {
        auto s = std::make_shared<Session>();
        s->config = from_proto(request->config());
        if (s->config.rows > options_.max_rows)
            throw LrError("too many rows", ErrorCategory::protocol);
        s->plan = s->config.plan();
        // The client's parameters must be exactly the ones the plan chooses (and so 128-bit
        // secure).
        s->context = ckks::load_parameters(as_span(request->parameters()));
        const ckks::ContextPtr expected = ckks::Context::create(s->plan.parameters);
        if (s->context->parameter_hash() != expected->parameter_hash())
            throw LrError("the parameters are not the ones the configuration plans",
                          ErrorCategory::protocol);
        s->keys->relinearization =
            ckks::load_relinearization_key(*s->context, as_span(request->relinearization_key()));
        std::lock_guard lock(mutex_);
        if (sessions_.size() >= options_.max_sessions) {
            // Drop the oldest idle session rather than refusing forever.
            for (auto it = sessions_.begin(); it != sessions_.end(); ++it)
                if (!it->second->training) {
                    sessions_.erase(it);
                    break;
                }
            if (sessions_.size() >= options_.max_sessions)
                throw LrError("server busy", ErrorCategory::protocol);
        }
        const std::uint64_t id = next_id_++;
        sessions_[id] = s;
        reply->set_session(id);
        reply->set_rotation_keys(static_cast<std::uint32_t>(s->plan.rotation_steps.size()));
    });
}

grpc::Status LrTrainingService::UploadKeys(grpc::ServerContext*, const v1::KeyRequest* request,
                                           v1::Ack*) {
    return guarded("UploadKeys", [&] {
        auto s = session(request->session());
        std::lock_guard lock(s->mutex);
        ckks::GaloisKeys keys =
            ckks::load_galois_keys(*s->context, as_span(request->galois_keys()));
        for (auto& [element, key] : keys.keys) s->keys->galois.keys[element] = std::move(key);
        s->keys->galois.parameter_hash = s->context->parameter_hash();
    });
}

grpc::Status LrTrainingService::UploadRows(grpc::ServerContext*, const v1::RowsRequest* request,
                                           v1::Ack*) {
    return guarded("UploadRows", [&] {
        auto s = session(request->session());
        std::lock_guard lock(s->mutex);
        for (const auto& bytes : request->rows()) {
            if (s->rows.size() >= s->plan.packing.ciphertexts)
                throw LrError("more row ciphertexts than planned", ErrorCategory::protocol);
            s->rows.push_back(ckks::load_ciphertext(*s->context, as_span(bytes)));
        }
    });
}

namespace {

// Client-aided refresh over the stream: send (v, theta), wait for the re-encrypted pair.
class StreamRefresher : public lr::Refresher {
  public:
    StreamRefresher(
        const ckks::Context& context,
        grpc::ServerReaderWriter<v1::TrainServerMessage, v1::TrainClientMessage>* stream)
        : context_(context), stream_(stream) {}
    void refresh(lr::WeightsState& state) override {
        const auto t0 = std::chrono::steady_clock::now();
        v1::TrainServerMessage out;
        auto* w = out.mutable_refresh();
        w->set_v(to_string(ckks::save(context_, *state.v)));
        w->set_theta(to_string(ckks::save(context_, *state.theta)));
        w->set_iteration(static_cast<std::uint32_t>(state.iteration));
        if (!stream_->Write(out))
            throw LrError("the client left during a refresh", ErrorCategory::protocol);
        v1::TrainClientMessage in;
        if (!stream_->Read(&in) || !in.has_refreshed())
            throw LrError("expected refreshed weights from the client", ErrorCategory::protocol);
        if (in.refreshed().iteration() != static_cast<std::uint32_t>(state.iteration))
            throw LrError("refreshed weights for another iteration", ErrorCategory::protocol);
        state.v = ckks::load_ciphertext(context_, as_span(in.refreshed().v()));
        state.theta = ckks::load_ciphertext(context_, as_span(in.refreshed().theta()));
        if (state.v->level != context_.max_level() || state.theta->level != context_.max_level())
            throw LrError("refreshed weights must be at the top level", ErrorCategory::protocol);
        wait_seconds +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    double wait_seconds = 0;

  private:
    const ckks::Context& context_;
    grpc::ServerReaderWriter<v1::TrainServerMessage, v1::TrainClientMessage>* stream_;
};

}  // namespace

grpc::Status LrTrainingService::Train(
    grpc::ServerContext*,
    grpc::ServerReaderWriter<v1::TrainServerMessage, v1::TrainClientMessage>* stream) {
    return guarded("Train", [&] {
        v1::TrainClientMessage first;
        if (!stream->Read(&first) || first.kind_case() != v1::TrainClientMessage::kStartSession)
            throw LrError("a training stream starts with its session", ErrorCategory::protocol);
        auto s = session(first.start_session());
        std::lock_guard lock(s->mutex);
        if (s->training) throw LrError("this session is already training", ErrorCategory::protocol);
        if (s->rows.size() != s->plan.packing.ciphertexts)
            throw LrError("expected " + std::to_string(s->plan.packing.ciphertexts) +
                              " row ciphertexts, got " + std::to_string(s->rows.size()),
                          ErrorCategory::protocol);
        for (int step : s->plan.rotation_steps)
            if (!s->keys->galois.has(s->context->galois_element_for_rotation(step)))
                throw LrError("missing the rotation key for step " + std::to_string(step),
                              ErrorCategory::protocol);
        s->training = true;
        struct Reset {
            Session& s;
            ~Reset() { s.training = false; }
        } reset{*s};
        lr::EncryptedTrainer trainer(s->context, s->keys, s->plan, s->rows);
        StreamRefresher refresher(*s->context, stream);
        double train_seconds = 0, train_cpu_seconds = 0;
        trainer.train(&refresher, [&](const lr::IterationReport& r) {
            train_seconds += r.seconds;
            train_cpu_seconds += r.cpu_seconds;
            v1::TrainServerMessage m;
            auto* p = m.mutable_progress();
            p->set_iteration(static_cast<std::uint32_t>(r.iteration));
            p->set_level(static_cast<std::uint32_t>(r.level));
            p->set_seconds(r.seconds);
            p->set_refreshed_before(r.refreshed_before);
            p->set_cpu_seconds(r.cpu_seconds);
            stream->Write(m);
        });
        v1::TrainServerMessage done;
        auto* d = done.mutable_done();
        d->set_model(to_string(ckks::save(*s->context, trainer.model())));
        d->set_train_seconds(train_seconds);
        d->set_train_cpu_seconds(train_cpu_seconds);
        d->set_refresh_wait_seconds(refresher.wait_seconds);
        d->set_peak_memory_bytes(peak_memory_bytes());
        if (!stream->Write(done))
            throw LrError("the client left before the model was sent", ErrorCategory::protocol);
        // The session's ciphertexts are no longer needed.
        std::lock_guard sessions_lock(mutex_);
        sessions_.erase(first.start_session());
    });
}

// ---- client ----

LrTrainingClient::LrTrainingClient(std::shared_ptr<grpc::Channel> channel)
    : stub_(v1::LogisticRegression::NewStub(std::move(channel))) {}

LrTrainingResult LrTrainingClient::train(
    lr::Client& client, const lr::TrainingConfig& config, const lr::Problem& rows,
    const std::function<void(const lr::IterationReport&)>& progress) {
    using namespace std::chrono_literals;
    LrTrainingResult result;
    const ckks::Context& context = *client.context();
    v1::OpenRequest open;
    to_proto(config, *open.mutable_config());
    open.set_parameters(to_string(ckks::save_parameters(context)));
    ckks::EvaluationKeys keys = client.evaluation_keys();
    open.set_relinearization_key(to_string(ckks::save(context, *keys.relinearization)));
    result.bytes_up += open.ByteSizeLong();
    v1::OpenReply opened;
    check(stub_->Open(make_context(600s).get(), open, &opened), "Open");
    const std::uint64_t session = opened.session();

    // One Galois key per message keeps every message far below the size limit.
    for (auto& [element, key] : keys.galois.keys) {
        ckks::GaloisKeys one;
        one.parameter_hash = keys.galois.parameter_hash;
        one.keys.emplace(element, std::move(key));
        v1::KeyRequest request;
        request.set_session(session);
        request.set_galois_keys(to_string(ckks::save(context, one)));
        result.bytes_up += request.ByteSizeLong();
        v1::Ack ack;
        check(stub_->UploadKeys(make_context(600s).get(), request, &ack), "UploadKeys");
    }
    keys = {};
    {
        const auto cts = client.encrypt_rows(rows);
        for (std::size_t begin = 0; begin < cts.size(); begin += 8) {
            v1::RowsRequest request;
            request.set_session(session);
            for (std::size_t c = begin; c < std::min(cts.size(), begin + 8); ++c)
                request.add_rows(to_string(ckks::save(context, cts[c])));
            result.bytes_up += request.ByteSizeLong();
            v1::Ack ack;
            check(stub_->UploadRows(make_context(600s).get(), request, &ack), "UploadRows");
        }
    }

    auto call = make_context(std::chrono::hours(24));
    auto stream = stub_->Train(call.get());
    v1::TrainClientMessage start;
    start.set_start_session(session);
    result.bytes_up += start.ByteSizeLong();
    if (!stream->Write(start)) check(stream->Finish(), "Train");
    v1::TrainServerMessage m;
    bool done = false;
    while (!done && stream->Read(&m)) {
        result.bytes_down += m.ByteSizeLong();
        switch (m.kind_case()) {
            case v1::TrainServerMessage::kProgress:
                if (progress) {
                    lr::IterationReport r;
                    r.iteration = static_cast<int>(m.progress().iteration());
                    r.level = static_cast<int>(m.progress().level());
                    r.seconds = m.progress().seconds();
                    r.cpu_seconds = m.progress().cpu_seconds();
                    r.refreshed_before = m.progress().refreshed_before();
                    progress(r);
                }
                break;
            case v1::TrainServerMessage::kRefresh: {
                lr::WeightsState state;
                state.zero = false;
                state.iteration = static_cast<int>(m.refresh().iteration());
                state.v = ckks::load_ciphertext(context, as_span(m.refresh().v()));
                state.theta = ckks::load_ciphertext(context, as_span(m.refresh().theta()));
                client.refresh(state);
                v1::TrainClientMessage reply;
                auto* w = reply.mutable_refreshed();
                w->set_v(to_string(ckks::save(context, *state.v)));
                w->set_theta(to_string(ckks::save(context, *state.theta)));
                w->set_iteration(m.refresh().iteration());
                result.bytes_up += reply.ByteSizeLong();
                ++result.refreshes;
                if (!stream->Write(reply)) check(stream->Finish(), "Train");
                break;
            }
            case v1::TrainServerMessage::kDone:
                result.model = ckks::load_ciphertext(context, as_span(m.done().model()));
                result.train_seconds = m.done().train_seconds();
                result.train_cpu_seconds = m.done().train_cpu_seconds();
                result.refresh_wait_seconds = m.done().refresh_wait_seconds();
                result.server_peak_memory_bytes = m.done().peak_memory_bytes();
                done = true;
                break;
            default:
                throw ServiceError("Train: unexpected message from the server");
        }
    }
    stream->WritesDone();
    check(stream->Finish(), "Train");
    if (!done) throw ServiceError("Train: the server ended without a model");
    return result;
}

}  // namespace henn::service
