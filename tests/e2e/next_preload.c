// SPDX-License-Identifier: MIT
// A second preload library of the common kind beside the guard: it wraps
// getpid() and zmq_send() and finds what it wraps with dlsym(RTLD_NEXT),
// which must mean "the objects after this library", wherever the guard
// sits in LD_PRELOAD.  It says once, on stdout, where each lookup led.
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "../lib/object_name.h"

static pid_t (*next_getpid)(void);
static int (*next_send)(void*, const void*, size_t, int);

pid_t getpid(void) {
  if (!next_getpid) {
    next_getpid = (pid_t(*)(void))dlsym(RTLD_NEXT, "getpid");
    void* versioned = dlvsym(RTLD_NEXT, "getpid", "GLIBC_2.2.5");
    printf("next: getpid -> %s, dlvsym -> %s\n", object_name((void*)next_getpid), object_name(versioned));
    fflush(stdout);
  }
  return next_getpid();
}

int zmq_send(void* s, const void* buf, size_t len, int flags) {
  if (!next_send) {
    next_send = (int (*)(void*, const void*, size_t, int))dlsym(RTLD_NEXT, "zmq_send");
    printf("next: zmq_send -> %s\n", object_name((void*)next_send));
    fflush(stdout);
  }
  return next_send(s, buf, len, flags);
}
