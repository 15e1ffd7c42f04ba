// SPDX-License-Identifier: MIT
#include "serialize/wait.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/guard.h"
#include "core/report.h"
#include "core/watcher.h"
#include "core/threads.h"
#include "serialize/bias.h"

namespace zg {

namespace {

__thread int tls_ser_wake_fd ZG_TLS = -1;

pthread_key_t g_fd_key;
pthread_once_t g_fd_once = PTHREAD_ONCE_INIT;

void close_wake_fd(void* p) {
  int fd = static_cast<int>(reinterpret_cast<intptr_t>(p)) - 1;
  if (fd >= 0) close(fd);
  tls_ser_wake_fd = -1;
}
void make_fd_key() { pthread_key_create(&g_fd_key, close_wake_fd); }

// Which list count a sender or receiver is in: [0] receive, [1] send.
int waiter_dir(const SerWaiter* w) { return (w->mask & ZMQ_POLLOUT) ? 1 : 0; }

}  // namespace

int ser_wake_fd() {
  if (__builtin_expect(tls_ser_wake_fd >= 0, 1)) return tls_ser_wake_fd;
  pthread_once(&g_fd_once, make_fd_key);
  int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return -1;
  tls_ser_wake_fd = fd;
  pthread_setspecific(g_fd_key, reinterpret_cast<void*>(static_cast<intptr_t>(fd) + 1));
  return fd;
}

void ser_wake_fd_after_fork() {
  if (tls_ser_wake_fd >= 0) {
    close(tls_ser_wake_fd);
    tls_ser_wake_fd = -1;
    pthread_setspecific(g_fd_key, nullptr);
  }
}

int ser_sockopt_int(SerState* ss, int option, int* value) {
  return socket_int_option(ss->real, ss->handle, option, value);
}

int ser_sockopt_set_int(SerState* ss, int option, int value) {
  return socket_set_int_option(ss->real, ss->handle, option, value);
}

// The waiter list and its counts (SerState::asleep and co), under the turn.
void ser_waiter_add(SerState* ss, SerWaiter* w) {
  w->prev = nullptr;
  w->next = ss->waiters;
  if (ss->waiters) ss->waiters->prev = w;
  ss->waiters = w;
  ss->nwaiters++;
  if (w->poller) ss->pollers_asleep++;
  else ss->asleep[waiter_dir(w)]++;
}

void ser_waiter_remove(SerState* ss, SerWaiter* w) {
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
void ser_waiters_clear(SerState* ss) {
  ss->nwaiters = 0;
  ss->waiters = nullptr;
  ss->asleep[0] = ss->asleep[1] = ss->on_way[0] = ss->on_way[1] = ss->pollers_asleep = 0;
}

// The guard's own system calls under a turn: raw, since the libc wrappers of
// read, write and nanosleep are cancellation points and a thread must not be
// cancelled there with the turn held.
void ser_raw_drain(int fd) {
  uint64_t v;
  syscall(SYS_read, fd, &v, sizeof v);
}

namespace {

void raw_write_one(int fd) {
  uint64_t one = 1;
  syscall(SYS_write, fd, &one, sizeof one);
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

}  // namespace

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
void ser_wake_ready(SerState* ss, int events) {
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
void ser_wake_pass(SerState* ss) {
  if (ss->nwaiters == 0 || ser_nobody_to_wake(ss)) return;
  int events = 0;
  if (ser_sockopt_int(ss, ZMQ_EVENTS, &events) != 0) events = -1;
  ser_wake_ready(ss, events);
}

// A ppoll of the guard's own that failed with EINTR: the live dump's stack
// sample (go on waiting) or a signal of the program's, which interrupts the
// call as it would interrupt libzmq's own wait (EINTR to the caller; pyzmq
// runs the Python signal handlers then, Ctrl-C among them).
bool ser_program_signal() {
  if (!tls_sampled) return true;
  tls_sampled = 0;
  return false;
}


namespace {

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
  ser_turn_lock(&ss->mu);
  ser_waiter_remove(ss, u->w);
  if (u->w->woken && !ss->closed.load(std::memory_order_relaxed)) ser_wake_pass(ss);
  ser_turn_unlock(&ss->mu);
}

// ser_wait_turn's wait, the turn given up.
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
    if (rc < 0 && errno == EINTR && ser_program_signal()) {
      *interrupted = true;
      break;
    }
  }
}

// wait_fds with wait_cancelled as its cleanup handler (apart: the
// handler's setjmp stays out of ser_wait_turn's frame).
__attribute__((noinline)) void wait_fds_undo(WaitUndo* undo, int efd, int64_t deadline_ns, bool forever,
                                             bool* timed_out, bool* interrupted) {
  pthread_cleanup_push(wait_cancelled, undo);
  wait_fds(undo->ss, efd, deadline_ns, forever, timed_out, interrupted);
  pthread_cleanup_pop(0);
}

}  // namespace

// Gives the turn up and waits for the socket (ZMQ_FD) or a wake-up, until
// the deadline.  Turn held on entry and on return.
SerWaited ser_wait_turn(SerState* ss, uint64_t me, short mask, const char* call, int64_t deadline_ns, bool forever) {
  int efd = ser_wake_fd();
  SerWaiter w{nullptr, nullptr, me, efd, mask, false, call, false};
  ser_waiter_add(ss, &w);
  ss->holder = 0;
  ser_turn_unlock(&ss->mu);

  bool timed_out = false, interrupted = false;
  WaitUndo undo{ss, &w};
  wait_fds_undo(&undo, efd, deadline_ns, forever, &timed_out, &interrupted);

  ser_turn_lock(&ss->mu);
  ser_waiter_remove(ss, &w);
  if (w.woken && efd >= 0) ser_raw_drain(efd);
  ss->holder = me;
  ss->holder_call = call;
  if (w.woken) return SerWaited::Ready;
  return interrupted ? SerWaited::Interrupted : timed_out ? SerWaited::TimedOut : SerWaited::Ready;
}

// Reads the user's timeout for this direction on the first wait.
// False: the timeout is 0 (fail at once with EAGAIN, as libzmq does).
bool ser_arm_deadline(SerCall* c, int option) {
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
  else if (ser_sockopt_int(c->ss, option, &ms) != 0) ms = -1;
  if (ms == 0) return false;
  c->forever = ms < 0;
  if (!c->forever) c->deadline_ns = mono_ns() + int64_t(ms) * 1000000;
  return true;
}

bool ser_reserved_by_other(SerState* ss, MsgDir dir, uint64_t me) {
  uint64_t* r = dir == MsgDir::Send ? &ss->send_res : dir == MsgDir::Recv ? &ss->recv_res : nullptr;
  if (!r || *r == 0 || *r == me) return false;
  // A thread that exited in the middle of a message leaves it unfinished
  // for good; the socket must not stay locked behind it.
  if (!thread_alive(*r)) {
    *r = 0;
    return false;
  }
  return true;
}

}  // namespace zg
