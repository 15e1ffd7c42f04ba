// SPDX-License-Identifier: MIT
/* Two threads on one PAIR socket: the smallest misuse, for the install test. */
#include <pthread.h>
#include <zmq.h>

static void* g_pair;

static void* second_thread(void* arg) {
  (void)arg;
  zmq_send(g_pair, "b", 1, ZMQ_DONTWAIT);
  return NULL;
}

int main(void) {
  void* ctx = zmq_ctx_new();
  void* peer = zmq_socket(ctx, ZMQ_PAIR);
  zmq_bind(peer, "inproc://install-test");
  g_pair = zmq_socket(ctx, ZMQ_PAIR);
  zmq_connect(g_pair, "inproc://install-test");
  zmq_send(g_pair, "a", 1, 0);
  pthread_t t;
  pthread_create(&t, NULL, second_thread, NULL);
  pthread_join(t, NULL);
  zmq_close(g_pair);
  zmq_close(peer);
  zmq_ctx_term(ctx);
  return 0;
}
