// SPDX-License-Identifier: MIT
/* One scenario of mode=serialize under load, run by test_serialize.py;
 * stress.h has what the scenarios share.
 *
 *   ser_questions THREADS MESSAGES
 *     (guard only) a thread receives MESSAGES 2-part messages alone while
 *     main asks the socket ZMQ_TYPE, ZMQ_RCVTIMEO, ZMQ_RCVMORE and sets
 *     ZMQ_LINGER: no sharing, nothing lost, the user's timeout intact
 */
#include "stress.h"

/* questions: a thread receives on a socket alone (the sole user's path)
 * while main keeps asking the socket questions (ZMQ_TYPE, ZMQ_RCVTIMEO,
 * ZMQ_RCVMORE) and setting ZMQ_LINGER, as pyzmq's close(linger=N) does
 * before its close.  Under the guard each revokes the sole user's bias and
 * runs under the turn, never beside the user's call inside libzmq, and none
 * makes the socket shared (nothing is reported): the user gets its bias
 * back at its next call, every message arrives whole and in order, libzmq
 * answers the user's own timeout, and the last wait still ends after it.
 * (Guard only: without it the linger set would race the receive.) */
static void* g_q_pull;
static volatile int g_q_ready, g_q_done;
enum { Q_TIMEO = 300 };

static void* q_sender(void* arg) {
  (void)arg;
  void* push = zmq_socket(g_ctx, ZMQ_PUSH);
  CHECK(push && zmq_connect(push, "inproc://questions") == 0);
  for (int i = 0; i < g_messages; i++) {
    char a[16], b[16];
    int na = snprintf(a, sizeof a, "a%d", i), nb = snprintf(b, sizeof b, "b%d", i);
    CHECK(zmq_send(push, a, (size_t)na, ZMQ_SNDMORE) == na);
    CHECK(zmq_send(push, b, (size_t)nb, 0) == nb);
    if (i % 16 == 15) usleep(2000); /* the receiver waits inside libzmq now and then */
  }
  zmq_close(push);
  return NULL;
}

static void q_expect(const char* prefix, int i, int want_more) {
  char buf[16], want[16];
  int n = zmq_recv(g_q_pull, buf, sizeof buf - 1, 0);
  CHECK(n > 0);
  buf[n] = 0;
  snprintf(want, sizeof want, "%s%d", prefix, i);
  if (strcmp(buf, want) != 0) fprintf(stderr, "got '%s', want '%s'\n", buf, want);
  CHECK(strcmp(buf, want) == 0);
  int more = -1;
  size_t len = sizeof more;
  int rc = zmq_getsockopt(g_q_pull, ZMQ_RCVMORE, &more, &len);
  if (rc != 0 || more != want_more) fprintf(stderr, "after '%s': ZMQ_RCVMORE rc %d, %d, want %d\n", buf, rc, more, want_more);
  CHECK(rc == 0 && more == want_more);
}

static void* q_user(void* arg) {
  (void)arg;
  int ms = Q_TIMEO;
  CHECK(zmq_setsockopt(g_q_pull, ZMQ_RCVTIMEO, &ms, sizeof ms) == 0);
  char buf[16];
  CHECK(zmq_recv(g_q_pull, buf, sizeof buf, ZMQ_DONTWAIT) == -1 && errno == EAGAIN); /* takes it */
  g_q_ready = 1;
  for (int i = 0; i < g_messages; i++) {
    q_expect("a", i, 1);
    q_expect("b", i, 0);
  }
  /* Nothing more comes: the wait ends after the user's timeout. */
  double t0 = now_ms();
  CHECK(zmq_recv(g_q_pull, buf, sizeof buf, 0) == -1 && errno == EAGAIN);
  double took = now_ms() - t0;
  if (took < Q_TIMEO - 2 || took > Q_TIMEO + 200) fprintf(stderr, "RCVTIMEO %d ms took %.1f ms\n", Q_TIMEO, took);
  CHECK(took >= Q_TIMEO - 2 && took <= Q_TIMEO + 200);
  g_q_done = 1;
  return NULL;
}

static int questions(void) {
  g_q_pull = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(g_q_pull && zmq_bind(g_q_pull, "inproc://questions") == 0);
  pthread_t user, sender;
  pthread_create(&user, NULL, q_user, NULL);
  while (!g_q_ready) usleep(1000);
  pthread_create(&sender, NULL, q_sender, NULL);
  long asked = 0;
  while (!g_q_done) {
    int v = 0;
    size_t len = sizeof v;
    CHECK(zmq_getsockopt(g_q_pull, ZMQ_TYPE, &v, &len) == 0 && v == ZMQ_PULL);
    len = sizeof v;
    CHECK(zmq_getsockopt(g_q_pull, ZMQ_RCVTIMEO, &v, &len) == 0);
    if (v != Q_TIMEO) fprintf(stderr, "ZMQ_RCVTIMEO read %d, set %d\n", v, Q_TIMEO);
    CHECK(v == Q_TIMEO);
    len = sizeof v;
    CHECK(zmq_getsockopt(g_q_pull, ZMQ_RCVMORE, &v, &len) == 0);
    int zero = 0;
    CHECK(zmq_setsockopt(g_q_pull, ZMQ_LINGER, &zero, sizeof zero) == 0);
    if (++asked % 4 == 0) usleep(500); /* the user gets its bias back meanwhile */
  }
  pthread_join(sender, NULL);
  pthread_join(user, NULL);
  CHECK(asked >= 10);
  zmq_close(g_q_pull); /* by main: the user's hand-off */
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok questions %d\n", g_messages);
  return 0;
}

int main(int argc, char** argv) {
  stress_init(argc, argv);
  return questions();
}
