// Thread count for work that runs in parallel across RNS limbs (OpenMP). A process setting,
// like OMP_NUM_THREADS: it holds no keys or data.
#pragma once

#include <cstddef>

namespace henn::math {

// 0 restores the default (the OpenMP runtime's choice, usually one per core).
void set_thread_count(int threads);
int thread_count();

// CPU seconds of this process, all threads together: on a loaded machine a steadier measure of
// work than wall-clock time, which also counts the time other processes held the cores.
double process_cpu_seconds();

}  // namespace henn::math
