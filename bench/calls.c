// SPDX-License-Identifier: MIT
// The instruction-count subject: one thread moves --count 8-byte messages
// through a PUSH/PULL pair over inproc with zmq_msg_send/zmq_msg_recv, one
// message at a time.  Run it under callgrind at two counts; the difference
// divided by the extra calls is the cost per call without start-up.
//
// --pairs=N: N PUSH/PULL pairs, message i through pair i % N, so that each
// function's calls alternate between sockets as a forwarder's do (receive
// on one socket, send on another, and back).
#include "bench_common.h"

#define MAX_PAIRS 8

int main(int argc, char** argv) {
  long count = bench_arg_long(argc, argv, "count", 100000);
  long pairs = bench_arg_long(argc, argv, "pairs", 1);
  if (pairs < 1 || pairs > MAX_PAIRS) bench_die("--pairs: 1 to 8");
  void* ctx = zmq_ctx_new();
  void *pull[MAX_PAIRS], *push[MAX_PAIRS];
  for (long p = 0; p < pairs; p++) {
    char ep[32];
    snprintf(ep, sizeof ep, "inproc://calls%ld", p);
    pull[p] = zmq_socket(ctx, ZMQ_PULL);
    push[p] = zmq_socket(ctx, ZMQ_PUSH);
    if (!pull[p] || !push[p]) bench_die("zmq_socket");
    if (zmq_bind(pull[p], ep) != 0 || zmq_connect(push[p], ep) != 0) bench_die("bind/connect");
  }
  zmq_msg_t m;
  for (long i = 0; i < count; i++) {
    long p = i % pairs;
    zmq_msg_init_size(&m, 8);
    memcpy(zmq_msg_data(&m), "12345678", 8);
    if (zmq_msg_send(&m, push[p], 0) != 8) bench_die("send");
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, pull[p], 0) != 8) bench_die("recv");
    zmq_msg_close(&m);
  }
  for (long p = 0; p < pairs; p++) {
    zmq_close(push[p]);
    zmq_close(pull[p]);
  }
  zmq_ctx_term(ctx);
  return 0;
}
