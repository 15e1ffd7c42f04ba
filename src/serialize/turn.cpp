// SPDX-License-Identifier: MIT
#include "serialize/turn.h"

#include <errno.h>
#include <linux/futex.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

#include "core/clock.h"
#include "core/threads.h"
#include "serialize/state.h"

namespace zg {

// Off the uncontended path; errno kept (see SerTurn).  The measurements
// behind each choice are in bench/README.md ("The turn lock").
//  - A thread that finds the turn taken sleeps in the kernel at once, as a
//    mutex's waiter does.  One that watched the turn first took it at the
//    holder's next release, and the socket's state in libzmq then crossed
//    between the CPUs with every message.
//  - A release wakes a sleeper only if no release has woken one in the
//    last kSerTurnQuantumNs.  A mutex wakes one at every release that finds
//    a sleeper (a system call on the holder's path), and the woken thread
//    nearly always finds the turn taken again and sleeps again.  Sleepers
//    skipped that way wake on their own after a quantum (a timed wait) and
//    try again: a thread waits at most a quantum longer than under a mutex
//    (plus the kernel's timer slack), only while contention goes on; a
//    release after a quiet quantum wakes at once.
//  - After kSerTurnShortNaps naps (0.8 ms) a sleeper's naps double, up to
//    kSerTurnNapMaxNs (25.6 ms), so that a turn held long (a holder stopped
//    in a debugger, a revoker waiting out the sole user's call, a connect
//    resolving a name) costs each sleeper a few dozen wake-ups a second,
//    and a wait is at most about twice what it would be.  Every sleeper
//    naps: a napper that took the turn must leave others napping, or its
//    releases have to wake.
void ser_turn_lock_slow(SerTurn* l, int c) {
  int e = errno;
  // Every turn is a SerState's (standard layout, checked in state.h).
  auto* ss = reinterpret_cast<SerState*>(reinterpret_cast<char*>(l) - offsetof(SerState, mu));
  if (const uint64_t me = tls_hot.me) {
    // This thread holds the turn itself: a call of its own that held it was
    // torn down by a cancellation inside libzmq, and the thread, unwinding,
    // calls on the socket again (a cleanup handler).  The turn is still its
    // own: the call goes on with it (and gives it up as every call does).
    // Only the holder writes its own serial there, so nobody else sees it.
    if (__atomic_load_n(&ss->holder, __ATOMIC_RELAXED) == me) {
      ss->holder = 0;
      errno = e;
      return;
    }
    // A revoker holds the turn and waits for this thread's busy mark, but
    // this thread is making a new call (a holder never waits for the turn
    // while busy): the mark is a cancelled call's.  (The revoker names its
    // thread before it drops the bias this thread saw dropped.)
    std::atomic_thread_fence(std::memory_order_acquire);
    if (ss->revoking.load(std::memory_order_relaxed) == me && ss->b.busy.load(std::memory_order_relaxed) != 0)
      ss->b.busy.store(0, std::memory_order_release);
  }
  if (c != 2) c = l->v.exchange(2, std::memory_order_acquire);
  int64_t nap = kSerTurnQuantumNs;
  for (int naps = 1; c != 0; naps++) {
    struct timespec ts = {time_t(nap / 1000000000), long(nap % 1000000000)};
    syscall(SYS_futex, &l->v, FUTEX_WAIT_PRIVATE, 2, &ts, nullptr, 0);
    if (naps >= kSerTurnShortNaps && nap < kSerTurnNapMaxNs) nap *= 2;
    c = l->v.exchange(2, std::memory_order_acquire);
  }
  errno = e;
}

// The turn is free already (ser_turn_unlock); it was wanted.
void ser_turn_unlock_slow(SerTurn* l) {
  int e = errno;
  const int64_t now = mono_ns();
  if (now - l->woke_at.load(std::memory_order_relaxed) >= kSerTurnQuantumNs) {
    l->woke_at.store(now, std::memory_order_relaxed);
    syscall(SYS_futex, &l->v, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  }
  errno = e;
}

}  // namespace zg
