#include "core/locks.h"

#include <string.h>

namespace zg {

__thread HeldLocks tls_held ZG_TLS;
bool g_locks_on = false;

void locks_start() { __atomic_store_n(&g_locks_on, true, __ATOMIC_RELEASE); }

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
