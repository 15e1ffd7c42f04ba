// SPDX-License-Identifier: MIT
/* One scenario of mode=serialize under load, run by test_serialize.py;
 * stress.h has what the scenarios share.
 *
 *   ser_reserved
 *     (guard only) a send waiting behind another thread's unfinished message
 *     sleeps while the socket has news, then goes; it fails with ETERM when
 *     the context ends
 */
#include "stress.h"

/* reserved: main is in the middle of a message on a DEALER; another
 * thread's send waits for its end (without the guard it would slip into
 * it).  Meanwhile the socket's ZMQ_FD turns readable (a message arrives
 * for a receiver waiting for activation): the waiting send must sleep, not
 * spin.  Then, behind a second unfinished message, a send must fail with
 * ETERM when main terminates the context, as a send blocked in libzmq
 * does. */
static double thread_cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static volatile int g_res_waiting;

static void* reserved_sender(void* arg) {
  double* cpu = arg;
  g_res_waiting = 1;
  double c0 = thread_cpu_s();
  CHECK(zmq_send(g_dealer, "B", 1, 0) == 1);
  *cpu = thread_cpu_s() - c0;
  return NULL;
}

static void* reserved_eterm_sender(void* arg) {
  (void)arg;
  g_res_waiting = 1;
  CHECK(zmq_send(g_dealer, "C", 1, 0) == -1 && errno == ETERM);
  int linger = 0;
  zmq_setsockopt(g_dealer, ZMQ_LINGER, &linger, sizeof linger);
  CHECK(zmq_close(g_dealer) == 0);
  return NULL;
}


static int reserved(void) {
  void* router = zmq_socket(g_ctx, ZMQ_ROUTER);
  CHECK(zmq_bind(router, "inproc://reserved") == 0);
  g_dealer = zmq_socket(g_ctx, ZMQ_DEALER);
  CHECK(zmq_setsockopt(g_dealer, ZMQ_ROUTING_ID, "D", 1) == 0);
  CHECK(zmq_connect(g_dealer, "inproc://reserved") == 0);
  CHECK(zmq_send(g_dealer, "hello", 5, 0) == 5); /* the router learns the peer */
  router_expect(router, (const char* const[]){"D", "hello", NULL});
  char buf[16];
  /* Nothing to receive: the pipe's reader now waits to be activated. */
  CHECK(zmq_recv(g_dealer, buf, sizeof buf, ZMQ_DONTWAIT) == -1 && errno == EAGAIN);
  CHECK(zmq_send(g_dealer, "A1", 2, ZMQ_SNDMORE) == 2);
  double cpu = -1;
  pthread_t t;
  pthread_create(&t, NULL, reserved_sender, &cpu);
  while (!g_res_waiting) usleep(1000);
  usleep(100 * 1000);
  /* The activation command makes the DEALER's ZMQ_FD readable. */
  CHECK(zmq_send(router, "D", 1, ZMQ_SNDMORE) == 1 && zmq_send(router, "ping", 4, 0) == 4);
  usleep(1500 * 1000);
  CHECK(zmq_send(g_dealer, "A2", 2, 0) == 2);
  pthread_join(t, NULL);
  /* Spinning, it would have burnt a good part of the 1.5 s even on a busy
   * machine; asleep, a few milliseconds. */
  if (cpu > 0.15) fprintf(stderr, "the waiting send used %.2f s of CPU\n", cpu);
  CHECK(cpu >= 0 && cpu <= 0.15);
  router_expect(router, (const char* const[]){"D", "A1", "A2", "D", "B", NULL});
  CHECK(zmq_recv(g_dealer, buf, sizeof buf, 0) == 4 && memcmp(buf, "ping", 4) == 0);

  CHECK(zmq_send(g_dealer, "A1", 2, ZMQ_SNDMORE) == 2);
  g_res_waiting = 0;
  pthread_create(&t, NULL, reserved_eterm_sender, NULL);
  while (!g_res_waiting) usleep(1000);
  usleep(100 * 1000);
  CHECK(zmq_close(router) == 0);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  pthread_join(t, NULL);
  printf("ok reserved\n");
  return 0;
}

int main(int argc, char** argv) {
  stress_init(argc, argv);
  return reserved();
}
