// SPDX-License-Identifier: MIT
#include "core/locks.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

namespace zg {

__thread HeldLocks tls_held ZG_TLS;
bool g_locks_on = false;

namespace {

bool on_stack(const void* m) {
  const uint32_t n = tls_held.n < kHeldMax ? tls_held.n : kHeldMax;
  for (uint32_t i = 0; i < n; i++)
    if (tls_held.held[i] == m) return true;
  return false;
}

// glibc (2.36) writes the locking thread's tid into __owner for every
// mutex type once it holds it, and clears it on unlock; lock elision,
// which would not, is off unless the glibc.elision.enable tunable turns it
// on.  The mutex may be gone (freed, unmapped): the kernel reads it for us
// and says EFAULT instead of a fault.  Only on the slow path.
bool owner_is_me(const void* key) {
  if (reinterpret_cast<uintptr_t>(key) & kSemTag) return false;
  const auto* m = static_cast<const pthread_mutex_t*>(key);
  int owner = 0;
  struct iovec local = {&owner, sizeof owner};
  struct iovec remote = {const_cast<int*>(&m->__data.__owner), sizeof owner};
  const int saved = errno;
  const ssize_t n = syscall(SYS_process_vm_readv, getpid(), &local, 1UL, &remote, 1UL, 0UL);
  errno = saved;
  return n == static_cast<ssize_t>(sizeof owner) && owner != 0 && owner == static_cast<int>(syscall(SYS_gettid));
}

}  // namespace

void locks_start() {
  __atomic_store_n(&g_locks_on, true, __ATOMIC_RELEASE);
  locks_thread_start();
}

void locks_thread_start() {
  tls_held.track = 1;
  void* m = tls_held.last;
  tls_held.last = nullptr;
  if (m && !on_stack(m) && owner_is_me(m)) locks_push(m);
}

bool locks_owned(void* key) {
  if (on_stack(key) || !owner_is_me(key)) return false;
  locks_push(key);
  return true;
}

void locks_pop_slow(void* m) {
  uint32_t n = tls_held.n;
  if (n == 0) return;  // taken before tracking began, or by another thread
  if (n > kHeldMax) {
    // The lock is among those only counted (or below them): one fewer.
    tls_held.n = n - 1;
    return;
  }
  for (uint32_t i = n; i-- > 0;) {
    if (tls_held.held[i] == m) {
      memmove(&tls_held.held[i], &tls_held.held[i + 1], (n - 1 - i) * sizeof(void*));
      tls_held.n = n - 1;
      return;
    }
  }
}

void locks_forget(const void* m) {
  const uint32_t n = tls_held.n < kHeldMax ? tls_held.n : kHeldMax;
  uint32_t k = 0;
  for (uint32_t i = 0; i < n; i++)
    if (tls_held.held[i] != m) tls_held.held[k++] = tls_held.held[i];
  tls_held.n -= n - k;
}

}  // namespace zg
