// The program's locks (policy=handoff, modes abort and warn): which
// mutexes and semaphores each thread holds, so that a socket shared by
// several threads, each call under one lock all of them hold, is legal
// (Eraser's lockset: the socket keeps the locks every call on it held; a
// call holding none of them is reported at once).
//
// The interposed lock functions (src/interpose/locks.cpp) call libc first
// and then, once the process has made a socket the guard checks
// (g_locks_on), push or pop the lock on a small per-thread stack: a load
// and a branch before that, a few stores after.  Locks are kept by
// address; a lock released by another thread than the one that took it (a
// semaphore used as a signal) is simply not found there.
#pragma once
#include <stdint.h>

#include "core/threads.h"

namespace zg {

constexpr uint32_t kHeldMax = 16;
struct HeldLocks {
  uint32_t n;  // locks held; past kHeldMax only counted
  void* held[kHeldMax];
};
extern __thread HeldLocks tls_held ZG_TLS;
extern bool g_locks_on;

// The process made its first checked socket: locks are tracked from now on.
void locks_start();

__attribute__((always_inline)) inline void locks_push(void* m) {
  const uint32_t n = tls_held.n;
  if (n < kHeldMax) tls_held.held[n] = m;
  tls_held.n = n + 1;
}
void locks_pop_slow(void* m);
__attribute__((always_inline)) inline void locks_pop(void* m) {
  const uint32_t n = tls_held.n;
  if (n != 0 && n <= kHeldMax && tls_held.held[n - 1] == m) {
    tls_held.n = n - 1;
    return;
  }
  locks_pop_slow(m);
}

// Lock m was destroyed: every entry of it leaves the calling thread's stack.
void locks_forget(const void* m);

}  // namespace zg
