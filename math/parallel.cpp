#include "henn/math/parallel.hpp"

#include <omp.h>
#include <time.h>

#include <atomic>

namespace henn::math {

namespace {
std::atomic<int> configured_threads{0};
}

void set_thread_count(int threads) {
    configured_threads = threads < 0 ? 0 : threads;
}

int thread_count() {
    const int configured = configured_threads.load();
    return configured > 0 ? configured : omp_get_max_threads();
}

double process_cpu_seconds() {
    timespec t{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

}  // namespace henn::math
