// SPDX-License-Identifier: MIT
/* One scenario of mode=serialize under load, run by test_serialize.py;
 * stress.h has what the scenarios share.
 *
 *   ser_sendiov_hwm
 *     zmq_sendiov of 4 parts without ZMQ_SNDMORE (4 messages) at a high-
 *     water mark of 1: each part arrives once, in order (alone, shared)
 */
#include "stress.h"

/* sendiov_hwm: zmq_sendiov without ZMQ_SNDMORE sends each part as a
 * message of its own; at a high-water mark of 1 with a slow reader the
 * parts after the first have to wait.  Each must arrive exactly once, in
 * order: the sender alone, then with the socket shared. */
static void* g_ih_pull;

static void* ih_reader(void* arg) {
  const char* const* want = arg;
  int ms = 5000;
  CHECK(zmq_setsockopt(g_ih_pull, ZMQ_RCVTIMEO, &ms, sizeof ms) == 0);
  for (int i = 0; want[i]; i++) {
    usleep(30 * 1000); /* longer than the guard's wake-up period */
    char buf[16];
    int n = zmq_recv(g_ih_pull, buf, sizeof buf - 1, 0);
    CHECK(n >= 0);
    buf[n] = 0;
    if (strcmp(buf, want[i]) != 0) fprintf(stderr, "message %d: got '%s', want '%s'\n", i, buf, want[i]);
    CHECK(strcmp(buf, want[i]) == 0);
  }
  char buf[16];
  ms = 300;
  CHECK(zmq_setsockopt(g_ih_pull, ZMQ_RCVTIMEO, &ms, sizeof ms) == 0);
  CHECK(zmq_recv(g_ih_pull, buf, sizeof buf, 0) == -1 && errno == EAGAIN); /* nothing more */
  return NULL;
}

static void* ih_other(void* arg) {
  CHECK(zmq_send(arg, "S", 1, 0) == 1);
  return NULL;
}

static int sendiov_hwm(void) {
  int one = 1;
  g_ih_pull = zmq_socket(g_ctx, ZMQ_PULL); /* used by one reader thread at a time */
  CHECK(zmq_setsockopt(g_ih_pull, ZMQ_RCVHWM, &one, sizeof one) == 0);
  CHECK(zmq_bind(g_ih_pull, "inproc://sendiov_hwm") == 0);
  void* push = zmq_socket(g_ctx, ZMQ_PUSH);
  CHECK(zmq_setsockopt(push, ZMQ_SNDHWM, &one, sizeof one) == 0);
  CHECK(zmq_connect(push, "inproc://sendiov_hwm") == 0);
  struct iovec iov[4] = {{(void*)"A1", 2}, {(void*)"A2", 2}, {(void*)"A3", 2}, {(void*)"A4", 2}};
  static const char* const alone[] = {"A1", "A2", "A3", "A4", NULL};
  static const char* const shared[] = {"S", "A1", "A2", "A3", "A4", NULL};
  for (int round = 0; round < 2; round++) {
    pthread_t t;
    if (round) {
      pthread_create(&t, NULL, ih_other, push); /* the socket is shared from here on */
      pthread_join(t, NULL);
    }
    pthread_create(&t, NULL, ih_reader, (void*)(round ? shared : alone));
    CHECK(zmq_sendiov(push, iov, 4, 0) == 2);
    pthread_join(t, NULL);
  }
  zmq_close(push);
  zmq_close(g_ih_pull);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok sendiov_hwm\n");
  return 0;
}

int main(int argc, char** argv) {
  stress_init(argc, argv);
  return sendiov_hwm();
}
