// SPDX-License-Identifier: MIT
/* One scenario of mode=serialize under load, run by test_serialize.py;
 * stress.h has what the scenarios share.
 *
 *   ser_multipart THREADS MESSAGES
 *     3-part messages, each reply whole
 */
#include "stress.h"

static void* multipart_worker(void* arg) {
  int me = (int)(long)arg;
  for (int i = 0; i < g_messages; i++) {
    int id = me * g_messages + i;
    char part[3][32];
    for (int k = 0; k < 3; k++) {
      int len = snprintf(part[k], sizeof part[k], "%d/%d", id, k);
      CHECK(zmq_send(g_dealer, part[k], len, k < 2 ? ZMQ_SNDMORE : 0) == len);
    }
    char got[3][32];
    int rid = -1;
    for (int k = 0; k < 3; k++) {
      int n = zmq_recv(g_dealer, got[k], sizeof got[k] - 1, 0);
      CHECK(n > 0);
      got[k][n] = 0;
      int more = 0;
      size_t len = sizeof more;
      CHECK(zmq_getsockopt(g_dealer, ZMQ_RCVMORE, &more, &len) == 0);
      if (more != (k < 2)) fprintf(stderr, "k=%d more=%d got=%s\n", k, more, got[k]);
      CHECK(more == (k < 2)); /* exactly three parts */
      int pid = -1, pk = -1;
      CHECK(sscanf(got[k], "%d/%d", &pid, &pk) == 2);
      CHECK(pk == k); /* parts in order */
      if (k == 0) rid = pid;
      CHECK(pid == rid); /* all parts from one message */
    }
    mark_seen(rid);
  }
  return NULL;
}

int main(int argc, char** argv) {
  stress_init(argc, argv);
  return run_shared(multipart_worker, "inproc://multipart");
}
