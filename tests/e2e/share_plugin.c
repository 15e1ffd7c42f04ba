// SPDX-License-Identifier: MIT
// The plugin plugin_host loads: plain libzmq code.  "share" shares one
// DEALER between a sending and a receiving thread; "ok" gives each thread
// its own socket.  With PLUGIN_RUN_AT_LOAD=share|ok it runs from its
// constructor, as a plugin that registers itself does, before its host
// could take any symbol of it with dlsym.
#include "scenario.h"

#define N 3

static void* ctx;
static void* dealer;
static event_t sent = EVENT_INIT;
static event_t received = EVENT_INIT;

static void* plugin_sender(void* arg) {
  (void)arg;
  for (int i = 0; i < N; i++) CHECK(zmq_send(dealer, "ping", 4, 0) == 4);
  event_set(&sent);
  event_wait(&received);
  return NULL;
}

static void* plugin_receiver(void* arg) {
  (void)arg;
  char buf[16];
  for (int i = 0; i < N; i++) CHECK(zmq_recv(dealer, buf, sizeof buf, 0) == 4);
  event_set(&received);
  return NULL;
}

static void* plugin_own_socket(void* arg) {
  (void)arg;
  void* d = zmq_socket(ctx, ZMQ_DEALER);
  CHECK(d);
  CHECK(zmq_connect(d, "inproc://plugin") == 0);
  char buf[16];
  for (int i = 0; i < N; i++) {
    CHECK(zmq_send(d, "ping", 4, 0) == 4);
    CHECK(zmq_recv(d, buf, sizeof buf, 0) == 4);
  }
  zmq_close(d);
  return NULL;
}

__attribute__((visibility("default"))) int plugin_run(const char* what) {
  ctx = zmq_ctx_new();
  echo_server_t es;
  pthread_t echo = echo_server_start(&es, ctx, "inproc://plugin");
  if (strcmp(what, "share") == 0) {
    dealer = zmq_socket(ctx, ZMQ_DEALER);
    CHECK(dealer);
    CHECK(zmq_connect(dealer, "inproc://plugin") == 0);
    pthread_t a = spawn(plugin_sender, NULL, "plugin-tx");
    event_wait(&sent);
    pthread_t b = spawn(plugin_receiver, NULL, "plugin-rx");
    pthread_join(b, NULL);
    pthread_join(a, NULL);
    zmq_close(dealer);
  } else {
    pthread_t a = spawn(plugin_own_socket, NULL, "plugin-a");
    pthread_t b = spawn(plugin_own_socket, NULL, "plugin-b");
    pthread_join(a, NULL);
    pthread_join(b, NULL);
  }
  echo_server_stop(ctx, "inproc://plugin", echo);
  zmq_ctx_term(ctx);
  return 0;
}

__attribute__((constructor)) static void plugin_at_load(void) {
  const char* what = getenv("PLUGIN_RUN_AT_LOAD");
  if (what) printf("plugin ran at load: %d\n", plugin_run(what));
}
