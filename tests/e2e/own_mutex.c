// SPDX-License-Identifier: MIT
// Two threads share one DEALER, each request/reply under the program's own
// mutex: legal by libzmq's rule (the lock is the barrier between them), and
// silent under handoff and overlap.
// Every worker takes the lock before its first call on a socket ever, when
// the guard does not yet follow its mutexes (core/locks.h).
// Usage: own_mutex [forget|trylock|recursive|nested-owner|nested-second|forget-first]
//   forget     worker-b makes one request without the lock (round 10), after
//              both workers have made one under it: reported, naming worker-b
//   trylock    worker-b takes the lock with pthread_mutex_trylock
//   recursive  the lock is recursive and each worker takes it twice
//   nested-owner, nested-second
//              worker-a (which goes first and takes the socket) or worker-b
//              (which goes second) takes and releases another mutex after
//              the lock and before its first request, so that the lock is
//              not the latest mutex it took
//   forget-first
//              worker-b's first request ever is without the lock, made while
//              worker-a holds it after its own first request under it:
//              reported, naming worker-b
#include <sched.h>

#include "scenario.h"

#define ROUNDS 50

static void* dealer;
static pthread_mutex_t lock;
// Both workers are alive for the whole exchange: neither can be a thread
// that merely inherited the socket from one that had exited.  They meet
// again after their first round, so that both have used the socket under
// the lock before worker-b forgets it.
static pthread_barrier_t both_alive;
// worker-a's first request before worker-b's (nested-*, forget-first).
static pthread_barrier_t a_first;
static pthread_mutex_t other = PTHREAD_MUTEX_INITIALIZER;
static const char* mode = "";

static int ordered(void) { return !strncmp(mode, "nested-", 7) || !strcmp(mode, "forget-first"); }

static void request(void) {
  char buf[16];
  CHECK(zmq_send(dealer, "ping", 4, 0) == 4);
  CHECK(zmq_recv(dealer, buf, sizeof buf, 0) == 4);
}

static void* forget_first_worker(void* arg) {
  if (arg == NULL) {
    pthread_mutex_lock(&lock);
    request();
    pthread_barrier_wait(&a_first);
    pthread_barrier_wait(&both_alive);  // worker-b's request is made while this thread holds the lock
    pthread_mutex_unlock(&lock);
  } else {
    pthread_barrier_wait(&a_first);
    request();  // without the lock
    pthread_barrier_wait(&both_alive);
  }
  return NULL;
}

static void* locked_worker(void* arg) {
  const int is_b = arg != NULL;
  const int nested = !strcmp(mode, is_b ? "nested-second" : "nested-owner");
  pthread_barrier_wait(&both_alive);
  if (is_b && ordered()) pthread_barrier_wait(&a_first);
  for (int i = 0; i < ROUNDS; i++) {
    if (is_b && i == 10 && !strcmp(mode, "forget")) {
      request();  // without the lock
    } else {
      if (is_b && !strcmp(mode, "trylock")) {
        while (pthread_mutex_trylock(&lock) != 0) sched_yield();
      } else {
        pthread_mutex_lock(&lock);
      }
      if (!strcmp(mode, "recursive")) pthread_mutex_lock(&lock);
      if (nested) {
        pthread_mutex_lock(&other);
        pthread_mutex_unlock(&other);
      }
      request();
      if (!strcmp(mode, "recursive")) pthread_mutex_unlock(&lock);
      pthread_mutex_unlock(&lock);
    }
    if (i == 0 && !is_b && ordered()) pthread_barrier_wait(&a_first);
    if (i == 0) pthread_barrier_wait(&both_alive);
  }
  pthread_barrier_wait(&both_alive);
  return NULL;
}

int main(int argc, char** argv) {
  if (argc > 1) mode = argv[1];
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  if (!strcmp(mode, "recursive")) pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&lock, &attr);
  void* ctx = zmq_ctx_new();
  echo_server_t es;
  pthread_t echo = echo_server_start(&es, ctx, "inproc://echo");
  dealer = zmq_socket(ctx, ZMQ_DEALER);
  CHECK(dealer);
  CHECK(zmq_connect(dealer, "inproc://echo") == 0);
  pthread_barrier_init(&both_alive, NULL, 2);
  pthread_barrier_init(&a_first, NULL, 2);
  void* (*worker)(void*) = !strcmp(mode, "forget-first") ? forget_first_worker : locked_worker;
  pthread_t a = spawn(worker, NULL, "worker-a");
  pthread_t b = spawn(worker, (void*)1, "worker-b");
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  echo_server_stop(ctx, "inproc://echo", echo);
  zmq_close(dealer);
  zmq_ctx_term(ctx);
  puts("done");
  return 0;
}
