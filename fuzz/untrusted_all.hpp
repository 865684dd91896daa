// The loaders of untrusted_loaders.hpp whose layers this build has, in one list.
#pragma once

#include "untrusted_loaders.hpp"

namespace henn::fuzz {

inline std::vector<UntrustedLoader> all_untrusted_loaders(
    [[maybe_unused]] const std::filesystem::path& onnx_fixtures) {
    std::vector<UntrustedLoader> all;
    auto append = [&all](std::vector<UntrustedLoader> more) {
        for (auto& l : more) all.push_back(std::move(l));
    };
#if defined(HENN_LOADERS_PAILLIER)
    append(paillier_loaders());
#endif
#if defined(HENN_LOADERS_DATA)
    append(data_loaders());
#endif
#if defined(HENN_LOADERS_NN)
    append(nn_loaders());
#endif
#if defined(HENN_LOADERS_ONNX)
    append(onnx_loaders(onnx_fixtures));
#endif
#if defined(HENN_LOADERS_ENGINE)
    append(engine_loaders());
#endif
#if defined(HENN_LOADERS_SERVICE)
    append(service_loaders());
#endif
    return all;
}

}  // namespace henn::fuzz
