// Parallel limbs give the same bits as one thread, and one evaluator serves many threads.
#include <gtest/gtest.h>

#include <thread>

#include "ckks_fixture.hpp"
#include "henn/math/parallel.hpp"

using namespace henn;
using namespace henn::ckks;
using test::CkksSetup;
using test::random_complex;

namespace {
ParametersLiteral params() {
    ParametersLiteral lit;
    lit.log_n = 13;
    lit.log_q = {45, 40, 40};
    lit.log_p = {45, 45};
    return lit;
}

std::vector<Ciphertext> workload(const CkksSetup& s, const Ciphertext& a, const Ciphertext& b) {
    const Evaluator& ev = *s.evaluator;
    std::vector<Ciphertext> out;
    out.push_back(ev.rescale(ev.multiply_relin(a, b)));
    out.push_back(ev.rotate(a, 3));
    auto hoisted = ev.rotate_hoisted(b, std::vector<int>{1, 3});
    out.insert(out.end(), hoisted.begin(), hoisted.end());
    out.push_back(ev.conjugate(a));
    return out;
}
}  // namespace

TEST(Threading, LimbParallelismIsBitExact) {
    CkksSetup s(params(), {1, 3}, true, 5);
    const auto a = s.encrypt(random_complex(64, 1)), b = s.encrypt(random_complex(64, 2));
    math::set_thread_count(1);
    const auto serial = workload(s, a, b);
    math::set_thread_count(2);
    const auto parallel = workload(s, a, b);
    math::set_thread_count(0);
    ASSERT_EQ(serial.size(), parallel.size());
    for (std::size_t i = 0; i < serial.size(); ++i)
        EXPECT_EQ(serial[i].polys, parallel[i].polys) << i;
}

TEST(Threading, OneEvaluatorManyThreads) {
    CkksSetup s(params(), {1, 3}, true, 6);
    const auto a = s.encrypt(random_complex(64, 3)), b = s.encrypt(random_complex(64, 4));
    math::set_thread_count(1);
    const auto expected = workload(s, a, b);
    std::vector<std::vector<Ciphertext>> results(4);
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < results.size(); ++t) {
        threads.emplace_back([&, t] { results[t] = workload(s, a, b); });
    }
    for (auto& th : threads) th.join();
    math::set_thread_count(0);
    for (const auto& r : results) {
        ASSERT_EQ(r.size(), expected.size());
        for (std::size_t i = 0; i < r.size(); ++i) EXPECT_EQ(r[i].polys, expected[i].polys);
    }
}
