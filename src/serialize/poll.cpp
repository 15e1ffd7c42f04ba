// SPDX-License-Identifier: MIT
// zmq_poll over serialized sockets: each socket's readiness read under its
// turn, the wait made holding none of them.
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "core/clock.h"
#include "core/watcher.h"
#include "core/registry.h"
#include "core/threads.h"
#include "serialize/bias.h"
#include "serialize/serialize.h"
#include "serialize/socket.h"
#include "serialize/wait.h"

namespace zg {

namespace {

// ser_poll's per-item arrays: on the stack for the usual few items,
// on the heap for more.
struct PollScratch {
  SerState** ss;
  SocketState** sts;
  struct pollfd* pfd;  // nitems + 1 (the wake-up fd)
  SerWaiter* w;
  bool* registered;
  short* orig;  // the items' revents as the caller left them
  bool heap;  // freed by ser_poll, or by poll_cancelled
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
    ser_turn_lock(&s->mu);
    ser_waiter_remove(s, &p.w[i]);
    ser_turn_unlock(&s->mu);
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

bool ser_poll(zmq_pollitem_t* items, int nitems, long timeout, int* rc) {
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
    if (!st || !(ss[i] = ser_usable(st))) return false;
    sts[i] = st;
    any = true;
  }
  if (!any) return false;
  ThreadRecord* rec = thread_self();
  if (!rec) return false;
  const uint64_t me = rec->serial.load(std::memory_order_relaxed);
  for (int i = 0; i < nitems; i++)
    if (ss[i]) ser_note_user(ss[i], sts[i], "zmq_poll", CallKind::Poll, me);

  // On success errno is what the last ZMQ_EVENTS read left, as libzmq's
  // own zmq_poll leaves it (EAGAIN from its command mailbox, usually): the
  // program sees the errno libzmq would have left, not the one from before.
  int zmq_errno = errno;
  const bool forever = timeout < 0;
  const int64_t deadline = forever ? 0 : mono_ns() + int64_t(timeout) * 1000000;
  const int efd = ser_wake_fd();
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
      ser_turn_lock(&s->mu);
      if (s->st != sts[i] || s->closed.load(std::memory_order_relaxed)) {
        ser_turn_unlock(&s->mu);
        err = ENOTSOCK;
        failed_at = i;
        break;
      }
      s->holder = me;  // calls into libzmq follow (see ser_thread_exit)
      s->holder_call = "zmq_poll";
      ser_unbias(s, me);
      int events = 0;
      if (ser_sockopt_int(s, ZMQ_EVENTS, &events) != 0) {
        err = errno;  // ETERM, as libzmq's zmq_poll returns it
        failed_at = i;
        ser_wake_ready(s, -1);
        s->holder = 0;
        ser_turn_unlock(&s->mu);
        break;
      }
      zmq_errno = errno;
      ser_wake_ready(s, events);
      items[i].revents = static_cast<short>(events & items[i].events & (ZMQ_POLLIN | ZMQ_POLLOUT));
      if (items[i].revents) ready++;
      if (!ready && will_wait) {
        w[i] = SerWaiter{nullptr, nullptr, me, efd, static_cast<short>(items[i].events), false, "zmq_poll", true};
        ser_waiter_add(s, &w[i]);
        registered[i] = true;
      }
      s->holder = 0;
      ser_turn_unlock(&s->mu);
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
      // is looked at now and then, as in ser_wait_turn.
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
      if (waited < 0 && errno == EINTR && ser_program_signal()) err = EINTR;  // as libzmq's zmq_poll
      // (else a dump's stack sample: go round again)
      if (!forever && mono_ns() >= deadline) final_round = true;
    }
    bool woken = false;
    for (int i = 0; i < nitems; i++) {
      if (!registered[i]) continue;
      SerState* s = ss[i];
      ser_turn_lock(&s->mu);
      ser_waiter_remove(s, &w[i]);
      if (w[i].woken) woken = true;
      ser_turn_unlock(&s->mu);
    }
    if (woken && efd >= 0) ser_raw_drain(efd);
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

}  // namespace

}  // namespace zg
