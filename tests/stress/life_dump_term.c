// SPDX-License-Identifier: MIT
/* One scenario of the guard's lifecycle diagnostics, run by
 * test_lifecycle.py; stress.h has what the scenarios share.
 *
 *   life_dump_term
 *     prints "ready PID", then main blocks in zmq_ctx_term until a line on
 *     stdin makes a helper close its socket
 */
#include "stress.h"

int main(void) {
  g_ctx = zmq_ctx_new();
  return dumped_while_blocked(1);
}
