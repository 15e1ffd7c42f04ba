// SPDX-License-Identifier: MIT
// Correct: main makes and binds a PULL, reads its ZMQ_FD (to hand the
// worker's event loop) and its ZMQ_RCVMORE (a plain read, as any option but
// ZMQ_EVENTS), then passes the socket to a new thread, which alone uses it:
// waits in its own poll(2) on the descriptor, asks ZMQ_EVENTS, receives a
// two-part message and closes the socket.
#include <poll.h>

#include "scenario.h"

static void* pull;
static int fd = -1;

static void* event_loop(void* arg) {
  (void)arg;
  for (;;) {
    int events = 0;
    size_t len = sizeof events;
    CHECK(zmq_getsockopt(pull, ZMQ_EVENTS, &events, &len) == 0);
    if (events & ZMQ_POLLIN) break;
    struct pollfd p = {fd, POLLIN, 0};
    poll(&p, 1, 100);
  }
  char buf[16];
  int parts = 0, more = 1;
  while (more) {
    CHECK(zmq_recv(pull, buf, sizeof buf, ZMQ_DONTWAIT) >= 0);
    parts++;
    size_t len = sizeof more;
    CHECK(zmq_getsockopt(pull, ZMQ_RCVMORE, &more, &len) == 0);
  }
  printf("worker got %d parts\n", parts);
  CHECK(zmq_close(pull) == 0);
  return NULL;
}

int main(void) {
  void* ctx = zmq_ctx_new();
  pull = zmq_socket(ctx, ZMQ_PULL);
  CHECK(pull);
  CHECK(zmq_bind(pull, "inproc://loop") == 0);
  size_t len = sizeof fd;
  CHECK(zmq_getsockopt(pull, ZMQ_FD, &fd, &len) == 0);
  int more = 0;
  len = sizeof more;
  CHECK(zmq_getsockopt(pull, ZMQ_RCVMORE, &more, &len) == 0);
  pthread_t t = spawn(event_loop, NULL, "loop");
  void* push = zmq_socket(ctx, ZMQ_PUSH);
  CHECK(push);
  CHECK(zmq_connect(push, "inproc://loop") == 0);
  CHECK(zmq_send(push, "hello", 5, ZMQ_SNDMORE) == 5);
  CHECK(zmq_send(push, "world", 5, 0) == 5);
  pthread_join(t, NULL);
  CHECK(zmq_close(push) == 0);
  CHECK(zmq_ctx_term(ctx) == 0);
  puts("done");
  return 0;
}
