// SPDX-License-Identifier: MIT
// Correct: frontend and backend are created and bound in main, then run by
// zmq_proxy in its own thread; a client and a worker each own their socket.
// zmq_ctx_shutdown stops everything; main closes the proxy's sockets after
// joining its thread.
#include "scenario.h"

#define REQUESTS 20

static void* ctx;
static void* frontend;
static void* backend;

static void* proxy_thread(void* arg) {
  (void)arg;
  zmq_proxy(frontend, backend, NULL);  // returns with ETERM
  return NULL;
}

static void* worker(void* arg) {
  (void)arg;
  void* rep = zmq_socket(ctx, ZMQ_REP);
  CHECK(rep);
  CHECK(zmq_connect(rep, "inproc://backend") == 0);
  char buf[16];
  for (;;) {
    int n = zmq_recv(rep, buf, sizeof buf, 0);
    if (n < 0) break;
    if (zmq_send(rep, buf, (size_t)n, 0) < 0) break;
  }
  zmq_close(rep);
  return NULL;
}

int main(void) {
  ctx = zmq_ctx_new();
  frontend = zmq_socket(ctx, ZMQ_ROUTER);
  backend = zmq_socket(ctx, ZMQ_DEALER);
  CHECK(frontend && backend);
  CHECK(zmq_bind(frontend, "inproc://frontend") == 0);
  CHECK(zmq_bind(backend, "inproc://backend") == 0);
  pthread_t p = spawn(proxy_thread, NULL, "proxy");
  pthread_t w = spawn(worker, NULL, "worker");
  void* req = zmq_socket(ctx, ZMQ_REQ);
  CHECK(req);
  CHECK(zmq_connect(req, "inproc://frontend") == 0);
  char buf[16];
  int ok = 0;
  for (int i = 0; i < REQUESTS; i++) {
    CHECK(zmq_send(req, "job", 3, 0) == 3);
    if (zmq_recv(req, buf, sizeof buf, 0) == 3) ok++;
  }
  printf("replies %d\n", ok);
  zmq_close(req);
  zmq_ctx_shutdown(ctx);
  pthread_join(p, NULL);
  pthread_join(w, NULL);
  zmq_close(frontend);
  zmq_close(backend);
  zmq_ctx_term(ctx);
  return 0;
}
