#include "henn/math/block_pool.hpp"

#include <cstdlib>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

namespace henn::math {

namespace {

constexpr std::align_val_t kAlignment{64};

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif

std::size_t default_limit() {
    if (kAddressSanitizer) return 0;
    if (const char* mib = std::getenv("HENN_BLOCK_POOL_MIB")) {
        char* end = nullptr;
        const unsigned long long value = std::strtoull(mib, &end, 10);
        if (end != mib && *end == '\0') return static_cast<std::size_t>(value) << 20;
    }
    return std::size_t{1} << 30;
}

struct Pool {
    std::mutex mutex;
    std::unordered_map<std::size_t, std::vector<void*>> free_blocks;  // by exact size
    std::size_t cached = 0;
    std::size_t limit = default_limit();
    std::uint64_t reused = 0, fresh = 0;

    // Frees cached blocks until at most `target` bytes remain. Caller holds the mutex.
    void shrink_to(std::size_t target) {
        for (auto& [bytes, blocks] : free_blocks) {
            while (cached > target && !blocks.empty()) {
                ::operator delete(blocks.back(), kAlignment);
                blocks.pop_back();
                cached -= bytes;
            }
        }
    }
};

// Never destroyed: RnsPoly objects with static storage may free into it during exit. The blocks
// stay reachable from here, so leak checkers do not report them.
Pool& pool() {
    static Pool* const instance = new Pool;
    return *instance;
}

}  // namespace

void* allocate_block(std::size_t bytes) {
    if (bytes == 0) bytes = 1;
    if (bytes >= kPooledBlockMin) {
        Pool& p = pool();
        std::lock_guard lock(p.mutex);
        auto it = p.free_blocks.find(bytes);
        if (it != p.free_blocks.end() && !it->second.empty()) {
            void* block = it->second.back();
            it->second.pop_back();
            p.cached -= bytes;
            ++p.reused;
            return block;
        }
        ++p.fresh;
    }
    return ::operator new(bytes, kAlignment);
}

void release_block(void* block, std::size_t bytes) noexcept {
    if (block == nullptr) return;
    if (bytes == 0) bytes = 1;
    if (bytes >= kPooledBlockMin) {
        Pool& p = pool();
        std::lock_guard lock(p.mutex);
        if (p.cached + bytes <= p.limit) {
            try {
                p.free_blocks[bytes].push_back(block);
                p.cached += bytes;
                return;
            } catch (...) {
                // No memory for the bookkeeping: free the block instead.
            }
        }
    }
    ::operator delete(block, kAlignment);
}

BlockPoolStats block_pool_stats() {
    Pool& p = pool();
    std::lock_guard lock(p.mutex);
    return {p.cached, p.limit, p.reused, p.fresh};
}

void set_block_pool_limit(std::size_t bytes) {
    Pool& p = pool();
    std::lock_guard lock(p.mutex);
    p.limit = bytes;
    p.shrink_to(bytes);
}

void trim_block_pool() {
    Pool& p = pool();
    std::lock_guard lock(p.mutex);
    p.shrink_to(0);
}

}  // namespace henn::math
