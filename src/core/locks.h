// SPDX-License-Identifier: MIT
// The program's locks (policy=handoff, modes abort and warn): which
// mutexes and semaphores each thread holds, so that a socket shared by
// several threads, each call under one lock all of them hold, is legal
// (Eraser's lockset: the socket keeps the locks every call on it held; a
// call holding none of them is reported at once).
//
// The interposed lock functions (src/interpose/locks.cpp) keep, per
// thread, a small stack of the locks it holds, by address:
//  - semaphores once the process has made a socket the guard checks
//    (g_locks_on), in every thread: a semaphore has no owner to ask later
//    (Python's threading.Lock is one);
//  - pthread mutexes only in a thread that has made a checked socket call
//    since (tls_held.track, set by locks_thread_start): a thread that
//    never touches a socket pays a flag test, one store and a jump.  A
//    mutex such a thread took before it started tracking is found later by
//    glibc's owner field (locks_owned): the latest one it took when it
//    starts, the candidates of a socket's lockset at a call.
// Semaphores are kept with their low bit set (kSemTag), so that only
// mutexes are ever asked for their owner.  A lock released by another
// thread than the one that took it (a semaphore used as a signal) is
// simply not found there.
#pragma once
#include <stdint.h>

#include "core/threads.h"

namespace zg {

constexpr uint32_t kHeldMax = 16;
constexpr uintptr_t kSemTag = 1;
struct HeldLocks {
  uint32_t n;      // locks held; past kHeldMax only counted
  uint8_t track;   // this thread's mutexes are pushed and popped
  void* last;      // while not tracking: the latest mutex it locked (or tried to)
  void* held[kHeldMax];
};
extern __thread HeldLocks tls_held ZG_TLS;
extern bool g_locks_on __attribute__((visibility("hidden")));

inline void* sem_key(const void* s) { return reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(s) | kSemTag); }
// The lock's address, for reports.
inline const void* lock_addr(const void* key) {
  return reinterpret_cast<const void*>(reinterpret_cast<uintptr_t>(key) & ~kSemTag);
}

// The process made its first checked socket: semaphores are tracked from
// now on, and the calling thread's mutexes.
void locks_start();
// The calling thread makes a checked socket call (g_locks_on): it tracks
// its mutexes from now on, starting with the latest one it took before,
// if it still holds it.
void locks_thread_start();
// True if the thread began tracking at this call.
__attribute__((always_inline)) inline bool locks_enter() {
  if (__builtin_expect(tls_held.track || !__atomic_load_n(&g_locks_on, __ATOMIC_RELAXED), 1)) return false;
  locks_thread_start();
  return true;
}
// Around libzmq's own socket creation and close: the mutexes libzmq takes
// inside them are its own (its context's slots, the reaper's mailbox),
// never a program's lock around a socket call, and tracking them cost
// about 40 instructions each, 14 a socket from Python.  The calling thread
// pays the untracked flag test for them instead.  Balanced inside the
// call; a thread cancelled there is ending anyway.
struct LocksPaused {
  uint8_t was;
  LocksPaused() : was(tls_held.track) { tls_held.track = 0; }
  ~LocksPaused() { tls_held.track = was; }
  LocksPaused(const LocksPaused&) = delete;
  LocksPaused& operator=(const LocksPaused&) = delete;
};
inline bool is_mutex_key(const void* key) { return !(reinterpret_cast<uintptr_t>(key) & kSemTag); }

// Does the calling thread hold the pthread mutex at key (not a semaphore)?
// Asks glibc's owner field, read safely (the memory may have been freed:
// std::mutex never calls pthread_mutex_destroy).  For a mutex not on the
// thread's stack, taken before it tracked; if so, pushes it.
bool locks_owned(void* key);

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
