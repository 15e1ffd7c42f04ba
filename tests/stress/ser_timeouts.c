// SPDX-License-Identifier: MIT
/* One scenario of mode=serialize under load, run by test_serialize.py;
 * stress.h has what the scenarios share.
 *
 *   ser_timeouts
 *     RCVTIMEO, ZMQ_DONTWAIT, SNDTIMEO at HWM
 */
#include "stress.h"

static void* timeout_thread(void* arg) {
  void* s = arg;
  char buf[8];
  /* Nothing will come: ZMQ_DONTWAIT fails at once, RCVTIMEO after it. */
  CHECK(zmq_recv(s, buf, sizeof buf, ZMQ_DONTWAIT) == -1 && errno == EAGAIN);
  CHECK(zmq_recv(s, buf, sizeof buf, 0) == -1 && errno == EAGAIN);
  return NULL;
}

static int timeouts(void) {
  /* A PUSH with no peer cannot send; a PULL with no peer never receives. */
  void* pull = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(zmq_bind(pull, "inproc://timeouts") == 0);
  int ms = 100;
  CHECK(zmq_setsockopt(pull, ZMQ_RCVTIMEO, &ms, sizeof ms) == 0);
  pthread_t a, b;
  pthread_create(&a, NULL, timeout_thread, pull);
  pthread_create(&b, NULL, timeout_thread, pull);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  ms = 0;
  CHECK(zmq_setsockopt(pull, ZMQ_RCVTIMEO, &ms, sizeof ms) == 0);
  char buf[8];
  CHECK(zmq_recv(pull, buf, sizeof buf, 0) == -1 && errno == EAGAIN);

  void* push = zmq_socket(g_ctx, ZMQ_PUSH);
  ms = 100;
  CHECK(zmq_setsockopt(push, ZMQ_SNDTIMEO, &ms, sizeof ms) == 0);
  int one = 1; /* no pipe before a connection, which never comes */
  CHECK(zmq_setsockopt(push, ZMQ_IMMEDIATE, &one, sizeof one) == 0);
  CHECK(zmq_connect(push, "tcp://127.0.0.1:9") == 0);
  CHECK(zmq_send(push, "x", 1, 0) == -1 && errno == EAGAIN);
  CHECK(zmq_send(push, "x", 1, ZMQ_DONTWAIT) == -1 && errno == EAGAIN);
  int linger = 0;
  zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof linger);
  zmq_close(push);
  zmq_close(pull);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok timeouts\n");
  return 0;
}

int main(int argc, char** argv) {
  stress_init(argc, argv);
  return timeouts();
}
