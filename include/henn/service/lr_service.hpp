// Encrypted logistic-regression training over gRPC (service/proto/lr.proto): the server side
// (evaluation keys and ciphertexts only) and the client side (holds the secret key, encrypts,
// refreshes in client-aided mode, decrypts). Transport only: the training itself is henn::lr.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "henn/lr/encrypted.hpp"
#include "henn/lr/files.hpp"
#include "henn/service/grpc_common.hpp"
#include "henn/service/lr.grpc.pb.h"

namespace henn::service {

// The training configuration on the wire (lr::TrainingConfig: the server re-derives the plan).
void to_proto(const lr::TrainingConfig& config, henn::lr::v1::Config& out);
// Validates ranges (throws lr::LrError, category protocol).
lr::TrainingConfig from_proto(const henn::lr::v1::Config& in);

struct LrServiceOptions {
    std::size_t max_sessions = 4;
    std::size_t max_rows = 2'000'000;
};

class LrTrainingService final : public henn::lr::v1::LogisticRegression::Service {
  public:
    explicit LrTrainingService(LrServiceOptions options = {}) : options_(options) {}
    grpc::Status Open(grpc::ServerContext*, const henn::lr::v1::OpenRequest*,
                      henn::lr::v1::OpenReply*) override;
    grpc::Status UploadKeys(grpc::ServerContext*, const henn::lr::v1::KeyRequest*,
                            henn::lr::v1::Ack*) override;
    grpc::Status UploadRows(grpc::ServerContext*, const henn::lr::v1::RowsRequest*,
                            henn::lr::v1::Ack*) override;
    grpc::Status Train(grpc::ServerContext*,
                       grpc::ServerReaderWriter<henn::lr::v1::TrainServerMessage,
                                                henn::lr::v1::TrainClientMessage>*) override;

  private:
    struct Session;
    std::shared_ptr<Session> session(std::uint64_t id);
    LrServiceOptions options_;
    std::mutex mutex_;
    std::map<std::uint64_t, std::shared_ptr<Session>> sessions_;
    std::uint64_t next_id_ = 1;
};

struct LrTrainingResult {
    ckks::Ciphertext model;
    double train_seconds = 0;         // server: the iterations (wall)
    double train_cpu_seconds = 0;     // server: the iterations (process CPU, all threads)
    double refresh_wait_seconds = 0;  // server: waiting for client refreshes
    std::uint64_t server_peak_memory_bytes = 0;
    std::uint64_t bytes_up = 0, bytes_down = 0;
    int refreshes = 0;
};

class LrTrainingClient {
  public:
    explicit LrTrainingClient(std::shared_ptr<grpc::Channel> channel);
    // Uploads keys and rows, trains, returns the encrypted model (the client decrypts it).
    LrTrainingResult train(lr::Client& client, const lr::TrainingConfig& config,
                           const lr::Problem& rows,
                           const std::function<void(const lr::IterationReport&)>& progress = {});

  private:
    std::unique_ptr<henn::lr::v1::LogisticRegression::Stub> stub_;
};

}  // namespace henn::service
