// SPDX-License-Identifier: MIT
// Round trips over an inproc PAIR pipe between two threads (a czmq actor's
// pipe): every send and receive on a pipe end takes the guard's slow path,
// and each send is a release (src/core/order.h).  --sockets=N first opens N
// PUSH sockets owned by the main thread, which each release then visits.
// Prints rtt_us.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

static int count = 50000;

static void* echo(void* pipe) {
  char b[8];
  for (int i = 0; i < count; i++) {
    if (zmq_recv(pipe, b, sizeof b, 0) < 0 || zmq_send(pipe, b, 1, 0) != 1) abort();
  }
  return NULL;
}

int main(int argc, char** argv) {
  int sockets = 0;
  for (int i = 1; i < argc; i++) {
    if (!strncmp(argv[i], "--count=", 8)) count = atoi(argv[i] + 8);
    else if (!strncmp(argv[i], "--sockets=", 10)) sockets = atoi(argv[i] + 10);
  }
  void* ctx = zmq_ctx_new();
  void* a = zmq_socket(ctx, ZMQ_PAIR);
  void* b = zmq_socket(ctx, ZMQ_PAIR);
  if (zmq_bind(a, "inproc://pipe") || zmq_connect(b, "inproc://pipe")) abort();
  void** extra = calloc((size_t)sockets + 1, sizeof(void*));
  int zero = 0;
  for (int i = 0; i < sockets; i++) {
    extra[i] = zmq_socket(ctx, ZMQ_PUSH);
    zmq_setsockopt(extra[i], ZMQ_LINGER, &zero, sizeof zero);
    zmq_send(extra[i], "x", 1, ZMQ_DONTWAIT);  // owned by main from here on
  }
  pthread_t t;
  pthread_create(&t, NULL, echo, b);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  char buf[8];
  for (int i = 0; i < count; i++) {
    if (zmq_send(a, "p", 1, 0) != 1 || zmq_recv(a, buf, sizeof buf, 0) < 0) abort();
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  pthread_join(t, NULL);
  printf("rtt_us %.2f\n", ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / 1e3 / count);
  for (int i = 0; i < sockets; i++) zmq_close(extra[i]);
  free(extra);
  zmq_close(a);
  zmq_close(b);
  zmq_ctx_term(ctx);
  return 0;
}
