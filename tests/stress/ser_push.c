// SPDX-License-Identifier: MIT
/* One scenario of mode=serialize under load, run by test_serialize.py;
 * stress.h has what the scenarios share.
 *
 *   ser_push THREADS MESSAGES
 *     THREADS senders share one PUSH, a PULL in its own thread counts every
 *     message
 */
#include "stress.h"

/* push: fan-in on one shared PUSH; the receiver owns its PULL alone. */
static void* g_push;

static void* push_sender(void* arg) {
  int me = (int)(long)arg;
  for (int i = 0; i < g_messages; i++) {
    int id = me * g_messages + i;
    CHECK(zmq_send(g_push, &id, sizeof id, 0) == sizeof id);
  }
  return NULL;
}

static void* push_receiver(void* arg) {
  void* pull = arg;
  for (int i = 0; i < g_threads * g_messages; i++) {
    int got = -1;
    CHECK(zmq_recv(pull, &got, sizeof got, 0) == sizeof got);
    mark_seen(got);
  }
  return NULL;
}

static int push(void) {
  void* pull = zmq_socket(g_ctx, ZMQ_PULL);
  set_hwm(pull);
  CHECK(zmq_bind(pull, "inproc://push") == 0);
  g_push = zmq_socket(g_ctx, ZMQ_PUSH);
  set_hwm(g_push);
  CHECK(zmq_connect(g_push, "inproc://push") == 0);
  g_seen = calloc((size_t)g_threads * g_messages, 1);
  pthread_t r;
  pthread_create(&r, NULL, push_receiver, pull); /* handed over before its first use */
  pthread_t* t = calloc(g_threads, sizeof *t);
  for (int i = 0; i < g_threads; i++) pthread_create(&t[i], NULL, push_sender, (void*)(long)i);
  for (int i = 0; i < g_threads; i++) pthread_join(t[i], NULL);
  pthread_join(r, NULL);
  return all_seen_then_close(g_push, pull);
}

int main(int argc, char** argv) {
  stress_init(argc, argv);
  return push();
}
