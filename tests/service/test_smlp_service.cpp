// The SMLP parties over gRPC on 127.0.0.1 with OS-chosen ports, each party on its own threads.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "henn/service/smlp_service.hpp"
#include "henn/smlp/owner.hpp"
#include "henn/smlp/plain.hpp"
#include "test_data.hpp"

namespace henn::service {
namespace {

namespace v1 = henn::smlp::v1;
using namespace std::chrono_literals;

const paillier::KeyPair& test_keys() {
    static const paillier::KeyPair keys = paillier::generate_keypair(
        {.modulus_bits = paillier::kTestOnlyModulusBits, .allow_test_only_sizes = true});
    return keys;
}
const SmlpServiceOptions kTestService{.allow_test_only_sizes = true};

// A tiny data set, so the suite does not depend on files: y = +1 when x0 + x1 > 0, else -1.
smlp::Dataset toy_data(std::size_t rows) {
    smlp::Dataset data{2, 1, {}, {}};
    for (std::size_t i = 0; i < rows; ++i) {
        const double a = std::sin(1.7 * static_cast<double>(i)),
                     b = std::cos(2.3 * static_cast<double>(i));
        data.x.insert(data.x.end(), {a, b});
        data.y.push_back(a + b > 0 ? 1.0 : -1.0);
    }
    return data;
}

struct Parties {
    smlp::Helper helper{test_keys().secret_key};
    SmlpHelperService helper_service{helper, kTestService};
    std::unique_ptr<Server> s2 =
        std::make_unique<Server>(ServerOptions{}, std::vector<grpc::Service*>{&helper_service});
    GrpcHelperLink link{ChannelOptions{.address = s2->address()}, kTestService};
    SmlpCloudService cloud_service{link, kTestService};
    Server s1{ServerOptions{}, {&cloud_service}};
};

TEST(SmlpService, TrainClassifyAndFetchModelOverGrpc) {
    Parties parties;
    const smlp::FixedPointConfig config;
    const smlp::Owner owner(test_keys().secret_key, config);
    const auto& pk = owner.public_key();
    SmlpCloudClient client(ChannelOptions{.address = parties.s1.address()});

    const smlp::Dataset train = toy_data(12);
    const smlp::ModelShape shape{{2, 3, 1}};
    const smlp::TrainSchedule schedule{
        .epochs = 1, .batch_size = 4, .learning_rate = 0.2, .seed = 3};
    const smlp::PlainModel start = smlp::quantize(smlp::initial_model(shape, 9), config.scale_bits);
    client.setup(pk, config, owner.encrypt(start));
    EXPECT_EQ(client.upload(pk, owner.encrypt(train), 5), 12u);  // three messages
    const smlp::TrainingReport report = client.train(schedule, 60s);
    ASSERT_EQ(report.epochs.size(), 1u);
    EXPECT_EQ(report.epochs[0].samples, 12u);
    EXPECT_GT(report.epochs[0].traffic.bytes_sent, 12u * pk.ciphertext_bytes());
    EXPECT_GT(report.epochs[0].traffic.rounds, 3u);
    EXPECT_GT(report.epochs[0].s1_cpu_seconds, 0);
    EXPECT_GE(report.epochs[0].s2_cpu_seconds, 0);  // S2 reports its CPU time over the wire

    const smlp::PlainModel trained = owner.decrypt(client.model(pk));
    const smlp::PlainModel reference = smlp::train_fixed_point(start, train, schedule, config);
    const double ulp = std::ldexp(1.0, -static_cast<int>(config.scale_bits));
    EXPECT_LE(smlp::max_abs_difference(trained, reference), 8 * ulp);

    const smlp::Dataset query = toy_data(5);
    const auto scores = owner.decrypt_scores(client.classify(pk, owner.encrypt_features(query), 5));
    const auto expected = smlp::predict(reference, query);
    ASSERT_EQ(scores.size(), 5u);
    for (std::size_t i = 0; i < 5; ++i) EXPECT_NEAR(scores[i], expected[i], 1e-3);
}

TEST(SmlpService, MalformedMessagesAreRefusedAndServerKeepsServing) {
    Parties parties;
    auto stub = v1::Helper::NewStub(connect({.address = parties.s2->address()}));
    const auto& pk = test_keys().public_key;

    v1::ReluRequest relu;
    relu.set_value_bits(80);
    relu.set_statistical_bits(40);
    relu.set_probes("garbage, not a ciphertext batch");
    v1::ReluReply relu_reply;
    auto context = make_context(5s);
    grpc::Status status = stub->Relu(context.get(), relu, &relu_reply);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find("magic"), std::string::npos) << status.error_message();

    v1::MultiplyRequest multiply;
    multiply.set_operand_bits(100);
    auto* product = multiply.add_products();
    product->set_kind(0);
    product->set_rows(2);
    product->set_inner(2);
    product->set_cols(2);
    const std::vector<smlp::Ciphertext> three{pk.encrypt(1), pk.encrypt(2), pk.encrypt(3)};
    const auto bytes = paillier::serialize(pk, std::span<const smlp::Ciphertext>(three));
    product->set_left(std::string(bytes.begin(), bytes.end()));
    product->set_right(std::string(bytes.begin(), bytes.end()));
    v1::MultiplyReply multiply_reply;
    context = make_context(5s);
    status = stub->Multiply(context.get(), multiply, &multiply_reply);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find("sizes"), std::string::npos) << status.error_message();

    // Overflowing carriers are refused too.
    v1::RescaleRequest rescale;
    rescale.set_value_bits(40);
    rescale.set_statistical_bits(40);
    rescale.add_shifts(8);
    const std::vector<smlp::Ciphertext> huge{pk.encrypt(pk.n() - 1)};
    const auto huge_bytes = paillier::serialize(pk, std::span<const smlp::Ciphertext>(huge));
    rescale.set_values(std::string(huge_bytes.begin(), huge_bytes.end()));
    v1::RescaleReply rescale_reply;
    context = make_context(5s);
    status = stub->Rescale(context.get(), rescale, &rescale_reply);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find("overflow"), std::string::npos) << status.error_message();

    // S1 without a session.
    SmlpCloudClient client(ChannelOptions{.address = parties.s1.address()});
    try {
        client.train({}, 5s);
        ADD_FAILURE() << "Train without Setup succeeded";
    } catch (const ServiceError& e) {
        EXPECT_EQ(e.code, grpc::StatusCode::INVALID_ARGUMENT);
        EXPECT_NE(std::string(e.what()).find("Setup"), std::string::npos) << e.what();
    }

    // Still serving.
    EXPECT_EQ(parties.link.public_key().n(), pk.n());
}

TEST(SmlpService, LostHelperIsAClearErrorAndS1Survives) {
    Parties parties;
    const smlp::FixedPointConfig config;
    const smlp::Owner owner(test_keys().secret_key, config);
    const auto& pk = owner.public_key();
    SmlpCloudClient client(ChannelOptions{.address = parties.s1.address()});
    const smlp::PlainModel start = smlp::initial_model(smlp::ModelShape{{2, 2, 1}}, 1);
    client.setup(pk, config, owner.encrypt(start));
    client.upload(pk, owner.encrypt(toy_data(4)));

    parties.s2->shutdown();
    parties.s2.reset();
    try {
        client.train({.epochs = 1, .batch_size = 4, .learning_rate = 0.1, .seed = 1}, 30s);
        ADD_FAILURE() << "training without S2 succeeded";
    } catch (const ServiceError& e) {
        EXPECT_EQ(e.code, grpc::StatusCode::UNAVAILABLE) << e.what();
        EXPECT_NE(std::string(e.what()).find("S2 at"), std::string::npos) << e.what();
    }
    // S1 is alive and still holds the (untouched) model.
    EXPECT_EQ(owner.decrypt(client.model(pk)).weights, smlp::quantize(start, 16).weights);
}

TEST(SmlpService, ConnectingToNothingFailsWithinTheTimeout) {
    EXPECT_THROW(connect({.address = "127.0.0.1:1", .connect_timeout = 300ms}), ServiceError);
    EXPECT_THROW(connect({.address = ""}), ServiceError);
}

TEST(SmlpService, TlsChannel) {
    const auto dir =
        std::filesystem::temp_directory_path() / ("henn_tls_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string key = (dir / "key.pem").string(), cert = (dir / "cert.pem").string();
    const std::string command = "openssl req -x509 -newkey rsa:2048 -nodes -keyout " + key +
                                " -out " + cert +
                                " -days 1 -subj /CN=localhost -addext "
                                "subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1";
    if (std::system(command.c_str()) != 0) {
        std::filesystem::remove_all(dir);
        HENN_SKIP_WITHOUT_DATA("openssl command not available to make a test certificate");
    }
    smlp::Helper helper(test_keys().secret_key);
    SmlpHelperService service(helper, kTestService);
    Server server(ServerOptions{.tls = ServerTls{cert, key, ""}}, {&service});

    GrpcHelperLink link(
        ChannelOptions{.address = server.address(), .tls = ChannelTls{cert, "", "", ""}},
        kTestService);
    EXPECT_EQ(link.public_key().n(), test_keys().public_key.n());
    // A plaintext client cannot talk to the TLS server.
    EXPECT_THROW(
        {
            GrpcHelperLink plain(
                ChannelOptions{.address = server.address(), .connect_timeout = 500ms},
                kTestService);
            plain.public_key();
        },
        ServiceError);
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace henn::service
