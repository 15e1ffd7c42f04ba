// SPDX-License-Identifier: MIT
// Uses a socket made by a library constructor that ran before main (and
// possibly before the guard's constructor).  "ok": main alone uses it;
// "share": a sending and a receiving thread share it.
#include "scenario.h"

void* early_context(void);
void* early_socket(void);

static event_t sent = EVENT_INIT;
static event_t received = EVENT_INIT;

static void* early_sender(void* arg) {
  (void)arg;
  CHECK(zmq_send(early_socket(), "ping", 4, 0) == 4);
  event_set(&sent);
  event_wait(&received);
  return NULL;
}

static void* early_receiver(void* arg) {
  (void)arg;
  char buf[16];
  CHECK(zmq_recv(early_socket(), buf, sizeof buf, 0) == 4);
  event_set(&received);
  return NULL;
}

int main(int argc, char** argv) {
  void* ctx = early_context();
  void* s = early_socket();
  echo_server_t es;
  pthread_t echo = echo_server_start(&es, ctx, "inproc://early");
  if (argc > 1 && strcmp(argv[1], "share") == 0) {
    pthread_t a = spawn(early_sender, NULL, "early-tx");
    event_wait(&sent);
    pthread_t b = spawn(early_receiver, NULL, "early-rx");
    pthread_join(b, NULL);
    pthread_join(a, NULL);
  } else {
    char buf[16];
    for (int i = 0; i < 10; i++) {
      CHECK(zmq_send(s, "ping", 4, 0) == 4);
      CHECK(zmq_recv(s, buf, sizeof buf, 0) == 4);
    }
  }
  echo_server_stop(ctx, "inproc://early", echo);
  zmq_close(s);
  zmq_ctx_term(ctx);
  puts("done");
  return 0;
}
