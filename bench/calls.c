// The instruction-count subject: one thread moves --count 8-byte messages
// through a PUSH/PULL pair over inproc with zmq_msg_send/zmq_msg_recv, one
// message at a time.  Run it under callgrind at two counts; the difference
// divided by the extra calls is the cost per call without start-up.
#include "bench_common.h"

int main(int argc, char** argv) {
  long count = bench_arg_long(argc, argv, "count", 100000);
  void* ctx = zmq_ctx_new();
  void* pull = zmq_socket(ctx, ZMQ_PULL);
  void* push = zmq_socket(ctx, ZMQ_PUSH);
  if (!pull || !push) bench_die("zmq_socket");
  if (zmq_bind(pull, "inproc://calls") != 0 || zmq_connect(push, "inproc://calls") != 0) bench_die("bind/connect");
  zmq_msg_t m;
  for (long i = 0; i < count; i++) {
    zmq_msg_init_size(&m, 8);
    memcpy(zmq_msg_data(&m), "12345678", 8);
    if (zmq_msg_send(&m, push, 0) != 8) bench_die("send");
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, pull, 0) != 8) bench_die("recv");
    zmq_msg_close(&m);
  }
  zmq_close(push);
  zmq_close(pull);
  zmq_ctx_term(ctx);
  return 0;
}
