// SPDX-License-Identifier: MIT
/* One scenario of mode=serialize under load, run by test_serialize.py;
 * stress.h has what the scenarios share.
 *
 *   ser_wake_tail
 *     RCVTIMEO/SNDTIMEO a little above the guard's 20 ms wake-up period end
 *     on time (not at the next multiple of 20 ms): alone, then shared
 */
#include "stress.h"

/* wake_tail: a timeout just above the guard's wake-up period (20 ms) ends
 * when libzmq would end it.  The best of five tries counts: a busy
 * machine only ever makes a wait longer. */
static double best_of_five(void* s, int send, int ms) {
  CHECK(zmq_setsockopt(s, send ? ZMQ_SNDTIMEO : ZMQ_RCVTIMEO, &ms, sizeof ms) == 0);
  double best = 1e9;
  for (int i = 0; i < 5; i++) {
    char buf[8] = "x";
    double t0 = now_ms();
    int rc = send ? zmq_send(s, buf, 1, 0) : zmq_recv(s, buf, sizeof buf, 0);
    CHECK(rc == -1 && errno == EAGAIN);
    double took = now_ms() - t0;
    if (took < best) best = took;
  }
  return best;
}

static void ends_on_time(void* s, int send, int ms) {
  double took = best_of_five(s, send, ms);
  if (took < ms - 2 || took > ms + 10) fprintf(stderr, "%s %d ms took %.1f ms\n", send ? "SNDTIMEO" : "RCVTIMEO", ms, took);
  CHECK(took >= ms - 2 && took <= ms + 10);
}

static void* g_tail_pull;
static void* g_tail_push;

static void* tail_user(void* arg) {
  (void)arg;
  static const int ms[] = {21, 30, 45};
  for (int i = 0; i < 3; i++) ends_on_time(g_tail_pull, 0, ms[i]);
  for (int i = 0; i < 3; i++) ends_on_time(g_tail_push, 1, ms[i]);
  return NULL;
}

static int wake_tail(void) {
  g_tail_pull = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(zmq_bind(g_tail_pull, "inproc://wake_tail") == 0);
  g_tail_push = zmq_socket(g_ctx, ZMQ_PUSH); /* no peer ever: a send waits */
  int zero = 0;
  CHECK(zmq_setsockopt(g_tail_push, ZMQ_LINGER, &zero, sizeof zero) == 0);
  for (int shared = 0; shared < 2; shared++) {
    /* The first round's thread is each socket's only user; in the second
     * main has used them too (a receive and a send: the options read back
     * are questions, which are no use). */
    pthread_t t;
    pthread_create(&t, NULL, tail_user, NULL);
    pthread_join(t, NULL);
    int v = 0;
    size_t len = sizeof v;
    CHECK(zmq_getsockopt(g_tail_pull, ZMQ_RCVTIMEO, &v, &len) == 0 && v == 45);
    CHECK(zmq_getsockopt(g_tail_push, ZMQ_SNDTIMEO, &v, &len) == 0 && v == 45);
    char buf[8] = "x";
    CHECK(zmq_recv(g_tail_pull, buf, sizeof buf, ZMQ_DONTWAIT) == -1 && errno == EAGAIN);
    CHECK(zmq_send(g_tail_push, buf, 1, ZMQ_DONTWAIT) == -1 && errno == EAGAIN);
  }
  zmq_close(g_tail_push);
  zmq_close(g_tail_pull);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok wake_tail\n");
  return 0;
}

int main(int argc, char** argv) {
  stress_init(argc, argv);
  return wake_tail();
}
