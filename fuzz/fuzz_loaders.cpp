// One libFuzzer target per CKKS loader (ckks_loaders.hpp), chosen by HENN_FUZZ_TARGET (its
// name). A loader may accept the input or throw SerializationError; anything else (a crash, a
// sanitizer report, another exception type) is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <span>

#include "ckks_loaders.hpp"
#include "fuzz_context.hpp"
#include "henn/ckks/errors.hpp"

namespace {
const henn::ckks::ContextPtr& context() {
    static const henn::ckks::ContextPtr ctx = henn::fuzz::fuzz_context();
    return ctx;
}

const henn::fuzz::CkksLoader& loader() {
    static const henn::fuzz::CkksLoader chosen = [] {
        for (auto& l : henn::fuzz::ckks_loaders()) {
            if (l.name == HENN_FUZZ_TARGET) return l;
        }
        std::cerr << "no CKKS loader named " << HENN_FUZZ_TARGET << "\n";
        std::abort();
    }();
    return chosen;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        loader().load(*context(), std::span<const std::uint8_t>(data, size));
    } catch (const henn::ckks::SerializationError&) {
    }
    return 0;
}
