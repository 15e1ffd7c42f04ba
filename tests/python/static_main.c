// SPDX-License-Identifier: MIT
/* A program with libzmq linked statically: its calls never reach the
 * preload, and the guard says so once at exit. */
#include <stdio.h>
#include <zmq.h>

int main(void) {
  void* ctx = zmq_ctx_new();
  void* s = zmq_socket(ctx, ZMQ_PAIR);
  zmq_bind(s, "inproc://static");
  zmq_close(s);
  zmq_ctx_term(ctx);
  puts("static ok");
  return 0;
}
