// SPDX-License-Identifier: MIT
// ZeroMQ calls from the executable's .preinit_array: they run before any
// shared library's constructor, the guard's included.  "ok": main alone
// uses the socket; "share": two threads do.
#include "scenario.h"

static void* ctx;
static void* sock;
static event_t sent = EVENT_INIT;
static event_t received = EVENT_INIT;

static void preinit_zmq(int argc, char** argv, char** envp) {
  (void)argc;
  (void)argv;
  (void)envp;
  static const char msg[] = "preinit: creating a socket\n";
  CHECK(write(2, msg, sizeof msg - 1) > 0);
  ctx = zmq_ctx_new();
  CHECK(ctx);
  sock = zmq_socket(ctx, ZMQ_DEALER);
  CHECK(sock);
  CHECK(zmq_connect(sock, "inproc://preinit") == 0);
}

__attribute__((section(".preinit_array"), used)) static void (*preinit_entry)(int, char**, char**) = preinit_zmq;

static void* preinit_sender(void* arg) {
  (void)arg;
  CHECK(zmq_send(sock, "ping", 4, 0) == 4);
  event_set(&sent);
  event_wait(&received);
  return NULL;
}

static void* preinit_receiver(void* arg) {
  (void)arg;
  char buf[16];
  CHECK(zmq_recv(sock, buf, sizeof buf, 0) == 4);
  event_set(&received);
  return NULL;
}

int main(int argc, char** argv) {
  echo_server_t es;
  pthread_t echo = echo_server_start(&es, ctx, "inproc://preinit");
  if (argc > 1 && strcmp(argv[1], "share") == 0) {
    pthread_t a = spawn(preinit_sender, NULL, "preinit-tx");
    event_wait(&sent);
    pthread_t b = spawn(preinit_receiver, NULL, "preinit-rx");
    pthread_join(b, NULL);
    pthread_join(a, NULL);
  } else {
    char buf[16];
    for (int i = 0; i < 10; i++) {
      CHECK(zmq_send(sock, "ping", 4, 0) == 4);
      CHECK(zmq_recv(sock, buf, sizeof buf, 0) == 4);
    }
  }
  echo_server_stop(ctx, "inproc://preinit", echo);
  int linger = 0;
  zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
  zmq_close(sock);
  zmq_ctx_term(ctx);
  puts("done");
  return 0;
}
