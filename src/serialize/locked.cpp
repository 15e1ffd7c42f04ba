// SPDX-License-Identifier: MIT
#include "serialize/locked.h"

#include <errno.h>

#include "serialize/bias.h"
#include "serialize/socket.h"
#include "serialize/wait.h"

namespace zg {

__thread SerState* tls_ser_rcv_ss ZG_TLS = nullptr;
__thread SerCarry tls_ser_carry ZG_TLS = {nullptr, MsgDir::None, 0};

namespace {
__thread int tls_ser_rcv_more ZG_TLS = 0;
}  // namespace

int ser_begin(SocketState* st, const char* call, CallKind kind, MsgDir dir, int flags, SerCall* c) {
  SerState* ss = ser_usable(st);
  if (!ss) return 0;
  uint64_t me = tls_hot.me;
  if (__builtin_expect(me == 0, 0)) {
    ThreadRecord* rec = thread_self();
    if (!rec) return 0;
    me = rec->serial.load(std::memory_order_relaxed);
  }
  ser_note_user(ss, st, call, kind, me);
  ser_turn_lock(&ss->mu);
  if (ss->st != st || ss->closed.load(std::memory_order_relaxed)) {
    ser_turn_unlock(&ss->mu);
    return 0;  // closed (or reused) meanwhile: the ordinary path says so
  }
  // Whose the turn is, from before the first call into libzmq under it (a
  // thread cancelled there gives it up at its exit).
  ss->holder = me;
  ss->holder_call = call;
  ser_unbias(ss, me);
  // Wake-up timeouts nobody holds the bias for: libzmq refused the user's
  // back when it was revoked (ser_restore_timeouts).
  if (__builtin_expect(ss->b.timeouts_set, 0) && ss->b.bias.load(std::memory_order_relaxed) == 0)
    ser_restore_timeouts(ss);
  // The sole user runs without the lock from its next call on.
  if (ss->claimant.load(std::memory_order_relaxed) == me && !ss->shared.load(std::memory_order_relaxed) &&
      ss->b.bias.load(std::memory_order_relaxed) == 0 && ser_bias_ok() && ser_set_wake_timeouts(ss)) {
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
  while (dir != MsgDir::None && ser_reserved_by_other(ss, dir, me)) {
    int events = 0, fail = 0;
    if (ser_sockopt_int(ss, ZMQ_EVENTS, &events) != 0) {
      fail = errno;
      events = -1;  // everyone retries and sees it
    }
    ser_wake_ready(ss, events);
    if (!fail) {
      SerWaited w = SerWaited::TimedOut;
      if (!(flags & ZMQ_DONTWAIT) && ser_arm_deadline(c, dir == MsgDir::Send ? ZMQ_SNDTIMEO : ZMQ_RCVTIMEO))
        w = ser_wait_turn(ss, me, dir == MsgDir::Send ? ZMQ_POLLOUT : ZMQ_POLLIN, call, c->deadline_ns, c->forever);
      fail = ss->closed.load(std::memory_order_relaxed)            ? ENOTSOCK
             : w == SerWaited::Interrupted                             ? EINTR
             : w != SerWaited::Ready && ser_reserved_by_other(ss, dir, me) ? EAGAIN  // as libzmq when it cannot take a message now
                                                                    : 0;
    }
    if (fail) {
      ss->holder = 0;
      ser_turn_unlock(&ss->mu);
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
    if (c->dir == MsgDir::Send) {
      ss->send_res = (c->flags & ZMQ_SNDMORE) ? c->me : 0;
      // The call that got the bias: its sends from now on leave their
      // flags in send_flags (ser_unbias reads them), so this one's go there
      // too.
      if (ss->b.bias.load(std::memory_order_relaxed) == c->me) ss->b.send_flags = c->flags;
    } else if (c->dir == MsgDir::Recv) {
      int more = 0;
      if (ser_sockopt_int(ss, ZMQ_RCVMORE, &more) != 0) more = 0;
      ss->recv_res = more ? c->me : 0;
      tls_ser_rcv_ss = ss;
      tls_ser_rcv_more = more;
    }
    c->saved_errno = e;
    return false;
  }
  int e = errno;
  c->saved_errno = e;
  if (e != EAGAIN || (c->flags & ZMQ_DONTWAIT) || c->dir == MsgDir::None) return false;
  int option = c->dir == MsgDir::Send ? ZMQ_SNDTIMEO : ZMQ_RCVTIMEO;
  short mask = c->dir == MsgDir::Send ? ZMQ_POLLOUT : ZMQ_POLLIN;
  if (!ser_arm_deadline(c, option)) return false;  // timeout 0: EAGAIN now
  for (;;) {
    // The failed attempt processed the socket's commands: the state is
    // current.  Wake others that can go, and go at once if we can.
    int events = 0;
    if (ser_sockopt_int(ss, ZMQ_EVENTS, &events) != 0) return true;  // ETERM & co: the retry reports it
    ser_wake_ready(ss, events);
    if ((events & mask) && !ser_reserved_by_other(ss, c->dir, c->me)) return true;
    SerWaited w = ser_wait_turn(ss, c->me, mask, c->call, c->deadline_ns, c->forever);
    if (ss->closed.load(std::memory_order_relaxed)) {
      c->saved_errno = ENOTSOCK;
      return false;
    }
    if (w == SerWaited::Interrupted) {
      c->saved_errno = EINTR;
      return false;
    }
    const bool in_time = w == SerWaited::Ready;
    if (!ser_reserved_by_other(ss, c->dir, c->me)) {
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
  if (ser_sockopt_int(ss, ZMQ_RCVMORE, &more) != 0) more = 0;
  ss->recv_res = more ? ss->holder : 0;
  tls_ser_rcv_ss = ss;
  tls_ser_rcv_more = more;
  errno = e;
}

void ser_quick_adopt(SerState* ss, SocketState* st, const char* call, MsgDir dir, int flags, SerCall* c) {
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
  if (tls_ser_rcv_ss == ss) more = tls_ser_rcv_more;
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
  ser_wake_pass(ss);
  ss->holder = 0;
  ser_turn_unlock(&ss->mu);
  errno = c->saved_errno;
}

}  // namespace zg
