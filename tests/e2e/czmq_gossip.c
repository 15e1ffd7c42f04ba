// SPDX-License-Identifier: MIT
// Correct: czmq's zgossip, three nodes over inproc.  Each node is an actor
// whose thread uses sockets the caller's commands set up; the pipes order
// those uses.  The program waits for the tuple alpha published to reach
// beta (zgossip delivers it on beta's pipe).
#include <czmq.h>

int main(void) {
  zactor_t* base = zactor_new(zgossip, "base");
  assert(base);
  zstr_sendx(base, "BIND", "inproc://gossip-base", NULL);
  zactor_t* alpha = zactor_new(zgossip, "alpha");
  zactor_t* beta = zactor_new(zgossip, "beta");
  assert(alpha && beta);
  zstr_sendx(alpha, "CONNECT", "inproc://gossip-base", NULL);
  zstr_sendx(beta, "CONNECT", "inproc://gossip-base", NULL);
  zstr_sendx(alpha, "PUBLISH", "service1", "inproc://service1", NULL);
  char *command = NULL, *key = NULL, *value = NULL;
  zstr_recvx(beta, &command, &key, &value, NULL);
  int ok = command && streq(command, "DELIVER") && key && streq(key, "service1");
  zstr_free(&command);
  zstr_free(&key);
  zstr_free(&value);
  zactor_destroy(&beta);
  zactor_destroy(&alpha);
  zactor_destroy(&base);
  printf("delivered %d\n", ok);
  return 0;
}
