// SPDX-License-Identifier: MIT
/* One scenario of the guard's lifecycle diagnostics, run by
 * test_lifecycle.py; stress.h has what the scenarios share.
 *
 *   life_dump_names
 *     like life_hang, but the socket's ipc path and its owner thread's name
 *     hold a newline: the program's text in the live dump must not start a
 *     line of its own
 */
#define _GNU_SOURCE
#include "stress.h"

static void* odd_owner(void* arg) {
  pthread_setname_np(pthread_self(), "odd\n==forged");
  char path[128];
  snprintf(path, sizeof path, "ipc:///tmp/zg-lifecycle-%d-a\n==forged line", (int)getpid());
  CHECK(zmq_bind(arg, path) == 0);
  char buf[8];
  zmq_recv(arg, buf, sizeof buf, 0); /* nothing will ever come */
  return NULL;
}

int main(void) {
  g_ctx = zmq_ctx_new();
  void* s = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(s);
  pthread_t t;
  pthread_create(&t, NULL, odd_owner, s);
  usleep(100 * 1000);
  printf("ready %d\n", (int)getpid());
  fflush(stdout);
  for (;;) pause();
}
