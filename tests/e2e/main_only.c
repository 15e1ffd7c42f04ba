// SPDX-License-Identifier: MIT
// Correct: the most common program, every socket used by main alone.
#include "scenario.h"

int main(void) {
  void* ctx = zmq_ctx_new();
  void* rep = zmq_socket(ctx, ZMQ_REP);
  void* req = zmq_socket(ctx, ZMQ_REQ);
  CHECK(rep && req);
  CHECK(zmq_bind(rep, "inproc://main") == 0);
  CHECK(zmq_connect(req, "inproc://main") == 0);
  char buf[16];
  for (int i = 0; i < 100; i++) {
    CHECK(zmq_send(req, "hello", 5, 0) == 5);
    CHECK(zmq_recv(rep, buf, sizeof buf, 0) == 5);
    CHECK(zmq_send(rep, "world", 5, 0) == 5);
    CHECK(zmq_recv(req, buf, sizeof buf, 0) == 5);
  }
  zmq_close(req);
  zmq_close(rep);
  zmq_ctx_term(ctx);
  puts("done");
  return 0;
}
