// Hoisted rotate-and-sum against its plaintext reference, for every radix, both stride signs and
// strides that wrap around the slots; precision in bits asserted; fixed seeds.
#include <gtest/gtest.h>

#include <random>

#include "../ckks/ckks_fixture.hpp"
#include "henn/circuits/rotate_sum.hpp"
#include "henn/ckks/errors.hpp"

using namespace henn;
using namespace henn::ckks;
using namespace henn::circuits;

namespace {

test::CkksSetup& setup() {
    ParametersLiteral lit;
    lit.log_n = 12;
    lit.log_q = {60, 40};
    lit.log_p = {61};
    lit.log_default_scale = 40;
    lit.allow_insecure = true;  // tests only: a small ring
    static test::CkksSetup s(lit, {}, false, 77);
    return s;
}

}  // namespace

TEST(RotateAndSum, EveryRadixAndStrideMatchesTheReference) {
    const std::size_t slots = 256;
    std::mt19937_64 rng(5);
    std::uniform_real_distribution<double> u(-1, 1);
    std::vector<double> x(slots);
    for (auto& v : x) v = u(rng);
    const Ciphertext ct = setup().encryptor->encrypt(setup().encoder->encode(x, -1, 0, slots));
    struct Case {
        std::size_t count;
        long long stride;
    };
    for (const Case c : {Case{8, 1}, Case{8, -1}, Case{32, 8}, Case{16, -3}, Case{256, 1}}) {
        for (std::size_t radix : {2, 4, 8, 32}) {
            const auto steps = rotate_and_sum_steps(c.count, c.stride, slots, radix);
            auto keys = std::make_shared<EvaluationKeys>();
            keys->galois = setup().keygen->galois_keys(steps);
            const Evaluator ev(setup().context, keys);
            const Ciphertext r = rotate_and_sum(ev, ct, c.count, c.stride, radix);
            EXPECT_EQ(r.level, ct.level);
            const auto got = setup().encoder->decode_real(setup().decryptor->decrypt(r));
            const auto stats = precision(got, rotate_and_sum_reference(x, c.count, c.stride));
            EXPECT_GT(stats.min_bits, 20)
                << "count " << c.count << " stride " << c.stride << " radix " << radix;
        }
    }
    // The number of keys: log2(count) for radix 2, count - 1 for one stage.
    EXPECT_EQ(rotate_and_sum_steps(32, 1, slots, 2).size(), 5u);
    EXPECT_EQ(rotate_and_sum_steps(32, 1, slots, 32).size(), 31u);
    EXPECT_THROW(rotate_and_sum_steps(12, 1, slots, 2), ParameterError);
    EXPECT_THROW(rotate_and_sum_steps(8, 1, slots, 3), ParameterError);
}
