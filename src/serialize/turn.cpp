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

// Off the uncontended path; errno kept (see SerTurn).  A thread that finds
// the turn taken sleeps in the kernel at once, as a mutex's waiter does.
// It does not watch the turn first: a watcher on the other CPU takes the
// turn at the holder's next release, the holder coming back a moment later
// finds it taken and watches in its turn, and the socket's own state (its
// pipes and queues in libzmq) then crosses between the CPUs with every
// message.  Measured with 4 threads sharing a socket on two CPUs (see the
// README's Performance section): watching for about 2.5 us made the
// turns 20% faster than a mutex on one cloud VM (an AMD EPYC) and half as
// fast on another (an Intel Xeon, 574,000 changes of hands per 4 million
// messages instead of 36,000).
//
// What a mutex does next is what costs it: every release that finds a
// sleeper wakes one, a futex system call on the holder's own path, and the
// woken thread nearly always finds the turn taken again (the holder came
// back first) and goes back to sleep, another system call, after which the
// next release wakes again.  Four threads sharing a socket made 100,000 to
// 250,000 such calls per million messages under glibc's mutex, and spent a
// third to a half of their time in the kernel (perf stat, two phases of
// the same VM).  So a release wakes a sleeper only if
// no release has woken one in the last kSerTurnQuantumNs; while sleepers are
// skipped that way they wake on their own after kSerTurnQuantumNs (a timed
// wait) and try again.  The holder then pays one wake-up per quantum at
// most, a thread waits at most a quantum longer than it would under the
// mutex (plus the kernel's timer slack), and only under contention that
// goes on: a release after a quiet quantum wakes at once.  After
// kSerTurnShortNaps naps (0.8 ms) a sleeper's naps double, up to
// kSerTurnNapMaxNs (25.6 ms), so that a turn held long (a holder stopped in a
// debugger, a revoker waiting out the sole user's call, a connect
// resolving a name) costs each sleeper a few dozen wake-ups a second, and
// a wait is at most about twice what it would be.  Doubling from the first
// nap cost 5% in the shared-socket benchmark; from the sixteenth, nothing
// that showed.  With the doubling capped at 1.6 ms, 64 sleepers of a turn
// held for a second took 0.2 s of CPU and 38,000 context switches between
// them (a reviewer's measurement).  Letting only one sleeper nap and the
// others sleep until woken made that one thread's cost, but cost 10% of
// the shared-socket throughput: the napper that took the turn left nobody
// napping, so its releases had to wake.
void ser_turn_lock_slow(SerTurn* l, int c) {
  int e = errno;
  // Every turn is a SerState's (standard layout, checked below).
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
