// SPDX-License-Identifier: MIT
// Misuse: one DEALER, two threads.  "sender" sends, then stays alive;
// "receiver" reads the echoes.  The two never overlap (the program orders
// them), so libzmq survives long enough to show the warn-mode path, but the
// socket is still shared by two live threads.
#include "scenario.h"

#define N 5

static void* dealer;
static event_t sent = EVENT_INIT;
static event_t received = EVENT_INIT;

static void* sender(void* arg) {
  (void)arg;
  for (int i = 0; i < N; i++) CHECK(zmq_send(dealer, "ping", 4, 0) == 4);
  event_set(&sent);
  event_wait(&received);  // still alive, still the owner
  return NULL;
}

static void* receiver(void* arg) {
  (void)arg;
  char buf[16];
  int got = 0;
  for (int i = 0; i < N; i++)
    if (zmq_recv(dealer, buf, sizeof buf, 0) == 4) got++;  // @recv
  printf("received %d\n", got);
  fflush(stdout);
  event_set(&received);
  return NULL;
}

int main(void) {
  void* ctx = zmq_ctx_new();
  echo_server_t es;
  pthread_t echo = echo_server_start(&es, ctx, "inproc://echo");
  dealer = zmq_socket(ctx, ZMQ_DEALER);
  CHECK(dealer);
  CHECK(zmq_connect(dealer, "inproc://echo") == 0);
  pthread_t a = spawn(sender, NULL, "sender");
  event_wait(&sent);
  pthread_t b = spawn(receiver, NULL, "receiver");
  pthread_join(b, NULL);
  pthread_join(a, NULL);
  echo_server_stop(ctx, "inproc://echo", echo);
  zmq_close(dealer);
  zmq_ctx_term(ctx);
  puts("done");
  return 0;
}
