// SPDX-License-Identifier: MIT
/* One scenario of the guard's lifecycle diagnostics, run by
 * test_lifecycle.py; stress.h has what the scenarios share.
 *
 *   life_term_blocked
 *     zmq_ctx_term while two sockets are open; a helper closes them much
 *     later
 */
#include "stress.h"

static void* publisher(void* arg) {
  (void)arg;
  CHECK(zmq_send(g_b, "x", 1, 0) == 1); /* this thread becomes the owner */
  return NULL;
}

static void* late_closer(void* arg) {
  (void)arg;
  sleep(2); /* long after term_timeout_ms (the test sets 200) */
  zmq_close(g_a);
  zmq_close(g_b);
  return NULL;
}

int main(void) {
  g_ctx = zmq_ctx_new();
  g_a = make_forgotten_dealer();
  g_b = zmq_socket(g_ctx, ZMQ_PUB);
  CHECK(zmq_bind(g_b, "inproc://pub") == 0);
  pthread_t t, c;
  pthread_create(&t, NULL, publisher, NULL);
  pthread_join(t, NULL);
  pthread_create(&c, NULL, late_closer, NULL);
  CHECK(terminate_context() == 0);
  pthread_join(c, NULL);
  printf("ok term_blocked\n");
  return 0;
}
