// The SMLP parties on the network: S2's Helper service, S1's Cloud service (which reaches S2
// through GrpcHelperLink), and the owner's client for S1. Every incoming message is validated;
// a malformed message is answered with INVALID_ARGUMENT and the server keeps running.
#pragma once

#include <memory>
#include <mutex>

#include "henn/paillier/serialization.hpp"
#include "henn/service/grpc_common.hpp"
#include "henn/service/smlp.grpc.pb.h"
#include "henn/smlp/cloud.hpp"
#include "henn/smlp/helper.hpp"

namespace henn::service {

struct SmlpServiceOptions {
    // Accept 1024-bit test keys (tests only).
    bool allow_test_only_sizes = false;
};

// S2: answers S1's blinded requests with the owner's secret key.
class SmlpHelperService final : public henn::smlp::v1::Helper::Service {
  public:
    SmlpHelperService(const smlp::Helper& helper, SmlpServiceOptions options = {});
    grpc::Status GetPublicKey(grpc::ServerContext*, const henn::smlp::v1::PublicKeyRequest*,
                              henn::smlp::v1::PublicKeyReply*) override;
    grpc::Status Stats(grpc::ServerContext*, const henn::smlp::v1::StatsRequest*,
                       henn::smlp::v1::StatsReply*) override;
    grpc::Status Multiply(grpc::ServerContext*, const henn::smlp::v1::MultiplyRequest*,
                          henn::smlp::v1::MultiplyReply*) override;
    grpc::Status Relu(grpc::ServerContext*, const henn::smlp::v1::ReluRequest*,
                      henn::smlp::v1::ReluReply*) override;
    grpc::Status Rescale(grpc::ServerContext*, const henn::smlp::v1::RescaleRequest*,
                         henn::smlp::v1::RescaleReply*) override;

  private:
    const smlp::Helper& helper_;
    SmlpServiceOptions options_;
};

// S1's link to a remote S2. Counts the protobuf bytes of every request and reply.
class GrpcHelperLink final : public smlp::HelperLink {
  public:
    GrpcHelperLink(const ChannelOptions& options, SmlpServiceOptions service_options = {});
    smlp::MultiplyResponse multiply(const smlp::MultiplyRequest& request) override;
    smlp::ReluResponse relu(const smlp::ReluRequest& request) override;
    smlp::RescaleResponse rescale(const smlp::RescaleRequest& request) override;
    paillier::PublicKey public_key() override;
    smlp::Traffic traffic() const override;
    double helper_cpu_seconds() override;

  private:
    void count(std::size_t sent, std::size_t received);
    const paillier::PublicKey& key();
    ChannelOptions options_;
    SmlpServiceOptions service_options_;
    std::shared_ptr<grpc::Channel> channel_;
    std::unique_ptr<henn::smlp::v1::Helper::Stub> stub_;
    std::optional<paillier::PublicKey> key_;
    mutable std::mutex mutex_;
    smlp::Traffic traffic_;
};

// S1: one owner session at a time (Setup starts a new one), calls serialized.
class SmlpCloudService final : public henn::smlp::v1::Cloud::Service {
  public:
    SmlpCloudService(smlp::HelperLink& helper, SmlpServiceOptions options = {});
    grpc::Status Setup(grpc::ServerContext*, const henn::smlp::v1::SetupRequest*,
                       henn::smlp::v1::SetupReply*) override;
    grpc::Status Upload(grpc::ServerContext*, const henn::smlp::v1::UploadRequest*,
                        henn::smlp::v1::UploadReply*) override;
    grpc::Status Train(grpc::ServerContext*, const henn::smlp::v1::TrainRequest*,
                       henn::smlp::v1::TrainReply*) override;
    grpc::Status Classify(grpc::ServerContext*, const henn::smlp::v1::ClassifyRequest*,
                          henn::smlp::v1::ClassifyReply*) override;
    grpc::Status GetModel(grpc::ServerContext*, const henn::smlp::v1::GetModelRequest*,
                          henn::smlp::v1::Model*) override;

  private:
    smlp::HelperLink& helper_;
    SmlpServiceOptions options_;
    std::mutex mutex_;
    std::unique_ptr<smlp::Cloud> cloud_;
};

// The owner's client for S1.
class SmlpCloudClient {
  public:
    SmlpCloudClient(const ChannelOptions& options);
    void setup(const paillier::PublicKey& key, const smlp::FixedPointConfig& config,
               const smlp::EncryptedModel& model);
    // Uploads in pieces of at most rows_per_message rows; returns S1's total row count.
    std::size_t upload(const paillier::PublicKey& key, const smlp::EncryptedDataset& data,
                       std::size_t rows_per_message = 64);
    smlp::TrainingReport train(const smlp::TrainSchedule& schedule,
                               std::chrono::milliseconds timeout);
    std::vector<smlp::Ciphertext> classify(const paillier::PublicKey& key,
                                           const std::vector<smlp::Ciphertext>& features,
                                           std::size_t rows);
    smlp::EncryptedModel model(const paillier::PublicKey& key);

  private:
    ChannelOptions options_;
    std::shared_ptr<grpc::Channel> channel_;
    std::unique_ptr<henn::smlp::v1::Cloud::Stub> stub_;
};

// Model <-> protobuf (validated on the way in).
void to_proto(const paillier::PublicKey& key, const smlp::EncryptedModel& model,
              henn::smlp::v1::Model& out);
smlp::EncryptedModel from_proto(const paillier::PublicKey& key, const henn::smlp::v1::Model& in);

}  // namespace henn::service
