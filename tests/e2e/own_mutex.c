// Two threads share one DEALER, each request/reply under the program's own
// mutex: legal by libzmq's rule (the lock is the barrier between them), and
// silent under handoff and overlap.
// Usage: own_mutex [forget|trylock|recursive]
//   forget     worker-b makes one request without the lock (round 10), after
//              both workers have made one under it: reported, naming worker-b
//   trylock    worker-b takes the lock with pthread_mutex_trylock
//   recursive  the lock is recursive and each worker takes it twice
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
static const char* mode = "";

static void request(void) {
  char buf[16];
  CHECK(zmq_send(dealer, "ping", 4, 0) == 4);
  CHECK(zmq_recv(dealer, buf, sizeof buf, 0) == 4);
}

static void* locked_worker(void* arg) {
  const int is_b = arg != NULL;
  pthread_barrier_wait(&both_alive);
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
      request();
      if (!strcmp(mode, "recursive")) pthread_mutex_unlock(&lock);
      pthread_mutex_unlock(&lock);
    }
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
  pthread_t a = spawn(locked_worker, NULL, "worker-a");
  pthread_t b = spawn(locked_worker, (void*)1, "worker-b");
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  echo_server_stop(ctx, "inproc://echo", echo);
  zmq_close(dealer);
  zmq_ctx_term(ctx);
  puts("done");
  return 0;
}
