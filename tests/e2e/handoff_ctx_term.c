// SPDX-License-Identifier: MIT
// Correct (libzmq's own tests do this): main creates and binds sockets,
// hands them to a new thread that uses and closes them, and meanwhile sits
// in zmq_ctx_term until those closes (the thread's last zmq_recv is what
// zmq_ctx_term interrupts with ETERM).
#include "scenario.h"

static void* rep;
static void* req;
static event_t traffic_done = EVENT_INIT;

static void* adopter(void* arg) {
  (void)arg;
  char buf[16];
  for (int i = 0; i < 10; i++) {
    CHECK(zmq_send(req, "hi", 2, 0) == 2);
    CHECK(zmq_recv(rep, buf, sizeof buf, 0) == 2);
    CHECK(zmq_send(rep, "ok", 2, 0) == 2);
    CHECK(zmq_recv(req, buf, sizeof buf, 0) == 2);
  }
  event_set(&traffic_done);
  int rc = zmq_recv(rep, buf, sizeof buf, 0);
  printf("recv during term: %s\n", rc < 0 && errno == ETERM ? "ETERM" : "?");
  zmq_close(req);
  zmq_close(rep);
  return NULL;
}

int main(void) {
  void* ctx = zmq_ctx_new();
  rep = zmq_socket(ctx, ZMQ_REP);
  req = zmq_socket(ctx, ZMQ_REQ);
  CHECK(rep && req);
  CHECK(zmq_bind(rep, "inproc://handoff") == 0);
  CHECK(zmq_connect(req, "inproc://handoff") == 0);
  pthread_t t = spawn(adopter, NULL, "adopter");
  event_wait(&traffic_done);
  CHECK(zmq_ctx_term(ctx) == 0);
  pthread_join(t, NULL);
  puts("done");
  return 0;
}
