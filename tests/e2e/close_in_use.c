// SPDX-License-Identifier: MIT
// Misuse: main closes a socket while the thread that owns it is blocked in
// zmq_recv on it.  That receive is the thread's first call on the socket,
// the one that takes it (the guard's slow path, which marks the call);
// owner_inside.c does the same on the owner path.
#include "scenario.h"

static void* pull;
static event_t receiving = EVENT_INIT;
static pid_t receiver_tid;

static void* blocked_receiver(void* arg) {
  (void)arg;
  char buf[16];
  receiver_tid = gettid();
  event_set(&receiving);
  zmq_recv(pull, buf, sizeof buf, 0);  // nothing is ever sent
  return NULL;
}

int main(void) {
  void* ctx = zmq_ctx_new();
  pull = zmq_socket(ctx, ZMQ_PULL);
  CHECK(pull);
  CHECK(zmq_bind(pull, "inproc://nothing") == 0);
  pthread_t t = spawn(blocked_receiver, NULL, "blocked");
  event_wait(&receiving);
  wait_asleep_in_poll(receiver_tid, 10000);
  zmq_close(pull);
  puts("closed");
  fflush(stdout);
  // Never reached in abort mode; in other modes the receiver would stay
  // blocked on a closed socket, so leave without joining it.
  _exit(0);
  (void)t;
}
