// SPDX-License-Identifier: MIT
// Sockets that change threads, ordered by the program (issue 17) or not.
// Usage: synced MODE
//   closed-probe   zmq_getsockopt(ZMQ_TYPE) on a handle this process closed
//                  (pyzmq's closed probe): ENOTSOCK, no finding
//   closed-send    a send on it: still use_after_close
//   creation       main uses a PULL, then starts the thread that is its only
//                  user from then on (ipykernel's IOPub pipe): ordered
//   goes-on        main starts that thread, then uses the PULL again before
//                  the thread does: the thread's use is not ordered after it
//   goes-on-late   the thread uses it first, then main does: main's use is
//                  not ordered after the thread's
//   heartbeat      a heartbeat thread sends on main's DEALER, which main
//                  uses all along
//   delegate       main asks a helper thread over an inproc PAIR pipe to set
//                  up main's socket, waits for the reply, then uses it
//                  (czmq's zmonitor): ordered both ways
//   delegate-early main uses the socket before the helper's reply: not ordered
//   events-loop    a loop thread serves a socket; main reads ZMQ_EVENTS on it
#include "scenario.h"

static void* ctx;
static void* sock;

static void closed(int send) {
  sock = zmq_socket(ctx, ZMQ_PUSH);
  CHECK(sock);
  int linger = 0;
  CHECK(zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) == 0);
  CHECK(zmq_close(sock) == 0);
  int type = -1;
  size_t len = sizeof type;
  errno = 0;
  int rc = send ? zmq_send(sock, "x", 1, ZMQ_DONTWAIT) : zmq_getsockopt(sock, ZMQ_TYPE, &type, &len);
  printf("rc=%d errno=%s\n", rc, errno == ENOTSOCK ? "ENOTSOCK" : strerror(errno));
  // The handle may be reused at once by a new socket: then it is that one.
  for (int i = 0; i < 8; i++) {
    void* again = zmq_socket(ctx, ZMQ_PULL);
    CHECK(again);
    len = sizeof type;
    CHECK(zmq_getsockopt(again, ZMQ_TYPE, &type, &len) == 0 && type == ZMQ_PULL);
    CHECK(zmq_close(again) == 0);
  }
}

static event_t main_used = EVENT_INIT;
static event_t thread_used = EVENT_INIT;
static int order;  // 0: thread only; 1: main first; 2: thread first

static void* io_thread(void* arg) {
  (void)arg;
  if (order == 1) event_wait(&main_used);
  zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
  CHECK(zmq_poll(&item, 1, 0) >= 0);
  char buf[8];
  if (order == 0)
    for (int i = 0; i < 10; i++) CHECK(zmq_recv(sock, buf, sizeof buf, 0) == 1);
  event_set(&thread_used);
  if (order == 2) event_wait(&main_used);
  return NULL;
}

static void creation(void) {
  sock = zmq_socket(ctx, ZMQ_PULL);
  CHECK(sock);
  CHECK(zmq_bind(sock, "inproc://iopub") == 0);
  int events = 0;
  size_t len = sizeof events;
  CHECK(zmq_getsockopt(sock, ZMQ_EVENTS, &events, &len) == 0);  // main's last use
  void* push = zmq_socket(ctx, ZMQ_PUSH);
  CHECK(push && zmq_connect(push, "inproc://iopub") == 0);
  pthread_t t = spawn(io_thread, NULL, "iopub");
  if (order == 2) event_wait(&thread_used);
  if (order) {
    len = sizeof events;
    CHECK(zmq_getsockopt(sock, ZMQ_EVENTS, &events, &len) == 0);  // main goes on
    event_set(&main_used);
  } else {
    for (int i = 0; i < 10; i++) CHECK(zmq_send(push, "x", 1, 0) == 1);
  }
  pthread_join(t, NULL);
  CHECK(zmq_close(push) == 0);
  CHECK(zmq_close(sock) == 0);
}

static volatile int beating = 1;

static void* heartbeat(void* arg) {
  (void)arg;
  while (beating) {
    CHECK(zmq_send(sock, "hb", 2, 0) == 2);
    usleep(1000);
  }
  return NULL;
}

static void heartbeat_case(void) {
  echo_server_t es;
  pthread_t srv = echo_server_start(&es, ctx, "inproc://hb");
  sock = zmq_socket(ctx, ZMQ_DEALER);
  CHECK(sock && zmq_connect(sock, "inproc://hb") == 0);
  char buf[8];
  CHECK(zmq_send(sock, "hi", 2, 0) == 2);
  CHECK(zmq_recv(sock, buf, sizeof buf, 0) == 2);
  pthread_t t = spawn(heartbeat, NULL, "heartbeat");
  for (int i = 0; i < 200; i++) {
    CHECK(zmq_send(sock, "req", 3, 0) == 3);
    usleep(1000);
  }
  beating = 0;
  pthread_join(t, NULL);
  CHECK(zmq_close(sock) == 0);
  echo_server_stop(ctx, "inproc://hb", srv);
}

// The helper's end of the pipe, made by main (as czmq's zactor does) and
// handed to the helper at its creation.
static void* helper_pipe;

static void* helper(void* arg) {
  (void)arg;
  char cmd[16];
  for (;;) {
    int n = zmq_recv(helper_pipe, cmd, sizeof cmd, 0);
    CHECK(n > 0);
    if (n == 4 && !memcmp(cmd, "STOP", 4)) break;
    // Main's socket, used by this thread while main waits for the reply
    // (czmq's zmonitor calls zmq_socket_monitor here; czmq_monitor.c).
    int hwm = n * 100;
    CHECK(zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm) == 0);
    event_set(&thread_used);
    CHECK(zmq_send(helper_pipe, "OK", 2, 0) == 2);
  }
  CHECK(zmq_close(helper_pipe) == 0);
  return NULL;
}

static void delegate(int early) {
  void* pipe = zmq_socket(ctx, ZMQ_PAIR);
  helper_pipe = zmq_socket(ctx, ZMQ_PAIR);
  CHECK(pipe && helper_pipe);
  CHECK(zmq_bind(pipe, "inproc://pipe") == 0);
  CHECK(zmq_connect(helper_pipe, "inproc://pipe") == 0);
  sock = zmq_socket(ctx, ZMQ_PUB);
  CHECK(sock);
  pthread_t t = spawn(helper, NULL, "helper");
  char buf[8];
  for (int round = 0; round < 3; round++) {
    CHECK(zmq_send(pipe, "START", 5, 0) == 5);
    if (early) {
      // A flag the guard cannot see: the helper's use is over, but nothing
      // the guard watches says so.
      event_wait(&thread_used);
      CHECK(zmq_bind(sock, "inproc://pub-early") == 0);
    }
    CHECK(zmq_recv(pipe, buf, sizeof buf, 0) == 2);
    if (round == 0 && !early) CHECK(zmq_bind(sock, "inproc://pub") == 0);
    CHECK(zmq_send(sock, "tick", 4, 0) == 4);
    CHECK(zmq_send(pipe, "END", 3, 0) == 3);
    CHECK(zmq_recv(pipe, buf, sizeof buf, 0) == 2);
    CHECK(zmq_send(sock, "tock", 4, 0) == 4);
  }
  CHECK(zmq_send(pipe, "STOP", 4, 0) == 4);
  pthread_join(t, NULL);
  CHECK(zmq_close(sock) == 0);
  CHECK(zmq_close(pipe) == 0);
}

static volatile int looping = 1;

static void* event_loop(void* arg) {
  (void)arg;
  zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
  CHECK(zmq_poll(&item, 1, 0) >= 0);  // the loop serves it from here on
  event_set(&thread_used);
  while (looping) CHECK(zmq_poll(&item, 1, 10) >= 0);
  return NULL;
}

static void events_loop(void) {
  sock = zmq_socket(ctx, ZMQ_ROUTER);
  CHECK(sock && zmq_bind(sock, "inproc://control") == 0);
  pthread_t t = spawn(event_loop, NULL, "control");
  event_wait(&thread_used);
  int events = 0;
  size_t len = sizeof events;
  CHECK(zmq_getsockopt(sock, ZMQ_EVENTS, &events, &len) == 0);
  looping = 0;
  pthread_join(t, NULL);
  CHECK(zmq_close(sock) == 0);
}

int main(int argc, char** argv) {
  CHECK(argc == 2);
  const char* m = argv[1];
  ctx = zmq_ctx_new();
  if (!strcmp(m, "closed-probe")) closed(0);
  else if (!strcmp(m, "closed-send")) closed(1);
  else if (!strcmp(m, "creation")) creation();
  else if (!strcmp(m, "goes-on")) order = 1, creation();
  else if (!strcmp(m, "goes-on-late")) order = 2, creation();
  else if (!strcmp(m, "heartbeat")) heartbeat_case();
  else if (!strcmp(m, "delegate")) delegate(0);
  else if (!strcmp(m, "delegate-early")) delegate(1);
  else if (!strcmp(m, "events-loop")) events_loop();
  else CHECK(!"unknown mode");
  CHECK(zmq_ctx_term(ctx) == 0);
  puts("done");
  return 0;
}
