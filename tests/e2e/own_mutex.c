// Two threads share one DEALER, each request/reply under the program's own
// mutex.  libzmq's rule is still broken (handoff reports it), but the calls
// never overlap (policy=overlap stays silent).
#include "scenario.h"

#define ROUNDS 50

static void* dealer;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
// Both workers are alive for the whole exchange: neither can be a thread
// that merely inherited the socket from one that had exited.
static pthread_barrier_t both_alive;

static void* locked_worker(void* arg) {
  (void)arg;
  char buf[16];
  pthread_barrier_wait(&both_alive);
  for (int i = 0; i < ROUNDS; i++) {
    pthread_mutex_lock(&lock);
    CHECK(zmq_send(dealer, "ping", 4, 0) == 4);
    CHECK(zmq_recv(dealer, buf, sizeof buf, 0) == 4);
    pthread_mutex_unlock(&lock);
  }
  pthread_barrier_wait(&both_alive);
  return NULL;
}

int main(void) {
  void* ctx = zmq_ctx_new();
  echo_server_t es;
  pthread_t echo = echo_server_start(&es, ctx, "inproc://echo");
  dealer = zmq_socket(ctx, ZMQ_DEALER);
  CHECK(dealer);
  CHECK(zmq_connect(dealer, "inproc://echo") == 0);
  pthread_barrier_init(&both_alive, NULL, 2);
  pthread_t a = spawn(locked_worker, NULL, "worker-a");
  pthread_t b = spawn(locked_worker, NULL, "worker-b");
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  echo_server_stop(ctx, "inproc://echo", echo);
  zmq_close(dealer);
  zmq_ctx_term(ctx);
  puts("done");
  return 0;
}
