// SPDX-License-Identifier: MIT
/* One scenario of mode=serialize under load, run by test_serialize.py;
 * stress.h has what the scenarios share.
 *
 *   ser_poll_cancel TRIALS
 *     a thread polling 16 sockets again and again is cancelled at a random
 *     moment (mid-round too: libzmq's own poll is a cancellation point); the
 *     next thread reuses its stack; every socket still works, every trial
 */
#include "stress.h"

/* poll_cancel: a poller's round registers its waiter records (on its
 * stack) socket by socket, reading each one's ZMQ_EVENTS from libzmq in
 * between; a cancellation landing there must not leave the earlier records
 * on the sockets' lists, where the next thread to reuse that stack would
 * find them (it spun forever in the wake pass, or crashed). */
#define PC_N 16
static void *g_pc_pull[PC_N], *g_pc_push[PC_N];

static void pc_items(zmq_pollitem_t* it) {
  for (int i = 0; i < PC_N; i++) it[i] = (zmq_pollitem_t){g_pc_pull[i], 0, ZMQ_POLLIN, 0};
}

static void* pc_poller(void* arg) {
  (void)arg;
  zmq_pollitem_t it[PC_N];
  pc_items(it);
  for (;;) zmq_poll(it, PC_N, 1);
  return NULL;
}

static void* pc_poll_once(void* arg) {
  (void)arg;
  zmq_pollitem_t it[PC_N];
  pc_items(it);
  CHECK(zmq_poll(it, PC_N, 0) == 0);
  return NULL;
}

static void* pc_scribble(void* arg) {
  (void)arg;
  volatile char big[256 * 1024]; /* over the dead poller's stack */
  memset((char*)big, 0xAB, sizeof big);
  return NULL;
}

static int poll_cancel(int trials) {
  for (int i = 0; i < PC_N; i++) {
    char ep[32];
    snprintf(ep, sizeof ep, "inproc://poll_cancel%d", i);
    CHECK((g_pc_pull[i] = zmq_socket(g_ctx, ZMQ_PULL)) != NULL);
    CHECK(zmq_bind(g_pc_pull[i], ep) == 0);
    CHECK((g_pc_push[i] = zmq_socket(g_ctx, ZMQ_PUSH)) != NULL);
    CHECK(zmq_connect(g_pc_push[i], ep) == 0);
  }
  /* Main and a second thread poll: every PULL is shared from here on. */
  pc_poll_once(NULL);
  pthread_t t;
  pthread_create(&t, NULL, pc_poll_once, NULL);
  pthread_join(t, NULL);
  unsigned seed = 1;
  for (int k = 0; k < trials; k++) {
    pthread_create(&t, NULL, pc_poller, NULL);
    usleep(1000 + rand_r(&seed) % 3000);
    pthread_cancel(t);
    pthread_join(t, NULL);
    pthread_create(&t, NULL, pc_scribble, NULL);
    pthread_join(t, NULL);
    for (int i = 0; i < PC_N; i++) {
      char b[4];
      CHECK(zmq_send(g_pc_push[i], "m", 1, 0) == 1);
      CHECK(zmq_recv(g_pc_pull[i], b, sizeof b, 0) == 1);
    }
  }
  int linger = 0;
  for (int i = 0; i < PC_N; i++) {
    zmq_setsockopt(g_pc_push[i], ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(g_pc_push[i]);
    zmq_close(g_pc_pull[i]);
  }
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok poll_cancel\n");
  return 0;
}

int main(int argc, char** argv) {
  stress_init(argc, argv);
  return poll_cancel(argc > 1 ? atoi(argv[1]) : 300);
}
