// SPDX-License-Identifier: MIT
/* One scenario of mode=serialize under load, run by test_serialize.py;
 * stress.h has what the scenarios share.
 *
 *   ser_recv_first
 *     a thread blocks in recv before another thread sends the request
 */
#include "stress.h"

static void* blocked_receiver(void* arg) {
  (void)arg;
  int got = -1;
  CHECK(zmq_recv(g_dealer, &got, sizeof got, 0) == sizeof got);
  CHECK(got == 42);
  return NULL;
}


static int recv_first(void) {
  pthread_t server = start_echo("inproc://recv_first");
  g_dealer = shared_dealer("inproc://recv_first");
  pthread_t r, s;
  pthread_create(&r, NULL, blocked_receiver, NULL);
  usleep(200 * 1000); /* let the receiver block first (ordering, not timing, is checked) */
  pthread_create(&s, NULL, late_sender, NULL);
  pthread_join(s, NULL);
  pthread_join(r, NULL);
  CHECK(zmq_close(g_dealer) == 0);
  zmq_ctx_shutdown(g_ctx);
  pthread_join(server, NULL);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok recv_first\n");
  return 0;
}

int main(int argc, char** argv) {
  stress_init(argc, argv);
  return recv_first();
}
