// SPDX-License-Identifier: MIT
/* One scenario of mode=serialize under load, run by test_serialize.py;
 * stress.h has what the scenarios share.
 *
 *   ser_unshared MESSAGES
 *     one thread per socket (prints nothing)
 */
#include "stress.h"

static void* unshared_peer(void* arg) {
  void* pull = arg;
  for (int i = 0; i < g_messages; i++) {
    int v = -1;
    CHECK(zmq_recv(pull, &v, sizeof v, 0) == sizeof v);
    CHECK(v == i);
  }
  zmq_close(pull);
  return NULL;
}


static int unshared(void) {
  void* pull = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(zmq_bind(pull, "inproc://unshared") == 0);
  void* push = zmq_socket(g_ctx, ZMQ_PUSH);
  CHECK(zmq_connect(push, "inproc://unshared") == 0);
  pthread_t t;
  pthread_create(&t, NULL, unshared_peer, pull); /* handed over before its first use */
  for (int i = 0; i < g_messages; i++) CHECK(zmq_send(push, &i, sizeof i, 0) == sizeof i);
  pthread_join(t, NULL);
  zmq_close(push);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok unshared %d\n", g_messages);
  return 0;
}

int main(int argc, char** argv) {
  stress_init(argc, argv);
  g_messages = argc > 1 ? atoi(argv[1]) : 1000;
  return unshared();
}
