// SPDX-License-Identifier: MIT
/* One scenario of mode=serialize under load, run by test_serialize.py;
 * stress.h has what the scenarios share.
 *
 *   ser_deadline
 *     a thread waits alone in recv with a 600 ms RCVTIMEO; 300 ms in,
 *     another thread asks the socket its type (the guard revokes the sole
 *     user's bias for the question, and gives it back): the wait still ends
 *     600 ms after it began
 */
#include "stress.h"

/* deadline: the sole user's wait is taken over by the locked protocol when
 * a second thread comes (under the guard); its timeout counts from the
 * call's start all the same.  The second thread only reads ZMQ_TYPE, which
 * libzmq answers without touching the socket's state, so the program is
 * correct without the guard too; the guard serializes the question all the
 * same (it revokes the bias), but a question is no use: the socket stays
 * its user's alone, and nothing is reported. */
static void* g_deadline_sock;
static volatile int g_deadline_waiting;

static void* deadline_asker(void* arg) {
  (void)arg;
  while (!g_deadline_waiting) usleep(1000);
  usleep(300 * 1000);
  int type = 0;
  size_t len = sizeof type;
  CHECK(zmq_getsockopt(g_deadline_sock, ZMQ_TYPE, &type, &len) == 0 && type == ZMQ_PULL);
  return NULL;
}

static void* deadline_user(void* arg) {
  (void)arg;
  void* s = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(s && zmq_bind(s, "inproc://deadline") == 0);
  int ms = 600;
  CHECK(zmq_setsockopt(s, ZMQ_RCVTIMEO, &ms, sizeof ms) == 0);
  char buf[8];
  CHECK(zmq_recv(s, buf, sizeof buf, ZMQ_DONTWAIT) == -1 && errno == EAGAIN); /* its first use: the sole user */
  g_deadline_sock = s;
  double t0 = now_ms();
  g_deadline_waiting = 1;
  CHECK(zmq_recv(s, buf, sizeof buf, 0) == -1 && errno == EAGAIN);
  double took = now_ms() - t0;
  /* Restarted in full at the second thread's arrival it would take 900 ms. */
  if (took < ms - 2 || took > ms + 200) fprintf(stderr, "RCVTIMEO %d ms took %.1f ms\n", ms, took);
  CHECK(took >= ms - 2 && took <= ms + 200);
  zmq_close(s);
  return NULL;
}

static int deadline(void) {
  pthread_t user, asker;
  pthread_create(&user, NULL, deadline_user, NULL);
  pthread_create(&asker, NULL, deadline_asker, NULL);
  pthread_join(asker, NULL);
  pthread_join(user, NULL);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok deadline\n");
  return 0;
}

int main(int argc, char** argv) {
  stress_init(argc, argv);
  return deadline();
}
