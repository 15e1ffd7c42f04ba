// SPDX-License-Identifier: MIT
// Thread A creates a socket, uses it and exits; thread B, started after A was
// joined (glibc usually hands it A's pthread_t and stack), uses the socket.
// Allowed by handoff (the owner has exited), reported by strict.
#include "scenario.h"

static void* ctx;
static void* push;
static pthread_t first_id;

static void* first_owner(void* arg) {
  (void)arg;
  first_id = pthread_self();
  push = zmq_socket(ctx, ZMQ_PUSH);
  CHECK(push);
  CHECK(zmq_connect(push, "inproc://reuse") == 0);
  CHECK(zmq_send(push, "one", 3, 0) == 3);
  return NULL;
}

static void* second_user(void* arg) {
  (void)arg;
  printf("pthread_t reused: %s\n", pthread_equal(first_id, pthread_self()) ? "yes" : "no");
  fflush(stdout);
  CHECK(zmq_send(push, "two", 3, 0) == 3);
  zmq_close(push);
  return NULL;
}

int main(void) {
  ctx = zmq_ctx_new();
  void* pull = zmq_socket(ctx, ZMQ_PULL);
  CHECK(pull);
  CHECK(zmq_bind(pull, "inproc://reuse") == 0);
  pthread_t a = spawn(first_owner, NULL, "first");
  pthread_join(a, NULL);
  pthread_t b = spawn(second_user, NULL, "second");
  pthread_join(b, NULL);
  char buf[8];
  int got = 0;
  for (int i = 0; i < 2; i++)
    if (zmq_recv(pull, buf, sizeof buf, 0) == 3) got++;
  printf("received %d\n", got);
  zmq_close(pull);
  zmq_ctx_term(ctx);
  return 0;
}
