// Where the data sets are: tests take the path as an argument (--data-dir=DIR, added by CMake's
// henn_add_test(... DATA)) or from HENN_DATA_DIR in the environment; never a hard-coded path.
#pragma once

#include <cstdlib>
#include <string>

namespace henn::test {

inline std::string& data_dir_storage() {
    static std::string dir;
    return dir;
}

// Parses and removes --data-dir=DIR from argv; call from a custom main, or rely on
// data_dir() below, which also reads the environment.
inline void parse_data_dir(int& argc, char** argv) {
    const std::string prefix = "--data-dir=";
    int out = 1;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg.rfind(prefix, 0) == 0) {
            data_dir_storage() = arg.substr(prefix.size());
        } else {
            argv[out++] = argv[i];
        }
    }
    argc = out;
}

inline std::string data_dir() {
    if (!data_dir_storage().empty()) return data_dir_storage();
    if (const char* env = std::getenv("HENN_DATA_DIR")) return env;
    return {};
}

// Set by CI (CI=true, as .ci/run exports): data sets are always present there, so a test that
// cannot find its data must fail rather than skip to green. Developers without the data may skip.
inline bool data_required() {
    const char* ci = std::getenv("CI");
    if (ci == nullptr) return false;
    const std::string value = ci;
    return !value.empty() && value != "0" && value != "false";
}

}  // namespace henn::test

// Skips the test when its data is missing, or fails it when running under CI.
#define HENN_SKIP_WITHOUT_DATA(message)                                \
    do {                                                               \
        if (::henn::test::data_required())                             \
            FAIL() << message << " (CI is set: data must be present)"; \
        GTEST_SKIP() << message;                                       \
    } while (0)
