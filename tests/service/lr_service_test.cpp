// The logistic-regression training service refuses what does not belong together: parameters
// other than the ones its plan derives from the configuration, configurations out of range,
// training before the rows and keys are there. Every refusal is a status, never a crash.
#include <gtest/gtest.h>

#include <chrono>

#include "henn/ckks/serialization.hpp"
#include "henn/service/lr_service.hpp"

using namespace henn;
using namespace std::chrono_literals;
namespace v1 = henn::lr::v1;

namespace {

std::string bytes(const std::vector<std::uint8_t>& b) {
    return {b.begin(), b.end()};
}

lr::TrainingConfig small_config() {
    lr::TrainingConfig c;
    c.rows = 64;
    c.features = 3;
    c.hyper = {lr::Optimizer::gradient_descent, 0.5, 0.0, 1};
    c.sigmoid = "poly3";
    c.sigmoid_bound = 8;
    return c;
}

}  // namespace

TEST(LrService, RefusesForeignParametersBadConfigsAndEarlyTraining) {
    service::LrTrainingService service;
    service::Server server(service::ServerOptions{}, {&service});
    service::ChannelOptions channel;
    channel.address = server.address();
    auto stub = v1::LogisticRegression::NewStub(service::connect(channel));

    const lr::TrainingConfig config = small_config();
    const lr::TrainingPlan plan = config.plan();
    EXPECT_FALSE(plan.parameters.allow_insecure);
    lr::Client client(plan, math::test_only_seed(9));
    const auto relin = client.evaluation_keys().relinearization;

    // Parameters of another (secure) chain: refused.
    {
        ckks::ParametersLiteral other = plan.parameters;
        other.log_q.push_back(30);
        const auto other_context = ckks::Context::create(other);
        v1::OpenRequest open;
        service::to_proto(config, *open.mutable_config());
        open.set_parameters(bytes(ckks::save_parameters(*other_context)));
        v1::OpenReply reply;
        grpc::ClientContext ctx;
        const grpc::Status status = stub->Open(&ctx, open, &reply);
        EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
        EXPECT_NE(status.error_message().find("parameters"), std::string::npos)
            << status.error_message();
    }
    // A configuration out of range: refused.
    {
        v1::OpenRequest open;
        service::to_proto(config, *open.mutable_config());
        open.mutable_config()->set_iterations(0);
        open.set_parameters(bytes(ckks::save_parameters(*client.context())));
        v1::OpenReply reply;
        grpc::ClientContext ctx;
        EXPECT_EQ(stub->Open(&ctx, open, &reply).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    }
    // The right parameters open a session; training before the rows is refused.
    v1::OpenRequest open;
    service::to_proto(config, *open.mutable_config());
    open.set_parameters(bytes(ckks::save_parameters(*client.context())));
    open.set_relinearization_key(bytes(ckks::save(*client.context(), *relin)));
    v1::OpenReply opened;
    {
        grpc::ClientContext ctx;
        ASSERT_TRUE(stub->Open(&ctx, open, &opened).ok());
        EXPECT_EQ(opened.rotation_keys(), plan.rotation_steps.size());
    }
    {
        grpc::ClientContext ctx;
        auto stream = stub->Train(&ctx);
        v1::TrainClientMessage start;
        start.set_start_session(opened.session());
        stream->Write(start);
        stream->WritesDone();
        v1::TrainServerMessage m;
        while (stream->Read(&m)) {
        }
        const grpc::Status status = stream->Finish();
        EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
        EXPECT_NE(status.error_message().find("row ciphertexts"), std::string::npos)
            << status.error_message();
    }
    // Garbage instead of a ciphertext: refused.
    {
        v1::RowsRequest rows;
        rows.set_session(opened.session());
        rows.add_rows("not a ciphertext");
        v1::Ack ack;
        grpc::ClientContext ctx;
        EXPECT_EQ(stub->UploadRows(&ctx, rows, &ack).error_code(),
                  grpc::StatusCode::INVALID_ARGUMENT);
    }
}

TEST(LrService, TrainsThroughTheServiceLikeTheReference) {
    service::LrTrainingService service;
    service::Server server(service::ServerOptions{}, {&service});
    service::ChannelOptions channel;
    channel.address = server.address();
    service::LrTrainingClient remote(service::connect(channel));
    const lr::Split data = lr::split_and_standardize(lr::synthetic_problem(85, 3, 4), 0.75, 2);
    lr::TrainingConfig config = small_config();
    config.rows = data.train.rows();
    config.hyper = {lr::Optimizer::nesterov, 0.5, 0.0, 2};
    lr::Client client(config.plan(), math::test_only_seed(10));
    const auto result = remote.train(client, config, data.train);
    const auto weights = client.decrypt_weights(result.model);
    const auto reference =
        lr::train_reference(data.train, config.hyper, lr::make_sigmoid("poly3", 8)).weights;
    ASSERT_EQ(weights.size(), reference.size());
    for (std::size_t j = 0; j < weights.size(); ++j) EXPECT_NEAR(weights[j], reference[j], 1e-3);
    EXPECT_GT(result.bytes_up, 0u);
}
