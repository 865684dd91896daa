// The fixed parameters every fuzz target loads against: a tiny ring (explicitly insecure, so
// that each input is small and fast) with two Q primes and one P prime.
#pragma once

#include "henn/ckks/parameters.hpp"

namespace henn::fuzz {

inline ckks::ContextPtr fuzz_context() {
    ckks::ParametersLiteral lit;
    lit.log_n = 6;
    lit.log_q = {40, 30};
    lit.log_p = {45};
    lit.log_default_scale = 30;
    lit.allow_insecure = true;
    return ckks::Context::create(lit);
}

}  // namespace henn::fuzz
