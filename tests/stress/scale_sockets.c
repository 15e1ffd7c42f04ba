// SPDX-License-Identifier: MIT
/* One scale scenario: what one process may do to the guard's tables,
 * bounded and checked (test_scale.py runs it under the guard); stress.h has
 * what the scenarios share.
 *
 *   scale_sockets N
 *     N sockets open at once, each used, then all closed
 */
#include "stress.h"

int main(int argc, char** argv) {
  scale_init(argc);
  int n = atoi(argv[1]);
  void** s = calloc(n, sizeof *s);
  for (int i = 0; i < n; i++) {
    s[i] = zmq_socket(g_ctx, i % 2 ? ZMQ_PUSH : ZMQ_PULL);
    CHECK(s[i]);
  }
  // Every other one bound, its neighbour connected: each pair carries a message.
  char ep[64];
  for (int i = 0; i + 1 < n; i += 2) {
    snprintf(ep, sizeof ep, "inproc://s%d", i);
    CHECK(zmq_bind(s[i], ep) == 0);
    CHECK(zmq_connect(s[i + 1], ep) == 0);
    CHECK(zmq_send(s[i + 1], "x", 1, 0) == 1);
  }
  char b[4];
  for (int i = 0; i + 1 < n; i += 2) CHECK(zmq_recv(s[i], b, sizeof b, 0) == 1);
  int linger = 0;
  for (int i = 0; i < n; i++) {
    zmq_setsockopt(s[i], ZMQ_LINGER, &linger, sizeof linger);
    CHECK(zmq_close(s[i]) == 0);
  }
  free(s);
  printf("ok sockets %d\n", n);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  return 0;
}
