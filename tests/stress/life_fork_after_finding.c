// SPDX-License-Identifier: MIT
/* One scenario of the guard's lifecycle diagnostics, run by
 * test_lifecycle.py; stress.h has what the scenarios share.
 *
 *   life_fork_after_finding
 *     a second thread uses main's socket (a finding), then the child exits
 *     without a zmq call
 */
#include "stress.h"

static void* g_second_socket;
static int g_go[2];

/* Started before main's use and let go by a pipe the guard does not see:
   its call is not ordered after main's (a thread started after main's last
   call would be, src/core/order.h). */
static void* second_user(void* arg) {
  (void)arg;
  char buf[8];
  CHECK(read(g_go[0], buf, 1) == 1);
  zmq_recv(g_second_socket, buf, sizeof buf, ZMQ_DONTWAIT); /* cross_thread: main took it */
  return NULL;
}

int main(void) {
  g_ctx = zmq_ctx_new();
  void* s = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(zmq_bind(s, "inproc://finding") == 0);
  g_second_socket = s;
  CHECK(pipe(g_go) == 0);
  pthread_t t;
  pthread_create(&t, NULL, second_user, NULL);
  char buf[8];
  zmq_recv(s, buf, sizeof buf, ZMQ_DONTWAIT);
  CHECK(write(g_go[1], "g", 1) == 1);
  pthread_join(t, NULL);
  fflush(stdout);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    printf("child done\n");
    exit(0); /* reported nothing itself */
  }
  wait_child(pid);
  zmq_close(s);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok fork_after_finding\n");
  return 0;
}
