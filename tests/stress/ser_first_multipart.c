// SPDX-License-Identifier: MIT
/* One scenario of mode=serialize under load, run by test_serialize.py;
 * stress.h has what the scenarios share.
 *
 *   ser_first_multipart
 *     a thread whose very first send (or receive) is a message's first part
 *     ends it alone; a second thread's send (receive) then goes at once
 */
#include "stress.h"

/* first_multipart: the call that makes a thread a socket's sole user runs
 * under the turn, the rest of that thread's calls do not.  When its first
 * call is the first part of a message and a later one (alone) its last,
 * the message is over: a second thread's call must not wait for its end. */
static void* g_fm_pull;
static void* g_fm_push;
static sem_t g_fm_done, g_fm_go;

static void* fm_first(void* arg) {
  int recv_side = arg != NULL;
  char buf[8];
  if (recv_side) {
    CHECK(zmq_recv(g_fm_pull, buf, sizeof buf, 0) == 1 && buf[0] == 'A');
    CHECK(zmq_recv(g_fm_pull, buf, sizeof buf, 0) == 1 && buf[0] == 'B');
  } else {
    CHECK(zmq_send(g_fm_push, "A", 1, ZMQ_SNDMORE) == 1);
    CHECK(zmq_send(g_fm_push, "B", 1, 0) == 1);
  }
  sem_post(&g_fm_done);
  sem_wait(&g_fm_go); /* alive while the second thread calls */
  return NULL;
}

static void* fm_second(void* arg) {
  int recv_side = arg != NULL;
  char buf[8];
  double t0 = now_ms();
  if (recv_side) CHECK(zmq_recv(g_fm_pull, buf, sizeof buf, 0) == 1 && buf[0] == 'C');
  else CHECK(zmq_send(g_fm_push, "C", 1, 0) == 1);
  double took = now_ms() - t0;
  if (took > 2000) fprintf(stderr, "the second thread's call took %.0f ms\n", took);
  CHECK(took <= 2000);
  return NULL;
}

static void fm_round(int recv_side) {
  CHECK(sem_init(&g_fm_done, 0, 0) == 0 && sem_init(&g_fm_go, 0, 0) == 0);
  pthread_t a, b;
  void* arg = recv_side ? (void*)1 : NULL;
  pthread_create(&a, NULL, fm_first, arg);
  sem_wait(&g_fm_done);
  pthread_create(&b, NULL, fm_second, arg);
  pthread_join(b, NULL);
  sem_post(&g_fm_go);
  pthread_join(a, NULL);
}

static int first_multipart(void) {
  int ms = 5000; /* held up for good, the second call fails instead of hanging */
  g_fm_pull = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(zmq_setsockopt(g_fm_pull, ZMQ_RCVTIMEO, &ms, sizeof ms) == 0);
  CHECK(zmq_bind(g_fm_pull, "inproc://first_multipart") == 0);
  g_fm_push = zmq_socket(g_ctx, ZMQ_PUSH);
  CHECK(zmq_setsockopt(g_fm_push, ZMQ_SNDTIMEO, &ms, sizeof ms) == 0);
  CHECK(zmq_connect(g_fm_push, "inproc://first_multipart") == 0);
  fm_round(0); /* two threads send on the PUSH */
  fm_round(1); /* two threads receive on the PULL: A+B, then C */
  zmq_close(g_fm_push);
  zmq_close(g_fm_pull);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok first_multipart\n");
  return 0;
}

int main(int argc, char** argv) {
  stress_init(argc, argv);
  return first_multipart();
}
