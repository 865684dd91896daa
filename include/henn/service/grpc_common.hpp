// Generic gRPC plumbing shared by henn's network services (the SMLP parties today, the encrypted
// inference service later): server start-up on a chosen or OS-assigned port, optional TLS,
// message size limits, per-call deadlines, and one exception type for every failed call.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "henn/error.hpp"

namespace henn::service {

// A failed remote call (lost connection, timeout, refused request) or a bad configuration.
// Category protocol (a failed call) or parameters (a bad configuration).
struct ServiceError : ::henn::Error {
    ServiceError(const std::string& message, grpc::StatusCode code = grpc::StatusCode::UNKNOWN,
                 ErrorCategory category = ErrorCategory::protocol)
        : ::henn::Error(category, message), code(code) {}
    grpc::StatusCode code;
};

inline constexpr int kDefaultMaxMessageBytes = 512 * 1024 * 1024;

struct ServerTls {
    std::string certificate_chain_file{};  // PEM
    std::string private_key_file{};        // PEM
    std::string client_ca_file{};          // PEM; if set, clients must present a certificate
};

struct ServerOptions {
    // "host:port"; port 0 lets the OS choose (read it back with Server::port()).
    std::string listen_address = "127.0.0.1:0";
    std::optional<ServerTls> tls{};
    int max_message_bytes = kDefaultMaxMessageBytes;
};

struct ChannelTls {
    std::string root_certificates_file{};  // PEM of the CA that signed the server's certificate
    std::string certificate_chain_file{};  // optional client certificate (mutual TLS)
    std::string private_key_file{};
    std::string server_name_override{};  // for test certificates issued to another name
};

struct ChannelOptions {
    std::string address{};  // "host:port"
    std::optional<ChannelTls> tls{};
    int max_message_bytes = kDefaultMaxMessageBytes;
    std::chrono::milliseconds connect_timeout{10000};
    std::chrono::milliseconds call_timeout{600000};
};

// A started gRPC server; stops (and waits for calls in flight) when destroyed.
class Server {
  public:
    Server(const ServerOptions& options, const std::vector<grpc::Service*>& services);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    int port() const { return port_; }
    // "host:port" with the actual port.
    std::string address() const { return address_; }
    void wait();
    void shutdown();

  private:
    std::unique_ptr<grpc::Server> server_;
    int port_ = 0;
    std::string address_;
};

// Creates a channel and waits until it is connected (throws ServiceError after connect_timeout).
std::shared_ptr<grpc::Channel> connect(const ChannelOptions& options);

// A client context with the call deadline set.
std::unique_ptr<grpc::ClientContext> make_context(std::chrono::milliseconds timeout);

// Throws ServiceError("<what>: <code name>: <message>") unless the status is OK.
void check(const grpc::Status& status, const std::string& what);

const char* status_code_name(grpc::StatusCode code);
std::string read_text_file(const std::string& path);

}  // namespace henn::service
