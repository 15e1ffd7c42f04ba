// SPDX-License-Identifier: MIT
/* One scale scenario: what one process may do to the guard's tables,
 * bounded and checked (test_scale.py runs it under the guard); stress.h has
 * what the scenarios share.
 *
 *   scale_short N
 *     N short-lived threads (8 at a time), each with a socket pair
 */
#include "stress.h"

static void* short_lived(void* arg) {
  char ep[64];
  snprintf(ep, sizeof ep, "inproc://short%ld", (long)(intptr_t)arg);
  pair_round(g_ctx, ep);
  return NULL;
}

int main(int argc, char** argv) {
  scale_init(argc);
  int n = atoi(argv[1]);
  for (long i = 0; i < n; i += 8) {
    pthread_t th[8];
    int k = 0;
    for (; k < 8 && i + k < n; k++) CHECK(pthread_create(&th[k], NULL, short_lived, (void*)(i + k)) == 0);
    for (int j = 0; j < k; j++) pthread_join(th[j], NULL);
  }
  printf("ok short %d\n", n);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  return 0;
}
