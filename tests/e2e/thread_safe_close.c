// SPDX-License-Identifier: MIT
// Thread-safe sockets (CLIENT, SERVER) have a life like any socket's:
//
//   close            (default) correct: main makes a SERVER and a CLIENT,
//                    two threads send on the CLIENT while one receives on
//                    the SERVER, another thread closes both; then a PUSH
//                    with a message for a peer that never comes is closed
//                    with a linger of 1.5 s, so zmq_ctx_term blocks that
//                    long with every socket closed.  Prints "done".
//   use-after-close  misuse: zmq_connect on the CLIENT after its zmq_close.
//                    Prints what the call returned.
#include "scenario.h"

#define MSGS 50

static void* client;
static void* server;

static void* client_sender(void* arg) {
  (void)arg;
  for (int i = 0; i < MSGS; i++) CHECK(zmq_send(client, "req", 3, 0) == 3);
  return NULL;
}

static void* server_receiver(void* arg) {
  (void)arg;
  char buf[8];
  for (int i = 0; i < 2 * MSGS; i++) CHECK(zmq_recv(server, buf, sizeof buf, 0) == 3);
  return NULL;
}

static void* closer(void* arg) {
  (void)arg;
  CHECK(zmq_close(client) == 0);
  CHECK(zmq_close(server) == 0);
  return NULL;
}

static void connect_late(void) {
  errno = 0;
  int rc = zmq_connect(client, "inproc://safe-late");
  int e = errno;
  printf("rc=%d errno=%s\n", rc, e == ENOTSOCK ? "ENOTSOCK" : strerror(e));
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "close";
  void* ctx = zmq_ctx_new();
  server_and_client(ctx, "inproc://safe", &server, &client);
  if (strcmp(mode, "use-after-close") == 0) {
    CHECK(zmq_close(client) == 0);
    connect_late();
    CHECK(zmq_close(server) == 0);
    zmq_ctx_term(ctx);
    puts("done");
    return 0;
  }
  pthread_t rx = spawn(server_receiver, NULL, "server-rx");
  pthread_t tx1 = spawn(client_sender, NULL, "client-tx");
  pthread_t tx2 = spawn(client_sender, NULL, "client-tx");
  pthread_join(tx1, NULL);
  pthread_join(tx2, NULL);
  pthread_join(rx, NULL);
  pthread_join(spawn(closer, NULL, "closer"), NULL);

  void* push = zmq_socket(ctx, ZMQ_PUSH);
  CHECK(push);
  int linger = 1500;
  CHECK(zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof linger) == 0);
  CHECK(zmq_connect(push, "tcp://127.0.0.1:9") == 0);  // nobody listens
  CHECK(zmq_send(push, "x", 1, ZMQ_DONTWAIT) == 1);
  CHECK(zmq_close(push) == 0);
  CHECK(zmq_ctx_term(ctx) == 0);  // waits out the linger
  puts("done");
  return 0;
}
