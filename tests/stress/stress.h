// SPDX-License-Identifier: MIT
/* What the stress programs, one scenario each, share: CHECK and the
 * context for all; for the serialize-mode ones (ser_*.c) the arguments, a
 * ROUTER echo peer and a DEALER connected to it, the table of replies seen,
 * a few clocks; for the lifecycle ones (life_*.c) a forgotten DEALER, the
 * fork of a process with sockets, a call blocked while the live dump is
 * asked for; for the scale ones (scale_*.c) the descriptor limit and a
 * PUSH/PULL round.  Each program is a user program the guard knows nothing
 * about: plain libzmq, pthreads.
 *
 *   ser_NAME [THREADS [MESSAGES [...]]]   THREADS default 4, MESSAGES 1000
 *
 * ZG_STRESS_HWM=N sets the high-water marks of the shared socket and of its
 * peer to N: the threads then keep waiting for each other (back-pressure).
 *
 * Exit status 0 and a line "ok ..." when every check holds; a message on
 * stderr and 1 otherwise.
 *
 * The helpers are static and never inlined: a program uses some of them,
 * and the tests look for their names (shared_dealer, late_sender) in the
 * guard's stacks. */
#ifndef ZG_STRESS_H
#define ZG_STRESS_H

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "../lib/asleep_in_poll.h"

#define CHECK(cond)                                                                      \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      fprintf(stderr, "check failed: %s (%s:%d, errno %s)\n", #cond, __FILE__, __LINE__, \
              zmq_strerror(errno));                                                      \
      exit(1);                                                                           \
    }                                                                                    \
  } while (0)

#define STRESS_FN static __attribute__((unused, noinline))
#define STRESS_VAR static __attribute__((unused))

STRESS_VAR void* g_ctx;
STRESS_VAR void* g_dealer;
STRESS_VAR int g_threads, g_messages;
STRESS_VAR int g_hwm = -1; /* ZG_STRESS_HWM */
STRESS_VAR unsigned char* g_seen; /* one byte per request id */
STRESS_VAR pthread_mutex_t g_seen_mu = PTHREAD_MUTEX_INITIALIZER;

/* The context, ZG_STRESS_HWM, and THREADS and MESSAGES from argv[1] and
 * argv[2]. */
STRESS_FN void stress_init(int argc, char** argv) {
  if (getenv("ZG_STRESS_HWM")) g_hwm = atoi(getenv("ZG_STRESS_HWM"));
  g_ctx = zmq_ctx_new();
  CHECK(g_ctx);
  g_threads = argc > 1 ? atoi(argv[1]) : 4;
  g_messages = argc > 2 ? atoi(argv[2]) : 1000;
}

STRESS_FN void set_hwm(void* s) {
  if (g_hwm < 0) return;
  CHECK(zmq_setsockopt(s, ZMQ_SNDHWM, &g_hwm, sizeof g_hwm) == 0);
  CHECK(zmq_setsockopt(s, ZMQ_RCVHWM, &g_hwm, sizeof g_hwm) == 0);
}

/* The peer: a ROUTER that sends every message straight back, all parts. */
STRESS_FN void* echo_server(void* arg) {
  void* router = arg;
  for (;;) {
    zmq_msg_t part;
    int more = 1, n = 0;
    zmq_msg_t parts[8];
    while (more) {
      zmq_msg_init(&part);
      if (zmq_msg_recv(&part, router, 0) < 0) {
        CHECK(errno == ETERM);
        zmq_msg_close(&part);
        for (int i = 0; i < n; i++) zmq_msg_close(&parts[i]);
        zmq_close(router);
        return NULL;
      }
      more = zmq_msg_more(&part);
      CHECK(n < 8);
      parts[n++] = part;
    }
    for (int i = 0; i < n; i++) CHECK(zmq_msg_send(&parts[i], router, i + 1 < n ? ZMQ_SNDMORE : 0) >= 0);
  }
}

STRESS_FN pthread_t start_echo(const char* endpoint) {
  void* router = zmq_socket(g_ctx, ZMQ_ROUTER);
  CHECK(router);
  int linger = 0;
  zmq_setsockopt(router, ZMQ_LINGER, &linger, sizeof linger);
  set_hwm(router);
  CHECK(zmq_bind(router, endpoint) == 0);
  pthread_t t;
  pthread_create(&t, NULL, echo_server, router);
  return t;
}

STRESS_FN void* shared_dealer(const char* endpoint) {
  void* d = zmq_socket(g_ctx, ZMQ_DEALER);
  CHECK(d);
  int linger = 0;
  zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
  set_hwm(d);
  CHECK(zmq_connect(d, endpoint) == 0);
  return d;
}

STRESS_FN void mark_seen(int id) {
  CHECK(id >= 0 && id < g_threads * g_messages);
  pthread_mutex_lock(&g_seen_mu);
  CHECK(g_seen[id] == 0); /* never duplicated */
  g_seen[id] = 1;
  pthread_mutex_unlock(&g_seen_mu);
}

/* The end of a fan-in or fan-out run: every message seen exactly once, both
 * sockets closed, the context terminated. */
STRESS_FN int all_seen_then_close(void* a, void* b) {
  for (int i = 0; i < g_threads * g_messages; i++) CHECK(g_seen[i] == 1); /* every message exactly once */
  CHECK(zmq_close(a) == 0);
  CHECK(zmq_close(b) == 0);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok %d messages\n", g_threads * g_messages);
  return 0;
}

/* THREADS threads run `worker` on one DEALER (g_dealer) talking to the echo
 * peer at `endpoint`; every reply is counted once. */
STRESS_FN int run_shared(void* (*worker)(void*), const char* endpoint) {
  pthread_t server = start_echo(endpoint);
  g_dealer = shared_dealer(endpoint);
  g_seen = calloc((size_t)g_threads * g_messages, 1);
  pthread_t* t = calloc(g_threads, sizeof *t);
  for (int i = 0; i < g_threads; i++) pthread_create(&t[i], NULL, worker, (void*)(long)i);
  for (int i = 0; i < g_threads; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < g_threads * g_messages; i++) CHECK(g_seen[i] == 1); /* every reply accounted for */
  CHECK(zmq_close(g_dealer) == 0);
  zmq_ctx_shutdown(g_ctx);
  pthread_join(server, NULL);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok %d replies\n", g_threads * g_messages);
  return 0;
}

/* Sends the request (42) another thread waits for. */
STRESS_FN void* late_sender(void* arg) {
  (void)arg;
  int id = 42;
  CHECK(zmq_send(g_dealer, &id, sizeof id, 0) == sizeof id);
  return NULL;
}

STRESS_FN double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The next parts on a ROUTER, routing id included. */
STRESS_FN void router_expect(void* router, const char* const* parts) {
  for (int i = 0; parts[i]; i++) {
    char buf[16];
    int n = zmq_recv(router, buf, sizeof buf - 1, 0);
    CHECK(n >= 0);
    buf[n] = 0;
    if (strcmp(buf, parts[i]) != 0) fprintf(stderr, "part %d: got '%s', want '%s'\n", i, buf, parts[i]);
    CHECK(strcmp(buf, parts[i]) == 0);
  }
}

/* ---- The lifecycle programs (life_*.c, test_lifecycle.py). ---- */

STRESS_VAR void* g_a;
STRESS_VAR void* g_b;

STRESS_FN void* make_forgotten_dealer(void) {
  void* s = zmq_socket(g_ctx, ZMQ_DEALER);
  CHECK(s);
  CHECK(zmq_connect(s, "inproc://nowhere") == 0);
  return s;
}

STRESS_FN int terminate_context(void) { return zmq_ctx_term(g_ctx); }

/* Waits for the child `pid` and prints how it ended. */
STRESS_FN void wait_child(pid_t pid) {
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  if (WIFEXITED(status)) printf("child exit %d\n", WEXITSTATUS(status));
  else if (WIFSIGNALED(status)) printf("child signal %d\n", WTERMSIG(status));
}

/* fork_clean, fork_send, fork_socket: a PUSH/PULL pair carries a message,
 * the process forks, the child runs `in_child` (if any) on the inherited
 * PUSH, then cleans up as libzmq advises; the parent's sockets still work. */
STRESS_FN int forked(const char* what, void (*in_child)(void* push)) {
  void* push = zmq_socket(g_ctx, ZMQ_PUSH);
  CHECK(zmq_bind(push, "inproc://fork") == 0);
  void* pull = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(zmq_connect(pull, "inproc://fork") == 0);
  CHECK(zmq_send(push, "before", 6, 0) == 6);
  char buf[16];
  CHECK(zmq_recv(pull, buf, sizeof buf, 0) == 6);
  fflush(stdout);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    if (in_child) in_child(push);
    /* libzmq's advice: close what was inherited, terminate the context,
     * make a new context for the child's own work. */
    zmq_close(push);
    zmq_close(pull);
    zmq_ctx_term(g_ctx);
    void* ctx = zmq_ctx_new();
    void* s = zmq_socket(ctx, ZMQ_PAIR);
    CHECK(zmq_bind(s, "inproc://child") == 0);
    zmq_close(s);
    zmq_ctx_term(ctx);
    printf("child done\n");
    exit(0);
  }
  wait_child(pid);
  CHECK(zmq_send(push, "after", 5, 0) == 5); /* the parent's sockets still work */
  CHECK(zmq_recv(pull, buf, sizeof buf, 0) == 5);
  zmq_close(push);
  zmq_close(pull);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok %s\n", what);
  return 0;
}

/* The helper of dump_recv and dump_term: its own socket, which it sends on
 * (recv) or closes (term) when stdin has a line. */
STRESS_VAR pthread_barrier_t g_helper_ready;

STRESS_FN void* stdin_helper(void* arg) {
  int term = arg != NULL;
  void* s = zmq_socket(g_ctx, ZMQ_PUSH);
  CHECK(s && zmq_connect(s, "inproc://dumped") == 0);
  pthread_barrier_wait(&g_helper_ready);
  char line[16];
  CHECK(fgets(line, sizeof line, stdin) != NULL);
  if (!term) CHECK(zmq_send(s, "x", 1, 0) == 1);
  CHECK(zmq_close(s) == 0);
  return NULL;
}

/* A correct program blocked in a call while the live dump is asked for:
 * the call must not see the dump's signal. */
STRESS_FN int dumped_while_blocked(int term) {
  void* pull = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(zmq_bind(pull, "inproc://dumped") == 0);
  pthread_barrier_init(&g_helper_ready, NULL, 2);
  pthread_t t;
  pthread_create(&t, NULL, stdin_helper, term ? (void*)1 : NULL);
  pthread_barrier_wait(&g_helper_ready);
  if (term) CHECK(zmq_close(pull) == 0); /* only the helper's socket is left */
  printf("ready %d\n", (int)getpid());
  fflush(stdout);
  if (term) {
    int rc = zmq_ctx_term(g_ctx);
    printf("term rc=%d%s%s\n", rc, rc ? " " : "", rc ? zmq_strerror(errno) : "");
  } else {
    char buf[8];
    int rc = zmq_recv(pull, buf, sizeof buf, 0);
    printf("recv rc=%d%s%s\n", rc, rc < 0 ? " " : "", rc < 0 ? zmq_strerror(errno) : "");
  }
  fflush(stdout);
  pthread_join(t, NULL);
  if (!term) {
    zmq_close(pull);
    CHECK(zmq_ctx_term(g_ctx) == 0);
  }
  return 0;
}

/* ---- The scale programs (scale_*.c, test_scale.py). ---- */

/* Closed sockets count against ZMQ_MAX_SOCKETS (default 1023) until
 * libzmq's reaper frees them: a thread that closes and creates in a loop
 * runs ahead of it.  Each socket holds a descriptor (its mailbox): the
 * descriptor limit is raised to its maximum, and so is g_ctx's. */
STRESS_FN void scale_init(int argc) {
  CHECK(argc >= 2);
  setvbuf(stdout, NULL, _IOLBF, 0);
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  g_ctx = zmq_ctx_new();
  CHECK(zmq_ctx_set(g_ctx, ZMQ_MAX_SOCKETS, (int)rl.rlim_cur) == 0);
}

/* One PUSH/PULL pair over inproc, one message through it, both closed. */
STRESS_FN void pair_round(void* ctx, const char* ep) {
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

#endif
