// The program's lock operations, seen so that a socket shared under one
// lock is legal (core/locks.h).  Each calls libc's function first; only
// then, and only once the process has a checked socket, it records the
// lock.  libc's functions are looked up when the library is loaded, and
// lazily by a call that comes before that (another library's constructor;
// dlsym takes the loader's own lock, not a pthread mutex, so the lookup
// cannot come back here).
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <time.h>

#include <atomic>

#include "core/locks.h"

#define ZG_EXPORT extern "C" __attribute__((visibility("default")))
#define ZG_UNLIKELY(x) __builtin_expect(!!(x), 0)


namespace {

template <typename F>
F next_fn(std::atomic<F>* slot, const char* name) {
  F f = slot->load(std::memory_order_acquire);
  if (ZG_UNLIKELY(!f)) {
    f = reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
    slot->store(f, std::memory_order_release);
  }
  return f;
}

inline int acquired(int rc, void* lock) {
  if (ZG_UNLIKELY(__atomic_load_n(&zg::g_locks_on, __ATOMIC_RELAXED)) && rc == 0) zg::locks_push(lock);
  return rc;
}

// sem_* report failure as -1 with errno; 0 is success, as for mutexes.
#define ZG_NEXT(ret, name, params, args)                          \
  using name##_fn = ret(*) params;                                \
  std::atomic<name##_fn> g_##name{nullptr};                       \
  inline ret next_##name params {                                 \
    name##_fn f = next_fn(&g_##name, #name);                      \
    if (ZG_UNLIKELY(!f)) {                                        \
      errno = ENOSYS;                                             \
      return ENOSYS;                                              \
    }                                                             \
    return f args;                                                \
  }
ZG_NEXT(int, pthread_mutex_lock, (pthread_mutex_t* m), (m))
ZG_NEXT(int, pthread_mutex_trylock, (pthread_mutex_t* m), (m))
ZG_NEXT(int, pthread_mutex_unlock, (pthread_mutex_t* m), (m))
ZG_NEXT(int, pthread_mutex_timedlock, (pthread_mutex_t* m, const struct timespec* t), (m, t))
ZG_NEXT(int, pthread_mutex_clocklock, (pthread_mutex_t* m, clockid_t c, const struct timespec* t), (m, c, t))
ZG_NEXT(int, sem_wait, (sem_t* s), (s))
ZG_NEXT(int, sem_trywait, (sem_t* s), (s))
ZG_NEXT(int, sem_timedwait, (sem_t* s, const struct timespec* t), (s, t))
ZG_NEXT(int, sem_clockwait, (sem_t* s, clockid_t c, const struct timespec* t), (s, c, t))
ZG_NEXT(int, sem_post, (sem_t* s), (s))
ZG_NEXT(int, sem_destroy, (sem_t* s), (s))
ZG_NEXT(int, pthread_mutex_destroy, (pthread_mutex_t* m), (m))
#undef ZG_NEXT

// All looked up when the library is loaded, so that none is first needed
// inside a signal handler (sem_post is async-signal-safe; dlsym is not).
__attribute__((constructor)) void resolve_lock_functions() {
  next_fn(&g_pthread_mutex_lock, "pthread_mutex_lock");
  next_fn(&g_pthread_mutex_trylock, "pthread_mutex_trylock");
  next_fn(&g_pthread_mutex_unlock, "pthread_mutex_unlock");
  next_fn(&g_pthread_mutex_timedlock, "pthread_mutex_timedlock");
  next_fn(&g_pthread_mutex_clocklock, "pthread_mutex_clocklock");
  next_fn(&g_pthread_mutex_destroy, "pthread_mutex_destroy");
  next_fn(&g_sem_wait, "sem_wait");
  next_fn(&g_sem_trywait, "sem_trywait");
  next_fn(&g_sem_timedwait, "sem_timedwait");
  next_fn(&g_sem_clockwait, "sem_clockwait");
  next_fn(&g_sem_post, "sem_post");
  next_fn(&g_sem_destroy, "sem_destroy");
}

}  // namespace

// Pushed before the lock is taken, so that libc's function is a tail call
// (no frame of ours around it): the thread waits inside it and makes no
// call on a socket until it returns.  A lock that fails (an error-checking
// mutex locked twice) leaves one entry too many on the stack, which the
// next unlock of that mutex takes off.
ZG_EXPORT int pthread_mutex_lock(pthread_mutex_t* m) {
  if (ZG_UNLIKELY(__atomic_load_n(&zg::g_locks_on, __ATOMIC_RELAXED))) zg::locks_push(m);
  return next_pthread_mutex_lock(m);
}
ZG_EXPORT int pthread_mutex_trylock(pthread_mutex_t* m) { return acquired(next_pthread_mutex_trylock(m), m); }
ZG_EXPORT int pthread_mutex_timedlock(pthread_mutex_t* m, const struct timespec* t) {
  return acquired(next_pthread_mutex_timedlock(m, t), m);
}
ZG_EXPORT int pthread_mutex_clocklock(pthread_mutex_t* m, clockid_t c, const struct timespec* t) {
  return acquired(next_pthread_mutex_clocklock(m, c, t), m);
}
ZG_EXPORT int pthread_mutex_unlock(pthread_mutex_t* m) {
  if (ZG_UNLIKELY(__atomic_load_n(&zg::g_locks_on, __ATOMIC_RELAXED))) zg::locks_pop(m);
  return next_pthread_mutex_unlock(m);
}
ZG_EXPORT int sem_wait(sem_t* s) { return acquired(next_sem_wait(s), s); }
ZG_EXPORT int sem_trywait(sem_t* s) { return acquired(next_sem_trywait(s), s); }
ZG_EXPORT int sem_timedwait(sem_t* s, const struct timespec* t) { return acquired(next_sem_timedwait(s, t), s); }
ZG_EXPORT int sem_clockwait(sem_t* s, clockid_t c, const struct timespec* t) {
  return acquired(next_sem_clockwait(s, c, t), s);
}
ZG_EXPORT int sem_post(sem_t* s) {
  if (ZG_UNLIKELY(__atomic_load_n(&zg::g_locks_on, __ATOMIC_RELAXED))) zg::locks_pop(s);
  return next_sem_post(s);
}

// A lock destroyed is held by nobody: a semaphore a thread waited on as a
// signal (CPython's Condition waiters) leaves the waiter's stack here, and
// its address, reused for another lock, would look held.
ZG_EXPORT int sem_destroy(sem_t* s) {
  if (ZG_UNLIKELY(__atomic_load_n(&zg::g_locks_on, __ATOMIC_RELAXED))) zg::locks_forget(s);
  return next_sem_destroy(s);
}
ZG_EXPORT int pthread_mutex_destroy(pthread_mutex_t* m) {
  if (ZG_UNLIKELY(__atomic_load_n(&zg::g_locks_on, __ATOMIC_RELAXED))) zg::locks_forget(m);
  return next_pthread_mutex_destroy(m);
}
