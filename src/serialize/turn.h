// SPDX-License-Identifier: MIT
// The turn: serialize mode's lock on one socket, a futex word.
#pragma once
#include <stdint.h>

#include <atomic>

namespace zg {

// The turn lock: a futex word (0 free, 1 held, 2 held and contended), so
// that the uncontended turn costs one atomic each way instead of
// pthread_mutex's bookkeeping.  The slow paths keep errno: callers hand
// libzmq's errno back to the user after giving the turn up.  Under
// sustained contention a release wakes a sleeper at most once per
// kSerTurnQuantumNs, and sleepers look at the turn again after that long on
// their own (ser_turn_lock_slow has why).
struct SerTurn {
  std::atomic<int> v{0};
  std::atomic<int64_t> woke_at{0};  // mono_ns() of the last release that woke a sleeper
};
constexpr int64_t kSerTurnQuantumNs = 50 * 1000;
constexpr int kSerTurnShortNaps = 16;
constexpr int64_t kSerTurnNapMaxNs = kSerTurnQuantumNs * 512;  // 25.6 ms

void ser_turn_lock_slow(SerTurn* l, int c);
void ser_turn_unlock_slow(SerTurn* l);

// Takes the turn if it is free; *seen: the lock word found otherwise.
inline bool ser_turn_try(SerTurn* l, int* seen) {
  *seen = 0;
  return l->v.compare_exchange_strong(*seen, 1, std::memory_order_acquire, std::memory_order_relaxed);
}

inline void ser_turn_lock(SerTurn* l) {
  int c;
  if (__builtin_expect(!ser_turn_try(l, &c), 0)) ser_turn_lock_slow(l, c);
}

inline void ser_turn_unlock(SerTurn* l) {
  if (__builtin_expect(l->v.exchange(0, std::memory_order_release) != 1, 0)) ser_turn_unlock_slow(l);
}

}  // namespace zg
