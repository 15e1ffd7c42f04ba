// SPDX-License-Identifier: MIT
/* One scenario of mode=serialize under load, run by test_serialize.py;
 * stress.h has what the scenarios share.
 *
 *   ser_proxy_capture MESSAGES
 *     (guard only) zmq_proxy with a thread-safe capture socket (SCATTER)
 *     while another thread also sends on its backend: every message once
 */
#include "stress.h"

/* proxy_capture: zmq_proxy(PULL, PUSH, SCATTER) forwards MESSAGES from a
 * pusher while another thread sends as many on the proxy's PUSH backend
 * itself.  The capture socket is of a thread-safe type: the guard's proxy
 * must still move the messages through the backend's turns (libzmq's own
 * proxy would use the backend behind them). */
#define ZMQ_SCATTER_TYPE 17
#define ZMQ_GATHER_TYPE 18
static void* g_pc_front;
static void* g_pc_back;
static void* g_pc_capture;
static volatile int g_pc_captured;

static void* pc_proxy(void* arg) {
  (void)arg;
  CHECK(zmq_proxy(g_pc_front, g_pc_back, g_pc_capture) == -1 && errno == ETERM);
  return NULL;
}

static void* pc_pusher(void* arg) {
  (void)arg;
  void* push = zmq_socket(g_ctx, ZMQ_PUSH);
  CHECK(zmq_connect(push, "inproc://pc_front") == 0);
  for (int i = 0; i < g_messages; i++) CHECK(zmq_send(push, "p", 1, 0) == 1);
  zmq_close(push);
  return NULL;
}

static volatile int g_pc_forwarding;

static void* pc_backend_user(void* arg) {
  (void)arg;
  // Only once the proxy has sent on the backend: then the two threads
  // surely overlap on it (the proxy's thread lives until the end), which a
  // thread scheduled late could otherwise miss, sending all its messages
  // and exiting before the proxy's first call (a hand-off, no sharing).
  while (!__atomic_load_n(&g_pc_forwarding, __ATOMIC_ACQUIRE)) usleep(100);
  for (int i = 0; i < g_messages; i++) CHECK(zmq_send(g_pc_back, "b", 1, 0) == 1);
  return NULL;
}

static void* pc_gather(void* arg) {
  void* gather = arg;
  char buf[8];
  while (zmq_recv(gather, buf, sizeof buf, 0) == 1) {
    CHECK(buf[0] == 'p');
    __atomic_add_fetch(&g_pc_captured, 1, __ATOMIC_RELAXED);
  }
  CHECK(errno == ETERM);
  zmq_close(gather);
  return NULL;
}

static int proxy_capture(void) {
  g_pc_front = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(zmq_bind(g_pc_front, "inproc://pc_front") == 0);
  g_pc_back = zmq_socket(g_ctx, ZMQ_PUSH);
  CHECK(zmq_bind(g_pc_back, "inproc://pc_back") == 0);
  g_pc_capture = zmq_socket(g_ctx, ZMQ_SCATTER_TYPE);
  CHECK(g_pc_capture && zmq_bind(g_pc_capture, "inproc://pc_capture") == 0);
  void* gather = zmq_socket(g_ctx, ZMQ_GATHER_TYPE);
  CHECK(gather && zmq_connect(gather, "inproc://pc_capture") == 0);
  void* sink = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(zmq_connect(sink, "inproc://pc_back") == 0);
  pthread_t proxy, pusher, user, gatherer;
  pthread_create(&gatherer, NULL, pc_gather, gather);
  pthread_create(&proxy, NULL, pc_proxy, NULL);
  pthread_create(&pusher, NULL, pc_pusher, NULL);
  pthread_create(&user, NULL, pc_backend_user, NULL);
  int got[2] = {0, 0};
  for (int i = 0; i < 2 * g_messages; i++) {
    char buf[8];
    CHECK(zmq_recv(sink, buf, sizeof buf, 0) == 1 && (buf[0] == 'p' || buf[0] == 'b'));
    got[buf[0] == 'b']++;
    __atomic_store_n(&g_pc_forwarding, 1, __ATOMIC_RELEASE);
  }
  CHECK(got[0] == g_messages && got[1] == g_messages);
  pthread_join(pusher, NULL);
  pthread_join(user, NULL);
  for (int i = 0; i < 10000 && g_pc_captured < g_messages; i++) usleep(1000);
  CHECK(g_pc_captured == g_messages);
  zmq_close(sink);
  zmq_ctx_shutdown(g_ctx);
  pthread_join(proxy, NULL);
  pthread_join(gatherer, NULL);
  zmq_close(g_pc_front);
  zmq_close(g_pc_back);
  zmq_close(g_pc_capture);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok proxy_capture %d\n", g_messages);
  return 0;
}

int main(int argc, char** argv) {
  stress_init(argc, argv);
  g_messages = argc > 1 ? atoi(argv[1]) : 1000;
  return proxy_capture();
}
