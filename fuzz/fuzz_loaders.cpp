// One libFuzzer entry point per loader, selected at compile time. A loader may accept the
// input or throw SerializationError; anything else (a crash, a sanitizer report, another
// exception type) is a bug.
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz_context.hpp"
#include "henn/ckks/errors.hpp"
#include "henn/ckks/serialization.hpp"

namespace {
const henn::ckks::ContextPtr& context() {
    static const henn::ckks::ContextPtr ctx = henn::fuzz::fuzz_context();
    return ctx;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace henn::ckks;
    const std::span<const std::uint8_t> bytes(data, size);
    const Context& ctx = *context();
    LoadOptions options;
    options.max_payload_bytes = 1 << 24;
    try {
#if defined(HENN_FUZZ_LOADER_parameters)
        options.allow_insecure_parameters = true;
        (void)load_parameters(bytes, options);
#elif defined(HENN_FUZZ_LOADER_ciphertext)
        (void)load_ciphertext(ctx, bytes, options);
#elif defined(HENN_FUZZ_LOADER_plaintext)
        (void)load_plaintext(ctx, bytes, options);
#elif defined(HENN_FUZZ_LOADER_secret_key)
        (void)load_secret_key(ctx, bytes, options);
#elif defined(HENN_FUZZ_LOADER_public_key)
        (void)load_public_key(ctx, bytes, options);
#elif defined(HENN_FUZZ_LOADER_relinearization_key)
        (void)load_relinearization_key(ctx, bytes, options);
#elif defined(HENN_FUZZ_LOADER_galois_keys)
        (void)load_galois_keys(ctx, bytes, options);
#else
#error "define one HENN_FUZZ_LOADER_*"
#endif
    } catch (const SerializationError&) {
    }
    (void)ctx;
    return 0;
}
