// The CKKS loaders, by name, against the fuzz context (fuzz_context.hpp): shared by the libFuzzer
// targets (fuzz_loaders.cpp) and the corpus replay in the normal suite (tests/fuzz). A loader may
// accept its input or throw ckks::SerializationError; anything else is a bug.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "henn/ckks/serialization.hpp"

namespace henn::fuzz {

struct CkksLoader {
    std::string name;
    std::function<void(const ckks::Context&, std::span<const std::uint8_t>)> load;
};

inline ckks::LoadOptions ckks_fuzz_options() {
    ckks::LoadOptions options;
    options.max_payload_bytes = 1 << 24;
    return options;
}

inline std::vector<CkksLoader> ckks_loaders() {
    using namespace ckks;
    using Span = std::span<const std::uint8_t>;
    return {
        {"parameters",
         [](const Context&, Span b) {
             LoadOptions options = ckks_fuzz_options();
             options.allow_insecure_parameters = true;
             (void)load_parameters(b, options);
         }},
        {"ciphertext",
         [](const Context& c, Span b) { (void)load_ciphertext(c, b, ckks_fuzz_options()); }},
        {"plaintext",
         [](const Context& c, Span b) { (void)load_plaintext(c, b, ckks_fuzz_options()); }},
        {"secret_key",
         [](const Context& c, Span b) { (void)load_secret_key(c, b, ckks_fuzz_options()); }},
        {"public_key",
         [](const Context& c, Span b) { (void)load_public_key(c, b, ckks_fuzz_options()); }},
        {"relinearization_key",
         [](const Context& c, Span b) {
             (void)load_relinearization_key(c, b, ckks_fuzz_options());
         }},
        {"galois_keys",
         [](const Context& c, Span b) { (void)load_galois_keys(c, b, ckks_fuzz_options()); }},
        {"evaluation_keys",
         [](const Context& c, Span b) { (void)load_evaluation_keys(c, b, ckks_fuzz_options()); }},
    };
}

}  // namespace henn::fuzz
