// SPDX-License-Identifier: MIT
/* One scale scenario: what one process may do to the guard's tables,
 * bounded and checked (test_scale.py runs it under the guard); stress.h has
 * what the scenarios share.
 *
 *   scale_threads T [R]
 *     T threads, each R rounds (default 100) of creating, using and closing
 *     a PUSH/PULL pair of its own
 */
#include "stress.h"

static int g_rounds;

static void* worker(void* arg) {
  char ep[64];
  for (int r = 0; r < g_rounds; r++) {
    snprintf(ep, sizeof ep, "inproc://w%ld-%d", (long)(intptr_t)arg, r);
    pair_round(g_ctx, ep);
  }
  return NULL;
}

int main(int argc, char** argv) {
  scale_init(argc);
  int t = atoi(argv[1]);
  g_rounds = argc > 2 ? atoi(argv[2]) : 100;
  pthread_t* th = calloc(t, sizeof *th);
  for (long i = 0; i < t; i++) CHECK(pthread_create(&th[i], NULL, worker, (void*)i) == 0);
  for (int i = 0; i < t; i++) pthread_join(th[i], NULL);
  free(th);
  printf("ok threads %d x %d\n", t, g_rounds);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  return 0;
}
