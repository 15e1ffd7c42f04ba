// SPDX-License-Identifier: MIT
// The program's lock operations, seen so that a socket shared under one
// lock is legal (core/locks.h).  What a thread that never made a checked
// socket call pays is the point of this file: for a mutex, a flag test,
// one store (the latest mutex it took, for locks_thread_start) and a jump
// into libc's function; for a semaphore before the process has a checked
// socket, a flag test and a jump.  So the untracked paths make no frame
// and no call of their own: each ends in a tail call through a pointer
// that starts out at a resolver (a call before the constructor, from
// another library's, finds libc's function there; dlsym takes the
// loader's own lock, not a pthread mutex, so the lookup cannot come back
// here) and is libc's function after it.  The tracked paths are functions
// of their own, reached by a jump.
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <time.h>

#include "core/locks.h"

#define ZG_EXPORT extern "C" __attribute__((visibility("default")))
#define ZG_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define ZG_SLOW __attribute__((noinline, cold))

namespace {

// Plain loads (each is one aligned word): a flag that is set late is read
// on the next call; the compiler may merge the test into one compare.
inline bool sems_on() { return ZG_UNLIKELY(zg::g_locks_on); }
inline bool mutexes_on() { return ZG_UNLIKELY(zg::tls_held.track); }

// next_NAME(args) calls libc's NAME: g_NAME holds it, or resolve_NAME
// until it was looked up.  sem_* report failure as -1 with errno; mutexes
// return the error.
#define ZG_NEXT(ret, name, params, args)                                                  \
  using name##_fn = ret(*) params;                                                      \
  ret resolve_##name params;                                                            \
  name##_fn g_##name = resolve_##name;                                                  \
  __attribute__((noinline)) name##_fn lookup_##name() {                                 \
    auto f = reinterpret_cast<name##_fn>(dlsym(RTLD_NEXT, #name));                      \
    if (f) __atomic_store_n(&g_##name, f, __ATOMIC_RELAXED);                            \
    return f;                                                                           \
  }                                                                                     \
  ret resolve_##name params {                                                           \
    name##_fn f = lookup_##name();                                                      \
    if (ZG_UNLIKELY(!f)) {                                                              \
      errno = ENOSYS;                                                                   \
      return static_cast<ret>(ENOSYS);                                                  \
    }                                                                                   \
    return f args;                                                                      \
  }                                                                                     \
  inline ret next_##name params { return __atomic_load_n(&g_##name, __ATOMIC_RELAXED) args; }
ZG_NEXT(int, pthread_mutex_lock, (pthread_mutex_t* m), (m))
ZG_NEXT(int, pthread_mutex_trylock, (pthread_mutex_t* m), (m))
ZG_NEXT(int, pthread_mutex_unlock, (pthread_mutex_t* m), (m))
ZG_NEXT(int, pthread_mutex_timedlock, (pthread_mutex_t* m, const struct timespec* t), (m, t))
ZG_NEXT(int, pthread_mutex_clocklock, (pthread_mutex_t* m, clockid_t c, const struct timespec* t), (m, c, t))
ZG_NEXT(int, pthread_mutex_destroy, (pthread_mutex_t* m), (m))
ZG_NEXT(int, sem_wait, (sem_t* s), (s))
ZG_NEXT(int, sem_trywait, (sem_t* s), (s))
ZG_NEXT(int, sem_timedwait, (sem_t* s, const struct timespec* t), (s, t))
ZG_NEXT(int, sem_clockwait, (sem_t* s, clockid_t c, const struct timespec* t), (s, c, t))
ZG_NEXT(int, sem_post, (sem_t* s), (s))
ZG_NEXT(int, sem_destroy, (sem_t* s), (s))
#undef ZG_NEXT

// All looked up when the library is loaded, so that none is first needed
// inside a signal handler (sem_post is async-signal-safe; dlsym is not).
__attribute__((constructor)) void resolve_lock_functions() {
  lookup_pthread_mutex_lock();
  lookup_pthread_mutex_trylock();
  lookup_pthread_mutex_unlock();
  lookup_pthread_mutex_timedlock();
  lookup_pthread_mutex_clocklock();
  lookup_pthread_mutex_destroy();
  lookup_sem_wait();
  lookup_sem_trywait();
  lookup_sem_timedwait();
  lookup_sem_clockwait();
  lookup_sem_post();
  lookup_sem_destroy();
}

__attribute__((always_inline)) inline int acquired(int rc, void* key) {
  if (rc == 0) zg::locks_push(key);
  return rc;
}

// The tracked paths.  pthread_mutex_lock pushes before the lock is taken,
// so that libc's function is a tail call (no frame of ours around it): the
// thread waits inside it and makes no call on a socket until it returns.
// A lock that fails (an error-checking mutex locked twice) leaves one
// entry too many on the stack, which the next unlock of that mutex takes
// off.
ZG_SLOW int tracked_lock(pthread_mutex_t* m) {
  zg::locks_push(m);
  return next_pthread_mutex_lock(m);
}
ZG_SLOW int tracked_trylock(pthread_mutex_t* m) { return acquired(next_pthread_mutex_trylock(m), m); }
ZG_SLOW int tracked_timedlock(pthread_mutex_t* m, const struct timespec* t) {
  return acquired(next_pthread_mutex_timedlock(m, t), m);
}
ZG_SLOW int tracked_clocklock(pthread_mutex_t* m, clockid_t c, const struct timespec* t) {
  return acquired(next_pthread_mutex_clocklock(m, c, t), m);
}
ZG_SLOW int tracked_unlock(pthread_mutex_t* m) {
  zg::locks_pop(m);
  return next_pthread_mutex_unlock(m);
}
ZG_SLOW int tracked_sem_wait(sem_t* s) { return acquired(next_sem_wait(s), zg::sem_key(s)); }
ZG_SLOW int tracked_sem_trywait(sem_t* s) { return acquired(next_sem_trywait(s), zg::sem_key(s)); }
ZG_SLOW int tracked_sem_timedwait(sem_t* s, const struct timespec* t) {
  return acquired(next_sem_timedwait(s, t), zg::sem_key(s));
}
ZG_SLOW int tracked_sem_clockwait(sem_t* s, clockid_t c, const struct timespec* t) {
  return acquired(next_sem_clockwait(s, c, t), zg::sem_key(s));
}
ZG_SLOW int tracked_sem_post(sem_t* s) {
  zg::locks_pop(zg::sem_key(s));
  return next_sem_post(s);
}

}  // namespace

// A mutex taken by a thread that does not track: remembered (the latest
// only), so that the thread's first socket call finds it if it still holds
// it (trylock's failure included: the owner field tells).
#define ZG_UNTRACKED_MUTEX(m)                           \
  do {                                                  \
    zg::tls_held.last = static_cast<void*>(m);          \
  } while (0)

ZG_EXPORT int pthread_mutex_lock(pthread_mutex_t* m) {
  if (mutexes_on()) return tracked_lock(m);
  ZG_UNTRACKED_MUTEX(m);
  return next_pthread_mutex_lock(m);
}
ZG_EXPORT int pthread_mutex_trylock(pthread_mutex_t* m) {
  if (mutexes_on()) return tracked_trylock(m);
  ZG_UNTRACKED_MUTEX(m);
  return next_pthread_mutex_trylock(m);
}
ZG_EXPORT int pthread_mutex_timedlock(pthread_mutex_t* m, const struct timespec* t) {
  if (mutexes_on()) return tracked_timedlock(m, t);
  ZG_UNTRACKED_MUTEX(m);
  return next_pthread_mutex_timedlock(m, t);
}
ZG_EXPORT int pthread_mutex_clocklock(pthread_mutex_t* m, clockid_t c, const struct timespec* t) {
  if (mutexes_on()) return tracked_clocklock(m, c, t);
  ZG_UNTRACKED_MUTEX(m);
  return next_pthread_mutex_clocklock(m, c, t);
}
ZG_EXPORT int pthread_mutex_unlock(pthread_mutex_t* m) {
  if (mutexes_on()) return tracked_unlock(m);
  return next_pthread_mutex_unlock(m);
}
ZG_EXPORT int sem_wait(sem_t* s) {
  if (sems_on()) return tracked_sem_wait(s);
  return next_sem_wait(s);
}
ZG_EXPORT int sem_trywait(sem_t* s) {
  if (sems_on()) return tracked_sem_trywait(s);
  return next_sem_trywait(s);
}
ZG_EXPORT int sem_timedwait(sem_t* s, const struct timespec* t) {
  if (sems_on()) return tracked_sem_timedwait(s, t);
  return next_sem_timedwait(s, t);
}
ZG_EXPORT int sem_clockwait(sem_t* s, clockid_t c, const struct timespec* t) {
  if (sems_on()) return tracked_sem_clockwait(s, c, t);
  return next_sem_clockwait(s, c, t);
}
ZG_EXPORT int sem_post(sem_t* s) {
  if (sems_on()) return tracked_sem_post(s);
  return next_sem_post(s);
}

// A lock destroyed is held by nobody: a semaphore a thread waited on as a
// signal (CPython's Condition waiters) leaves the waiter's stack here, and
// its address, reused for another lock, would look held.
ZG_EXPORT int sem_destroy(sem_t* s) {
  if (sems_on()) zg::locks_forget(zg::sem_key(s));
  return next_sem_destroy(s);
}
ZG_EXPORT int pthread_mutex_destroy(pthread_mutex_t* m) {
  if (mutexes_on()) zg::locks_forget(m);
  if (zg::tls_held.last == m) zg::tls_held.last = nullptr;
  return next_pthread_mutex_destroy(m);
}
