// SPDX-License-Identifier: MIT
// Shared by the bench programs: clock, argument parsing, resident memory.
// The programs follow libzmq's perf/ tools (local_thr, local_lat, ...) but
// run both ends in one process, so the guard sees each side's thread.
#pragma once
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "interpose/elf_symbol.h"

static inline double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void bench_die(const char* what) {
  fprintf(stderr, "bench: %s: %s\n", what, zmq_strerror(zmq_errno()));
  exit(1);
}

// "--key=value" lookup; returns def when absent.
static inline const char* bench_arg(int argc, char** argv, const char* key, const char* def) {
  size_t n = strlen(key);
  for (int i = 1; i < argc; i++)
    if (strncmp(argv[i], "--", 2) == 0 && strncmp(argv[i] + 2, key, n) == 0) {
      if (argv[i][2 + n] == '=') return argv[i] + 3 + n;
      if (argv[i][2 + n] == 0) return "1";
    }
  return def;
}

static inline long bench_arg_long(int argc, char** argv, const char* key, long def) {
  const char* v = bench_arg(argc, argv, key, NULL);
  return v ? strtol(v, NULL, 0) : def;
}

// The endpoint both ends use.  tcp binds to an ephemeral loopback port and
// reads it back, so parallel runs never collide.
static inline void bench_bind(void* s, const char* transport, const char* name, char* out, size_t outlen) {
  char ep[256];
  if (strcmp(transport, "inproc") == 0) snprintf(ep, sizeof ep, "inproc://%s", name);
  else if (strcmp(transport, "ipc") == 0) snprintf(ep, sizeof ep, "ipc:///tmp/zg-bench-%d-%s", (int)getpid(), name);
  else snprintf(ep, sizeof ep, "tcp://127.0.0.1:*");
  if (zmq_bind(s, ep) != 0) bench_die("zmq_bind");
  size_t len = outlen;
  if (zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, out, &len) != 0) bench_die("ZMQ_LAST_ENDPOINT");
}

// Resident set size in KiB, from /proc/self/statm.
static inline long bench_rss_kib(void) {
  FILE* f = fopen("/proc/self/statm", "r");
  long size = 0, res = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &size, &res) != 2) res = 0;
    fclose(f);
  }
  return res * (sysconf(_SC_PAGESIZE) / 1024);
}

// In-process A/B (--ab=BLOCK).  Run under the guard, a program compares the
// guard against plain libzmq in one process: every BLOCK messages it
// switches between libzmq's own functions (found past any preloaded library
// in libzmq's own symbol table: the guard's dlsym answers its wrappers) and the functions it
// links to (the guard's wrappers when the guard is preloaded), in the order
// A B B A A B B A ...  Both ends of a transfer switch at the same message
// index, and each pair of neighbouring blocks (one of each) gives one ratio.
// Whatever drifts between runs (where the loader put things, how the
// scheduler interleaves the two threads, the machine's speed) is the same
// for both halves of a pair, so a difference of a percent shows; without a
// preloaded library both halves call libzmq and the ratio is the noise.
typedef struct {
  int (*msg_send)(zmq_msg_t*, void*, int);
  int (*msg_recv)(zmq_msg_t*, void*, int);
  int (*send)(void*, const void*, size_t, int);
  int (*recv)(void*, void*, size_t, int);
} bench_api_t;

static bench_api_t bench_api[2];  // [0]: libzmq's own; [1]: as linked (the guard's, if preloaded)
static long bench_ab_block;       // 0: no A/B, every message uses [1]
static double* bench_ab_times;    // per block (bench_ab_tick)
static long bench_ab_blocks;
static double bench_ab_last;

static inline void bench_ab_init(int argc, char** argv, long count) {
  bench_api_t linked = {zmq_msg_send, zmq_msg_recv, zmq_send, zmq_recv};
  bench_api[0] = bench_api[1] = linked;
  bench_ab_block = bench_arg_long(argc, argv, "ab", 0);
  if (!bench_ab_block) return;
  if (count / bench_ab_block < 6) {
    fprintf(stderr, "bench: --ab=%ld needs --count of at least 6 blocks\n", bench_ab_block);
    exit(2);
  }
  void* h = dlopen("libzmq.so.5", RTLD_NOLOAD | RTLD_LAZY);
  if (!h) {
    fprintf(stderr, "bench: libzmq.so.5 is not loaded: %s\n", dlerror());
    exit(1);
  }
  struct link_map* lm = NULL;
  if (dlinfo(h, RTLD_DI_LINKMAP, &lm) != 0 || !lm) bench_die("dlinfo on libzmq");
  bench_api[0].msg_send = (int (*)(zmq_msg_t*, void*, int))zg_elf_lookup(lm, "zmq_msg_send");
  bench_api[0].msg_recv = (int (*)(zmq_msg_t*, void*, int))zg_elf_lookup(lm, "zmq_msg_recv");
  bench_api[0].send = (int (*)(void*, const void*, size_t, int))zg_elf_lookup(lm, "zmq_send");
  bench_api[0].recv = (int (*)(void*, void*, size_t, int))zg_elf_lookup(lm, "zmq_recv");
  if (!bench_api[0].msg_send || !bench_api[0].msg_recv || !bench_api[0].send || !bench_api[0].recv)
    bench_die("libzmq's own symbols");
  bench_ab_blocks = count / bench_ab_block;
  bench_ab_times = (double*)calloc((size_t)bench_ab_blocks + 1, sizeof(double));
  if (!bench_ab_times) bench_die("calloc");
}

// True if block b uses libzmq's own functions (A B B A A B B A ...).
static inline int bench_ab_own(long b) { return ((b ^ (b >> 1)) & 1) == 0; }

// The functions message i goes through.
static inline const bench_api_t* bench_api_for(long i) {
  if (!bench_ab_block) return &bench_api[1];
  return &bench_api[bench_ab_own(i / bench_ab_block) ? 0 : 1];
}

// mode=serialize gives the socket of a thread that has it to itself
// wake-up timeouts (ZMQ_RCVTIMEO and ZMQ_SNDTIMEO of 20 ms, see
// ser_wake_timeout in src/serialize/state.h) and keeps them from the user's
// calls, which it answers as if they were not there.  libzmq's own
// functions in the A blocks do see them: a wait longer than that comes back
// with EAGAIN, and the call is made again.  Both kinds of block run the
// same test after each call, so it costs them the same.
static inline int bench_again(const bench_api_t* api, int rc) {
  return rc == -1 && api == &bench_api[0] && errno == EAGAIN;
}

// The timing side calls bench_ab_tick after each message (i: its index);
// bench_ab_report prints "ab pairs=N ratio=R q1=.. q3=..", R the median over
// pairs of the [0] block's time / the [1] block's time (speed through the
// guard over plain speed; for round trips, plain time over guarded time:
// the same number).  The first pair is a warm-up and left out.
static inline void bench_ab_tick(long i) {
  if (!bench_ab_block || (i + 1) % bench_ab_block != 0) return;
  double now = bench_now();
  long b = i / bench_ab_block;
  if (b > 0 && b < bench_ab_blocks) bench_ab_times[b] = now - bench_ab_last;
  bench_ab_last = now;
}

static int bench_cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

static inline void bench_ab_report(void) {
  if (!bench_ab_block) return;
  // Block 0 has no start time; pairs (2,3), (4,5), ... hold one block of each.
  long np = 0;
  double* r = (double*)calloc((size_t)bench_ab_blocks / 2 + 1, sizeof(double));
  if (!r) bench_die("calloc");
  for (long b = 2; b + 1 < bench_ab_blocks; b += 2) {
    int first_own = bench_ab_own(b);
    double own = first_own ? bench_ab_times[b] : bench_ab_times[b + 1];
    double linked = first_own ? bench_ab_times[b + 1] : bench_ab_times[b];
    if (own > 0 && linked > 0) r[np++] = own / linked;
  }
  if (np >= 2) {
    // Every pair's ratio too, for a runner that pools several runs.
    printf("ab_pairs=");
    for (long i = 0; i < np; i++) printf("%s%.4f", i ? "," : "", r[i]);
    printf("\n");
    qsort(r, (size_t)np, sizeof(double), bench_cmp_double);
    printf("ab pairs=%ld ratio=%.4f q1=%.4f q3=%.4f\n", np, r[np / 2], r[np / 4], r[(3 * np) / 4]);
  }
  free(r);
}
