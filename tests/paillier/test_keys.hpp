// One 1024-bit key pair (test-only size) shared by the suite: generating keys is the slow part.
#pragma once

#include "henn/paillier/paillier.hpp"

namespace henn::paillier::testing {

inline const KeyPair& test_keys() {
    static const KeyPair keys =
        generate_keypair({.modulus_bits = kTestOnlyModulusBits, .allow_test_only_sizes = true});
    return keys;
}

}  // namespace henn::paillier::testing
