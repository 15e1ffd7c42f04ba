// SPDX-License-Identifier: MIT
/* One scenario of the guard's lifecycle diagnostics, run by
 * test_lifecycle.py; stress.h has what the scenarios share.
 *
 *   life_fork_send
 *     the child sends on an inherited socket
 */
#include "stress.h"

__attribute__((noinline)) static void child_sends(void* s) {
  int rc = zmq_send(s, "x", 1, ZMQ_DONTWAIT);
  if (rc < 0 && errno != EAGAIN) printf("child send: %s\n", zmq_strerror(errno));
}

int main(void) {
  g_ctx = zmq_ctx_new();
  return forked("fork_send", child_sends);
}
