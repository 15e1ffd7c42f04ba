// SPDX-License-Identifier: MIT
// Memory: --cycles create/close cycles of a socket (closed by the thread
// that made it, the legal pattern), printing resident memory every --every
// cycles: "rss cycle=N kib=K".  With the guard, the registry must follow
// open sockets, not sockets ever created, so the numbers stay flat.
//
// zmq_close only hands a socket to libzmq's reaper thread, which frees it
// later; a tight loop outruns it and libzmq's own memory (and descriptors)
// pile up, which would hide the guard's.  So the cycles run in batches,
// each in its own context, and zmq_ctx_term waits for the reaper.
#include "bench_common.h"

int main(int argc, char** argv) {
  long cycles = bench_arg_long(argc, argv, "cycles", 1000000);
  long every = bench_arg_long(argc, argv, "every", cycles / 10 > 0 ? cycles / 10 : 1);
  long batch = bench_arg_long(argc, argv, "batch", 1000);
  // A few sockets that stay open throughout, so the table is never empty.
  void* keep_ctx = zmq_ctx_new();
  void* keep[8];
  for (int i = 0; i < 8; i++) keep[i] = zmq_socket(keep_ctx, ZMQ_PAIR);
  printf("rss cycle=0 kib=%ld\n", bench_rss_kib());
  long done = 0;
  while (done < cycles) {
    void* ctx = zmq_ctx_new();
    for (long j = 0; j < batch && done < cycles; j++) {
      void* s = zmq_socket(ctx, ZMQ_DEALER);
      if (!s) bench_die("zmq_socket");
      int linger = 0;
      zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
      zmq_close(s);
      done++;
      if (done % every == 0) {
        printf("rss cycle=%ld kib=%ld\n", done, bench_rss_kib());
        fflush(stdout);
      }
    }
    zmq_ctx_term(ctx);
  }
  for (int i = 0; i < 8; i++) zmq_close(keep[i]);
  zmq_ctx_term(keep_ctx);
  return 0;
}
