// SPDX-License-Identifier: MIT
// Misuse: a socket used after zmq_close.  Prints what the call returned.
#include "scenario.h"

static void* push;

static void send_late(void) {
  errno = 0;
  int rc = zmq_send(push, "late", 4, ZMQ_DONTWAIT);
  int e = errno;
  printf("rc=%d errno=%s\n", rc, e == ENOTSOCK ? "ENOTSOCK" : strerror(e));
}

int main(void) {
  void* ctx = zmq_ctx_new();
  push = zmq_socket(ctx, ZMQ_PUSH);
  CHECK(push);
  int linger = 0;
  CHECK(zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof linger) == 0);
  CHECK(zmq_bind(push, "inproc://late") == 0);
  zmq_send(push, "early", 5, ZMQ_DONTWAIT);
  CHECK(zmq_close(push) == 0);
  send_late();
  zmq_ctx_term(ctx);
  puts("done");
  return 0;
}
