// SPDX-License-Identifier: MIT
// Small helpers shared by the scenario programs.  Each program is a user
// program the guard knows nothing about: plain libzmq, pthreads, no hooks.
#ifndef ZG_E2E_SCENARIO_H
#define ZG_E2E_SCENARIO_H

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

// A failed libzmq call in a scenario is the scenario's failure, never the
// guard's verdict: say where and stop with a status no test expects.
#define CHECK(expr)                                                                  \
  do {                                                                               \
    if (!(expr)) {                                                                   \
      fprintf(stderr, "scenario: %s:%d: %s failed: %s\n", __FILE__, __LINE__, #expr, \
              zmq_strerror(errno));                                                  \
      exit(3);                                                                       \
    }                                                                                \
  } while (0)

// One-shot flag between threads, so a scenario's order of events is fixed by
// the program rather than by luck.
typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int set;
} event_t;

#define EVENT_INIT {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0}

static inline void event_set(event_t* e) {
  pthread_mutex_lock(&e->mu);
  e->set = 1;
  pthread_cond_broadcast(&e->cv);
  pthread_mutex_unlock(&e->mu);
}

static inline void event_wait(event_t* e) {
  pthread_mutex_lock(&e->mu);
  while (!e->set) pthread_cond_wait(&e->cv, &e->mu);
  pthread_mutex_unlock(&e->mu);
}

// wait_asleep_in_poll: a scenario acts once a thread sleeps in libzmq.
#include "../lib/asleep_in_poll.h"

// Threads name themselves before running: a name set by the parent after
// pthread_create may come too late for a thread's first calls.
typedef struct {
  void* (*fn)(void*);
  void* arg;
  char name[16];
} spawn_t;

static inline void* spawn_named(void* p) {
  spawn_t s = *(spawn_t*)p;
  free(p);
  pthread_setname_np(pthread_self(), s.name);
  return s.fn(s.arg);
}

static inline pthread_t spawn(void* (*fn)(void*), void* arg, const char* name) {
  spawn_t* s = (spawn_t*)calloc(1, sizeof *s);
  CHECK(s);
  s->fn = fn;
  s->arg = arg;
  snprintf(s->name, sizeof s->name, "%s", name);
  pthread_t t;
  CHECK(pthread_create(&t, NULL, spawn_named, s) == 0);
  return t;
}

// A ROUTER that echoes every message back to its sender until it receives
// "quit".  It lives in its own thread with its own socket: the correct half
// of every "shared DEALER" scenario.
typedef struct {
  void* ctx;
  const char* endpoint;
  event_t bound;
} echo_server_t;

static inline void* echo_server(void* arg) {
  echo_server_t* es = (echo_server_t*)arg;
  void* router = zmq_socket(es->ctx, ZMQ_ROUTER);
  CHECK(router);
  CHECK(zmq_bind(router, es->endpoint) == 0);
  event_set(&es->bound);
  for (;;) {
    char id[256], body[256];
    int idn = zmq_recv(router, id, sizeof id, 0);
    if (idn < 0) break;
    int n = zmq_recv(router, body, sizeof body, 0);
    if (n < 0) break;
    if (n == 4 && memcmp(body, "quit", 4) == 0) break;
    CHECK(zmq_send(router, id, (size_t)idn, ZMQ_SNDMORE) == idn);
    CHECK(zmq_send(router, body, (size_t)n, 0) == n);
  }
  zmq_close(router);
  return NULL;
}

static inline pthread_t echo_server_start(echo_server_t* es, void* ctx, const char* endpoint) {
  es->ctx = ctx;
  es->endpoint = endpoint;
  event_t e = EVENT_INIT;
  es->bound = e;
  pthread_t t = spawn(echo_server, es, "echo");
  event_wait(&es->bound);
  return t;
}

// Stops an echo server through a DEALER the calling thread owns.
static inline void echo_server_stop(void* ctx, const char* endpoint, pthread_t t) {
  void* d = zmq_socket(ctx, ZMQ_DEALER);
  CHECK(d);
  CHECK(zmq_connect(d, endpoint) == 0);
  CHECK(zmq_send(d, "quit", 4, 0) == 4);
  pthread_join(t, NULL);
  int linger = 0;
  zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
  zmq_close(d);
}

// Debian's libzmq does not export the draft API, but it creates the
// thread-safe draft socket types.
#ifndef ZMQ_SERVER
#define ZMQ_SERVER 12
#define ZMQ_CLIENT 13
#endif

// A SERVER bound to `endpoint` and a CLIENT connected to it (both thread-safe).
static inline void server_and_client(void* ctx, const char* endpoint, void** server, void** client) {
  *server = zmq_socket(ctx, ZMQ_SERVER);
  *client = zmq_socket(ctx, ZMQ_CLIENT);
  CHECK(*server && *client);
  CHECK(zmq_bind(*server, endpoint) == 0);
  CHECK(zmq_connect(*client, endpoint) == 0);
}

// Binds s to a free loopback tcp port and returns a new socket of `type`
// connected to it.
static inline void* bind_tcp_and_connect(void* ctx, void* s, int type) {
  CHECK(zmq_bind(s, "tcp://127.0.0.1:*") == 0);
  char endpoint[256];
  size_t len = sizeof endpoint;
  CHECK(zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, endpoint, &len) == 0);
  void* peer = zmq_socket(ctx, type);
  CHECK(peer);
  CHECK(zmq_connect(peer, endpoint) == 0);
  return peer;
}

#endif
