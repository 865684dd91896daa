// Shared by `henn serve` and `henn client`: exit codes of network failures.
#pragma once

#include <functional>

#include "command_registry.hpp"
#include "engine_common.hpp"
#include "henn/service/grpc_common.hpp"

namespace henn::cli {

// The server refused the request or could not be reached (the message names the status).
inline constexpr int kExitService = 7;

// run_engine_command, plus ServiceError: a failed or refused call exits with kExitService.
inline void run_service_command(const std::function<void()>& body) {
    run_engine_command([&] {
        try {
            body();
        } catch (const service::ServiceError& e) {
            throw CommandFailure(kExitService, e.what());
        }
    });
}

}  // namespace henn::cli
