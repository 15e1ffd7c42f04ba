// SPDX-License-Identifier: MIT
/* One scenario of mode=serialize under load, run by test_serialize.py;
 * stress.h has what the scenarios share.
 *
 *   ser_pull THREADS MESSAGES
 *     THREADS receivers share one PULL fed by a PUSH in its own thread;
 *     every message received once
 */
#include "stress.h"

/* pull: fan-out from one PUSH (its own thread) to receivers sharing a PULL;
 * one stop mark (-1) per receiver after the messages. */
static void* g_pull;

static void* pull_sender(void* arg) {
  void* push = arg;
  for (int i = 0; i < g_threads * g_messages; i++) CHECK(zmq_send(push, &i, sizeof i, 0) == sizeof i);
  int stop = -1;
  for (int k = 0; k < g_threads; k++) CHECK(zmq_send(push, &stop, sizeof stop, 0) == sizeof stop);
  return NULL;
}

static void* pull_receiver(void* arg) {
  (void)arg;
  for (;;) {
    int got = -2;
    CHECK(zmq_recv(g_pull, &got, sizeof got, 0) == sizeof got);
    if (got == -1) return NULL;
    mark_seen(got);
  }
}

static int pull(void) {
  g_pull = zmq_socket(g_ctx, ZMQ_PULL);
  set_hwm(g_pull);
  CHECK(zmq_bind(g_pull, "inproc://pull") == 0);
  void* push = zmq_socket(g_ctx, ZMQ_PUSH);
  set_hwm(push);
  CHECK(zmq_connect(push, "inproc://pull") == 0);
  g_seen = calloc((size_t)g_threads * g_messages, 1);
  pthread_t* t = calloc(g_threads, sizeof *t);
  for (int i = 0; i < g_threads; i++) pthread_create(&t[i], NULL, pull_receiver, NULL);
  pthread_t snd;
  pthread_create(&snd, NULL, pull_sender, push); /* handed over before its first use */
  pthread_join(snd, NULL);
  for (int i = 0; i < g_threads; i++) pthread_join(t[i], NULL);
  return all_seen_then_close(push, g_pull);
}

int main(int argc, char** argv) {
  stress_init(argc, argv);
  return pull();
}
