// SPDX-License-Identifier: MIT
/* One scenario of mode=serialize under load, run by test_serialize.py;
 * stress.h has what the scenarios share.
 *
 *   ser_eterm
 *     a thread blocked in recv on a shared socket wakes with ETERM on
 *     shutdown
 */
#include "stress.h"

static void* eterm_receiver(void* arg) {
  void* s = arg;
  char buf[8];
  CHECK(zmq_recv(s, buf, sizeof buf, 0) == -1 && errno == ETERM);
  return NULL;
}

static int eterm(void) {
  void* pull = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(zmq_bind(pull, "inproc://eterm") == 0);
  pthread_t a, b;
  pthread_create(&a, NULL, eterm_receiver, pull);
  pthread_create(&b, NULL, eterm_receiver, pull);
  usleep(100 * 1000);
  CHECK(zmq_ctx_shutdown(g_ctx) == 0);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  CHECK(zmq_close(pull) == 0);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok eterm\n");
  return 0;
}

int main(int argc, char** argv) {
  stress_init(argc, argv);
  return eterm();
}
