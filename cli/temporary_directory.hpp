// A private temporary directory (mode 0700) that is removed when the command ends: on normal
// exit, on an exception, and on SIGINT/SIGTERM/SIGHUP, so a key written into it is never left
// behind by an interrupted command.
#pragma once

#include <filesystem>
#include <string>

namespace henn::cli {

class TemporaryDirectory {
  public:
    // Creates $TMPDIR/<prefix>-XXXXXX. Throws CommandFailure (io) if it cannot.
    explicit TemporaryDirectory(const std::string& prefix);
    ~TemporaryDirectory();
    TemporaryDirectory(const TemporaryDirectory&) = delete;
    TemporaryDirectory& operator=(const TemporaryDirectory&) = delete;

    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
    int slot_ = -1;
};

}  // namespace henn::cli
