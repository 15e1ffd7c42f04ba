// Shared by the bench programs: clock, argument parsing, resident memory.
// The programs follow libzmq's perf/ tools (local_thr, local_lat, ...) but
// run both ends in one process, so the guard sees each side's thread.
#pragma once
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

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
