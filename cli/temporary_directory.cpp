#include "temporary_directory.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <system_error>

#include "exit_codes.hpp"

namespace henn::cli {
namespace {

// Directories to remove if a signal ends the process. The handler may only use
// async-signal-safe calls, so paths live in fixed buffers and are read through atomics.
constexpr int kSlots = 8;
constexpr std::size_t kPathBytes = 4096;
std::array<std::array<char, kPathBytes>, kSlots> g_paths{};
std::array<std::atomic<bool>, kSlots> g_in_use{};
std::mutex g_register_mutex;
// Only the process that created the directories removes them (not a child between fork and exec).
std::atomic<pid_t> g_owner{0};

// Unlinks every entry of a flat directory and the directory itself, with raw system calls only.
void remove_flat_directory(const char* path) {
    const int fd = ::open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        alignas(8) char buffer[4096];
        for (;;) {
            const long n = ::syscall(SYS_getdents64, fd, buffer, sizeof buffer);
            if (n <= 0) break;
            for (long offset = 0; offset < n;) {
                const auto* entry = reinterpret_cast<const dirent64*>(buffer + offset);
                const char* name = entry->d_name;
                const bool dot =
                    name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0));
                if (!dot) ::unlinkat(fd, name, 0);
                offset += entry->d_reclen;
            }
        }
        ::close(fd);
    }
    ::rmdir(path);
}

extern "C" void remove_on_signal(int signal_number) {
    if (::getpid() == g_owner.load()) {
        for (int i = 0; i < kSlots; ++i) {
            if (g_in_use[i].load()) remove_flat_directory(g_paths[i].data());
        }
    }
    // End as the signal would have: default disposition, then raise it again.
    ::signal(signal_number, SIG_DFL);
    ::raise(signal_number);
}

void install_handlers_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        g_owner.store(::getpid());
        struct sigaction action {};
        action.sa_handler = remove_on_signal;
        sigemptyset(&action.sa_mask);
        for (int s : {SIGINT, SIGTERM, SIGHUP}) {
            struct sigaction previous {};
            ::sigaction(s, nullptr, &previous);
            if (previous.sa_handler == SIG_IGN) continue;  // e.g. nohup: keep ignoring
            ::sigaction(s, &action, nullptr);
        }
    });
}

}  // namespace

TemporaryDirectory::TemporaryDirectory(const std::string& prefix) {
    std::error_code ec;
    std::string pattern =
        (std::filesystem::temp_directory_path(ec) / (prefix + "-XXXXXX")).string();
    if (ec || pattern.size() >= kPathBytes)
        throw CommandFailure(ErrorCategory::io, "no usable temporary directory");
    if (::mkdtemp(pattern.data()) == nullptr) {  // mode 0700
        throw CommandFailure(ErrorCategory::io,
                             "cannot create " + pattern + ": " + std::strerror(errno));
    }
    path_ = pattern;
    install_handlers_once();
    const std::lock_guard<std::mutex> lock(g_register_mutex);
    for (int i = 0; i < kSlots; ++i) {
        if (!g_in_use[i].load()) {
            std::memcpy(g_paths[i].data(), pattern.c_str(), pattern.size() + 1);
            g_in_use[i].store(true);
            slot_ = i;
            break;
        }
    }
    if (slot_ < 0) {
        ::rmdir(pattern.c_str());
        throw CommandFailure(ErrorCategory::internal, "too many temporary directories");
    }
}

TemporaryDirectory::~TemporaryDirectory() {
    {
        const std::lock_guard<std::mutex> lock(g_register_mutex);
        if (slot_ >= 0) g_in_use[slot_].store(false);
    }
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

}  // namespace henn::cli
