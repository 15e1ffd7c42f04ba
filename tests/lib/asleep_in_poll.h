// SPDX-License-Identifier: MIT
// For test programs (C): is a thread of this process asleep in poll(2),
// where libzmq waits inside a blocking call?  Lets a test act at that moment
// without guessing a delay.
#ifndef ZG_TESTS_ASLEEP_IN_POLL_H
#define ZG_TESTS_ASLEEP_IN_POLL_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

static inline int asleep_in_poll(pid_t tid) {
  char path[64], text[64] = {0};
  snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
  FILE* f = fopen(path, "r");
  if (!f) return 0;
  int ok = fgets(text, sizeof text, f) != NULL;
  fclose(f);
  long nr = ok ? strtol(text, NULL, 10) : -1;
  return nr == 7 /* poll */ || nr == 271 /* ppoll */;
}

// Waits up to max_ms until thread `tid` sleeps in poll(2).
static inline void wait_asleep_in_poll(pid_t tid, int max_ms) {
  for (int i = 0; i < max_ms && !asleep_in_poll(tid); i++) usleep(1000);
}

#endif
