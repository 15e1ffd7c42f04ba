// SPDX-License-Identifier: MIT
// A socket passed back and forth between two live threads, with the
// program's own synchronization: legal only because each side declares the
// hand-off with zmq_guard_handoff() (include/zmq_guard.h).  With argv[1] ==
// "undeclared" the program skips the declarations: the second hand-off is
// then a cross-thread use the guard must report.
#include <zmq_guard.h>

#include "scenario.h"

static void* pair;
static int declared = 1;
static event_t ping_turn = EVENT_INIT, pong_turn = EVENT_INIT, back_turn = EVENT_INIT;

static void give_away(void) {
  if (declared) zmq_guard_handoff(pair);
}

static void* ping(void* arg) {
  (void)arg;
  event_wait(&ping_turn);
  CHECK(zmq_send(pair, "ping", 4, 0) == 4);
  give_away();
  event_set(&pong_turn);
  event_wait(&back_turn);  // the socket comes back to this thread
  CHECK(zmq_send(pair, "again", 5, 0) == 5);
  return NULL;
}

static void* pong(void* arg) {
  (void)arg;
  event_wait(&pong_turn);
  CHECK(zmq_send(pair, "pong", 4, 0) == 4);
  give_away();
  event_set(&back_turn);
  return NULL;
}

int main(int argc, char** argv) {
  if (argc > 1 && !strcmp(argv[1], "undeclared")) declared = 0;
  void* ctx = zmq_ctx_new();
  void* peer = zmq_socket(ctx, ZMQ_PAIR);
  CHECK(zmq_bind(peer, "inproc://handoff") == 0);
  pair = zmq_socket(ctx, ZMQ_PAIR);
  CHECK(zmq_connect(pair, "inproc://handoff") == 0);
  pthread_t a = spawn(ping, NULL, "ping");
  pthread_t b = spawn(pong, NULL, "pong");
  event_set(&ping_turn);
  char buf[8];
  for (int i = 0; i < 3; i++) CHECK(zmq_recv(peer, buf, sizeof buf, 0) > 0);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  printf("received 3\n");
  zmq_close(pair);
  zmq_close(peer);
  zmq_ctx_term(ctx);
  return 0;
}
