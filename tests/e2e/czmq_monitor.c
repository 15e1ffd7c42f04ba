// Correct: czmq's zmonitor actor on a socket of the caller's.  The caller
// sends commands on the actor's pipe and waits (zsock_wait); the actor's
// thread calls zmq_socket_monitor on the caller's socket and signals back;
// the caller then binds and uses it.  The pipe orders the calls both ways.
#include <czmq.h>

int main(void) {
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
