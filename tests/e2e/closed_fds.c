// SPDX-License-Identifier: MIT
// A daemon's start: close every descriptor it inherited, open its own
// files (which get the lowest numbers again), then use ZeroMQ, with one
// misuse for the guard to report.  Whatever the guard opened before main
// (its constructor runs first) must not be written to, read or closed
// once those numbers are the program's: argv[1] must end up holding the
// program's two lines and nothing else.
#include <fcntl.h>

#include "scenario.h"

static void* pair_a;

static void* intruder(void* arg) {
  (void)arg;
  CHECK(zmq_send(pair_a, "from intruder", 13, 0) == 13);
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: closed_fds FILE\n");
    return 2;
  }
  for (int fd = 3; fd < 1024; fd++) close(fd);
  int own = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(own >= 0);
  CHECK(dprintf(own, "before\n") == 7);

  void* ctx = zmq_ctx_new();
  CHECK(ctx);
  pair_a = zmq_socket(ctx, ZMQ_PAIR);
  void* pair_b = zmq_socket(ctx, ZMQ_PAIR);
  CHECK(pair_a && pair_b);
  CHECK(zmq_bind(pair_b, "inproc://closed-fds") == 0);
  CHECK(zmq_connect(pair_a, "inproc://closed-fds") == 0);
  CHECK(zmq_send(pair_a, "from main", 9, 0) == 9);  // main owns pair_a
  pthread_join(spawn(intruder, NULL, "intruder"), NULL);

  char buf[32];
  CHECK(zmq_recv(pair_b, buf, sizeof buf, 0) == 9);
  CHECK(zmq_recv(pair_b, buf, sizeof buf, 0) == 13);
  CHECK(dprintf(own, "after\n") == 6);
  CHECK(close(own) == 0);
  zmq_close(pair_a);
  zmq_close(pair_b);
  zmq_ctx_term(ctx);
  puts("done");
  return 0;
}
