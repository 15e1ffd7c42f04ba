// SPDX-License-Identifier: MIT
/* One scenario of the guard's lifecycle diagnostics, run by
 * test_lifecycle.py; stress.h has what the scenarios share.
 *
 *   life_hang [serialize]
 *     prints "ready PID", then threads (two with serialize, else one) block
 *     in recv until killed (for the live dump)
 */
#include "stress.h"

static void* hung_receiver(void* arg) {
  char buf[8];
  zmq_recv(arg, buf, sizeof buf, 0); /* nothing will ever come */
  return NULL;
}

int main(int argc, char** argv) {
  g_ctx = zmq_ctx_new();
  int shared = argc > 1 && !strcmp(argv[1], "serialize");
  void* s = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(zmq_bind(s, "inproc://hang") == 0);
  pthread_t a, b;
  pthread_create(&a, NULL, hung_receiver, s);
  if (shared) pthread_create(&b, NULL, hung_receiver, s);
  usleep(100 * 1000);
  printf("ready %d\n", (int)getpid());
  fflush(stdout);
  for (;;) pause();
}
