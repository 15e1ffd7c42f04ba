// SPDX-License-Identifier: MIT
// Socket creation from C, the figure bench/py_sockets.py gives for Python:
// --count times zmq_socket(ZMQ_REQ) and zmq_close, --depth calls deep (a
// socket's creation records the creator's native stack).  Prints the wall
// time and the process's CPU time (all its threads, libzmq's reaper
// included) per socket.
#include <sys/resource.h>
#include <time.h>

#include "bench_common.h"

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void __attribute__((noinline)) make_and_close(void* ctx, long count) {
  for (long i = 0; i < count; i++) {
    void* s = zmq_socket(ctx, ZMQ_REQ);
    if (!s) bench_die("zmq_socket");
    zmq_close(s);
  }
}

static void __attribute__((noinline)) at_depth(long depth, void* ctx, long count) {
  if (depth <= 0)
    make_and_close(ctx, count);
  else
    at_depth(depth - 1, ctx, count);
  __asm__ volatile("" ::: "memory");  // not a tail call: each level is a frame
}

int main(int argc, char** argv) {
  long count = bench_arg_long(argc, argv, "count", 3000);
  long depth = bench_arg_long(argc, argv, "depth", 30);
  // A closed socket's descriptors go when libzmq's reaper gets to it, which
  // a C loop outruns: room for them (and in the context, below).
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max && rl.rlim_cur < 65536) {
    rl.rlim_cur = rl.rlim_max < 65536 ? rl.rlim_max : 65536;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  void* ctx = zmq_ctx_new();
  // Closed sockets count against the context's limit (1023) until the
  // reaper has them: room for a loop that outruns it.
  zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, 16384);
  at_depth(depth, ctx, 100);  // warm-up: the first stack, the first report paths
  double t0 = bench_now(), c0 = cpu_now();
  at_depth(depth, ctx, count);
  double wall = bench_now() - t0, cpu = cpu_now() - c0;
  zmq_ctx_term(ctx);
  printf("c_sockets us_per_socket=%.2f cpu_us_per_socket=%.2f depth=%ld count=%ld\n", wall / count * 1e6,
         cpu / count * 1e6, depth, count);
  return 0;
}
