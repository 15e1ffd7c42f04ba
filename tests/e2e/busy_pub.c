// SPDX-License-Identifier: MIT
// Two threads publish on one PUB socket in a tight loop: every call is
// short, so only a guard that sees overlapping calls however brief they are
// catches it under policy=overlap.
#include "scenario.h"

#define SENDS 2000000

static void* pub;
static pthread_barrier_t start;

static void* publisher(void* arg) {
  (void)arg;
  pthread_barrier_wait(&start);
  for (int i = 0; i < SENDS; i++) zmq_send(pub, "tick", 4, ZMQ_DONTWAIT);
  pthread_barrier_wait(&start);  // neither exits while the other still sends
  return NULL;
}

int main(void) {
  void* ctx = zmq_ctx_new();
  pub = zmq_socket(ctx, ZMQ_PUB);
  CHECK(pub);
  CHECK(zmq_bind(pub, "inproc://ticks") == 0);
  pthread_barrier_init(&start, NULL, 2);
  pthread_t a = spawn(publisher, NULL, "pub-a");
  pthread_t b = spawn(publisher, NULL, "pub-b");
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  zmq_close(pub);
  zmq_ctx_term(ctx);
  puts("done");
  return 0;
}
