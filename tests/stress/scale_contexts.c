// SPDX-License-Identifier: MIT
/* One scale scenario: what one process may do to the guard's tables,
 * bounded and checked (test_scale.py runs it under the guard); stress.h has
 * what the scenarios share.
 *
 *   scale_contexts N
 *     N contexts at once, each with a socket pair in use
 */
#include "stress.h"

int main(int argc, char** argv) {
  scale_init(argc);
  int n = atoi(argv[1]);
  void** c = calloc(n, sizeof *c);
  void** s = calloc(2 * n, sizeof *s);
  for (int i = 0; i < n; i++) {
    c[i] = zmq_ctx_new();
    CHECK(c[i]);
    s[2 * i] = zmq_socket(c[i], ZMQ_PULL);
    s[2 * i + 1] = zmq_socket(c[i], ZMQ_PUSH);
    CHECK(s[2 * i] && s[2 * i + 1]);
    CHECK(zmq_bind(s[2 * i], "inproc://ctx") == 0);  // one name, a namespace per context
    CHECK(zmq_connect(s[2 * i + 1], "inproc://ctx") == 0);
    CHECK(zmq_send(s[2 * i + 1], "x", 1, 0) == 1);
  }
  char b[4];
  for (int i = 0; i < n; i++) {
    CHECK(zmq_recv(s[2 * i], b, sizeof b, 0) == 1);
    CHECK(zmq_close(s[2 * i]) == 0);
    CHECK(zmq_close(s[2 * i + 1]) == 0);
    CHECK(zmq_ctx_term(c[i]) == 0);
  }
  free(c);
  free(s);
  printf("ok contexts %d\n", n);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  return 0;
}
