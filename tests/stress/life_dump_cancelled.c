// SPDX-License-Identifier: MIT
/* One scenario of the guard's lifecycle diagnostics, run by
 * test_lifecycle.py; stress.h has what the scenarios share.
 *
 *   life_dump_cancelled
 *     a thread cancelled inside zmq_poll on a PULL socket (its call never
 *     returns, so the guard's in-call mark stays); prints "ready PID", then
 *     waits for a line on stdin and closes the socket
 */
#include <stdatomic.h>

#include "stress.h"

static atomic_int g_polling;

static void* poller(void* pull) {
  zmq_pollitem_t it = {pull, 0, ZMQ_POLLIN, 0};
  atomic_store(&g_polling, 1);
  /* No cancellation point before the poll's own: the cancel lands inside. */
  zmq_poll(&it, 1, -1);
  return NULL;
}

int main(void) {
  g_ctx = zmq_ctx_new();
  void* pull = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(zmq_bind(pull, "inproc://cancelled") == 0);
  pthread_t t;
  CHECK(pthread_create(&t, NULL, poller, pull) == 0);
  while (!atomic_load(&g_polling)) sched_yield();
  CHECK(pthread_cancel(t) == 0);
  void* res;
  CHECK(pthread_join(t, &res) == 0 && res == PTHREAD_CANCELED);
  printf("ready %d\n", (int)getpid());
  fflush(stdout);
  char line[8];
  CHECK(fgets(line, sizeof line, stdin) != NULL);
  CHECK(zmq_close(pull) == 0); /* the canceled thread's socket, now main's */
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("closed\n");
  return 0;
}
