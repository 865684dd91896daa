#include "henn/service/smlp_service.hpp"

#include "henn/math/parallel.hpp"

namespace henn::service {

namespace v1 = henn::smlp::v1;
using paillier::PaillierError;
using paillier::PublicKey;
using smlp::Ciphertext;
using smlp::SmlpError;

namespace {

std::string to_bytes(const PublicKey& key, const std::vector<Ciphertext>& cts) {
    const auto bytes = paillier::serialize(key, std::span<const Ciphertext>(cts));
    return std::string(bytes.begin(), bytes.end());
}

std::span<const std::uint8_t> as_span(const std::string& bytes) {
    return {reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()};
}

std::vector<Ciphertext> from_bytes(const PublicKey& key, const std::string& bytes) {
    return paillier::load_ciphertexts(key, as_span(bytes));
}

// Runs a handler; errors become statuses that name the problem, so no request can crash a party.
template <class Handler>
grpc::Status guarded(const char* what, Handler&& handler) {
    try {
        handler();
        return grpc::Status::OK;
    } catch (const SmlpError& e) {
        return {grpc::StatusCode::INVALID_ARGUMENT, std::string(what) + ": " + e.what()};
    } catch (const PaillierError& e) {
        return {grpc::StatusCode::INVALID_ARGUMENT, std::string(what) + ": " + e.what()};
    } catch (const ServiceError& e) {
        // A downstream party failed (S1 could not reach S2): report it as unavailable.
        return {grpc::StatusCode::UNAVAILABLE, std::string(what) + ": " + e.what()};
    } catch (const std::exception& e) {
        return {grpc::StatusCode::INTERNAL, std::string(what) + ": " + e.what()};
    }
}

std::size_t checked_size(std::uint32_t value, const char* name) {
    if (value == 0 || value > (1u << 16)) throw SmlpError(std::string(name) + " out of range");
    return value;
}

smlp::FixedPointConfig from_proto(const v1::FixedPoint& in) {
    smlp::FixedPointConfig config;
    config.scale_bits = in.scale_bits();
    config.operand_bits = in.operand_bits();
    config.wide_bits = in.wide_bits();
    config.statistical_bits = in.statistical_bits();
    return config;
}

}  // namespace

void to_proto(const PublicKey& key, const smlp::EncryptedModel& model, v1::Model& out) {
    out.Clear();
    for (std::size_t w : model.shape.widths) out.add_widths(static_cast<std::uint32_t>(w));
    for (const auto& layer : model.weights) out.add_weights(to_bytes(key, layer));
    for (const auto& layer : model.biases) out.add_biases(to_bytes(key, layer));
}

smlp::EncryptedModel from_proto(const PublicKey& key, const v1::Model& in) {
    smlp::EncryptedModel model;
    if (in.widths_size() > 64) throw SmlpError("model has too many layers");
    for (std::uint32_t w : in.widths()) model.shape.widths.push_back(w);
    model.shape.validate();
    if (static_cast<std::size_t>(in.weights_size()) != model.shape.layers() ||
        static_cast<std::size_t>(in.biases_size()) != model.shape.layers())
        throw SmlpError("model message has the wrong number of layers");
    for (const auto& bytes : in.weights()) model.weights.push_back(from_bytes(key, bytes));
    for (const auto& bytes : in.biases()) model.biases.push_back(from_bytes(key, bytes));
    model.validate();
    return model;
}

// ---------------- S2 ----------------

SmlpHelperService::SmlpHelperService(const smlp::Helper& helper, SmlpServiceOptions options)
    : helper_(helper), options_(options) {}

grpc::Status SmlpHelperService::GetPublicKey(grpc::ServerContext*, const v1::PublicKeyRequest*,
                                             v1::PublicKeyReply* reply) {
    return guarded("S2 GetPublicKey", [&] {
        const auto bytes = paillier::serialize(helper_.public_key());
        reply->set_public_key(std::string(bytes.begin(), bytes.end()));
    });
}

grpc::Status SmlpHelperService::Stats(grpc::ServerContext*, const v1::StatsRequest*,
                                      v1::StatsReply* reply) {
    return guarded("S2 Stats", [&] { reply->set_cpu_seconds(math::process_cpu_seconds()); });
}

grpc::Status SmlpHelperService::Multiply(grpc::ServerContext*, const v1::MultiplyRequest* request,
                                         v1::MultiplyReply* reply) {
    return guarded("S2 Multiply", [&] {
        const PublicKey& key = helper_.public_key();
        smlp::MultiplyRequest parsed;
        parsed.operand_bits = request->operand_bits();
        for (const auto& p : request->products()) {
            smlp::MaskedProduct product;
            if (p.kind() > 1) throw SmlpError("unknown product kind " + std::to_string(p.kind()));
            product.kind = static_cast<smlp::MaskedProduct::Kind>(p.kind());
            product.rows = p.rows();
            product.inner = p.inner();
            product.cols = p.cols();
            product.left = from_bytes(key, p.left());
            product.right = from_bytes(key, p.right());
            product.validate();
            parsed.products.push_back(std::move(product));
        }
        for (const auto& result : helper_.multiply(parsed).results)
            reply->add_results(to_bytes(key, result));
    });
}

grpc::Status SmlpHelperService::Relu(grpc::ServerContext*, const v1::ReluRequest* request,
                                     v1::ReluReply* reply) {
    return guarded("S2 Relu", [&] {
        const PublicKey& key = helper_.public_key();
        smlp::ReluRequest parsed;
        parsed.shift = request->shift();
        parsed.value_bits = request->value_bits();
        parsed.statistical_bits = request->statistical_bits();
        parsed.probes = from_bytes(key, request->probes());
        parsed.carriers = from_bytes(key, request->carriers());
        const smlp::ReluResponse response = helper_.relu(parsed);
        reply->set_steps(to_bytes(key, response.steps));
        reply->set_relus(to_bytes(key, response.relus));
    });
}

grpc::Status SmlpHelperService::Rescale(grpc::ServerContext*, const v1::RescaleRequest* request,
                                        v1::RescaleReply* reply) {
    return guarded("S2 Rescale", [&] {
        const PublicKey& key = helper_.public_key();
        smlp::RescaleRequest parsed;
        parsed.value_bits = request->value_bits();
        parsed.statistical_bits = request->statistical_bits();
        parsed.shifts.assign(request->shifts().begin(), request->shifts().end());
        parsed.values = from_bytes(key, request->values());
        reply->set_values(to_bytes(key, helper_.rescale(parsed).values));
    });
}

// ---------------- S1's link to S2 ----------------

GrpcHelperLink::GrpcHelperLink(const ChannelOptions& options, SmlpServiceOptions service_options)
    : options_(options),
      service_options_(service_options),
      channel_(connect(options)),
      stub_(v1::Helper::NewStub(channel_)) {}

const PublicKey& GrpcHelperLink::key() {
    if (!key_) {
        v1::PublicKeyReply reply;
        auto context = make_context(options_.call_timeout);
        check(stub_->GetPublicKey(context.get(), v1::PublicKeyRequest{}, &reply),
              "S2 at " + options_.address);
        key_ = paillier::load_public_key(
            as_span(reply.public_key()),
            {.allow_test_only_sizes = service_options_.allow_test_only_sizes});
    }
    return *key_;
}

PublicKey GrpcHelperLink::public_key() {
    return key();
}

void GrpcHelperLink::count(std::size_t sent, std::size_t received) {
    std::lock_guard lock(mutex_);
    traffic_.bytes_sent += sent;
    traffic_.bytes_received += received;
    traffic_.rounds += 1;
}

smlp::Traffic GrpcHelperLink::traffic() const {
    std::lock_guard lock(mutex_);
    return traffic_;
}

double GrpcHelperLink::helper_cpu_seconds() {
    v1::StatsReply reply;
    auto context = make_context(options_.call_timeout);
    check(stub_->Stats(context.get(), v1::StatsRequest{}, &reply), "S2 at " + options_.address);
    return reply.cpu_seconds();
}

smlp::MultiplyResponse GrpcHelperLink::multiply(const smlp::MultiplyRequest& request) {
    const PublicKey& k = key();
    v1::MultiplyRequest message;
    message.set_operand_bits(request.operand_bits);
    for (const auto& p : request.products) {
        auto* out = message.add_products();
        out->set_kind(static_cast<std::uint32_t>(p.kind));
        out->set_rows(static_cast<std::uint32_t>(p.rows));
        out->set_inner(static_cast<std::uint32_t>(p.inner));
        out->set_cols(static_cast<std::uint32_t>(p.cols));
        out->set_left(to_bytes(k, p.left));
        out->set_right(to_bytes(k, p.right));
    }
    v1::MultiplyReply reply;
    auto context = make_context(options_.call_timeout);
    check(stub_->Multiply(context.get(), message, &reply), "S2 at " + options_.address);
    count(message.ByteSizeLong(), reply.ByteSizeLong());
    smlp::MultiplyResponse response;
    for (const auto& bytes : reply.results()) response.results.push_back(from_bytes(k, bytes));
    return response;
}

smlp::ReluResponse GrpcHelperLink::relu(const smlp::ReluRequest& request) {
    const PublicKey& k = key();
    v1::ReluRequest message;
    message.set_shift(request.shift);
    message.set_value_bits(request.value_bits);
    message.set_statistical_bits(request.statistical_bits);
    message.set_probes(to_bytes(k, request.probes));
    message.set_carriers(to_bytes(k, request.carriers));
    v1::ReluReply reply;
    auto context = make_context(options_.call_timeout);
    check(stub_->Relu(context.get(), message, &reply), "S2 at " + options_.address);
    count(message.ByteSizeLong(), reply.ByteSizeLong());
    return {from_bytes(k, reply.steps()), from_bytes(k, reply.relus())};
}

smlp::RescaleResponse GrpcHelperLink::rescale(const smlp::RescaleRequest& request) {
    const PublicKey& k = key();
    v1::RescaleRequest message;
    message.set_value_bits(request.value_bits);
    message.set_statistical_bits(request.statistical_bits);
    for (unsigned s : request.shifts) message.add_shifts(s);
    message.set_values(to_bytes(k, request.values));
    v1::RescaleReply reply;
    auto context = make_context(options_.call_timeout);
    check(stub_->Rescale(context.get(), message, &reply), "S2 at " + options_.address);
    count(message.ByteSizeLong(), reply.ByteSizeLong());
    return {from_bytes(k, reply.values())};
}

// ---------------- S1 ----------------

SmlpCloudService::SmlpCloudService(smlp::HelperLink& helper, SmlpServiceOptions options)
    : helper_(helper), options_(options) {}

grpc::Status SmlpCloudService::Setup(grpc::ServerContext*, const v1::SetupRequest* request,
                                     v1::SetupReply*) {
    return guarded("S1 Setup", [&] {
        std::lock_guard lock(mutex_);
        PublicKey key =
            paillier::load_public_key(as_span(request->public_key()),
                                      {.allow_test_only_sizes = options_.allow_test_only_sizes});
        auto cloud =
            std::make_unique<smlp::Cloud>(key, from_proto(request->fixed_point()), helper_);
        cloud->set_model(from_proto(key, request->model()));
        cloud_ = std::move(cloud);
    });
}

grpc::Status SmlpCloudService::Upload(grpc::ServerContext*, const v1::UploadRequest* request,
                                      v1::UploadReply* reply) {
    return guarded("S1 Upload", [&] {
        std::lock_guard lock(mutex_);
        if (!cloud_) throw SmlpError("no session: call Setup first");
        smlp::EncryptedDataset data;
        data.features = checked_size(request->features(), "features");
        data.outputs = checked_size(request->outputs(), "outputs");
        data.x = from_bytes(cloud_->public_key(), request->x());
        data.y = from_bytes(cloud_->public_key(), request->y());
        cloud_->add_data(data);
        reply->set_rows(cloud_->rows());
    });
}

grpc::Status SmlpCloudService::Train(grpc::ServerContext*, const v1::TrainRequest* request,
                                     v1::TrainReply* reply) {
    return guarded("S1 Train", [&] {
        std::lock_guard lock(mutex_);
        if (!cloud_) throw SmlpError("no session: call Setup first");
        smlp::TrainSchedule schedule;
        schedule.epochs = request->epochs();
        schedule.batch_size = request->batch_size();
        schedule.learning_rate = request->learning_rate();
        schedule.seed = request->seed();
        for (const auto& e : cloud_->train(schedule).epochs) {
            auto* stats = reply->add_epochs();
            stats->set_epoch(static_cast<std::uint32_t>(e.epoch));
            stats->set_samples(static_cast<std::uint32_t>(e.samples));
            stats->set_seconds(e.seconds);
            stats->set_bytes_sent(e.traffic.bytes_sent);
            stats->set_bytes_received(e.traffic.bytes_received);
            stats->set_rounds(e.traffic.rounds);
            stats->set_s1_cpu_seconds(e.s1_cpu_seconds);
            stats->set_s2_cpu_seconds(e.s2_cpu_seconds);
        }
    });
}

grpc::Status SmlpCloudService::Classify(grpc::ServerContext*, const v1::ClassifyRequest* request,
                                        v1::ClassifyReply* reply) {
    return guarded("S1 Classify", [&] {
        std::lock_guard lock(mutex_);
        if (!cloud_) throw SmlpError("no session: call Setup first");
        const auto features = from_bytes(cloud_->public_key(), request->features());
        reply->set_scores(
            to_bytes(cloud_->public_key(),
                     cloud_->classify(features, checked_size(request->rows(), "rows"))));
    });
}

grpc::Status SmlpCloudService::GetModel(grpc::ServerContext*, const v1::GetModelRequest*,
                                        v1::Model* reply) {
    return guarded("S1 GetModel", [&] {
        std::lock_guard lock(mutex_);
        if (!cloud_) throw SmlpError("no session: call Setup first");
        to_proto(cloud_->public_key(), cloud_->model(), *reply);
    });
}

// ---------------- owner's client ----------------

SmlpCloudClient::SmlpCloudClient(const ChannelOptions& options)
    : options_(options), channel_(connect(options)), stub_(v1::Cloud::NewStub(channel_)) {}

void SmlpCloudClient::setup(const PublicKey& key, const smlp::FixedPointConfig& config,
                            const smlp::EncryptedModel& model) {
    v1::SetupRequest request;
    const auto key_bytes = paillier::serialize(key);
    request.set_public_key(std::string(key_bytes.begin(), key_bytes.end()));
    auto* fp = request.mutable_fixed_point();
    fp->set_scale_bits(config.scale_bits);
    fp->set_operand_bits(config.operand_bits);
    fp->set_wide_bits(config.wide_bits);
    fp->set_statistical_bits(config.statistical_bits);
    to_proto(key, model, *request.mutable_model());
    v1::SetupReply reply;
    auto context = make_context(options_.call_timeout);
    check(stub_->Setup(context.get(), request, &reply), "S1 at " + options_.address);
}

std::size_t SmlpCloudClient::upload(const PublicKey& key, const smlp::EncryptedDataset& data,
                                    std::size_t rows_per_message) {
    std::size_t total = 0;
    const std::size_t rows = data.rows();
    if (rows_per_message == 0) rows_per_message = 1;
    for (std::size_t first = 0; first < rows; first += rows_per_message) {
        const std::size_t count = std::min(rows_per_message, rows - first);
        auto slice = [&](const std::vector<Ciphertext>& v, std::size_t width) {
            return std::vector<Ciphertext>(
                v.begin() + static_cast<std::ptrdiff_t>(first * width),
                v.begin() + static_cast<std::ptrdiff_t>((first + count) * width));
        };
        v1::UploadRequest request;
        request.set_features(static_cast<std::uint32_t>(data.features));
        request.set_outputs(static_cast<std::uint32_t>(data.outputs));
        request.set_x(to_bytes(key, slice(data.x, data.features)));
        request.set_y(to_bytes(key, slice(data.y, data.outputs)));
        v1::UploadReply reply;
        auto context = make_context(options_.call_timeout);
        check(stub_->Upload(context.get(), request, &reply), "S1 at " + options_.address);
        total = reply.rows();
    }
    return total;
}

smlp::TrainingReport SmlpCloudClient::train(const smlp::TrainSchedule& schedule,
                                            std::chrono::milliseconds timeout) {
    v1::TrainRequest request;
    request.set_epochs(static_cast<std::uint32_t>(schedule.epochs));
    request.set_batch_size(static_cast<std::uint32_t>(schedule.batch_size));
    request.set_learning_rate(schedule.learning_rate);
    request.set_seed(schedule.seed);
    v1::TrainReply reply;
    auto context = make_context(timeout);
    check(stub_->Train(context.get(), request, &reply), "S1 at " + options_.address);
    smlp::TrainingReport report;
    for (const auto& e : reply.epochs()) {
        smlp::EpochReport epoch;
        epoch.epoch = e.epoch();
        epoch.samples = e.samples();
        epoch.seconds = e.seconds();
        epoch.s1_cpu_seconds = e.s1_cpu_seconds();
        epoch.s2_cpu_seconds = e.s2_cpu_seconds();
        epoch.traffic = {e.bytes_sent(), e.bytes_received(), e.rounds()};
        report.epochs.push_back(epoch);
    }
    return report;
}

std::vector<Ciphertext> SmlpCloudClient::classify(const PublicKey& key,
                                                  const std::vector<Ciphertext>& features,
                                                  std::size_t rows) {
    v1::ClassifyRequest request;
    request.set_rows(static_cast<std::uint32_t>(rows));
    request.set_features(to_bytes(key, features));
    v1::ClassifyReply reply;
    auto context = make_context(options_.call_timeout);
    check(stub_->Classify(context.get(), request, &reply), "S1 at " + options_.address);
    return from_bytes(key, reply.scores());
}

smlp::EncryptedModel SmlpCloudClient::model(const PublicKey& key) {
    v1::Model reply;
    auto context = make_context(options_.call_timeout);
    check(stub_->GetModel(context.get(), v1::GetModelRequest{}, &reply),
          "S1 at " + options_.address);
    return from_proto(key, reply);
}

}  // namespace henn::service
