// SPDX-License-Identifier: MIT
/* ctor_wait LIB: main makes a socket (libzmq starts its threads), then a
 * thread dlopen()s LIB, whose constructor (running with the loader's lock
 * held) waits for main to make a second socket, for at most 20 s.  Plain
 * libzmq takes no loader lock to make a socket once its threads run, so
 * this program ends at once; a guard that looked names up with dlsym there
 * (objects were loaded since its last look) would wait for the constructor,
 * which waits for it: the constructor's wait would run out.  Prints "socket made while the constructor waited"
 * or "the constructor waited 20 s". */
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <zmq.h>

#include "scenario.h"

static atomic_int g_in_ctor, g_made, g_timed_out;

void ctor_wait_hook(void) {
  atomic_store(&g_in_ctor, 1);
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  while (!atomic_load(&g_made)) {
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - start.tv_sec >= 20) {
      atomic_store(&g_timed_out, 1);
      return;
    }
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
  }
}

static void* opener(void* lib) {
  void* h = dlopen(lib, RTLD_NOW);
  CHECK(h != NULL);
  return NULL;
}

int main(int argc, char** argv) {
  CHECK(argc == 2);
  void* ctx = zmq_ctx_new();
  void* first = zmq_socket(ctx, ZMQ_PAIR);
  CHECK(first != NULL);
  pthread_t t;
  CHECK(pthread_create(&t, NULL, opener, argv[1]) == 0);
  while (!atomic_load(&g_in_ctor)) sched_yield();
  void* s = zmq_socket(ctx, ZMQ_PAIR); /* LIB is loaded since: the guard looks again */
  CHECK(s != NULL);
  atomic_store(&g_made, 1);
  CHECK(pthread_join(t, NULL) == 0);
  CHECK(zmq_close(s) == 0);
  CHECK(zmq_close(first) == 0);
  CHECK(zmq_ctx_term(ctx) == 0);
  puts(atomic_load(&g_timed_out) ? "the constructor waited 20 s" : "socket made while the constructor waited");
  return 0;
}
