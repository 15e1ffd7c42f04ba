// SPDX-License-Identifier: MIT
/* One scenario of mode=serialize under load, run by test_serialize.py;
 * stress.h has what the scenarios share.
 *
 *   ser_cancel
 *     threads cancelled (pthread_cancel) while waiting in recv, in zmq_poll,
 *     and inside libzmq (its mailbox poll) with a cleanup handler that sends
 *     on the socket: the others go on; a socket's only user cancelled in
 *     recv sends from its cleanup handler while a second thread takes the
 *     socket
 */
#include "stress.h"

/* cancel: a thread cancelled in the middle of a call on a shared socket
 * (libzmq's blocking waits and its mailbox poll are cancellation points).
 * Without the guard the socket simply goes on; under it, the cancelled
 * thread's wait records (on its stack, reused by the next thread) must be
 * gone from the socket's lists, and a turn it held inside libzmq must be
 * given up, to its own cleanup handler first. */
static sem_t g_cx_ready, g_cx_go;

static void* cx_recv(void* arg) {
  (void)arg;
  char buf[16];
  sem_post(&g_cx_ready);
  zmq_recv(g_dealer, buf, sizeof buf, 0); /* cancelled in here */
  return NULL;
}

static void* cx_poll(void* arg) {
  (void)arg;
  zmq_pollitem_t it = {g_dealer, 0, ZMQ_POLLIN, 0};
  sem_post(&g_cx_ready);
  zmq_poll(&it, 1, -1); /* cancelled in here */
  return NULL;
}

static void cx_bye(void* arg) {
  if (arg) CHECK(zmq_send(g_dealer, "bye", 3, ZMQ_DONTWAIT) == 3);
}

/* arg: whether its cleanup handler sends on the socket. */
static void* cx_inside(void* arg) {
  char buf[16];
  CHECK(zmq_recv(g_dealer, buf, sizeof buf, ZMQ_DONTWAIT) == -1 && errno == EAGAIN);
  CHECK(pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL) == 0);
  sem_post(&g_cx_ready);
  sem_wait(&g_cx_go); /* cancelled meanwhile: the cancellation waits */
  pthread_cleanup_push(cx_bye, arg);
  CHECK(pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL) == 0);
  /* Nothing to receive: libzmq polls its mailbox, the first cancellation
   * point since the cancellation was enabled. */
  zmq_recv(g_dealer, buf, sizeof buf, ZMQ_DONTWAIT);
  pthread_cleanup_pop(0);
  return NULL;
}

/* A socket's only user, cancelled in a blocking receive (straight into
 * libzmq under the guard), whose cleanup handler sends on it while a
 * second thread, come meanwhile, takes the socket from it. */
static void* g_cx_alone;
static sem_t g_cx_unwinding, g_cx_resume;

static void cx_alone_bye(void* arg) {
  (void)arg;
  sem_post(&g_cx_unwinding);
  sem_wait(&g_cx_resume);
  CHECK(zmq_send(g_cx_alone, "bye", 3, ZMQ_DONTWAIT) == 3);
}

static void* cx_alone(void* arg) {
  (void)arg;
  char buf[16];
  CHECK(zmq_recv(g_cx_alone, buf, sizeof buf, ZMQ_DONTWAIT) == -1 && errno == EAGAIN); /* its first use */
  pthread_cleanup_push(cx_alone_bye, NULL);
  sem_post(&g_cx_ready);
  zmq_recv(g_cx_alone, buf, sizeof buf, 0); /* cancelled in here */
  pthread_cleanup_pop(0);
  return NULL;
}

static void* cx_comer(void* arg) {
  (void)arg;
  CHECK(zmq_send(g_cx_alone, "r", 1, 0) == 1);
  return NULL;
}

static void* cx_scribble(void* arg) { /* runs on the cancelled thread's cached stack */
  (void)arg;
  volatile char junk[256 * 1024];
  memset((char*)junk, 0x41, sizeof junk);
  return NULL;
}

static void* cx_receiver(void* arg) {
  (void)arg;
  char buf[16];
  CHECK(zmq_recv(g_dealer, buf, sizeof buf, 0) == 4 && memcmp(buf, "ping", 4) == 0);
  return NULL;
}

static void cx_cancel(void* (*fn)(void*), int pending, void* arg) {
  pthread_t t;
  CHECK(sem_init(&g_cx_ready, 0, 0) == 0 && sem_init(&g_cx_go, 0, 0) == 0);
  pthread_create(&t, NULL, fn, arg);
  sem_wait(&g_cx_ready);
  if (!pending) usleep(200 * 1000); /* asleep in its wait by now */
  CHECK(pthread_cancel(t) == 0);
  sem_post(&g_cx_go);
  void* res = NULL;
  pthread_join(t, &res);
  CHECK(res == PTHREAD_CANCELED);
  pthread_create(&t, NULL, cx_scribble, NULL);
  pthread_join(t, NULL);
}

/* Receivers wait on the socket and each gets a ping: wake-ups walk the
 * socket's waiters. */
static void cx_pings(void* router) {
  for (int i = 0; i < 3; i++) {
    pthread_t t;
    pthread_create(&t, NULL, cx_receiver, NULL);
    usleep(50 * 1000);
    CHECK(zmq_send(router, "D", 1, ZMQ_SNDMORE) == 1 && zmq_send(router, "ping", 4, 0) == 4);
    pthread_join(t, NULL);
  }
}


static int cancel(void) {
  void* router = zmq_socket(g_ctx, ZMQ_ROUTER);
  CHECK(zmq_bind(router, "inproc://cancel") == 0);
  int ms = 5000; /* the router's receives: a stuck run fails instead of hanging */
  CHECK(zmq_setsockopt(router, ZMQ_RCVTIMEO, &ms, sizeof ms) == 0);
  g_dealer = zmq_socket(g_ctx, ZMQ_DEALER);
  CHECK(zmq_setsockopt(g_dealer, ZMQ_ROUTING_ID, "D", 1) == 0);
  CHECK(zmq_connect(g_dealer, "inproc://cancel") == 0);
  CHECK(zmq_send(g_dealer, "hello", 5, 0) == 5);
  router_expect(router, (const char* const[]){"D", "hello", NULL});
  cx_cancel(cx_recv, 0, NULL);
  cx_cancel(cx_poll, 0, NULL);
  cx_pings(router);
  cx_cancel(cx_inside, 1, "bye");
  router_expect(router, (const char* const[]){"D", "bye", NULL});
  CHECK(zmq_send(g_dealer, "after", 5, 0) == 5);
  router_expect(router, (const char* const[]){"D", "after", NULL});
  cx_cancel(cx_inside, 1, NULL);
  CHECK(zmq_send(g_dealer, "last", 4, 0) == 4);
  router_expect(router, (const char* const[]){"D", "last", NULL});
  cx_pings(router);

  g_cx_alone = zmq_socket(g_ctx, ZMQ_DEALER);
  CHECK(zmq_setsockopt(g_cx_alone, ZMQ_ROUTING_ID, "E", 1) == 0);
  CHECK(zmq_connect(g_cx_alone, "inproc://cancel") == 0);
  CHECK(sem_init(&g_cx_ready, 0, 0) == 0 && sem_init(&g_cx_unwinding, 0, 0) == 0 &&
        sem_init(&g_cx_resume, 0, 0) == 0);
  pthread_t alone, comer;
  pthread_create(&alone, NULL, cx_alone, NULL);
  sem_wait(&g_cx_ready);
  usleep(200 * 1000);
  CHECK(pthread_cancel(alone) == 0);
  sem_wait(&g_cx_unwinding);
  pthread_create(&comer, NULL, cx_comer, NULL);
  usleep(200 * 1000); /* the second thread waits for the first one's call by now */
  sem_post(&g_cx_resume);
  void* res = NULL;
  pthread_join(alone, &res);
  CHECK(res == PTHREAD_CANCELED);
  pthread_join(comer, NULL);
  router_expect(router, (const char* const[]){"E", "r", "E", "bye", NULL});
  zmq_close(g_cx_alone);
  zmq_close(g_dealer);
  zmq_close(router);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok cancel\n");
  return 0;
}

int main(int argc, char** argv) {
  stress_init(argc, argv);
  return cancel();
}
