// SPDX-License-Identifier: MIT
// Correct: a monitor whose PAIR socket (made by libzmq inside
// zmq_socket_monitor, through its own API) gets the address of a PAIR the
// program closed just before; libzmq's malloc hands the freed block of the
// same size straight back.  libzmq then sends on it from its I/O thread
// (the peer's handshake) and from its reaper (MONITOR_STOPPED, when the
// monitored socket is closed with the monitor running), and the reaper
// closes it.  The monitor is started by the creator before any use: the
// guard's slow path.  Three rounds, each with a fresh closed PAIR.
#include "scenario.h"

#define ROUNDS 3

// The next event on the monitor socket (two frames), or -1 after 5 s.
static int next_event(void* mon) {
  zmq_msg_t msg;
  zmq_msg_init(&msg);
  if (zmq_msg_recv(&msg, mon, 0) < 0) {
    zmq_msg_close(&msg);
    return -1;
  }
  uint16_t event = 0;
  memcpy(&event, zmq_msg_data(&msg), sizeof event);
  zmq_msg_close(&msg);
  zmq_msg_init(&msg);
  CHECK(zmq_msg_recv(&msg, mon, 0) >= 0);  // the endpoint
  zmq_msg_close(&msg);
  return event;
}

static int wait_event(void* mon, int wanted) {
  for (;;) {
    int e = next_event(mon);
    if (e < 0 || e == wanted) return e;
  }
}

int main(void) {
  void* ctx = zmq_ctx_new();
  int handshakes = 0, stops = 0;
  for (int round = 0; round < ROUNDS; round++) {
    void* dealer = zmq_socket(ctx, ZMQ_DEALER);
    void* gone = zmq_socket(ctx, ZMQ_PAIR);
    CHECK(dealer && gone);
    CHECK(zmq_close(gone) == 0);
    usleep(50000);  // libzmq's reaper frees it
    char addr[64];
    snprintf(addr, sizeof addr, "inproc://monitor-%d", round);
    CHECK(zmq_socket_monitor(dealer, addr, ZMQ_EVENT_ALL) == 0);
    void* mon = zmq_socket(ctx, ZMQ_PAIR);
    CHECK(mon);
    int timeout = 5000;
    CHECK(zmq_setsockopt(mon, ZMQ_RCVTIMEO, &timeout, sizeof timeout) == 0);
    CHECK(zmq_connect(mon, addr) == 0);
    void* peer = bind_tcp_and_connect(ctx, dealer, ZMQ_DEALER);
    if (wait_event(mon, ZMQ_EVENT_HANDSHAKE_SUCCEEDED) == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) handshakes++;
    int linger = 0;
    zmq_setsockopt(peer, ZMQ_LINGER, &linger, sizeof linger);
    CHECK(zmq_close(peer) == 0);
    CHECK(zmq_close(dealer) == 0);  // the monitor still runs: the reaper stops it
    if (wait_event(mon, ZMQ_EVENT_MONITOR_STOPPED) == ZMQ_EVENT_MONITOR_STOPPED) stops++;
    CHECK(zmq_close(mon) == 0);
  }
  CHECK(zmq_ctx_term(ctx) == 0);
  printf("rounds %d, handshakes %d, stops %d\n", ROUNDS, handshakes, stops);
  return 0;
}
