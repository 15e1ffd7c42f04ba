// SPDX-License-Identifier: MIT
// The guard's one clock: CLOCK_MONOTONIC in nanoseconds (deadlines, waits,
// how long a thread has been watched or a zmq_ctx_term has blocked).
#pragma once
#include <stdint.h>
#include <time.h>

namespace zg {

inline int64_t mono_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace zg
