/* A C plugin that Python loads with ctypes.CDLL.  It links the system
 * libzmq, so beside a wheel's private copy the process holds two libzmq
 * copies; its calls go through the PLT, where the guard sits. */
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

/* Sends one message on a socket made by the caller (pyzmq's handle):
 * ctypes drops the GIL around this call, so the report is made by a thread
 * that runs Python but does not hold the GIL.  *returned_at is when
 * zmq_send came back (after the guard's report, in warn mode), on Python's
 * time.monotonic() clock. */
int plugin_delayed_send(void* sock, int delay_ms, double* returned_at) {
  usleep(delay_ms * 1000);
  int rc = zmq_send(sock, "late", 4, ZMQ_DONTWAIT);
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  *returned_at = now.tv_sec + now.tv_nsec / 1e9;
  return rc;
}

struct pair {
  void* dealer;
  volatile int ready;
};

static void* plugin_receiver(void* arg) {
  struct pair* p = arg;
  char buf[16];
  p->ready = 1;
  zmq_recv(p->dealer, buf, sizeof buf, 0);
  return NULL;
}

static void* plugin_sender(void* arg) {
  struct pair* p = arg;
  zmq_send(p->dealer, "ping", 4, 0);
  return NULL;
}

/* One DEALER of the plugin's own libzmq used by two threads at once: one
 * blocks in recv while the other sends.  Returns 0 after a clean shutdown. */
int plugin_shared_dealer(void) {
  void* ctx = zmq_ctx_new();
  void* router = zmq_socket(ctx, ZMQ_ROUTER);
  zmq_bind(router, "inproc://plugin");
  struct pair p = {zmq_socket(ctx, ZMQ_DEALER), 0};
  zmq_connect(p.dealer, "inproc://plugin");
  pthread_t rx, tx;
  pthread_create(&rx, NULL, plugin_receiver, &p);
  while (!p.ready) usleep(1000);
  usleep(50000);
  pthread_create(&tx, NULL, plugin_sender, &p);
  pthread_join(tx, NULL);
  char id[256], msg[16];
  int idn = zmq_recv(router, id, sizeof id, 0);
  int n = zmq_recv(router, msg, sizeof msg, 0);
  zmq_send(router, id, idn, ZMQ_SNDMORE);
  zmq_send(router, msg, n, 0);
  pthread_join(rx, NULL);
  int linger = 0;
  zmq_setsockopt(p.dealer, ZMQ_LINGER, &linger, sizeof linger);
  zmq_setsockopt(router, ZMQ_LINGER, &linger, sizeof linger);
  zmq_close(p.dealer);
  zmq_close(router);
  return zmq_ctx_term(ctx);
}
