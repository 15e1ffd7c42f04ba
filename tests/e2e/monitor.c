// SPDX-License-Identifier: MIT
// Correct: zmq_socket_monitor on a socket owned by main; the monitor's PAIR
// is created in main and read by another thread.  libzmq sends the events
// from its own I/O threads on its own PAIR socket.
#include "scenario.h"

static void* mon;
static int events_seen;

static void* monitor_reader(void* arg) {
  (void)arg;
  for (;;) {
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, mon, 0) < 0) break;  // ETERM at shutdown
    uint16_t event = 0;
    memcpy(&event, zmq_msg_data(&msg), sizeof event);
    zmq_msg_close(&msg);
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, mon, 0) < 0) break;  // the endpoint
    zmq_msg_close(&msg);
    events_seen++;
    if (event == ZMQ_EVENT_MONITOR_STOPPED) break;
  }
  return NULL;
}

int main(void) {
  void* ctx = zmq_ctx_new();
  void* rep = zmq_socket(ctx, ZMQ_REP);
  CHECK(rep);
  CHECK(zmq_socket_monitor(rep, "inproc://monitor", ZMQ_EVENT_ALL) == 0);
  mon = zmq_socket(ctx, ZMQ_PAIR);
  CHECK(mon);
  CHECK(zmq_connect(mon, "inproc://monitor") == 0);
  pthread_t t = spawn(monitor_reader, NULL, "monitor");
  void* req = bind_tcp_and_connect(ctx, rep, ZMQ_REQ);
  char buf[8];
  CHECK(zmq_send(req, "hi", 2, 0) == 2);
  CHECK(zmq_recv(rep, buf, sizeof buf, 0) == 2);
  CHECK(zmq_send(rep, "ok", 2, 0) == 2);
  CHECK(zmq_recv(req, buf, sizeof buf, 0) == 2);
  zmq_close(req);
  CHECK(zmq_socket_monitor(rep, NULL, 0) == 0);  // sends MONITOR_STOPPED
  pthread_join(t, NULL);
  printf("events %s\n", events_seen >= 3 ? "seen" : "missing");
  zmq_close(mon);
  zmq_close(rep);
  zmq_ctx_term(ctx);
  return 0;
}
