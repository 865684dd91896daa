// Storage for large blocks (polynomial limbs), recycled within the process. A key switch at
// N = 2^14 allocates and frees megabytes of temporaries and results; from the C library, blocks
// that size come fresh from the OS each time, page by page, zeroed by the kernel (a quarter of the
// time of a linear transform). Freed blocks are kept here, by exact size, up to a byte limit, and
// handed to the next request of that size. Like the thread count, a process setting: the blocks
// hold whatever their last owner wrote (as memory from malloc does); objects holding secrets wipe
// themselves before they free.
#pragma once

#include <cstddef>
#include <cstdint>

namespace henn::math {

// Blocks below this size go straight to operator new (the C library reuses those well).
inline constexpr std::size_t kPooledBlockMin = std::size_t{32} << 10;

// 64-byte aligned storage of `bytes`; std::bad_alloc when memory runs out.
void* allocate_block(std::size_t bytes);
// Returns a block from allocate_block with the same size.
void release_block(void* block, std::size_t bytes) noexcept;

struct BlockPoolStats {
    std::size_t cached_bytes = 0;  // held for reuse now
    std::size_t limit_bytes = 0;
    std::uint64_t reused = 0;  // requests served from the cache
    std::uint64_t fresh = 0;   // requests of pooled size that went to the OS
};
BlockPoolStats block_pool_stats();

// Most bytes kept for reuse (default 1 GiB, or HENN_BLOCK_POOL_MIB in the environment; 0 under
// AddressSanitizer, whose checks reuse would hide). 0 turns caching off. Lowering it frees the
// blocks above the new limit.
void set_block_pool_limit(std::size_t bytes);
// Frees every cached block to the OS.
void trim_block_pool();

// A vector allocator on these blocks that default-initializes (a vector of integers resized
// without a value is left unwritten: hot paths that overwrite everything skip the zeroing).
template <typename T>
struct PooledAllocator {
    using value_type = T;
    PooledAllocator() noexcept = default;
    template <typename U>
    PooledAllocator(const PooledAllocator<U>&) noexcept {}
    T* allocate(std::size_t count) { return static_cast<T*>(allocate_block(count * sizeof(T))); }
    void deallocate(T* p, std::size_t count) noexcept { release_block(p, count * sizeof(T)); }
    template <typename U>
    void construct(U* p) noexcept {
        ::new (static_cast<void*>(p)) U;
    }
    template <typename U, typename... Args>
    void construct(U* p, Args&&... args) {
        ::new (static_cast<void*>(p)) U(static_cast<Args&&>(args)...);
    }
    template <typename U>
    bool operator==(const PooledAllocator<U>&) const noexcept {
        return true;
    }
};

}  // namespace henn::math
