// The block pool behind polynomial storage: reuse by exact size, the byte limit, alignment, and
// concurrent use.
#include "henn/math/block_pool.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <thread>
#include <vector>

using namespace henn::math;

namespace {

// Restores the limit a test changed.
struct LimitGuard {
    std::size_t saved = block_pool_stats().limit_bytes;
    ~LimitGuard() { set_block_pool_limit(saved); }
};

}  // namespace

TEST(BlockPool, ReleasedBlocksAreReusedBySize) {
    LimitGuard guard;
    set_block_pool_limit(std::size_t{64} << 20);
    trim_block_pool();
    const std::size_t bytes = std::size_t{1} << 20;
    void* first = allocate_block(bytes);
    ASSERT_NE(first, nullptr);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(first) % 64, 0u);
    release_block(first, bytes);
    EXPECT_EQ(block_pool_stats().cached_bytes, bytes);
    const auto before = block_pool_stats();
    // Another size does not take it.
    void* other = allocate_block(bytes + 4096);
    EXPECT_NE(other, first);
    EXPECT_EQ(block_pool_stats().fresh, before.fresh + 1);
    void* again = allocate_block(bytes);
    EXPECT_EQ(again, first);
    EXPECT_EQ(block_pool_stats().reused, before.reused + 1);
    EXPECT_EQ(block_pool_stats().cached_bytes, 0u);
    release_block(again, bytes);
    release_block(other, bytes + 4096);
    trim_block_pool();
    EXPECT_EQ(block_pool_stats().cached_bytes, 0u);
}

TEST(BlockPool, TheLimitBoundsWhatIsKept) {
    LimitGuard guard;
    const std::size_t bytes = std::size_t{256} << 10;
    set_block_pool_limit(3 * bytes);
    trim_block_pool();
    std::vector<void*> blocks;
    for (int i = 0; i < 5; ++i) blocks.push_back(allocate_block(bytes));
    for (void* b : blocks) release_block(b, bytes);
    EXPECT_EQ(block_pool_stats().cached_bytes, 3 * bytes);
    set_block_pool_limit(bytes);  // lowering frees the excess
    EXPECT_EQ(block_pool_stats().cached_bytes, bytes);
    set_block_pool_limit(0);  // off: nothing kept
    EXPECT_EQ(block_pool_stats().cached_bytes, 0u);
    void* b = allocate_block(bytes);
    release_block(b, bytes);
    EXPECT_EQ(block_pool_stats().cached_bytes, 0u);
}

TEST(BlockPool, SmallBlocksAreNotPooled) {
    LimitGuard guard;
    set_block_pool_limit(std::size_t{64} << 20);
    trim_block_pool();
    const std::size_t bytes = kPooledBlockMin - 8;
    void* b = allocate_block(bytes);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b) % 64, 0u);
    release_block(b, bytes);
    EXPECT_EQ(block_pool_stats().cached_bytes, 0u);
}

TEST(BlockPool, ThreadsShareItSafely) {
    LimitGuard guard;
    set_block_pool_limit(std::size_t{64} << 20);
    std::vector<std::thread> threads;
    std::vector<int> failures(4, 0);
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([t, &failures] {
            for (int round = 0; round < 200; ++round) {
                const std::size_t words = (std::size_t{1} << 13) * (1 + (round + t) % 3);
                std::vector<std::uint64_t, PooledAllocator<std::uint64_t>> v(words);
                for (std::size_t k = 0; k < words; ++k) v[k] = k * 31 + t;
                for (std::size_t k = 0; k < words; ++k) failures[t] += v[k] != k * 31 + t;
            }
        });
    }
    for (auto& th : threads) th.join();
    for (int t = 0; t < 4; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
}

TEST(BlockPool, VectorsValueInitializeWhenAsked) {
    // A reused block holds its last owner's words; a vector asked for zeros still gets zeros.
    LimitGuard guard;
    set_block_pool_limit(std::size_t{64} << 20);
    const std::size_t words = std::size_t{1} << 14;
    {
        std::vector<std::uint64_t, PooledAllocator<std::uint64_t>> dirty(words);
        for (auto& w : dirty) w = ~std::uint64_t{0};
    }
    std::vector<std::uint64_t, PooledAllocator<std::uint64_t>> zeros(words, 0);
    for (std::size_t k = 0; k < words; ++k) ASSERT_EQ(zeros[k], 0u) << k;
}
