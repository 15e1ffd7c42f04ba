// SPDX-License-Identifier: MIT
// Scale: what one process may do to the guard's tables, each case bounded
// and checked (test_scale.py runs them under the guard).
//   sockets N        N sockets open at once, each used, then all closed
//   threads T R      T threads, each R rounds of creating, using and closing
//                    a PUSH/PULL pair of its own
//   short N          N short-lived threads (8 at a time), each with a socket
//   cycles N         N zmq_socket/zmq_close cycles on one thread; prints the
//                    resident set size after N/10 and after N cycles
//   contexts N       N contexts at once, each with a socket pair in use
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zmq.h>

#define CHECK(x)                                                            \
  do {                                                                      \
    if (!(x)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s (%s)\n", __FILE__, __LINE__, #x, \
              zmq_strerror(zmq_errno()));                                   \
      exit(3);                                                              \
    }                                                                       \
  } while (0)

static void* g_ctx;

static long rss_kb(void) {
  FILE* f = fopen("/proc/self/statm", "r");
  long pages = 0, resident = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    fclose(f);
  }
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

// One PUSH/PULL pair over inproc, one message through it, both closed.
static void pair_round(void* ctx, const char* ep) {
  void* pull = zmq_socket(ctx, ZMQ_PULL);
  void* push = zmq_socket(ctx, ZMQ_PUSH);
  CHECK(pull && push);
  CHECK(zmq_bind(pull, ep) == 0);
  CHECK(zmq_connect(push, ep) == 0);
  CHECK(zmq_send(push, "x", 1, 0) == 1);
  char b[4];
  CHECK(zmq_recv(pull, b, sizeof b, 0) == 1);
  int linger = 0;
  zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof linger);
  CHECK(zmq_close(push) == 0);
  CHECK(zmq_close(pull) == 0);
}

static void sockets(int n) {
  void** s = calloc(n, sizeof *s);
  for (int i = 0; i < n; i++) {
    s[i] = zmq_socket(g_ctx, i % 2 ? ZMQ_PUSH : ZMQ_PULL);
    CHECK(s[i]);
  }
  // Every other one bound, its neighbour connected: each pair carries a message.
  char ep[64];
  for (int i = 0; i + 1 < n; i += 2) {
    snprintf(ep, sizeof ep, "inproc://s%d", i);
    CHECK(zmq_bind(s[i], ep) == 0);
    CHECK(zmq_connect(s[i + 1], ep) == 0);
    CHECK(zmq_send(s[i + 1], "x", 1, 0) == 1);
  }
  char b[4];
  for (int i = 0; i + 1 < n; i += 2) CHECK(zmq_recv(s[i], b, sizeof b, 0) == 1);
  int linger = 0;
  for (int i = 0; i < n; i++) {
    zmq_setsockopt(s[i], ZMQ_LINGER, &linger, sizeof linger);
    CHECK(zmq_close(s[i]) == 0);
  }
  free(s);
  printf("ok sockets %d\n", n);
}

static int g_rounds;

static void* worker(void* arg) {
  char ep[64];
  for (int r = 0; r < g_rounds; r++) {
    snprintf(ep, sizeof ep, "inproc://w%ld-%d", (long)(intptr_t)arg, r);
    pair_round(g_ctx, ep);
  }
  return NULL;
}

static void threads(int t, int rounds) {
  g_rounds = rounds;
  pthread_t* th = calloc(t, sizeof *th);
  for (long i = 0; i < t; i++) CHECK(pthread_create(&th[i], NULL, worker, (void*)i) == 0);
  for (int i = 0; i < t; i++) pthread_join(th[i], NULL);
  free(th);
  printf("ok threads %d x %d\n", t, rounds);
}

static void* short_lived(void* arg) {
  char ep[64];
  snprintf(ep, sizeof ep, "inproc://short%ld", (long)(intptr_t)arg);
  pair_round(g_ctx, ep);
  return NULL;
}

static void short_threads(int n) {
  for (long i = 0; i < n; i += 8) {
    pthread_t th[8];
    int k = 0;
    for (; k < 8 && i + k < n; k++) CHECK(pthread_create(&th[k], NULL, short_lived, (void*)(i + k)) == 0);
    for (int j = 0; j < k; j++) pthread_join(th[j], NULL);
  }
  printf("ok short %d\n", n);
}

// In blocks of 10,000 on a context of their own, whose zmq_ctx_term waits
// for libzmq's reaper: a loop of zmq_socket/zmq_close runs ahead of the
// reaper and reaches the descriptor limit (20,000 here) within 0.5 s.
static void cycles(long n) {
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
}

static void contexts(int n) {
  void** c = calloc(n, sizeof *c);
  void** s = calloc(2 * n, sizeof *s);
  for (int i = 0; i < n; i++) {
    c[i] = zmq_ctx_new();
    CHECK(c[i]);
    s[2 * i] = zmq_socket(c[i], ZMQ_PULL);
    s[2 * i + 1] = zmq_socket(c[i], ZMQ_PUSH);
    CHECK(s[2 * i] && s[2 * i + 1]);
    CHECK(zmq_bind(s[2 * i], "inproc://ctx") == 0);  // one name, a namespace per context
    CHECK(zmq_connect(s[2 * i + 1], "inproc://ctx") == 0);
    CHECK(zmq_send(s[2 * i + 1], "x", 1, 0) == 1);
  }
  char b[4];
  for (int i = 0; i < n; i++) {
    CHECK(zmq_recv(s[2 * i], b, sizeof b, 0) == 1);
    CHECK(zmq_close(s[2 * i]) == 0);
    CHECK(zmq_close(s[2 * i + 1]) == 0);
    CHECK(zmq_ctx_term(c[i]) == 0);
  }
  free(c);
  free(s);
  printf("ok contexts %d\n", n);
}

int main(int argc, char** argv) {
  CHECK(argc >= 3);
  setvbuf(stdout, NULL, _IOLBF, 0);
  // Closed sockets count against ZMQ_MAX_SOCKETS (default 1023) until
  // libzmq's reaper frees them: a thread that closes and creates in a loop
  // runs ahead of it.  Each socket holds a descriptor (its mailbox).
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  g_ctx = zmq_ctx_new();
  CHECK(zmq_ctx_set(g_ctx, ZMQ_MAX_SOCKETS, (int)rl.rlim_cur) == 0);
  const char* what = argv[1];
  long n = atol(argv[2]);
  if (!strcmp(what, "sockets")) sockets((int)n);
  else if (!strcmp(what, "threads")) threads((int)n, argc > 3 ? atoi(argv[3]) : 100);
  else if (!strcmp(what, "short")) short_threads((int)n);
  else if (!strcmp(what, "cycles")) cycles(n);
  else if (!strcmp(what, "contexts")) contexts((int)n);
  else return 2;
  CHECK(zmq_ctx_term(g_ctx) == 0);
  return 0;
}
