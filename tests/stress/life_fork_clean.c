// SPDX-License-Identifier: MIT
/* One scenario of the guard's lifecycle diagnostics, run by
 * test_lifecycle.py; stress.h has what the scenarios share.
 *
 *   life_fork_clean
 *     the child closes what it inherited and terminates the inherited
 *     context (legal)
 */
#include "stress.h"

int main(void) {
  g_ctx = zmq_ctx_new();
  return forked("fork_clean", NULL);
}
