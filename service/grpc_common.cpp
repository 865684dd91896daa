#include "henn/service/grpc_common.hpp"

#include <fstream>
#include <sstream>

namespace henn::service {

std::string read_text_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw ServiceError("cannot read " + path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

const char* status_code_name(grpc::StatusCode code) {
    switch (code) {
        case grpc::StatusCode::OK:
            return "OK";
        case grpc::StatusCode::CANCELLED:
            return "CANCELLED";
        case grpc::StatusCode::INVALID_ARGUMENT:
            return "INVALID_ARGUMENT";
        case grpc::StatusCode::DEADLINE_EXCEEDED:
            return "DEADLINE_EXCEEDED";
        case grpc::StatusCode::NOT_FOUND:
            return "NOT_FOUND";
        case grpc::StatusCode::FAILED_PRECONDITION:
            return "FAILED_PRECONDITION";
        case grpc::StatusCode::RESOURCE_EXHAUSTED:
            return "RESOURCE_EXHAUSTED";
        case grpc::StatusCode::UNAVAILABLE:
            return "UNAVAILABLE";
        case grpc::StatusCode::INTERNAL:
            return "INTERNAL";
        case grpc::StatusCode::UNAUTHENTICATED:
            return "UNAUTHENTICATED";
        default:
            return "ERROR";
    }
}

void check(const grpc::Status& status, const std::string& what) {
    if (status.ok()) return;
    throw ServiceError(
        what + ": " + status_code_name(status.error_code()) + ": " + status.error_message(),
        status.error_code());
}

Server::Server(const ServerOptions& options, const std::vector<grpc::Service*>& services) {
    std::shared_ptr<grpc::ServerCredentials> credentials;
    if (options.tls) {
        grpc::SslServerCredentialsOptions ssl(
            options.tls->client_ca_file.empty()
                ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
        if (!options.tls->client_ca_file.empty())
            ssl.pem_root_certs = read_text_file(options.tls->client_ca_file);
        ssl.pem_key_cert_pairs.push_back({read_text_file(options.tls->private_key_file),
                                          read_text_file(options.tls->certificate_chain_file)});
        credentials = grpc::SslServerCredentials(ssl);
    } else {
        credentials = grpc::InsecureServerCredentials();
    }
    grpc::ServerBuilder builder;
    builder.AddListeningPort(options.listen_address, credentials, &port_);
    builder.SetMaxReceiveMessageSize(options.max_message_bytes);
    builder.SetMaxSendMessageSize(options.max_message_bytes);
    for (grpc::Service* service : services) builder.RegisterService(service);
    server_ = builder.BuildAndStart();
    if (!server_ || port_ == 0)
        throw ServiceError("cannot listen on " + options.listen_address,
                           grpc::StatusCode::UNAVAILABLE);
    const auto colon = options.listen_address.rfind(':');
    address_ = options.listen_address.substr(0, colon) + ":" + std::to_string(port_);
}

Server::~Server() {
    shutdown();
}

void Server::wait() {
    if (server_) server_->Wait();
}

void Server::shutdown() {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
}

std::shared_ptr<grpc::Channel> connect(const ChannelOptions& options) {
    if (options.address.empty()) throw ServiceError("no server address given");
    std::shared_ptr<grpc::ChannelCredentials> credentials;
    grpc::ChannelArguments arguments;
    arguments.SetMaxReceiveMessageSize(options.max_message_bytes);
    arguments.SetMaxSendMessageSize(options.max_message_bytes);
    if (options.tls) {
        grpc::SslCredentialsOptions ssl;
        ssl.pem_root_certs = read_text_file(options.tls->root_certificates_file);
        if (!options.tls->certificate_chain_file.empty()) {
            ssl.pem_cert_chain = read_text_file(options.tls->certificate_chain_file);
            ssl.pem_private_key = read_text_file(options.tls->private_key_file);
        }
        credentials = grpc::SslCredentials(ssl);
        if (!options.tls->server_name_override.empty())
            arguments.SetSslTargetNameOverride(options.tls->server_name_override);
    } else {
        credentials = grpc::InsecureChannelCredentials();
    }
    auto channel = grpc::CreateCustomChannel(options.address, credentials, arguments);
    if (!channel->WaitForConnected(std::chrono::system_clock::now() + options.connect_timeout))
        throw ServiceError("cannot connect to " + options.address + " within " +
                               std::to_string(options.connect_timeout.count()) + " ms",
                           grpc::StatusCode::UNAVAILABLE);
    return channel;
}

std::unique_ptr<grpc::ClientContext> make_context(std::chrono::milliseconds timeout) {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + timeout);
    return context;
}

}  // namespace henn::service
