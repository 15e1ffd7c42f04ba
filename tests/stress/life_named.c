// SPDX-License-Identifier: MIT
/* One scenario of the guard's lifecycle diagnostics, run by
 * test_lifecycle.py; stress.h has what the scenarios share.
 *
 *   life_named
 *     prints how many threads of the process are named "zmq-guard" right
 *     after its first zmq_socket returns
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <sched.h>

#include "stress.h"

int main(void) {
  g_ctx = zmq_ctx_new();
  /* On one CPU the new thread runs only when this one lets it, so that
   * the check below does not depend on how busy the machine is. */
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(sched_getcpu(), &one);
  CHECK(sched_setaffinity(0, sizeof one, &one) == 0);
  void* s = zmq_socket(g_ctx, ZMQ_PUSH);
  CHECK(s);
  /* At once: `zmq-guard --dump` may look for the thread by name from now on. */
  int n = 0;
  DIR* d = opendir("/proc/self/task");
  CHECK(d);
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    char path[300], comm[32] = {0};
    snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
    FILE* f = fopen(path, "r");
    if (!f) continue;
    if (fgets(comm, sizeof comm, f) && !strcmp(comm, "zmq-guard\n")) n++;
    fclose(f);
  }
  closedir(d);
  printf("named %d\n", n);
  zmq_close(s);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  return 0;
}
