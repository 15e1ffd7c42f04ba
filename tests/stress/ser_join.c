// SPDX-License-Identifier: MIT
/* One scenario of mode=serialize under load, run by test_serialize.py;
 * stress.h has what the scenarios share.
 *
 *   ser_join ROUNDS MESSAGES
 *     per round a new DEALER: its creator uses it alone (the sole user's
 *     lock-free path), blocks in recv, and a second thread joins: sends the
 *     request that wakes it, then both keep going
 */
#include "stress.h"

/* join: the first thread holds the socket alone, long enough to run on the
 * sole user's path; halfway it blocks in recv with nothing outstanding, and
 * the second thread's arrival (taking the socket from it) must wake it. */
static sem_t g_join_sem;
static int g_join_next, g_join_trips;

static void join_trip(void) {
  int id = __atomic_fetch_add(&g_join_next, 1, __ATOMIC_RELAXED);
  CHECK(zmq_send(g_dealer, &id, sizeof id, 0) == sizeof id);
  int got = -1;
  CHECK(zmq_recv(g_dealer, &got, sizeof got, 0) == sizeof got);
  mark_seen(got);
}

static void* join_first(void* arg) {
  (void)arg;
  for (int i = 0; i < g_join_trips; i++) {
    if (i == g_join_trips / 2) {
      sem_post(&g_join_sem);
      int got = -1; /* the reply to one of the second thread's requests */
      CHECK(zmq_recv(g_dealer, &got, sizeof got, 0) == sizeof got);
      mark_seen(got);
    }
    join_trip();
  }
  return NULL;
}

static void* join_second(void* arg) {
  (void)arg;
  sem_wait(&g_join_sem);
  usleep(500); /* usually the first thread is asleep in recv by now; either order is correct */
  for (int k = 0; k < 2; k++) {
    int id = __atomic_fetch_add(&g_join_next, 1, __ATOMIC_RELAXED);
    CHECK(zmq_send(g_dealer, &id, sizeof id, 0) == sizeof id);
  }
  int got = -1;
  CHECK(zmq_recv(g_dealer, &got, sizeof got, 0) == sizeof got);
  mark_seen(got);
  for (int i = 0; i < g_join_trips / 2; i++) join_trip();
  return NULL;
}

static int join(int rounds) {
  pthread_t server = start_echo("inproc://join");
  g_join_trips = g_messages;
  int per_round = g_join_trips + 2 + g_join_trips / 2;
  g_threads = 1; /* mark_seen's bound: per_round ids per round */
  g_messages = per_round;
  g_seen = calloc((size_t)per_round, 1);
  for (int r = 0; r < rounds; r++) {
    memset(g_seen, 0, (size_t)per_round);
    g_join_next = 0;
    CHECK(sem_init(&g_join_sem, 0, 0) == 0);
    g_dealer = shared_dealer("inproc://join");
    pthread_t a, b;
    pthread_create(&a, NULL, join_first, NULL);
    pthread_create(&b, NULL, join_second, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    for (int i = 0; i < per_round; i++) CHECK(g_seen[i] == 1); /* every reply exactly once */
    CHECK(zmq_close(g_dealer) == 0);
    sem_destroy(&g_join_sem);
  }
  zmq_ctx_shutdown(g_ctx);
  pthread_join(server, NULL);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok join %d rounds\n", rounds);
  return 0;
}

int main(int argc, char** argv) {
  stress_init(argc, argv);
  return join(g_threads);
}
