// SPDX-License-Identifier: MIT
/* One scale scenario: what one process may do to the guard's tables,
 * bounded and checked (test_scale.py runs it under the guard); stress.h has
 * what the scenarios share.
 *
 *   scale_cycles N
 *     N zmq_socket/zmq_close cycles on one thread; prints the resident set
 *     size after N/10 and after N cycles
 */
#include "stress.h"

static long rss_kb(void) {
  FILE* f = fopen("/proc/self/statm", "r");
  long pages = 0, resident = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    fclose(f);
  }
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

// In blocks of 10,000 on a context of their own, whose zmq_ctx_term waits
// for libzmq's reaper: a loop of zmq_socket/zmq_close runs ahead of the
// reaper and reaches the descriptor limit (20,000 here) within 0.5 s.
int main(int argc, char** argv) {
  scale_init(argc);
  long n = atol(argv[1]);
  long first = 0;
  for (long i = 0; i < n;) {
    void* ctx = zmq_ctx_new();
    CHECK(ctx && zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, 12000) == 0);
    // A context of its own every 1000 cycles: zmq_ctx_term waits for
    // libzmq's reaper, which a create/close loop outruns on a loaded
    // machine; with 10,000 a context the sockets waiting for it (a few KiB
    // each) once raised the heap's high-water mark by 9 MiB mid-run.
    for (long k = 0; k < 1000 && i < n; k++) {
      void* s = zmq_socket(ctx, ZMQ_PAIR);
      CHECK(s);
      CHECK(zmq_close(s) == 0);
      if (++i == n / 10) first = rss_kb();
    }
    CHECK(zmq_ctx_term(ctx) == 0);
  }
  printf("rss_kb after %ld %ld\nrss_kb after %ld %ld\nok cycles %ld\n", n / 10, first, n, rss_kb(), n);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  return 0;
}
