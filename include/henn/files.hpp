// Writing files the same safe way in every layer: a secret key file has mode 0600 from the moment
// it exists (never a window in which another user could open it), a reader never sees a half
// written file, and an existing secret is not replaced by accident. Header-only (POSIX).
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "henn/error.hpp"

namespace henn {

enum class FileAccess {
    owner_only,  // mode 0600: secret keys
    shared,      // mode 0644: public keys, ciphertexts, models
};

// Writes `bytes` to a fresh temporary file beside `path`, created by mkstemp (O_EXCL, mode 0600)
// and given its final mode before the first byte, then fsyncs and renames it onto `path`. With
// `overwrite` false an existing `path` is an error (usage). Failures are io errors; the temporary
// file is removed.
inline void write_file_atomically(const std::filesystem::path& path,
                                  std::span<const std::uint8_t> bytes, FileAccess access,
                                  bool overwrite = true) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!overwrite && fs::exists(path, ec)) {
        throw Error(ErrorCategory::usage,
                    path.string() + " exists; remove it or allow overwriting");
    }
    if (!path.parent_path().empty()) {
        fs::create_directories(path.parent_path(), ec);
        if (ec)
            throw Error(ErrorCategory::io,
                        "cannot create " + path.parent_path().string() + ": " + ec.message());
    }
    std::string temporary = path.string() + ".partial-XXXXXX";
    const int fd = ::mkostemp(temporary.data(), O_CLOEXEC);
    if (fd < 0)
        throw Error(ErrorCategory::io, "cannot create " + temporary + ": " + std::strerror(errno));
    auto fail = [&](const std::string& what) {
        const std::string reason = std::strerror(errno);
        ::close(fd);
        ::unlink(temporary.c_str());
        throw Error(ErrorCategory::io, "cannot " + what + " " + path.string() + ": " + reason);
    };
    if (::fchmod(fd, access == FileAccess::owner_only ? 0600 : 0644) != 0) fail("set the mode of");
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t written = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) fail("write");
        done += static_cast<std::size_t>(written);
    }
    if (::fsync(fd) != 0) fail("write");
    if (::close(fd) != 0) {
        ::unlink(temporary.c_str());
        throw Error(ErrorCategory::io,
                    "cannot write " + path.string() + ": " + std::strerror(errno));
    }
    if (::rename(temporary.c_str(), path.c_str()) != 0) {
        const std::string reason = std::strerror(errno);
        ::unlink(temporary.c_str());
        throw Error(ErrorCategory::io, "cannot write " + path.string() + ": " + reason);
    }
}

inline void write_file_atomically(const std::filesystem::path& path,
                                  const std::vector<std::uint8_t>& bytes, FileAccess access,
                                  bool overwrite = true) {
    write_file_atomically(path, std::span<const std::uint8_t>(bytes), access, overwrite);
}

}  // namespace henn
