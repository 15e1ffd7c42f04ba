// SPDX-License-Identifier: MIT
// A library whose constructor uses libzmq.  Linked by early_main, so its
// constructor runs during start-up, possibly before the guard's own.
#include "scenario.h"

static void* ctx;
static void* sock;

__attribute__((constructor)) static void early_constructor(void) {
  fprintf(stderr, "early constructor: creating a socket\n");
  ctx = zmq_ctx_new();
  CHECK(ctx);
  sock = zmq_socket(ctx, ZMQ_DEALER);
  CHECK(sock);
  int linger = 0;
  CHECK(zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) == 0);
  CHECK(zmq_connect(sock, "inproc://early") == 0);
}

void* early_context(void) { return ctx; }
void* early_socket(void) { return sock; }
