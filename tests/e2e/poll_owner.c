// SPDX-License-Identifier: MIT
// Correct: a thread that owns its sockets polls them with zmq_poll (which
// reads ZMQ_FD and ZMQ_EVENTS through the public API) and main polls its own.
#include "scenario.h"

#define MSGS 50

static void* ctx;
static void* in;  // created and bound in main, handed to the poller

static void* poller(void* arg) {
  (void)arg;
  void* out = zmq_socket(ctx, ZMQ_PUSH);
  CHECK(out);
  CHECK(zmq_connect(out, "inproc://back") == 0);
  zmq_pollitem_t items[] = {{in, 0, ZMQ_POLLIN, 0}};
  int got = 0;
  while (got < MSGS) {
    CHECK(zmq_poll(items, 1, 1000) >= 0);
    if (items[0].revents & ZMQ_POLLIN) {
      char buf[8];
      CHECK(zmq_recv(in, buf, sizeof buf, 0) == 1);
      CHECK(zmq_send(out, buf, 1, 0) == 1);
      got++;
    }
  }
  zmq_close(out);
  zmq_close(in);
  return NULL;
}

int main(void) {
  ctx = zmq_ctx_new();
  in = zmq_socket(ctx, ZMQ_PULL);
  void* back = zmq_socket(ctx, ZMQ_PULL);
  void* push = zmq_socket(ctx, ZMQ_PUSH);
  CHECK(in && back && push);
  CHECK(zmq_bind(in, "inproc://in") == 0);
  CHECK(zmq_bind(back, "inproc://back") == 0);
  CHECK(zmq_connect(push, "inproc://in") == 0);
  pthread_t t = spawn(poller, NULL, "poller");
  int got = 0;
  zmq_pollitem_t items[] = {{back, 0, ZMQ_POLLIN, 0}, {push, 0, ZMQ_POLLOUT, 0}};
  int sent = 0;
  while (got < MSGS) {
    CHECK(zmq_poll(items, 2, 1000) >= 0);
    if (sent < MSGS && (items[1].revents & ZMQ_POLLOUT)) {
      CHECK(zmq_send(push, "m", 1, 0) == 1);
      sent++;
    }
    if (items[0].revents & ZMQ_POLLIN) {
      char buf[8];
      CHECK(zmq_recv(back, buf, sizeof buf, 0) == 1);
      got++;
    }
  }
  pthread_join(t, NULL);
  printf("round trips %d\n", got);
  zmq_close(push);
  zmq_close(back);
  zmq_ctx_term(ctx);
  return 0;
}
