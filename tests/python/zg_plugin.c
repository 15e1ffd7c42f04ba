// SPDX-License-Identifier: MIT
/* A C plugin that Python loads with ctypes.CDLL.  It links the system
 * libzmq, so beside a wheel's private copy the process holds two libzmq
 * copies; its calls go through the PLT, where the guard sits. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

/* Sends one message on a socket made by the caller (pyzmq's handle):
 * ctypes drops the GIL around this call, so the report is made by a thread
 * that runs Python but does not hold the GIL.  *returned_at is when
 * zmq_send came back (after the guard's report, in warn mode), on Python's
 * time.monotonic() clock. */
int plugin_delayed_send(void* sock, int delay_ms, double* returned_at) {
  usleep(delay_ms * 1000);
  int rc = zmq_send(sock, "late", 4, ZMQ_DONTWAIT);
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  *returned_at = now.tv_sec + now.tv_nsec / 1e9;
  return rc;
}

/* Set while plugin_make_socket is inside zmq_socket: Python code (a gc
 * callback) that finds it set runs inside the guard's wrapper. */
int plugin_in_zmq_socket;

/* Makes a PUSH socket as C code holding the GIL may (Python calls it through
 * ctypes.PyDLL, which keeps the GIL and raises what is pending when the call
 * returns), first setting KeyError("pending") if `pending`: the guard reads
 * the traceback from the frames then, and must keep that exception and run
 * no Python code. */
void plugin_make_socket(void* ctx, void** out, int pending) {
  if (pending) {
    void (*set)(void*, const char*) = (void (*)(void*, const char*))dlsym(RTLD_DEFAULT, "PyErr_SetString");
    void** key_error = (void**)dlsym(RTLD_DEFAULT, "PyExc_KeyError");
    if (set && key_error) set(*key_error, "pending");
  }
  plugin_in_zmq_socket = 1;
  *out = zmq_socket(ctx, ZMQ_PUSH);
  plugin_in_zmq_socket = 0;
}

struct pair {
  void* dealer;
  volatile int ready;
};

static void* plugin_receiver(void* arg) {
  struct pair* p = arg;
  char buf[16];
  p->ready = 1;
  zmq_recv(p->dealer, buf, sizeof buf, 0);
  return NULL;
}

static void* plugin_sender(void* arg) {
  struct pair* p = arg;
  zmq_send(p->dealer, "ping", 4, 0);
  return NULL;
}

/* One DEALER of the plugin's own libzmq used by two threads at once: one
 * blocks in recv while the other sends.  Returns 0 after a clean shutdown. */
int plugin_shared_dealer(void) {
  void* ctx = zmq_ctx_new();
  void* router = zmq_socket(ctx, ZMQ_ROUTER);
  zmq_bind(router, "inproc://plugin");
  struct pair p = {zmq_socket(ctx, ZMQ_DEALER), 0};
  zmq_connect(p.dealer, "inproc://plugin");
  pthread_t rx, tx;
  pthread_create(&rx, NULL, plugin_receiver, &p);
  while (!p.ready) usleep(1000);
  usleep(50000);
  pthread_create(&tx, NULL, plugin_sender, &p);
  pthread_join(tx, NULL);
  char id[256], msg[16];
  int idn = zmq_recv(router, id, sizeof id, 0);
  int n = zmq_recv(router, msg, sizeof msg, 0);
  zmq_send(router, id, idn, ZMQ_SNDMORE);
  zmq_send(router, msg, n, 0);
  pthread_join(rx, NULL);
  int linger = 0;
  zmq_setsockopt(p.dealer, ZMQ_LINGER, &linger, sizeof linger);
  zmq_setsockopt(router, ZMQ_LINGER, &linger, sizeof linger);
  zmq_close(p.dealer);
  zmq_close(router);
  return zmq_ctx_term(ctx);
}
