// SPDX-License-Identifier: MIT
// Correct: sockets created, used and closed by one thread, then the next
// socket by another thread; libzmq often hands out the same address again.
// A new socket at an old address is a new socket: nothing to report.
#include "scenario.h"

#define MAX_ROUNDS 1000
#define WANTED_REUSES 5

static void* ctx;
static void* seen[MAX_ROUNDS];  // every handle so far: threads may get other malloc arenas
static int nseen;
static int reuses;

static void* short_lived(void* arg) {
  (void)arg;
  void* s = zmq_socket(ctx, ZMQ_PUSH);
  CHECK(s);
  int again = 0;
  for (int i = 0; i < nseen; i++)
    if (seen[i] == s) again = 1;
  if (again) reuses++;
  else if (nseen < MAX_ROUNDS) seen[nseen++] = s;
  CHECK(zmq_connect(s, "inproc://reuse") == 0);
  CHECK(zmq_send(s, "x", 1, 0) == 1);
  zmq_close(s);
  return NULL;
}

int main(void) {
  ctx = zmq_ctx_new();
  void* pull = zmq_socket(ctx, ZMQ_PULL);
  CHECK(pull);
  CHECK(zmq_bind(pull, "inproc://reuse") == 0);
  char buf[4];
  for (int i = 0; i < MAX_ROUNDS && reuses < WANTED_REUSES; i++) {
    pthread_t t = spawn(short_lived, NULL, i % 2 ? "odd" : "even");
    CHECK(zmq_recv(pull, buf, sizeof buf, 0) == 1);
    pthread_join(t, NULL);
    usleep(1000);  // let the reaper free the closed socket
  }
  printf("reused %s\n", reuses > 0 ? "yes" : "no");
  zmq_close(pull);
  zmq_ctx_term(ctx);
  return 0;
}
