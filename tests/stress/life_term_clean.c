// SPDX-License-Identifier: MIT
/* One scenario of the guard's lifecycle diagnostics, run by
 * test_lifecycle.py; stress.h has what the scenarios share.
 *
 *   life_term_clean
 *     a thread blocked in recv gets ETERM from zmq_ctx_term and closes its
 *     socket (legal)
 */
#include "stress.h"

static void* blocked_in_recv(void* arg) {
  void* s = arg;
  char buf[8];
  CHECK(zmq_recv(s, buf, sizeof buf, 0) == -1 && errno == ETERM);
  CHECK(zmq_close(s) == 0);
  return NULL;
}

int main(void) {
  g_ctx = zmq_ctx_new();
  void* s = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(zmq_bind(s, "inproc://clean") == 0);
  pthread_t t;
  pthread_create(&t, NULL, blocked_in_recv, s);
  usleep(100 * 1000);
  CHECK(terminate_context() == 0);
  pthread_join(t, NULL);
  printf("ok term_clean\n");
  return 0;
}
