// mode=serialize.
//
// The protocol (measured in FIELD-NOTES.md, "Serializing"):
//  - each socket has a turn lock; every call on it runs under the lock, and
//    sends/receives run with ZMQ_DONTWAIT, so no thread ever blocks inside
//    libzmq while holding the turn;
//  - a call that gets EAGAIN but wanted to block reads ZMQ_EVENTS, registers
//    as a waiter, gives the turn up and waits on the socket's ZMQ_FD plus its
//    own thread's eventfd, then tries again;
//  - ZMQ_FD is edge-triggered and any call on the socket consumes the edge,
//    so whoever holds the turn reads ZMQ_EVENTS after its call when there
//    are waiters, and wakes those whose direction became ready;
//  - a message sent or received in parts belongs to one thread from its
//    first part to its last (a per-direction reservation), so parts of two
//    threads never interleave;
//  - ZMQ_RCVTIMEO/ZMQ_SNDTIMEO are read when a call first has to wait and
//    kept as a deadline; ETERM and every other error come from libzmq;
//  - while only one thread uses a socket, it holds the socket's bias and
//    calls libzmq directly, without the lock and without ZMQ_DONTWAIT, as
//    it would without the guard (serialize.h, SerBias).  Its waits inside
//    libzmq last at most kSerWakeMs each (the guard gives libzmq that
//    timeout while the bias is held and keeps the user's own), so when a
//    second thread comes it can revoke the bias (membarrier, then wait out
//    the call in flight, a wake-up period at most) and the sole user's call
//    goes on in the locked protocol.  What the sole user left half done (a
//    multipart message in either direction) becomes a reservation at that
//    moment.  The bias holder is also the socket's owner, so its calls take
//    the wrapper's owner path into serialize mode's trampolines
//    (wrappers.cpp, ser_owner); every call marks SerBias::busy.
//
// Cancellation (pthread_cancel).  libzmq is not cancel-safe: a thread
// cancelled inside libzmq leaves the socket as libzmq left it, and the
// guard cannot undo that.  What the guard promises is that its own state
// stays whole, so that a cancelled thread neither crashes the process nor
// leaves the other threads stuck:
//  - a thread cancelled while it waits in the guard's own ppoll (wait_turn,
//    poll_serialized) takes its waiter records, which live on its stack,
//    off the socket's list in a cleanup handler, and passes on a wake-up
//    it was given;
//  - the guard's own code makes no call that is a cancellation point while
//    it holds a turn (its eventfd reads and writes and its sleeps are raw
//    system calls);
//  - a thread cancelled inside libzmq while it holds a turn (an attempt, or
//    ZMQ_EVENTS read after one: libzmq polls its mailbox) keeps it while it
//    unwinds: a call it makes on that socket from a cleanup handler goes on
//    with it (turn_lock_slow), and its exit gives it up, together with the
//    multipart reservations it held, and wakes the waiters
//    (serialize_thread_exit; the turn's holder word says whose it is);
//  - a bias holder cancelled inside libzmq keeps its busy mark: a revoker
//    waits until the thread has exited, or until it calls on the socket
//    again from a cleanup handler (which clears the stale mark).
// Not promised: that the socket itself is usable after a cancellation
// inside libzmq (it is, in the cases tried: the mailbox poll, a blocking
// wait), and that calls the thread makes from its cleanup handlers are
// checked when the cancellation struck inside a pass-through region (the
// guard's own calls into libzmq; the thread holds the turn then, so they do
// not race with other threads).
#include "core/serialize.h"

#include <dlfcn.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <sys/syscall.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <new>
#include <type_traits>

#include "core/clock.h"
#include "core/guard.h"
#include "core/lifecycle.h"
#include "core/options.h"
#include "core/probe.h"
#include "core/threads.h"
#include "report/python.h"
#include "report/ruby.h"
#include "report/stack.h"

namespace zg {

// Off the uncontended path; errno kept (see TurnLock).  A thread that finds
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
// no release has woken one in the last kTurnQuantumNs; while sleepers are
// skipped that way they wake on their own after kTurnQuantumNs (a timed
// wait) and try again.  The holder then pays one wake-up per quantum at
// most, a thread waits at most a quantum longer than it would under the
// mutex (plus the kernel's timer slack), and only under contention that
// goes on: a release after a quiet quantum wakes at once.  After
// kTurnShortNaps naps (0.8 ms) a sleeper's naps double, up to
// kTurnNapMaxNs (25.6 ms), so that a turn held long (a holder stopped in a
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
void turn_lock_slow(TurnLock* l, int c) {
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
  int64_t nap = kTurnQuantumNs;
  for (int naps = 1; c != 0; naps++) {
    struct timespec ts = {time_t(nap / 1000000000), long(nap % 1000000000)};
    syscall(SYS_futex, &l->v, FUTEX_WAIT_PRIVATE, 2, &ts, nullptr, 0);
    if (naps >= kTurnShortNaps && nap < kTurnNapMaxNs) nap *= 2;
    c = l->v.exchange(2, std::memory_order_acquire);
  }
  errno = e;
}

// The turn is free already (turn_unlock); it was wanted.
void turn_unlock_slow(TurnLock* l) {
  int e = errno;
  const int64_t now = mono_ns();
  if (now - l->woke_at.load(std::memory_order_relaxed) >= kTurnQuantumNs) {
    l->woke_at.store(now, std::memory_order_relaxed);
    syscall(SYS_futex, &l->v, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  }
  errno = e;
}

static_assert(std::is_standard_layout<SerState>::value, "ser_bias() casts a SerState to its first member");
__thread SerState* tls_rcv_ss ZG_TLS = nullptr;
__thread SerCarry tls_ser_carry ZG_TLS = {nullptr, SerDir::None, 0};

namespace {

__thread int tls_wake_fd ZG_TLS = -1;
__thread int tls_rcv_more ZG_TLS = 0;

pthread_mutex_t g_pool_mu = PTHREAD_MUTEX_INITIALIZER;
SerState* g_all = nullptr;
// Closed states wait in a FIFO before reuse: a thread that read st->ser just
// before the close finds ss->st changed or ss->closed set, never a state
// half re-initialized under it.
SerState* g_free_head = nullptr;
SerState* g_free_tail = nullptr;
int g_free_len = 0;
constexpr int kReuseDelay = 256;

// Biasing needs membarrier(2) (Linux 4.14): without it every call locks.
bool bias_ok() { return process_barrier_exact(); }

pthread_key_t g_fd_key;
pthread_once_t g_fd_once = PTHREAD_ONCE_INIT;

void close_wake_fd(void* p) {
  int fd = static_cast<int>(reinterpret_cast<intptr_t>(p)) - 1;
  if (fd >= 0) close(fd);
  tls_wake_fd = -1;
}
void make_fd_key() { pthread_key_create(&g_fd_key, close_wake_fd); }

int wake_fd() {
  if (__builtin_expect(tls_wake_fd >= 0, 1)) return tls_wake_fd;
  pthread_once(&g_fd_once, make_fd_key);
  int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return -1;
  tls_wake_fd = fd;
  pthread_setspecific(g_fd_key, reinterpret_cast<void*>(static_cast<intptr_t>(fd) + 1));
  return fd;
}

int sockopt_int(SerState* ss, int option, int* value) { return socket_int_option(ss->real, ss->handle, option, value); }

// The waiter list and its counts (SerState::asleep and co), under the turn.
int waiter_dir(const SerWaiter* w) { return (w->mask & ZMQ_POLLOUT) ? 1 : 0; }

void waiter_add(SerState* ss, SerWaiter* w) {
  w->prev = nullptr;
  w->next = ss->waiters;
  if (ss->waiters) ss->waiters->prev = w;
  ss->waiters = w;
  ss->nwaiters++;
  if (w->poller) ss->pollers_asleep++;
  else ss->asleep[waiter_dir(w)]++;
}

void waiter_remove(SerState* ss, SerWaiter* w) {
  if (w->prev) w->prev->next = w->next;
  else ss->waiters = w->next;
  if (w->next) w->next->prev = w->prev;
  ss->nwaiters--;
  if (w->poller) {
    if (!w->woken) ss->pollers_asleep--;
  } else {
    (w->woken ? ss->on_way : ss->asleep)[waiter_dir(w)]--;
  }
}

// No waiters (a new state, or the child after fork, whose waiters were the
// parent's other threads).
void waiters_clear(SerState* ss) {
  ss->nwaiters = 0;
  ss->waiters = nullptr;
  ss->asleep[0] = ss->asleep[1] = ss->on_way[0] = ss->on_way[1] = ss->pollers_asleep = 0;
}

// The guard's own system calls under a turn: raw, since the libc wrappers of
// read, write and nanosleep are cancellation points and a thread must not be
// cancelled there with the turn held.
void raw_write_one(int fd) {
  uint64_t one = 1;
  syscall(SYS_write, fd, &one, sizeof one);
}
void raw_drain(int fd) {
  uint64_t v;
  syscall(SYS_read, fd, &v, sizeof v);
}

void wake(SerState* ss, SerWaiter* w) {
  if (w->woken) return;
  w->woken = true;
  if (w->poller) {
    ss->pollers_asleep--;
  } else {
    ss->asleep[waiter_dir(w)]--;
    ss->on_way[waiter_dir(w)]++;
  }
  raw_write_one(w->fd);
}

// The waiters that can make progress now (events from ZMQ_EVENTS, -1 when
// it failed: everyone retries and sees the error, ETERM above all).  Of the
// senders and receivers, one per direction: the oldest that may go (the
// list is newest first), and none while one woken earlier is still on its
// way.  A woken one acts: its call either goes through, and its own pass
// after it wakes the next, or finds the direction not ready after all, and
// then there is nobody to wake.  (Waking all of them made every call, while
// threads waited at the high-water mark, wake every waiter, which took the
// turn to find the queue full again.)  Pollers are all told: they only
// report readiness, and may not use the socket at all.
void wake_ready(SerState* ss, int events) {
  const bool all = events < 0 || ss->closed.load(std::memory_order_relaxed);
  SerWaiter* pick[2] = {nullptr, nullptr};  // [0] receive, [1] send
  for (SerWaiter* w = ss->waiters; w; w = w->next) {
    const bool in = (w->mask & ZMQ_POLLIN) && (events & ZMQ_POLLIN) && (ss->recv_res == 0 || ss->recv_res == w->me);
    const bool out =
        (w->mask & ZMQ_POLLOUT) && (events & ZMQ_POLLOUT) && (ss->send_res == 0 || ss->send_res == w->me);
    if (all || w->poller) {
      if (!w->woken && (all || in || out)) wake(ss, w);
      continue;
    }
    const int d = waiter_dir(w);
    if (!w->woken && (d ? out : in)) pick[d] = w;
  }
  for (int d = 0; d < 2; d++)
    if (pick[d] && ss->on_way[d] == 0) wake(ss, pick[d]);
}

// After a call, when threads wait (turn held).  ZMQ_EVENTS is asked only
// when somebody could be woken: a poller not yet told, or a direction whose
// waiters are all asleep (one woken earlier goes on the chain itself).
void wake_pass(SerState* ss) {
  if (ss->nwaiters == 0 || ser_nobody_to_wake(ss)) return;
  int events = 0;
  if (sockopt_int(ss, ZMQ_EVENTS, &events) != 0) events = -1;
  wake_ready(ss, events);
}

// A ppoll of the guard's own that failed with EINTR: the live dump's stack
// sample (go on waiting) or a signal of the program's, which interrupts the
// call as it would interrupt libzmq's own wait (EINTR to the caller; pyzmq
// runs the Python signal handlers then, Ctrl-C among them).
bool program_signal() {
  if (!tls_sampled) return true;
  tls_sampled = 0;
  return false;
}

// What wait_turn saw.
enum class Waited : uint8_t { Ready, TimedOut, Interrupted };

// A waiter whose thread was cancelled in its wait (ppoll is a cancellation
// point): the record, on the dying thread's stack, leaves the list before
// the stack is unwound and reused, and a wake-up it was given (it was on its
// way, and would have passed the news on after its call) is passed on.
struct WaitUndo {
  SerState* ss;
  SerWaiter* w;
};

void wait_cancelled(void* arg) {
  auto* u = static_cast<WaitUndo*>(arg);
  SerState* ss = u->ss;
  turn_lock(&ss->mu);
  waiter_remove(ss, u->w);
  if (u->w->woken && !ss->closed.load(std::memory_order_relaxed)) wake_pass(ss);
  turn_unlock(&ss->mu);
}

// wait_turn's wait, the turn given up.
void wait_fds(SerState* ss, int efd, int64_t deadline_ns, bool forever, bool* timed_out, bool* interrupted) {
  struct pollfd pfd[2];
  int n = 0;
  if (ss->zfd >= 0) pfd[n++] = {ss->zfd, POLLIN, 0};
  tls_sampled = 0;  // a sample taken before this wait interrupts nothing of it
  if (efd >= 0) pfd[n++] = {efd, POLLIN, 0};
  for (;;) {
    struct timespec ts, *tsp = nullptr;
    if (!forever) {
      int64_t left = deadline_ns - mono_ns();
      if (left <= 0) {
        *timed_out = true;
        break;
      }
      ts.tv_sec = left / 1000000000;
      ts.tv_nsec = left % 1000000000;
      tsp = &ts;
    } else if (ss->zfd < 0) {
      // No ZMQ_FD to wait on (its read failed when the socket was made):
      // look at the socket now and then.
      ts = {0, 1000000};
      tsp = &ts;
    }
    int rc = ppoll(pfd, n, tsp, nullptr);
    if (rc > 0) break;
    if (rc == 0 && !forever) {
      *timed_out = true;
      break;
    }
    if (rc == 0 && ss->zfd < 0) break;
    if (rc < 0 && errno == EINTR && program_signal()) {
      *interrupted = true;
      break;
    }
  }
}

// wait_fds with wait_cancelled as its cleanup handler (apart: the
// handler's setjmp stays out of wait_turn's frame).
__attribute__((noinline)) void wait_fds_undo(WaitUndo* undo, int efd, int64_t deadline_ns, bool forever,
                                             bool* timed_out, bool* interrupted) {
  pthread_cleanup_push(wait_cancelled, undo);
  wait_fds(undo->ss, efd, deadline_ns, forever, timed_out, interrupted);
  pthread_cleanup_pop(0);
}

// Gives the turn up and waits for the socket (ZMQ_FD) or a wake-up, until
// the deadline.  Turn held on entry and on return.
Waited wait_turn(SerState* ss, uint64_t me, short mask, const char* call, int64_t deadline_ns, bool forever) {
  int efd = wake_fd();
  SerWaiter w{nullptr, nullptr, me, efd, mask, false, call, false};
  waiter_add(ss, &w);
  ss->holder = 0;
  turn_unlock(&ss->mu);

  bool timed_out = false, interrupted = false;
  WaitUndo undo{ss, &w};
  wait_fds_undo(&undo, efd, deadline_ns, forever, &timed_out, &interrupted);

  turn_lock(&ss->mu);
  waiter_remove(ss, &w);
  if (w.woken && efd >= 0) raw_drain(efd);
  ss->holder = me;
  ss->holder_call = call;
  if (w.woken) return Waited::Ready;
  return interrupted ? Waited::Interrupted : timed_out ? Waited::TimedOut : Waited::Ready;
}

// Reads the user's timeout for this direction on the first wait.
// False: the timeout is 0 (fail at once with EAGAIN, as libzmq does).
bool arm_deadline(SerCall* c, int option) {
  if (c->deadline_set) return true;
  c->deadline_set = true;
  if (tls_ser_carry.b == &c->ss->b && tls_ser_carry.dir == c->dir) {
    // The call began as the sole user's and waited there: its deadline
    // counts from then (an already passed one: one last attempt decides).
    c->forever = false;
    c->deadline_ns = tls_ser_carry.deadline_ns;
    tls_ser_carry.b = nullptr;
    return true;
  }
  int ms = -1;
  SerBias* b = &c->ss->b;
  if (b->timeouts_set) ms = option == ZMQ_RCVTIMEO ? b->rcvtimeo : b->sndtimeo;  // libzmq has the wake-up ones
  else if (sockopt_int(c->ss, option, &ms) != 0) ms = -1;
  if (ms == 0) return false;
  c->forever = ms < 0;
  if (!c->forever) c->deadline_ns = mono_ns() + int64_t(ms) * 1000000;
  return true;
}

bool reserved_by_other(SerState* ss, SerDir dir, uint64_t me) {
  uint64_t* r = dir == SerDir::Send ? &ss->send_res : dir == SerDir::Recv ? &ss->recv_res : nullptr;
  if (!r || *r == 0 || *r == me) return false;
  // A thread that exited in the middle of a message leaves it unfinished
  // for good; the socket must not stay locked behind it.
  if (!thread_alive(*r)) {
    *r = 0;
    return false;
  }
  return true;
}

// The bias and the ownership that lets its holder take the owner path go
// together.
void drop_bias(SerState* ss) {
  ss->b.bias.store(0, std::memory_order_relaxed);
  if (ss->st) ss->st->owner.store(kNoOwner, std::memory_order_relaxed);
}

int sockopt_set_int(SerState* ss, int option, int value) {
  return socket_set_int_option(ss->real, ss->handle, option, value);
}

// The bias is about to be given (turn held, by the thread that gets it):
// libzmq gets the wake-up timeouts (SerBias), the user's are kept.  False if
// that failed: then there is no bias, since a call that waits for good
// inside libzmq could not be waited out.
bool set_wake_timeouts(SerState* ss) {
  SerBias* b = &ss->b;
  if (b->timeouts_set) return true;
  const int e = errno;
  int rcv = -1, snd = -1;
  bool ok = sockopt_int(ss, ZMQ_RCVTIMEO, &rcv) == 0 && sockopt_int(ss, ZMQ_SNDTIMEO, &snd) == 0 &&
            sockopt_set_int(ss, ZMQ_RCVTIMEO, ser_wake_timeout(rcv)) == 0;
  if (ok && sockopt_set_int(ss, ZMQ_SNDTIMEO, ser_wake_timeout(snd)) != 0) {
    sockopt_set_int(ss, ZMQ_RCVTIMEO, rcv);
    ok = false;
  }
  if (ok) {
    b->rcvtimeo = rcv;
    b->sndtimeo = snd;
    b->timeouts_set = true;
  }
  errno = e;
  return ok;
}

// The socket is shared from now on (turn held): the user's timeouts again.
// If libzmq refuses them (a terminated context), the guard keeps them and
// goes on answering and using them (timeouts_set stays; ser_begin tries
// again later), rather than leave libzmq's wake-up timeouts in the user's
// place unnoticed.
void restore_timeouts(SerState* ss) {
  SerBias* b = &ss->b;
  if (!b->timeouts_set) return;
  const int e = errno;
  b->wake_cut = 0;
  if (sockopt_set_int(ss, ZMQ_RCVTIMEO, b->rcvtimeo) == 0 && sockopt_set_int(ss, ZMQ_SNDTIMEO, b->sndtimeo) == 0)
    b->timeouts_set = false;
  errno = e;
}

// A thread other than the biased one takes the locked path (ss->mu held):
// the biased thread is stopped from starting a lock-free call, its call in
// flight is waited out (one that waits inside libzmq comes back within a
// wake-up period and wakes us), and what it left half done becomes
// reservations.
void unbias(SerState* ss, uint64_t me) {
  uint64_t old = ss->b.bias.load(std::memory_order_relaxed);
  if (old == 0 || old == me) return;
  ss->revoking.store(old, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);  // before the bias is seen dropped (turn_lock_slow)
  drop_bias(ss);
  // Every thread passes a full barrier: a biased call that had not seen
  // bias == 0 has its busy mark visible now (it sets the mark before it
  // looks at the bias again).
  process_barrier();
  // Most calls are over in microseconds; one that waits inside libzmq
  // comes back within a wake-up period; a set-up call can take longer (a DNS
  // name in zmq_connect).  Polled, so the holder's path has nothing to do
  // for a revoker but clear its mark.
  for (int spins = 0; ss->b.busy.load(std::memory_order_acquire) != 0; spins++) {
    // A thread cancelled inside its call never clears its mark (unless it
    // calls on the socket again while it unwinds: turn_lock_slow).
    if (!thread_alive(old)) break;
    if (spins < 50) {
      sched_yield();
    } else {
      struct timespec ts = {0, 50000};
      syscall(SYS_nanosleep, &ts, nullptr);  // the turn is held: not a cancellation point
    }
  }
  ss->revoking.store(0, std::memory_order_relaxed);
  restore_timeouts(ss);
  // The reservations are what the sole user left, either way: a message
  // it began under the turn (the call that got the bias) and ended on its
  // own path leaves none (it held the socket's sends up for good).
  ss->send_res = (ss->b.send_flags & ZMQ_SNDMORE) ? old : 0;
  ss->b.send_flags = 0;
  int more = 0;
  if (sockopt_int(ss, ZMQ_RCVMORE, &more) == 0) {
    ss->recv_res = more ? old : 0;
    ss->bias_last_more.store(more, std::memory_order_relaxed);
    ss->bias_last_thread.store(old, std::memory_order_relaxed);
  }
}

}  // namespace

int ser_biased_option(SerBias* b, void* const* real, void* s, int option, const void* in, void* out,
                      size_t* outlen, size_t inlen, bool set, bool* handled) {
  int* user = option == ZMQ_RCVTIMEO ? &b->rcvtimeo : &b->sndtimeo;
  *handled = false;
  if (!b->timeouts_set) return 0;  // libzmq has the user's own: let it answer
  if (set) {
    // What libzmq takes (options.cpp: an int, -1 or more); anything else
    // goes to libzmq as it came, which refuses it (EINVAL, or ETERM first
    // once the context ended) and keeps the wake-up timeout.
    int v = 0;
    if (!in || inlen != sizeof(int) || (memcpy(&v, in, sizeof v), v < -1)) return 0;
    int rc = socket_set_int_option(real, s, option, ser_wake_timeout(v));
    if (rc == 0) *user = v;
    *handled = true;
    return rc;
  }
  // libzmq answers (its checks, its errors: a length other than an int's is
  // EINVAL, a terminated context ETERM), then the user's value replaces
  // the wake-up one.  (A null pointer goes to libzmq as it came.)
  if (!out || !outlen) return 0;
  using getsockopt_fn = int (*)(void*, int, void*, size_t*);
  auto gs = real_fn<FN_zmq_getsockopt, getsockopt_fn>(real);
  if (!gs) return 0;
  int rc;
  {
    Bypass nested;
    rc = gs(s, option, out, outlen);
  }
  if (rc == 0) memcpy(out, user, sizeof(int));
  *handled = true;
  return rc;
}

void ser_biased_uncut(SerBias* b) {
  const int e = errno;
  // SerBias is the first member of SerState.
  sockopt_set_int(reinterpret_cast<SerState*>(b), b->wake_cut, kSerWakeMs);
  b->wake_cut = 0;
  errno = e;
}

Again ser_biased_again(SerBias* b, SerDir dir, uint64_t self, int64_t* deadline_ns, const char* call) {
  const int e = errno;
  Again again = Again::No;
  b->wait_call = call;
  if (b->wake_cut) ser_biased_uncut(b);  // the last period's attempt is over
  if (e == EINTR && !program_signal()) {
    // The live dump's stack sample, not a signal of the program's.  (A
    // sample that landed just outside this call leaves the flag set: one
    // program signal in a later wait is then taken for a sample and the
    // wait goes on; the sole user's path does not clear it on every call.)
    again = Again::Yes;
  } else if (e == EAGAIN && b->timeouts_set) {
    const int user = dir == SerDir::Send ? b->sndtimeo : b->rcvtimeo;
    if (user < 0) {
      again = Again::Yes;  // waits for good: the wake-up period ran out
    } else if (user > kSerWakeMs) {
      // One wake-up period has passed since the call began.
      if (*deadline_ns == 0) *deadline_ns = mono_ns() + int64_t(user - kSerWakeMs) * 1000000;
      again = Again::Yes;  // unless the deadline has passed (below)
    }
    // else: libzmq's timeout was the user's own, and it ran out.
  }
  if (again == Again::Yes && relaxed_peek(b->bias) != self) again = Again::Gone;
  if (again == Again::Yes && *deadline_ns != 0) {
    // A wait with a deadline gets no more than what is left of it: the
    // last attempt's timeout is cut to that (in whole milliseconds, as
    // libzmq counts), so that a 21 ms timeout ends after 21 ms, not 40.
    const int64_t left = *deadline_ns - mono_ns();
    if (left <= 0 && e == EAGAIN) {
      again = Again::No;
    } else if (left < int64_t(kSerWakeMs) * 1000000) {
      const int option = dir == SerDir::Send ? ZMQ_SNDTIMEO : ZMQ_RCVTIMEO;
      const int ms = left <= 0 ? 1 : static_cast<int>((left + 999999) / 1000000);
      if (sockopt_set_int(reinterpret_cast<SerState*>(b), option, ms) == 0) b->wake_cut = option;
    }
  }
  if (again != Again::Yes) b->busy.store(0, std::memory_order_release);
  errno = e;
  return again;
}

namespace {

// The first thread that uses a socket claims it; a second one while the
// claimant runs makes it shared (reported once, as information).  The
// creator's set-up calls and a close are not uses; a claimant that has
// exited hands the socket on (policy handoff); with policy=strict the
// creator is the claimant from the start.
//
// A question (a getsockopt that only reads a value) and ZMQ_LINGER set
// before a close are no use by anyone, as in the other modes (decide):
// they claim nothing and share nothing.  pyzmq asks ZMQ_TYPE from whichever
// thread drops a socket's last reference, and close(linger=N) sets the
// linger there, just before the final close: the socket's hand-off, not a
// sharing.  They are serialized all the same: ser_begin takes the turn and
// revokes the sole user's bias first, waiting out its call in flight (a
// wake-up period at most), so no question ever runs inside libzmq beside
// the sole user's call.  The claimant stays the claimant and the socket
// unshared, so its next call, on the locked path now, gets the bias back
// in its ser_begin, as its first call did.
void note_user(SerState* ss, SocketState* st, const char* call, CallKind kind, uint64_t me) {
  if (claims_nothing(kind)) return;
  uint64_t cl = ss->claimant.load(std::memory_order_relaxed);
  if (cl == me || ss->shared.load(std::memory_order_relaxed)) return;
  if (cl == 0 && kind == CallKind::Setup && me == st->creator) return;
  ThreadRecord* rec = thread_self();
  bool report = false;
  pthread_mutex_lock(&st->mu);
  cl = ss->claimant.load(std::memory_order_relaxed);
  if (cl == 0 || (cl != me && !thread_alive(cl))) {
    // Kept for the report: where the socket's first user took it.
    ss->claimant.store(me, std::memory_order_relaxed);
    if (rec) {
      st->owner_tid = rec->tid;
      thread_name_of(rec->tid, st->owner_name, sizeof st->owner_name);
    }
    stack_capture(&st->owner_stack, static_cast<int>(options().stack_depth));
    if (options().python) {
      free(st->owner_py);
      st->owner_py = py_traceback_current();
    }
    ruby_capture(&st->owner_rb);
    st->owner_call = call;
  } else if (cl != me && !ss->shared.load(std::memory_order_relaxed)) {
    ss->shared.store(true, std::memory_order_relaxed);
    report = true;
  }
  pthread_mutex_unlock(&st->mu);
  if (report) guard_report(FindingKind::SharedSocket, st, call, cl, "");
}

SerState* usable(SocketState* st) {
  auto* ss = static_cast<SerState*>(st->ser);
  if (!ss || ss->closed.load(std::memory_order_relaxed) || st->closed.load(std::memory_order_relaxed)) return nullptr;
  if (st->fork_gen != g_fork_gen) return nullptr;  // inherited: the ordinary path reports it
  return ss;
}

void retire(SerState* ss) {
  pthread_mutex_lock(&g_pool_mu);
  ss->next_free = nullptr;
  if (g_free_tail) g_free_tail->next_free = ss;
  else g_free_head = ss;
  g_free_tail = ss;
  g_free_len++;
  pthread_mutex_unlock(&g_pool_mu);
}

}  // namespace

void serialize_attach(SocketState* st) {
  SerState* ss = nullptr;
  pthread_mutex_lock(&g_pool_mu);
  if (g_free_len > kReuseDelay) {
    ss = g_free_head;
    g_free_head = ss->next_free;
    if (!g_free_head) g_free_tail = nullptr;
    g_free_len--;
  }
  pthread_mutex_unlock(&g_pool_mu);
  if (ss) {
    turn_lock(&ss->mu);
  } else {
    ss = new (std::nothrow) SerState;
    if (!ss) return;
    pthread_mutex_lock(&g_pool_mu);
    ss->next_all = g_all;
    g_all = ss;
    pthread_mutex_unlock(&g_pool_mu);
    turn_lock(&ss->mu);
  }
  ss->st = st;
  ss->b.st = st;
  ss->handle = st->handle.load(std::memory_order_relaxed);
  ss->real = st->real;
  ss->claimant.store(options().policy_value() == Policy::Strict ? st->creator : 0, std::memory_order_relaxed);
  ss->shared.store(false, std::memory_order_relaxed);
  ss->b.bias.store(0, std::memory_order_relaxed);
  ss->b.busy.store(0, std::memory_order_relaxed);
  ss->b.send_flags = 0;
  ss->b.timeouts_set = false;
  ss->b.wake_cut = 0;
  ss->b.wait_call = nullptr;
  ss->b.rcvtimeo = ss->b.sndtimeo = -1;
  ss->bias_last_thread.store(0, std::memory_order_relaxed);
  ss->revoking.store(0, std::memory_order_relaxed);
  ss->holder = 0;
  ss->holder_call = nullptr;
  ss->send_res = ss->recv_res = 0;
  ss->zfd = st->zfd;  // read once, when the guard saw the socket made (-1: wait_turn looks now and then)
  waiters_clear(ss);
  ss->closed.store(false, std::memory_order_release);
  turn_unlock(&ss->mu);
  st->ser = ss;
  // The bias holder's calls take the owner path into serialize mode's
  // trampolines (ser_begin makes it the owner).
  if (void* const* fns = serialize_owner_fns()) st->owner_fn = fns;
}

int ser_begin(SocketState* st, const char* call, CallKind kind, SerDir dir, int flags, SerCall* c) {
  SerState* ss = usable(st);
  if (!ss) return 0;
  uint64_t me = tls_hot.me;
  if (__builtin_expect(me == 0, 0)) {
    ThreadRecord* rec = thread_self();
    if (!rec) return 0;
    me = rec->serial.load(std::memory_order_relaxed);
  }
  note_user(ss, st, call, kind, me);
  turn_lock(&ss->mu);
  if (ss->st != st || ss->closed.load(std::memory_order_relaxed)) {
    turn_unlock(&ss->mu);
    return 0;  // closed (or reused) meanwhile: the ordinary path says so
  }
  // Whose the turn is, from before the first call into libzmq under it (a
  // thread cancelled there gives it up at its exit).
  ss->holder = me;
  ss->holder_call = call;
  unbias(ss, me);
  // Wake-up timeouts nobody holds the bias for: libzmq refused the user's
  // back when it was revoked (restore_timeouts).
  if (__builtin_expect(ss->b.timeouts_set, 0) && ss->b.bias.load(std::memory_order_relaxed) == 0)
    restore_timeouts(ss);
  // The sole user runs without the lock from its next call on.
  if (ss->claimant.load(std::memory_order_relaxed) == me && !ss->shared.load(std::memory_order_relaxed) &&
      ss->b.bias.load(std::memory_order_relaxed) == 0 && bias_ok() && set_wake_timeouts(ss)) {
    ss->b.bias.store(me, std::memory_order_relaxed);
    // And makes it the owner, so that its calls take the wrapper's owner
    // path into the biased attempt (SocketHot::owner_fn).
    if (st->owner_fn != st->real) st->owner.store(me, std::memory_order_release);
  }
  ss->holder = me;
  ss->holder_call = call;
  c->st = st;
  c->ss = ss;
  c->call = call;
  c->me = me;
  c->dir = dir;
  c->flags = flags;
  c->saved_errno = errno;
  // Another thread's multipart message in this direction goes first.
  // Before each wait the socket is read as after a failed attempt
  // (ZMQ_EVENTS): that takes in its pending commands, so that its ZMQ_FD
  // wakes this wait only on news (a wait on a readable ZMQ_FD returns at
  // once, round and round), passes the news on to the waiters it is for,
  // and fails the call as libzmq would fail it (ETERM once the context
  // ends: nothing else would ever tell this call).
  while (dir != SerDir::None && reserved_by_other(ss, dir, me)) {
    int events = 0, fail = 0;
    if (sockopt_int(ss, ZMQ_EVENTS, &events) != 0) {
      fail = errno;
      events = -1;  // everyone retries and sees it
    }
    wake_ready(ss, events);
    if (!fail) {
      Waited w = Waited::TimedOut;
      if (!(flags & ZMQ_DONTWAIT) && arm_deadline(c, dir == SerDir::Send ? ZMQ_SNDTIMEO : ZMQ_RCVTIMEO))
        w = wait_turn(ss, me, dir == SerDir::Send ? ZMQ_POLLOUT : ZMQ_POLLIN, call, c->deadline_ns, c->forever);
      fail = ss->closed.load(std::memory_order_relaxed)            ? ENOTSOCK
             : w == Waited::Interrupted                             ? EINTR
             : w != Waited::Ready && reserved_by_other(ss, dir, me) ? EAGAIN  // as libzmq when it cannot take a message now
                                                                    : 0;
    }
    if (fail) {
      ss->holder = 0;
      turn_unlock(&ss->mu);
      c->ss = nullptr;
      errno = fail;
      return -1;
    }
  }
  return 1;
}

bool ser_after(SerCall* c, bool ok) {
  SerState* ss = c->ss;
  if (ok) {
    int e = errno;
    if (c->dir == SerDir::Send) {
      ss->send_res = (c->flags & ZMQ_SNDMORE) ? c->me : 0;
      // The call that got the bias: its sends from now on leave their
      // flags in send_flags (unbias reads them), so this one's go there too.
      if (ss->b.bias.load(std::memory_order_relaxed) == c->me) ss->b.send_flags = c->flags;
    } else if (c->dir == SerDir::Recv) {
      int more = 0;
      if (sockopt_int(ss, ZMQ_RCVMORE, &more) != 0) more = 0;
      ss->recv_res = more ? c->me : 0;
      tls_rcv_ss = ss;
      tls_rcv_more = more;
    }
    c->saved_errno = e;
    return false;
  }
  int e = errno;
  c->saved_errno = e;
  if (e != EAGAIN || (c->flags & ZMQ_DONTWAIT) || c->dir == SerDir::None) return false;
  int option = c->dir == SerDir::Send ? ZMQ_SNDTIMEO : ZMQ_RCVTIMEO;
  short mask = c->dir == SerDir::Send ? ZMQ_POLLOUT : ZMQ_POLLIN;
  if (!arm_deadline(c, option)) return false;  // timeout 0: EAGAIN now
  for (;;) {
    // The failed attempt processed the socket's commands: the state is
    // current.  Wake others that can go, and go at once if we can.
    int events = 0;
    if (sockopt_int(ss, ZMQ_EVENTS, &events) != 0) return true;  // ETERM & co: the retry reports it
    wake_ready(ss, events);
    if ((events & mask) && !reserved_by_other(ss, c->dir, c->me)) return true;
    Waited w = wait_turn(ss, c->me, mask, c->call, c->deadline_ns, c->forever);
    if (ss->closed.load(std::memory_order_relaxed)) {
      c->saved_errno = ENOTSOCK;
      return false;
    }
    if (w == Waited::Interrupted) {
      c->saved_errno = EINTR;
      return false;
    }
    const bool in_time = w == Waited::Ready;
    if (!reserved_by_other(ss, c->dir, c->me)) {
      if (in_time) return true;
      // The deadline passed: one last attempt decides, as libzmq's own
      // timeout would.
      c->deadline_ns = 0;
      c->forever = false;
      c->flags |= ZMQ_DONTWAIT;
      return true;
    }
    if (!in_time) {
      c->saved_errno = EAGAIN;
      return false;
    }
  }
}

void ser_quick_recv_done(SerState* ss) {
  int e = errno;
  int more = 0;
  if (sockopt_int(ss, ZMQ_RCVMORE, &more) != 0) more = 0;
  ss->recv_res = more ? ss->holder : 0;
  tls_rcv_ss = ss;
  tls_rcv_more = more;
  errno = e;
}

void ser_quick_adopt(SerState* ss, SocketState* st, const char* call, SerDir dir, int flags, SerCall* c) {
  c->st = st;
  c->ss = ss;
  c->call = call;
  c->me = ss->holder;
  c->dir = dir;
  c->flags = flags;
  c->saved_errno = errno;
}

bool ser_rcvmore(SocketState* st, void* optval, size_t* optvallen, int* rc, bool turn_held) {
  auto* ss = static_cast<SerState*>(st->ser);
  if (!ss || ss->st != st || ss->closed.load(std::memory_order_relaxed)) return false;
  if (!optval || !optvallen || *optvallen < sizeof(int)) return false;  // libzmq's EINVAL
  int more;
  if (tls_rcv_ss == ss) more = tls_rcv_more;
  else if (turn_held && tls_hot.me && ss->bias_last_thread.load(std::memory_order_relaxed) == tls_hot.me)
    more = ss->bias_last_more.load(std::memory_order_relaxed);
  else return false;
  *static_cast<int*>(optval) = more;
  *optvallen = sizeof(int);
  *rc = 0;
  return true;
}

void ser_end(SerCall* c) {
  SerState* ss = c->ss;
  if (!ss) return;
  wake_pass(ss);
  ss->holder = 0;
  turn_unlock(&ss->mu);
  errno = c->saved_errno;
}

SerState* ser_close_begin(SocketState* st) {
  auto* ss = static_cast<SerState*>(st->ser);
  if (!ss || ss->closed.load(std::memory_order_relaxed)) return nullptr;
  turn_lock(&ss->mu);
  if (ss->st != st || ss->closed.load(std::memory_order_relaxed)) {
    turn_unlock(&ss->mu);
    return nullptr;
  }
  ss->holder = tls_rec ? tls_rec->serial.load(std::memory_order_relaxed) : 0;
  unbias(ss, ss->holder);
  drop_bias(ss);  // the closer is the last user
  ss->holder_call = "zmq_close";
  return ss;
}

void ser_close_end(SerState* ss, int rc) {
  if (!ss) return;
  int e = errno;
  ss->holder = 0;
  if (rc == 0) {
    ss->closed.store(true, std::memory_order_release);
    wake_ready(ss, -1);
  }
  bool idle = rc == 0 && ss->nwaiters == 0;
  turn_unlock(&ss->mu);
  // Waiters still registered leave through the closed flag; the state is
  // reused only after many more closes.
  if (idle) retire(ss);
  errno = e;
}

namespace {

// serialize_poll's per-item arrays: on the stack for the usual few items,
// on the heap for more.
struct PollScratch {
  SerState** ss;
  SocketState** sts;
  struct pollfd* pfd;  // nitems + 1 (the wake-up fd)
  SerWaiter* w;
  bool* registered;
  short* orig;  // the items' revents as the caller left them
  bool heap;  // freed by serialize_poll, or by poll_cancelled
};

void free_scratch(const PollScratch& p) {
  free(p.ss);
  free(p.sts);
  free(p.pfd);
  free(p.w);
  free(p.registered);
  free(p.orig);
}

// poll_serialized's thread cancelled in its ppoll: its waiter records (on
// its stack or in its scratch) leave the lists (see wait_cancelled; a
// poller passes nothing on).
struct PollUndo {
  const PollScratch* p;
  int nitems;
};

void poll_cancelled(void* arg) {
  auto* u = static_cast<PollUndo*>(arg);
  const PollScratch& p = *u->p;
  for (int i = 0; i < u->nitems; i++) {
    if (!p.registered[i]) continue;
    SerState* s = p.ss[i];
    turn_lock(&s->mu);
    waiter_remove(s, &p.w[i]);
    turn_unlock(&s->mu);
  }
  if (p.heap) free_scratch(p);
}

// ppoll with poll_cancelled as its cleanup handler (apart, as wait_fds_undo).
__attribute__((noinline)) int ppoll_undo(PollUndo* undo, struct pollfd* pfd, int n, const struct timespec* tsp) {
  int rc;
  pthread_cleanup_push(poll_cancelled, undo);
  rc = ppoll(pfd, n, tsp, nullptr);
  pthread_cleanup_pop(0);
  return rc;
}

bool poll_serialized(zmq_pollitem_t* items, int nitems, long timeout, int* rc, const PollScratch& p);

}  // namespace

bool serialize_poll(zmq_pollitem_t* items, int nitems, long timeout, int* rc) {
  constexpr int kStack = 64;
  if (nitems <= kStack) {
    SerState* ss[kStack];
    SocketState* sts[kStack];
    struct pollfd pfd[kStack + 1];
    SerWaiter w[kStack];
    bool registered[kStack];
    short orig[kStack];
    return poll_serialized(items, nitems, timeout, rc, PollScratch{ss, sts, pfd, w, registered, orig, false});
  }
  const size_t n = static_cast<size_t>(nitems);
  PollScratch p{static_cast<SerState**>(calloc(n, sizeof(SerState*))),
                static_cast<SocketState**>(calloc(n, sizeof(SocketState*))),
                static_cast<struct pollfd*>(calloc(n + 1, sizeof(struct pollfd))),
                static_cast<SerWaiter*>(calloc(n, sizeof(SerWaiter))), static_cast<bool*>(calloc(n, sizeof(bool))),
                static_cast<short*>(calloc(n, sizeof(short))), true};
  // Out of memory: libzmq's own poll, unserialized, rather than fail a poll
  // that would work without the guard.
  bool done = p.ss && p.sts && p.pfd && p.w && p.registered && p.orig && poll_serialized(items, nitems, timeout, rc, p);
  int e = errno;
  free_scratch(p);
  errno = e;
  return done;
}

namespace {

// A plain item's events as poll(2) takes them, and poll(2)'s answer as
// libzmq's zmq_poll maps it (ZMQ_POLLOUT is 2, POLLOUT 4: not the same bits).
short raw_poll_events(short zmq_events) {
  return static_cast<short>(((zmq_events & ZMQ_POLLIN) ? POLLIN : 0) | ((zmq_events & ZMQ_POLLOUT) ? POLLOUT : 0) |
                            ((zmq_events & ZMQ_POLLPRI) ? POLLPRI : 0));
}
short raw_zmq_revents(short re) {
  short r = 0;
  if (re & POLLIN) r |= ZMQ_POLLIN;
  if (re & POLLOUT) r |= ZMQ_POLLOUT;
  if (re & POLLPRI) r |= ZMQ_POLLPRI;
  if (re & ~(POLLIN | POLLOUT | POLLPRI)) r |= ZMQ_POLLERR;
  return r;
}

bool poll_serialized(zmq_pollitem_t* items, int nitems, long timeout, int* rc, const PollScratch& p) {
  // Only when every socket of the set is serialized; otherwise libzmq polls
  // (a thread-safe or unknown socket among them).
  SerState** ss = p.ss;
  SocketState** sts = p.sts;
  bool any = false;
  for (int i = 0; i < nitems; i++) {
    ss[i] = nullptr;
    sts[i] = nullptr;
    if (!items[i].socket) continue;
    SocketState* st = registry_lookup(items[i].socket);
    if (!st) st = registry_lookup_locked(items[i].socket);
    if (!st || !(ss[i] = usable(st))) return false;
    sts[i] = st;
    any = true;
  }
  if (!any) return false;
  ThreadRecord* rec = thread_self();
  if (!rec) return false;
  const uint64_t me = rec->serial.load(std::memory_order_relaxed);
  for (int i = 0; i < nitems; i++)
    if (ss[i]) note_user(ss[i], sts[i], "zmq_poll", CallKind::Poll, me);

  // On success errno is what the last ZMQ_EVENTS read left, as libzmq's
  // own zmq_poll leaves it (EAGAIN from its command mailbox, usually): the
  // program sees the errno libzmq would have left, not the one from before.
  int zmq_errno = errno;
  const bool forever = timeout < 0;
  const int64_t deadline = forever ? 0 : mono_ns() + int64_t(timeout) * 1000000;
  const int efd = wake_fd();
  // The waiter records live on this stack, and each socket's ZMQ_EVENTS
  // is read from libzmq (whose poll is a cancellation point) while earlier
  // sockets' records are already registered: a cancellation there would
  // leave them on the lists for the next wake to walk into.  So the round
  // is not cancellable but for the wait itself, where ppoll_undo's cleanup
  // handler takes them off.
  NoCancel no_cancel;
  struct pollfd* pfd = p.pfd;
  SerWaiter* w = p.w;
  for (int i = 0; i < nitems; i++) p.orig[i] = items[i].revents;
  // libzmq's zmq_poll sets each item's revents in order and returns from
  // the middle of that loop on a socket's error: the items after it keep
  // what they had (the caller's values in its first pass, 0 after).
  bool first_round = true;
  bool* registered = p.registered;
  // The last round: the deadline passed in the wait before it.
  bool final_round = false;
  for (;;) {
    int ready = 0, err = 0;
    for (int i = 0; i < nitems; i++) registered[i] = false;
    // Plain fds first, with no wait: libzmq polls every fd before it reads
    // any socket's ZMQ_EVENTS, so a plain item that is a socket's own
    // ZMQ_FD (czmq's zpoller allows it) is seen readable before that read
    // takes the socket's commands in and drains the fd.
    int nraw = 0;
    for (int i = 0; i < nitems; i++) {
      items[i].revents = 0;
      if (!ss[i]) pfd[nraw++] = {items[i].fd, raw_poll_events(items[i].events), 0};
    }
    if (nraw > 0) {
      struct timespec zero = {0, 0};
      const int got = ppoll(pfd, nraw, &zero, nullptr);
      for (int i = 0, k = 0; i < nitems; i++) {
        if (ss[i]) continue;
        items[i].revents = raw_zmq_revents(got > 0 ? pfd[k].revents : 0);
        k++;
        if (items[i].revents) ready++;
      }
    }
    // Each socket's readiness is read, and the waiter registered, in one
    // turn: a change after the read either signals its ZMQ_FD or reaches the
    // next turn holder's wake pass.
    const bool will_wait = timeout != 0 && !final_round;
    int failed_at = -1;
    for (int i = 0; i < nitems; i++) {
      if (!ss[i]) continue;
      SerState* s = ss[i];
      turn_lock(&s->mu);
      if (s->st != sts[i] || s->closed.load(std::memory_order_relaxed)) {
        turn_unlock(&s->mu);
        err = ENOTSOCK;
        failed_at = i;
        break;
      }
      s->holder = me;  // calls into libzmq follow (see serialize_thread_exit)
      s->holder_call = "zmq_poll";
      unbias(s, me);
      int events = 0;
      if (sockopt_int(s, ZMQ_EVENTS, &events) != 0) {
        err = errno;  // ETERM, as libzmq's zmq_poll returns it
        failed_at = i;
        wake_ready(s, -1);
        s->holder = 0;
        turn_unlock(&s->mu);
        break;
      }
      zmq_errno = errno;
      wake_ready(s, events);
      items[i].revents = static_cast<short>(events & items[i].events & (ZMQ_POLLIN | ZMQ_POLLOUT));
      if (items[i].revents) ready++;
      if (!ready && will_wait) {
        w[i] = SerWaiter{nullptr, nullptr, me, efd, static_cast<short>(items[i].events), false, "zmq_poll", true};
        waiter_add(s, &w[i]);
        registered[i] = true;
      }
      s->holder = 0;
      turn_unlock(&s->mu);
    }
    if (!err && !ready && will_wait) {
      // Nothing yet: wait for any of the fds, the sockets' ZMQ_FDs or a
      // wake-up, then look at everything again in the next round.
      int n = 0;
      for (int i = 0; i < nitems; i++) {
        if (!ss[i]) pfd[n++] = {items[i].fd, raw_poll_events(items[i].events), 0};
        else if (registered[i] && ss[i]->zfd >= 0) pfd[n++] = {ss[i]->zfd, POLLIN, 0};
      }
      if (efd >= 0) pfd[n++] = {efd, POLLIN, 0};
      struct timespec ts, *tsp = nullptr;
      if (!forever) {
        int64_t left = deadline - mono_ns();
        if (left < 0) left = 0;
        ts = {static_cast<time_t>(left / 1000000000), static_cast<long>(left % 1000000000)};
        tsp = &ts;
      }
      // A socket without its ZMQ_FD (the read failed when it was made)
      // is looked at now and then, as in wait_turn.
      for (int i = 0; i < nitems; i++)
        if (registered[i] && ss[i]->zfd < 0 && (!tsp || ts.tv_sec > 0 || ts.tv_nsec > 1000000)) {
          ts = {0, 1000000};
          tsp = &ts;
        }
      tls_sampled = 0;
      PollUndo undo{&p, nitems};
      pthread_setcancelstate(no_cancel.old, nullptr);
      const int waited = ppoll_undo(&undo, pfd, n, tsp);
      int ignored;
      pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &ignored);
      if (waited < 0 && errno == EINTR && program_signal()) err = EINTR;  // as libzmq's zmq_poll
      // (else a dump's stack sample: go round again)
      if (!forever && mono_ns() >= deadline) final_round = true;
    }
    bool woken = false;
    for (int i = 0; i < nitems; i++) {
      if (!registered[i]) continue;
      SerState* s = ss[i];
      turn_lock(&s->mu);
      waiter_remove(s, &w[i]);
      if (w[i].woken) woken = true;
      turn_unlock(&s->mu);
    }
    if (woken && efd >= 0) raw_drain(efd);
    if (err) {
      if (failed_at >= 0) {
        items[failed_at].revents = 0;
        for (int i = failed_at + 1; i < nitems; i++) items[i].revents = first_round ? p.orig[i] : 0;
      } else {
        for (int i = 0; i < nitems; i++) items[i].revents = 0;  // EINTR: libzmq zeroed them in its first pass
      }
      *rc = -1;
      errno = err;
      return true;
    }
    if (ready || !will_wait) {
      *rc = ready;
      errno = zmq_errno;
      return true;
    }
    first_round = false;
  }
}

// zmq_proxy over serialized sockets.  libzmq's own proxy calls its sockets'
// internals directly, past the turns; this one moves each message part by
// part through serialized calls, so other threads may use the same sockets
// and a proxy waiting for traffic holds none of them.  What it does when is
// libzmq 4.3.4's proxy (src/proxy.cpp, the socket_poller version Debian
// builds): it reads a side only while the other side can take a message,
// so a backend that cannot accept never keeps the control socket from
// being served; each control command is read in a round of its own, copied
// to the capture socket, and answered before any message moves in that
// round; messages move in bursts of up to 1000, counted whole in the
// statistics.  The conformance suite (tests/conformance) holds it to that.
struct MsgFns {
  int (*init)(zmq_msg_t*);
  int (*init_size)(zmq_msg_t*, size_t);
  int (*close)(zmq_msg_t*);
  int (*copy)(zmq_msg_t*, zmq_msg_t*);
  size_t (*size)(const zmq_msg_t*);
  void* (*data)(zmq_msg_t*);
};

bool msg_fns(void* const* real, MsgFns* m) {
  const char* path = reinterpret_cast<const RealTable*>(real)->path;
  void* h = path[0] ? dlopen(path, RTLD_LAZY | RTLD_NOLOAD) : nullptr;
  if (!h) return false;
  m->init = reinterpret_cast<int (*)(zmq_msg_t*)>(dlsym(h, "zmq_msg_init"));
  m->init_size = reinterpret_cast<int (*)(zmq_msg_t*, size_t)>(dlsym(h, "zmq_msg_init_size"));
  m->close = reinterpret_cast<int (*)(zmq_msg_t*)>(dlsym(h, "zmq_msg_close"));
  m->copy = reinterpret_cast<int (*)(zmq_msg_t*, zmq_msg_t*)>(dlsym(h, "zmq_msg_copy"));
  m->size = reinterpret_cast<size_t (*)(const zmq_msg_t*)>(dlsym(h, "zmq_msg_size"));
  m->data = reinterpret_cast<void* (*)(zmq_msg_t*)>(dlsym(h, "zmq_msg_data"));
  dlclose(h);  // still loaded: the program uses it
  return m->init && m->init_size && m->close && m->copy && m->size && m->data;
}

int ser_msg_recv(SocketState* st, zmq_msg_t* msg, int flags) {
  int r = -1;
  if (!serialize_call<FN_zmq_msg_recv, int>(st, "zmq_proxy", CallKind::Proxy, &r, msg, st->handle.load(), flags)) {
    errno = ENOTSOCK;
    return -1;
  }
  return r;
}

int ser_msg_send(SocketState* st, zmq_msg_t* msg, int flags) {
  int r = -1;
  if (!serialize_call<FN_zmq_msg_send, int>(st, "zmq_proxy", CallKind::Proxy, &r, msg, st->handle.load(), flags)) {
    errno = ENOTSOCK;
    return -1;
  }
  return r;
}

// To the capture socket: a serialized one through its turn; one libzmq makes
// thread-safe itself (serialize_proxy), straight into libzmq.
int capture_send(SocketState* st, zmq_msg_t* msg, int flags) {
  if (st->ser) return ser_msg_send(st, msg, flags);
  using send_fn = int (*)(zmq_msg_t*, void*, int);
  auto fn = real_fn<FN_zmq_msg_send, send_fn>(st->real);
  if (!fn) {
    errno = ENOTSUP;
    return -1;
  }
  Bypass nested;
  return fn(msg, st->handle.load(), flags);
}

// A copy of msg to the capture socket, if there is one.  -1: the proxy ends.
int capture_copy(const MsgFns& m, SocketState* capture, zmq_msg_t* msg, bool more) {
  if (!capture) return 0;
  zmq_msg_t copy;
  m.init(&copy);
  if (m.copy(&copy, msg) < 0 || capture_send(capture, &copy, more ? ZMQ_SNDMORE : 0) < 0) {
    int e = errno;
    m.close(&copy);
    errno = e;
    return -1;
  }
  return 0;
}

// ZMQ_RCVMORE after a receive: 1 or 0, -1 if it could not be read.
int ser_more(SocketState* st) {
  int more = 0;
  size_t len = sizeof more;
  int r = -1;
  if (!serialize_call<FN_zmq_getsockopt, int>(st, "zmq_proxy", CallKind::Proxy, &r, st->handle.load(),
                                             (int)ZMQ_RCVMORE, static_cast<void*>(&more), &len))
    return -1;
  return r == 0 ? more != 0 : -1;
}

struct Stats {
  uint64_t msg_in, bytes_in, msg_out, bytes_out;
};

constexpr int kProxyBurst = 1000;  // libzmq's proxy_burst_size (src/config.hpp)

// A burst of whole messages from -> to (and copies to capture): until from
// has none left, or kProxyBurst of them.  -1 with errno as the failing call
// left it.  (libzmq fails the proxy when the burst's first receive finds
// nothing; here another thread may have taken that message from a shared
// socket, so it is the burst's end, as for the later ones.)
int forward(const MsgFns& m, SocketState* from, SocketState* to, SocketState* capture, Stats* from_st, Stats* to_st) {
  for (int i = 0; i < kProxyBurst; i++) {
    size_t whole = 0;
    for (;;) {
      zmq_msg_t msg;
      m.init(&msg);
      if (ser_msg_recv(from, &msg, ZMQ_DONTWAIT) < 0) {
        int e = errno;
        m.close(&msg);
        errno = e;
        return e == EAGAIN ? 0 : -1;
      }
      whole += m.size(&msg);
      const int more = ser_more(from);
      if (more < 0 || capture_copy(m, capture, &msg, more) < 0 ||
          ser_msg_send(to, &msg, more ? ZMQ_SNDMORE : 0) < 0) {
        int e = errno;
        m.close(&msg);
        errno = e;
        return -1;
      }
      if (!more) break;
    }
    // A message in several parts counts once, as in libzmq.
    from_st->msg_in++;
    from_st->bytes_in += whole;
    to_st->msg_out++;
    to_st->bytes_out += whole;
  }
  return 0;
}

// STATISTICS: eight 8-byte parts, frontend's then backend's (messages in,
// bytes in, messages out, bytes out).  Only the first send may fail (as in
// libzmq: after it the pipe has room for the rest).
int reply_stats(const MsgFns& m, SocketState* control, const Stats& fs, const Stats& bs) {
  const uint64_t v[8] = {fs.msg_in, fs.bytes_in, fs.msg_out, fs.bytes_out,
                         bs.msg_in, bs.bytes_in, bs.msg_out, bs.bytes_out};
  for (int i = 0; i < 8; i++) {
    zmq_msg_t part;
    m.init_size(&part, sizeof v[i]);
    memcpy(m.data(&part), &v[i], sizeof v[i]);
    int r;
    do {
      r = ser_msg_send(control, &part, i < 7 ? ZMQ_SNDMORE : 0);
    } while (i > 0 && r < 0 && errno == EAGAIN);
    if (r < 0) {
      int e = errno;
      m.close(&part);
      errno = e;
      if (i == 0) return -1;
    }
  }
  return 0;
}

enum class Command : uint8_t { Pause, Resume, Terminate, Statistics, Unknown };

Command command_of(const MsgFns& m, zmq_msg_t* msg) {
  const size_t len = m.size(msg);
  const void* d = m.data(msg);
  auto is = [&](const char* word) { return len == strlen(word) && memcmp(d, word, len) == 0; };
  return is("PAUSE") ? Command::Pause
         : is("RESUME") ? Command::Resume
         : is("TERMINATE") ? Command::Terminate
         : is("STATISTICS") ? Command::Statistics
                            : Command::Unknown;
}

}  // namespace

bool serialize_proxy(void* const* socks, int nsocks, bool steerable, int* rc) {
  SocketState* st[4] = {};
  for (int i = 0; i < nsocks && i < 4; i++) {
    if (!socks[i]) continue;
    st[i] = registry_lookup(socks[i]);
    if (!st[i]) st[i] = registry_lookup_locked(socks[i]);
    // The capture socket is only sent to: one of a thread-safe type needs
    // no turn (capture_send).  The others are waited on too, which needs
    // their ZMQ_FD (a thread-safe socket has none).
    if (i == 2 && st[i] && st[i]->thread_safe && !st[i]->closed.load(std::memory_order_relaxed)) continue;
    // Not all serialized: libzmq proxies, past the turns (README, Limits).
    if (!st[i] || !usable(st[i])) return false;
  }
  SocketState* front = st[0];
  SocketState* back = st[1];
  SocketState* capture = nsocks > 2 ? st[2] : nullptr;
  SocketState* control = steerable && nsocks > 3 ? st[3] : nullptr;
  MsgFns m;
  if (!front || !back || !msg_fns(front->real, &m)) return false;
  const bool same = front == back;
  Stats fs = {}, bs = {};
  bool paused = false;
  // What the last look saw: front/back readable (in) and writable (out).
  bool fi = false, fo = false, bi = false, bo = false;
  auto fail = [&](int* out) {
    *out = -1;
    return true;
  };
  for (;;) {
    // The wait: the control socket always; while active, each direction's
    // reading side while its writing side took the last message, else the
    // writing side's room (libzmq's poller_in / *_blocked sets).
    short fmask = 0, bmask = 0;
    if (!paused) {
      if (fi && !bo && !same) bmask |= ZMQ_POLLOUT;
      else fmask |= ZMQ_POLLIN;
      if (!same) {
        if (bi && !fo) fmask |= ZMQ_POLLOUT;
        else bmask |= ZMQ_POLLIN;
      }
    }
    zmq_pollitem_t items[3];
    int n = 0;
    if (fmask) items[n++] = {socks[0], 0, fmask, 0};
    if (bmask) items[n++] = {socks[1], 0, bmask, 0};
    if (control) items[n++] = {socks[3], 0, ZMQ_POLLIN, 0};
    int prc = -1;
    if (n == 0) {
      errno = EINVAL;  // paused without a control socket: cannot happen
    } else if (!serialize_poll(items, n, -1, &prc)) {
      errno = ENOTSOCK;
      prc = -1;
    }
    if (prc < 0) return fail(rc);  // ETERM when the context ends, as libzmq's proxy
    // Then everything, without waiting.
    n = 0;
    items[n++] = {socks[0], 0, ZMQ_POLLIN | ZMQ_POLLOUT, 0};
    if (!same) items[n++] = {socks[1], 0, ZMQ_POLLIN | ZMQ_POLLOUT, 0};
    if (control) items[n++] = {socks[3], 0, ZMQ_POLLIN, 0};
    prc = -1;
    if (!serialize_poll(items, n, 0, &prc)) {
      errno = ENOTSOCK;
      prc = -1;
    }
    if (prc < 0) return fail(rc);
    fi = items[0].revents & ZMQ_POLLIN;
    fo = items[0].revents & ZMQ_POLLOUT;
    bi = !same && (items[1].revents & ZMQ_POLLIN);
    bo = !same && (items[1].revents & ZMQ_POLLOUT);
    if (control && (items[n - 1].revents & ZMQ_POLLIN)) {
      zmq_msg_t cmd;
      m.init(&cmd);
      int more = -1;
      if (ser_msg_recv(control, &cmd, 0) < 0 || (more = ser_more(control)) != 0 ||
          capture_copy(m, capture, &cmd, false) < 0) {
        int e = errno;  // a command in several parts: -1, errno as it is (libzmq's)
        m.close(&cmd);
        errno = e;
        return fail(rc);
      }
      const Command c = command_of(m, &cmd);
      m.close(&cmd);
      switch (c) {
        case Command::Pause:
          paused = true;
          break;
        case Command::Resume:
          paused = false;
          break;
        case Command::Terminate:
          *rc = 0;
          return true;
        case Command::Statistics:
          if (reply_stats(m, control, fs, bs) < 0) return fail(rc);
          break;
        case Command::Unknown:
          // libzmq asserts on it (an API error): so does the proxy here,
          // rather than go on where libzmq's would not.
          puts("E: invalid command sent to proxy");
          fflush(stdout);
          abort();
      }
    }
    if (paused) continue;
    if (fi && (bo || same)) {
      if (forward(m, front, back, capture, &fs, &bs) < 0) return fail(rc);
      fi = bo = false;
    }
    if (bi && fo) {
      if (forward(m, back, front, capture, &bs, &fs) < 0) return fail(rc);
      bi = fo = false;
    }
  }
}

void ser_for_each_thread(SocketState* st, void (*fn)(uint64_t, const char*, bool, void*), void* ctx) {
  auto* ss = static_cast<SerState*>(st->ser);
  if (!ss) return;
  uint64_t serials[32];
  const char* calls[32];
  bool waiting[32];
  int n = 0;
  turn_lock(&ss->mu);
  if (ss->st == st && !ss->closed.load(std::memory_order_relaxed)) {
    if (ss->holder) {
      serials[n] = ss->holder;
      calls[n] = ss->holder_call;
      waiting[n++] = false;
    }
    for (SerWaiter* w = ss->waiters; w && n < 32; w = w->next) {
      serials[n] = w->me;
      calls[n] = w->call;
      waiting[n++] = true;
    }
    // The sole user inside a call that may wait (in libzmq, without the turn).
    uint64_t biased = ss->b.bias.load(std::memory_order_relaxed);
    if (biased && ss->b.busy.load(std::memory_order_acquire) == 2 && n < 32) {
      serials[n] = biased;
      calls[n] = ss->b.wait_call ? ss->b.wait_call : "a call";
      waiting[n++] = true;
    }
  }
  turn_unlock(&ss->mu);
  for (int i = 0; i < n; i++) fn(serials[i], calls[i], waiting[i], ctx);
}

void serialize_thread_exit(uint64_t me) {
  if (me == 0) return;
  pthread_mutex_lock(&g_pool_mu);
  SerState* head = g_all;
  pthread_mutex_unlock(&g_pool_mu);
  // States are never freed, and next_all is written before a state is
  // published: the list can be walked without the pool lock.
  for (SerState* ss = head; ss; ss = ss->next_all) {
    // Only this thread writes its own serial into the holder word, so a
    // match read without the turn is exact.  The reservations are checked
    // again under the turn; one a revoker of this thread's bias writes
    // after this look is found dead later (reserved_by_other).
    // An exiting thread is inside no call: a busy mark of its own (left by
    // a call cancelled inside libzmq) is stale.  Cleared first, before any
    // turn is waited for: a revoker holding the turn waits for the mark
    // while this thread would wait for the turn.  (The revoker names this
    // thread before it drops the bias: read in that order.)
    const uint64_t bias = ss->b.bias.load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if ((bias == me || ss->revoking.load(std::memory_order_relaxed) == me) &&
        ss->b.busy.load(std::memory_order_relaxed) != 0)
      ss->b.busy.store(0, std::memory_order_release);
    const bool held = __atomic_load_n(&ss->holder, __ATOMIC_RELAXED) == me;
    if (!held && __atomic_load_n(&ss->send_res, __ATOMIC_RELAXED) != me &&
        __atomic_load_n(&ss->recv_res, __ATOMIC_RELAXED) != me)
      continue;
    // Held: the thread was cancelled inside libzmq under the turn.
    if (!held) turn_lock(&ss->mu);
    if (ss->send_res == me) ss->send_res = 0;
    if (ss->recv_res == me) ss->recv_res = 0;
    ss->holder = 0;
    // What the thread's call or message held up, everyone looks at again.
    if (!ss->closed.load(std::memory_order_relaxed)) wake_ready(ss, -1);
    turn_unlock(&ss->mu);
  }
}

void serialize_after_fork_child() {
  // Only the forking thread exists here: whatever the others held (turns,
  // reservations, waits) is gone with them.  The eventfd is shared with the
  // parent's copy of this thread: make a new one when needed.
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  g_pool_mu = fresh;
  for (SerState* ss = g_all; ss; ss = ss->next_all) {
    ss->mu.v.store(0, std::memory_order_relaxed);
    drop_bias(ss);
    ss->b.busy.store(0, std::memory_order_relaxed);
    ss->holder = 0;
    ss->revoking.store(0, std::memory_order_relaxed);
    ss->send_res = ss->recv_res = 0;
    waiters_clear(ss);
  }
  if (tls_wake_fd >= 0) {
    close(tls_wake_fd);
    tls_wake_fd = -1;
    pthread_setspecific(g_fd_key, nullptr);
  }
}

}  // namespace zg
