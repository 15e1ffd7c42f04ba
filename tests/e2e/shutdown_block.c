// SPDX-License-Identifier: MIT
// Correct (libzmq's own tests do this): a socket handed to a thread that
// blocks in zmq_recv until main calls zmq_ctx_shutdown; main closes the
// socket after joining the thread.
#include "scenario.h"

static void* pull;
static event_t receiving = EVENT_INIT;

static void* waiter(void* arg) {
  (void)arg;
  char buf[16];
  event_set(&receiving);
  int rc = zmq_recv(pull, buf, sizeof buf, 0);
  printf("recv: %d %s\n", rc, rc < 0 && errno == ETERM ? "ETERM" : "?");
  return NULL;
}

int main(void) {
  void* ctx = zmq_ctx_new();
  pull = zmq_socket(ctx, ZMQ_PULL);
  CHECK(pull);
  CHECK(zmq_bind(pull, "inproc://shutdown") == 0);
  pthread_t t = spawn(waiter, NULL, "waiter");
  event_wait(&receiving);
  usleep(100 * 1000);  // let it block (either order is correct anyway)
  CHECK(zmq_ctx_shutdown(ctx) == 0);
  pthread_join(t, NULL);
  zmq_close(pull);
  CHECK(zmq_ctx_term(ctx) == 0);
  puts("done");
  return 0;
}
