// SPDX-License-Identifier: MIT
// Correct: a thread uses a socket and exits; a later thread (not the
// creator) closes it.
#include "scenario.h"

static void* push;

static void* user(void* arg) {
  (void)arg;
  for (int i = 0; i < 5; i++) CHECK(zmq_send(push, "m", 1, 0) == 1);
  return NULL;
}

static void* closer(void* arg) {
  (void)arg;
  CHECK(zmq_close(push) == 0);
  return NULL;
}

int main(void) {
  void* ctx = zmq_ctx_new();
  void* pull = zmq_socket(ctx, ZMQ_PULL);
  push = zmq_socket(ctx, ZMQ_PUSH);
  CHECK(pull && push);
  CHECK(zmq_bind(pull, "inproc://exit") == 0);
  CHECK(zmq_connect(push, "inproc://exit") == 0);
  pthread_t t = spawn(user, NULL, "user");
  pthread_join(t, NULL);
  char buf[4];
  for (int i = 0; i < 5; i++) CHECK(zmq_recv(pull, buf, sizeof buf, 0) == 1);
  t = spawn(closer, NULL, "closer");
  pthread_join(t, NULL);
  zmq_close(pull);
  zmq_ctx_term(ctx);
  puts("done");
  return 0;
}
