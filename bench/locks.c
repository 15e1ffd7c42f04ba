// SPDX-License-Identifier: MIT
// The cost of an uncontended pthread_mutex_lock/unlock pair under the
// guard, which interposes them (src/core/locks.h): main makes a socket (so
// the guard tracks semaphores from then on, and main's mutexes), then
// --count pairs run in a new thread that never touches a socket
// (--in=thread, the default) or in main, which did (--in=main).  --sem
// makes them sem_wait/sem_post pairs (what Python's threading.Lock is).
// Run under callgrind at two counts; the difference over the extra pairs
// is the instructions a pair costs.
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static long count = 100000;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static sem_t sem;
static int use_sem = 0;

static void* pairs(void* arg) {
  (void)arg;
  if (use_sem) {
    for (long i = 0; i < count; i++) {
      sem_wait(&sem);
      sem_post(&sem);
    }
    return NULL;
  }
  for (long i = 0; i < count; i++) {
    pthread_mutex_lock(&mu);
    pthread_mutex_unlock(&mu);
  }
  return NULL;
}

int main(int argc, char** argv) {
  int in_main = 0;
  for (int i = 1; i < argc; i++) {
    if (!strncmp(argv[i], "--count=", 8)) count = atol(argv[i] + 8);
    else if (!strcmp(argv[i], "--in=main")) in_main = 1;
    else if (!strcmp(argv[i], "--sem")) use_sem = 1;
  }
  sem_init(&sem, 0, 1);
  void* ctx = zmq_ctx_new();
  void* s = zmq_socket(ctx, ZMQ_PUSH);
  int zero = 0;
  zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
  zmq_send(s, "x", 1, ZMQ_DONTWAIT);  // main uses a socket
  if (in_main) {
    pairs(NULL);
  } else {
    pthread_t t;
    pthread_create(&t, NULL, pairs, NULL);
    pthread_join(t, NULL);
  }
  zmq_close(s);
  zmq_ctx_term(ctx);
  puts("done");
  return 0;
}
