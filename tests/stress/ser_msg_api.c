// SPDX-License-Identifier: MIT
/* One scenario of mode=serialize under load, run by test_serialize.py;
 * stress.h has what the scenarios share.
 *
 *   ser_msg_api THREADS MESSAGES
 *     echo with zmq_sendmsg/zmq_recvmsg
 */
#include "stress.h"

/* The deprecated zmq_sendmsg/zmq_recvmsg (czmq's), which libzmq forwards
 * through its own exported zmq_msg_send/zmq_msg_recv. */
static void* msg_api_worker(void* arg) {
  int me = (int)(long)arg;
  for (int i = 0; i < g_messages; i++) {
    int id = me * g_messages + i;
    zmq_msg_t m;
    zmq_msg_init_size(&m, sizeof id);
    memcpy(zmq_msg_data(&m), &id, sizeof id);
    CHECK(zmq_sendmsg(g_dealer, &m, 0) == sizeof id);
    zmq_msg_init(&m);
    CHECK(zmq_recvmsg(g_dealer, &m, 0) == sizeof id);
    int got;
    memcpy(&got, zmq_msg_data(&m), sizeof got);
    zmq_msg_close(&m);
    mark_seen(got);
  }
  return NULL;
}

int main(int argc, char** argv) {
  stress_init(argc, argv);
  return run_shared(msg_api_worker, "inproc://msg_api");
}
