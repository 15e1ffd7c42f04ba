// SPDX-License-Identifier: MIT
// Correct: czmq's zmonitor actor on a socket of the caller's.  The caller
// sends commands on the actor's pipe and waits (zsock_wait); the actor's
// thread calls zmq_socket_monitor on the caller's socket and signals back;
// the caller then binds and uses it.  The pipe orders the calls both ways.
// Usage: czmq_monitor [crowded]
//   crowded  first, ten echo actors that each reply a few times (the main
//            thread acquires many releases from many threads), then two
//            monitors started one after the other, then binds on the
//            first: czmq's own zmonitor selftest after its others
#include <czmq.h>

static void echo_actor(zsock_t* pipe, void* args) {
  (void)args;
  zsock_signal(pipe, 0);
  for (;;) {
    char* cmd = zstr_recv(pipe);
    if (!cmd) break;
    int term = streq(cmd, "$TERM");
    if (!term) zstr_sendf(pipe, "echo %s", cmd);
    zstr_free(&cmd);
    if (term) break;
  }
}

static void crowd(void) {
  for (int a = 0; a < 10; a++) {
    zactor_t* actor = zactor_new(echo_actor, NULL);
    assert(actor);
    for (int i = 0; i < 5; i++) {
      zstr_sendf(actor, "ping%d", i);
      char* reply = zstr_recv(actor);
      assert(reply);
      zstr_free(&reply);
    }
    zactor_destroy(&actor);
  }
}

static zactor_t* monitor_of(zsock_t* sock, const char* event) {
  zactor_t* monitor = zactor_new(zmonitor, sock);
  assert(monitor);
  zstr_sendx(monitor, "LISTEN", event, NULL);
  zstr_sendx(monitor, "START", NULL);
  zsock_wait(monitor);
  return monitor;
}

static int two_monitors(void) {
  zsock_t* server = zsock_new(ZMQ_DEALER);
  zsock_t* client = zsock_new(ZMQ_DEALER);
  assert(server && client);
  zactor_t* servermon = monitor_of(server, "LISTENING");
  zactor_t* clientmon = monitor_of(client, "CONNECTED");
  int port = zsock_bind(server, "tcp://127.0.0.1:*");  // after both monitors started
  assert(port > 0);
  zsock_connect(client, "tcp://127.0.0.1:%d", port);
  int events = 0;
  zactor_t* mons[2] = {servermon, clientmon};
  for (int i = 0; i < 2; i++) {
    zmsg_t* msg = zmsg_recv(mons[i]);
    assert(msg);
    char* event = zmsg_popstr(msg);
    if (event && (streq(event, "LISTENING") || streq(event, "CONNECTED"))) events++;
    free(event);
    zmsg_destroy(&msg);
  }
  zactor_destroy(&clientmon);
  zactor_destroy(&servermon);
  zsock_destroy(&client);
  zsock_destroy(&server);
  printf("events %d\n", events);
  return events == 2 ? 0 : 1;
}

int main(int argc, char** argv) {
  if (argc > 1 && streq(argv[1], "crowded")) {
    crowd();
    return two_monitors();
  }
  zsock_t* server = zsock_new(ZMQ_DEALER);
  assert(server);
  zactor_t* monitor = zactor_new(zmonitor, server);
  assert(monitor);
  zstr_sendx(monitor, "LISTEN", "LISTENING", "ACCEPTED", NULL);
  zstr_sendx(monitor, "START", NULL);
  zsock_wait(monitor);
  int port = zsock_bind(server, "tcp://127.0.0.1:*");
  assert(port > 0);
  zsock_t* client = zsock_new(ZMQ_DEALER);
  assert(client);
  zsock_connect(client, "tcp://127.0.0.1:%d", port);
  int events = 0;
  for (int i = 0; i < 2; i++) {
    zmsg_t* msg = zmsg_recv(monitor);  // LISTENING, then ACCEPTED
    assert(msg);
    char* event = zmsg_popstr(msg);
    if (event && (streq(event, "LISTENING") || streq(event, "ACCEPTED"))) events++;
    free(event);
    zmsg_destroy(&msg);
  }
  zstr_send(client, "hello");
  char* got = zstr_recv(server);
  int ok = got && streq(got, "hello");
  zstr_free(&got);
  zactor_destroy(&monitor);
  zsock_destroy(&client);
  zsock_destroy(&server);
  printf("events %d message %d\n", events, ok);
  return 0;
}
