// SPDX-License-Identifier: MIT
/* One scenario of mode=serialize under load, run by test_serialize.py;
 * stress.h has what the scenarios share.
 *
 *   ser_echo THREADS MESSAGES
 *     threads share one DEALER talking to a ROUTER echo peer; every reply
 *     counted
 */
#include "stress.h"

static void* echo_worker(void* arg) {
  int me = (int)(long)arg;
  for (int i = 0; i < g_messages; i++) {
    int id = me * g_messages + i;
    CHECK(zmq_send(g_dealer, &id, sizeof id, 0) == sizeof id);
    int got = -1;
    CHECK(zmq_recv(g_dealer, &got, sizeof got, 0) == sizeof got);
    mark_seen(got); /* the reply may be another thread's: every one counts once */
  }
  return NULL;
}

int main(int argc, char** argv) {
  stress_init(argc, argv);
  return run_shared(echo_worker, argc > 3 ? argv[3] : "inproc://echo");
}
