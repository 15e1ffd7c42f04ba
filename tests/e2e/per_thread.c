// SPDX-License-Identifier: MIT
// Correct: every thread makes, uses and closes its own socket; main reads
// what they send on its own PULL.
#include "scenario.h"

#define THREADS 4
#define MSGS 100

static void* ctx;

static void* own_socket_worker(void* arg) {
  (void)arg;
  void* push = zmq_socket(ctx, ZMQ_PUSH);
  CHECK(push);
  CHECK(zmq_connect(push, "inproc://sink") == 0);
  for (int i = 0; i < MSGS; i++) CHECK(zmq_send(push, "x", 1, 0) == 1);
  zmq_close(push);
  return NULL;
}

int main(void) {
  ctx = zmq_ctx_new();
  void* pull = zmq_socket(ctx, ZMQ_PULL);
  CHECK(pull);
  CHECK(zmq_bind(pull, "inproc://sink") == 0);
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++) t[i] = spawn(own_socket_worker, NULL, "worker");
  char buf[4];
  int got = 0;
  for (int i = 0; i < THREADS * MSGS; i++)
    if (zmq_recv(pull, buf, sizeof buf, 0) == 1) got++;
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  printf("received %d\n", got);
  zmq_close(pull);
  zmq_ctx_term(ctx);
  return 0;
}
