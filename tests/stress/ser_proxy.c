// SPDX-License-Identifier: MIT
/* One scenario of mode=serialize under load, run by test_serialize.py;
 * stress.h has what the scenarios share.
 *
 *   ser_proxy THREADS MESSAGES
 *     zmq_proxy_steerable; another thread uses its backend meanwhile;
 *     STATISTICS, TERMINATE
 */
#include "stress.h"

static void* g_front;
static void* g_back;
static void* g_control_end;

static void* proxy_thread(void* arg) {
  (void)arg;
  CHECK(zmq_proxy_steerable(g_front, g_back, NULL, g_control_end) == 0); /* TERMINATE */
  return NULL;
}

static void* rep_worker(void* arg) {
  void* rep = arg;
  for (;;) {
    char buf[32];
    int n = zmq_recv(rep, buf, sizeof buf, 0);
    if (n < 0) {
      CHECK(errno == ETERM);
      zmq_close(rep);
      return NULL;
    }
    CHECK(zmq_send(rep, buf, n, 0) == n);
  }
}

static void* req_client(void* arg) {
  int me = (int)(long)arg;
  void* req = zmq_socket(g_ctx, ZMQ_REQ);
  CHECK(zmq_connect(req, "inproc://front") == 0);
  for (int i = 0; i < g_messages; i++) {
    int id = me * g_messages + i, got = -1;
    CHECK(zmq_send(req, &id, sizeof id, 0) == sizeof id);
    CHECK(zmq_recv(req, &got, sizeof got, 0) == sizeof got);
    CHECK(got == id);
  }
  zmq_close(req);
  return NULL;
}

/* Another thread uses the proxy's backend while the proxy waits on it. */
static void* backend_user(void* arg) {
  (void)arg;
  for (int i = 0; i < 200; i++) {
    int events = 0;
    size_t len = sizeof events;
    CHECK(zmq_getsockopt(g_back, ZMQ_EVENTS, &events, &len) == 0);
    usleep(1000);
  }
  return NULL;
}

static int proxy(void) {
  g_front = zmq_socket(g_ctx, ZMQ_ROUTER);
  CHECK(zmq_bind(g_front, "inproc://front") == 0);
  g_back = zmq_socket(g_ctx, ZMQ_DEALER);
  CHECK(zmq_bind(g_back, "inproc://back") == 0);
  g_control_end = zmq_socket(g_ctx, ZMQ_PAIR);
  CHECK(zmq_bind(g_control_end, "inproc://control") == 0);
  void* control = zmq_socket(g_ctx, ZMQ_PAIR);
  CHECK(zmq_connect(control, "inproc://control") == 0);
  void* rep = zmq_socket(g_ctx, ZMQ_REP);
  CHECK(zmq_connect(rep, "inproc://back") == 0);
  pthread_t p, w, u;
  pthread_create(&p, NULL, proxy_thread, NULL);
  pthread_create(&w, NULL, rep_worker, rep);
  pthread_create(&u, NULL, backend_user, NULL);
  pthread_t* t = calloc(g_threads, sizeof *t);
  for (int i = 0; i < g_threads; i++) pthread_create(&t[i], NULL, req_client, (void*)(long)i);
  for (int i = 0; i < g_threads; i++) pthread_join(t[i], NULL);
  pthread_join(u, NULL);
  CHECK(zmq_send(control, "STATISTICS", 10, 0) == 10);
  unsigned long long stats[8];
  for (int i = 0; i < 8; i++) {
    CHECK(zmq_recv(control, &stats[i], sizeof stats[i], 0) == sizeof stats[i]);
    int more = 0;
    size_t len = sizeof more;
    zmq_getsockopt(control, ZMQ_RCVMORE, &more, &len);
    CHECK(more == (i < 7));
  }
  CHECK(stats[0] == (unsigned long long)g_threads * g_messages); /* frontend messages in */
  CHECK(stats[6] == (unsigned long long)g_threads * g_messages); /* backend messages out */
  CHECK(zmq_send(control, "TERMINATE", 9, 0) == 9);
  pthread_join(p, NULL);
  zmq_close(control);
  zmq_close(g_control_end);
  zmq_close(g_front);
  zmq_close(g_back);
  zmq_ctx_shutdown(g_ctx);
  pthread_join(w, NULL);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok proxy %d requests\n", g_threads * g_messages);
  return 0;
}

int main(int argc, char** argv) {
  stress_init(argc, argv);
  return proxy();
}
