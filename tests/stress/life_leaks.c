// SPDX-License-Identifier: MIT
/* One scenario of the guard's lifecycle diagnostics, run by
 * test_lifecycle.py; stress.h has what the scenarios share.
 *
 *   life_leaks
 *     exits with two sockets never closed
 */
#include "stress.h"

int main(void) {
  g_ctx = zmq_ctx_new();
  g_a = make_forgotten_dealer();
  g_b = zmq_socket(g_ctx, ZMQ_PUB);
  void* closed = zmq_socket(g_ctx, ZMQ_SUB);
  CHECK(zmq_close(closed) == 0);
  printf("ok leaks\n");
  fflush(stdout);
  exit(0); /* without closing g_a, g_b or terminating the context */
}
