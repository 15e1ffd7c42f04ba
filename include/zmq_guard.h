// SPDX-License-Identifier: MIT
/* zmq-guard public API.
 *
 * Usable with or without the guard: every function is looked up at run
 * time, so a program built with this header runs unchanged when the guard
 * is not preloaded (the calls then do nothing and return -1 / NULL).
 */
#ifndef ZMQ_GUARD_H
#define ZMQ_GUARD_H

#ifdef __cplusplus
extern "C" {
#endif

#ifndef ZMQ_GUARD_IMPLEMENTATION
#include <dlfcn.h>

/* The guard's version string, or NULL when the guard is not loaded. */
static inline const char* zmq_guard_loaded_version(void) {
  const char* (*fn)(void) = (const char* (*)(void))dlsym(RTLD_DEFAULT, "zmq_guard_version");
  return fn ? fn() : (const char*)0;
}

/* Declares an explicit hand-off: the calling thread gives up `socket`, and
 * the next thread that uses it becomes its owner (as right after
 * zmq_socket).  For programs that pass a socket between threads more than
 * once, with their own synchronization.  Returns 0, or -1 when the guard is
 * not loaded or does not know the socket. */
static inline int zmq_guard_handoff(void* socket) {
  int (*fn)(void*) = (int (*)(void*))dlsym(RTLD_DEFAULT, "zmq_guard_release");
  return fn ? fn(socket) : -1;
}
#endif

#ifdef __cplusplus
}
#endif

#endif /* ZMQ_GUARD_H */
