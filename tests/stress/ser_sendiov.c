// SPDX-License-Identifier: MIT
/* One scenario of mode=serialize under load, run by test_serialize.py;
 * stress.h has what the scenarios share.
 *
 *   ser_sendiov
 *     zmq_sendiov with ZMQ_SNDMORE sends a whole message: another thread's
 *     send right after it goes through (the sender alone, then the socket
 *     shared)
 */
#include "stress.h"

/* sendiov: libzmq sends zmq_sendiov's vector in one go and clears
 * ZMQ_SNDMORE on its last part (with the flag the parts are one message,
 * without it each part is one): no message is left open, and another
 * thread's send right after it goes through. */
static void* g_iov_push;

static void* iov_other(void* arg) {
  const char* what = arg;
  CHECK(zmq_send(g_iov_push, what, strlen(what), 0) == (int)strlen(what));
  return NULL;
}

/* The next parts on pull: each one's text and ZMQ_RCVMORE ('+': more). */
static void iov_expect(void* pull, const char* const* parts) {
  for (int i = 0; parts[i]; i++) {
    char buf[16];
    int n = zmq_recv(pull, buf, sizeof buf - 1, 0);
    CHECK(n >= 0);
    buf[n] = 0;
    int more = -1;
    size_t len = sizeof more;
    CHECK(zmq_getsockopt(pull, ZMQ_RCVMORE, &more, &len) == 0);
    const char* want = parts[i];
    const int want_more = want[0] == '+';
    if (strcmp(buf, want + want_more) != 0 || more != want_more)
      fprintf(stderr, "part %d: got '%s' more=%d, want '%s'\n", i, buf, more, want);
    CHECK(strcmp(buf, want + want_more) == 0 && more == want_more);
  }
}

static void iov_then_other(int flags, const char* other) {
  struct iovec iov[2] = {{(void*)"A1", 2}, {(void*)"A2", 2}};
  CHECK(zmq_sendiov(g_iov_push, iov, 2, flags) == 2);
  pthread_t t;
  pthread_create(&t, NULL, iov_other, (void*)other);
  pthread_join(t, NULL);
}

static int sendiov(void) {
  void* pull = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(zmq_bind(pull, "inproc://sendiov") == 0);
  int ms = 5000; /* a send held up for good fails the check instead of hanging */
  CHECK(zmq_setsockopt(pull, ZMQ_RCVTIMEO, &ms, sizeof ms) == 0);
  g_iov_push = zmq_socket(g_ctx, ZMQ_PUSH);
  CHECK(zmq_setsockopt(g_iov_push, ZMQ_SNDTIMEO, &ms, sizeof ms) == 0);
  CHECK(zmq_connect(g_iov_push, "inproc://sendiov") == 0);
  /* main alone: its calls go straight into libzmq under the guard. */
  CHECK(zmq_send(g_iov_push, "0", 1, 0) == 1);
  iov_then_other(ZMQ_SNDMORE, "B");
  iov_expect(pull, (const char* const[]){"0", "+A1", "A2", "B", NULL});
  /* Shared from here on.  A vector that ends a message begun by zmq_send. */
  CHECK(zmq_send(g_iov_push, "P", 1, ZMQ_SNDMORE) == 1);
  iov_then_other(ZMQ_SNDMORE, "C");
  iov_expect(pull, (const char* const[]){"+P", "+A1", "A2", "C", NULL});
  iov_then_other(ZMQ_SNDMORE | ZMQ_DONTWAIT, "D");
  iov_then_other(0, "E");
  iov_expect(pull, (const char* const[]){"+A1", "A2", "D", "A1", "A2", "E", NULL});
  zmq_close(g_iov_push);
  zmq_close(pull);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok sendiov\n");
  return 0;
}

int main(int argc, char** argv) {
  stress_init(argc, argv);
  return sendiov();
}
