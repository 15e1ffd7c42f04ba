// SPDX-License-Identifier: MIT
/* One scenario of the guard's lifecycle diagnostics, run by
 * test_lifecycle.py; stress.h has what the scenarios share.
 *
 *   life_fork_socket
 *     the child opens a socket on the inherited context
 */
#include "stress.h"

__attribute__((noinline)) static void child_opens(void* inherited) {
  (void)inherited;
  void* s = zmq_socket(g_ctx, ZMQ_PUSH);
  if (s) zmq_close(s);
}

int main(void) {
  g_ctx = zmq_ctx_new();
  return forked("fork_socket", child_opens);
}
