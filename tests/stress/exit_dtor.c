// SPDX-License-Identifier: MIT
/* What runs at exit must still run under the guard in warn mode:
 *
 *   exit_dtor finding   a second thread uses main's socket (a finding), then
 *                       main returns 0
 *   exit_dtor clean     no finding; main returns 3
 *
 * Either way stdout gets a line left in its buffer, an atexit handler
 * prints, and exit_lib's destructor prints. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

void exit_lib_touch(void);

static void at_exit(void) { fprintf(stderr, "exit_dtor: atexit handler ran\n"); }

static void* g_socket;
static int g_go[2];

/* Started before main's use and let go by a pipe the guard does not see:
   its call is not ordered after main's. */
static void* second_user(void* arg) {
  (void)arg;
  char buf[8];
  if (read(g_go[0], buf, 1) != 1) abort();
  zmq_recv(g_socket, buf, sizeof buf, ZMQ_DONTWAIT);
  return NULL;
}

int main(int argc, char** argv) {
  int finding = argc > 1 && !strcmp(argv[1], "finding");
  exit_lib_touch();
  atexit(at_exit);
  void* ctx = zmq_ctx_new();
  void* s = zmq_socket(ctx, ZMQ_PULL);
  zmq_bind(s, "inproc://exit");
  g_socket = s;
  pthread_t t;
  if (finding) {
    if (pipe(g_go) != 0) abort();
    pthread_create(&t, NULL, second_user, NULL);
  }
  char buf[8];
  zmq_recv(s, buf, sizeof buf, ZMQ_DONTWAIT);
  if (finding) {
    if (write(g_go[1], "g", 1) != 1) abort();
    pthread_join(t, NULL);
  }
  zmq_close(s);
  zmq_ctx_term(ctx);
  printf("exit_dtor: buffered output\n"); /* stdout is a pipe: still in the buffer */
  return finding ? 0 : 3;
}
