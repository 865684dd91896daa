// One libFuzzer target per loader of untrusted_loaders.hpp, chosen by HENN_FUZZ_TARGET (its
// name). A loader may accept the input or throw a henn::Error; any other exception escapes and
// libFuzzer reports it, like a crash or a sanitizer finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <span>

#include "untrusted_all.hpp"

namespace {
const henn::fuzz::UntrustedLoader& loader() {
    static const henn::fuzz::UntrustedLoader chosen = [] {
        for (auto& l : henn::fuzz::all_untrusted_loaders(HENN_ONNX_FIXTURES)) {
            if (l.name == HENN_FUZZ_TARGET) return l;
        }
        std::cerr << "no loader named " << HENN_FUZZ_TARGET << "\n";
        std::abort();
    }();
    return chosen;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        loader().load(std::span<const std::uint8_t>(data, size));
    } catch (const henn::Error&) {
    }
    return 0;
}
