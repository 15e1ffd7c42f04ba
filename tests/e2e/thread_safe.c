// SPDX-License-Identifier: MIT
// Correct: CLIENT and SERVER are thread-safe socket types; several threads
// may send and receive on one of them at the same time.  Debian's libzmq does
// not export the draft API, but it creates these types.
#include "scenario.h"

#define SENDERS 3
#define RECEIVERS 2
#define MSGS 200

static void* client;
static void* server;
static int received[RECEIVERS];

static void* client_sender(void* arg) {
  (void)arg;
  for (int i = 0; i < MSGS; i++) CHECK(zmq_send(client, "req", 3, 0) == 3);
  return NULL;
}

static void* server_receiver(void* arg) {
  int* count = (int*)arg;
  char buf[8];
  while (zmq_recv(server, buf, sizeof buf, 0) == 3) __atomic_add_fetch(count, 1, __ATOMIC_RELAXED);  // ends with ETERM
  return NULL;
}

int main(void) {
  void* ctx = zmq_ctx_new();
  server_and_client(ctx, "inproc://safe", &server, &client);
  pthread_t r[RECEIVERS], s[SENDERS];
  for (int i = 0; i < RECEIVERS; i++) r[i] = spawn(server_receiver, &received[i], "server-rx");
  for (int i = 0; i < SENDERS; i++) s[i] = spawn(client_sender, NULL, "client-tx");
  for (int i = 0; i < SENDERS; i++) pthread_join(s[i], NULL);
  for (;;) {  // wait until every message has arrived
    int total = 0;
    for (int i = 0; i < RECEIVERS; i++) total += __atomic_load_n(&received[i], __ATOMIC_RELAXED);
    if (total == SENDERS * MSGS) break;
    usleep(1000);
  }
  zmq_ctx_shutdown(ctx);
  for (int i = 0; i < RECEIVERS; i++) pthread_join(r[i], NULL);
  printf("received %d\n", SENDERS * MSGS);
  zmq_close(client);
  zmq_close(server);
  zmq_ctx_term(ctx);
  return 0;
}
