// SPDX-License-Identifier: MIT
// The locked protocol: one call on a socket that threads share, under the
// turn, its sends and receives with ZMQ_DONTWAIT; a call that would block
// waits without the turn (serialize/wait.h) and tries again.  And the
// entry of every serialized call (ser_socket_call): the sole user's biased
// call, or this.
#pragma once
#include <errno.h>
#include <stdint.h>

#include <tuple>
#include <type_traits>

#include "core/call.h"
#include "serialize/bias.h"
#include "serialize/state.h"

namespace zg {

// Takes the socket's turn for one call: 1.  0 if the socket is not
// serialized right now (closed, inherited, not yet attached): the caller
// takes the ordinary path, which reports what is wrong.  -1: the call fails
// now with errno (another thread's multipart message did not end in time,
// or the socket was closed while this call waited).
int ser_begin(SocketState* st, const char* call, CallKind kind, MsgDir dir, int flags, SerCall* c);
// After one attempt (turn held, errno as libzmq left it).  True: try again
// (the turn was given up while waiting and is held again).  False: done;
// errno is what the caller must see.
bool ser_after(SerCall* c, bool ok);
// Gives the turn up; errno is preserved.
void ser_end(SerCall* c);

// The common call on a shared socket, in a straight line: the socket is
// known shared (nothing to note), nobody is biased (nothing to revoke), and
// no other thread's multipart message holds this direction.
//
// Before the turn: whether the straight path may take it at all.
inline bool ser_quick_ok(SocketState* st, SerState* ss) {
  // shared: ser_note_user has nothing left to do.  bias 0: no bias to revoke,
  // and none to give (only an unshared socket's claimant gets it).
  // The state's own closed flag and the bias are read again under the turn.
  return ss && tls_hot.me != 0 && ss->shared.load(std::memory_order_relaxed) &&
         !st->closed.load(std::memory_order_relaxed) && st->fork_gen == g_fork_gen;
}
// Under the turn: true if the straight path goes on (and the turn is
// marked as this thread's); false: the caller gives the turn up.
inline bool ser_quick_held(SerState* ss, SocketState* st, MsgDir dir, const char* call) {
  const uint64_t me = tls_hot.me;
  const uint64_t res = dir == MsgDir::Send ? ss->send_res : ss->recv_res;
  if (__builtin_expect(ss->st != st || ss->closed.load(std::memory_order_relaxed) ||
                           ss->b.bias.load(std::memory_order_relaxed) != 0 || (res != 0 && res != me),
                       0))
    return false;
  ss->holder = me;
  ss->holder_call = call;
  return true;
}
// Both, and the turn between them: the state with the turn held, or
// nullptr (nothing held): ser_begin decides.
inline SerState* ser_quick_begin(SocketState* st, MsgDir dir, const char* call) {
  auto* ss = static_cast<SerState*>(st->ser);
  if (!ser_quick_ok(st, ss)) return nullptr;
  ser_turn_lock(&ss->mu);
  if (!ser_quick_held(ss, st, dir, call)) {
    ser_turn_unlock(&ss->mu);
    return nullptr;
  }
  return ss;
}
// After a successful attempt: true if nobody waits, the bookkeeping is done
// and the turn given up (errno untouched).  False: nothing done yet; the
// caller adopts the turn (ser_quick_adopt) and goes on as after ser_begin.
void ser_quick_recv_done(SerState* ss);
inline bool ser_quick_end(SerState* ss, MsgDir dir, int flags) {
  // Waiters register only under the turn: none now, or none a pass could
  // wake, means nothing to do for them.
  if (ss->nwaiters != 0 && !ser_nobody_to_wake(ss)) return false;
  if (dir == MsgDir::Send) ss->send_res = (flags & ZMQ_SNDMORE) ? ss->holder : 0;
  else ser_quick_recv_done(ss);
  ss->holder = 0;
  ser_turn_unlock(&ss->mu);
  return true;
}
void ser_quick_adopt(SerState* ss, SocketState* st, const char* call, MsgDir dir, int flags, SerCall* c);

// ZMQ_RCVMORE as the calling thread's own last receive on st left it (in
// libzmq it is the socket's, which another thread's first part changes
// between this thread's last part and its question).  False: this thread
// has not received on st; ask libzmq.
//
// Its own last receive under the turn (tls_ser_rcv_ss) is the thread's alone
// and is answered at once.  What it received last as the sole user is what
// the revoker of its bias read from libzmq (bias_last_*) after waiting out
// its calls, under the turn: read with the turn held only (turn_held).
// The bias is dropped before that wait: a question asked meanwhile by a
// sole user that had its bias back after an earlier revocation would read
// that earlier revocation's value.
bool ser_rcvmore(SocketState* st, void* optval, size_t* optvallen, int* rc, bool turn_held);

// One call on a serialized socket.  Every send/receive function of the API
// takes its flags last, so the attempt swaps in ZMQ_DONTWAIT there.
template <FnId Id, typename R, typename... A>
__attribute__((noinline)) bool ser_locked(SocketState* st, const char* name, CallKind kind, R* out,
                                                size_t iov_count, A... a);

template <FnId Id, typename R, typename... A>
__attribute__((always_inline)) inline bool ser_socket_call(SocketState* st, const char* name, CallKind kind, R* out,
                                                          A... a) {
  std::tuple<A...> args(a...);
  size_t iov_count = 0;  // zmq_recviov zeroes *count when its first part fails
  if constexpr (Id == FN_zmq_recviov) {
    // No vector or no room in it: libzmq refuses the call (EINVAL, or
    // ENOTSOCK first) before it touches the socket, so it needs no turn;
    // and there is no *count to keep.
    if (!std::get<1>(args) || !std::get<2>(args) || *std::get<2>(args) == 0) {
      auto fn = reinterpret_cast<R (*)(A...)>(st->real[Id]);
      errno = EINVAL;
      *out = fn ? fn(a...) : static_cast<R>(-1);
      return true;
    }
    iov_count = *std::get<2>(args);
  }
  // The sole user's call: no lock (see SerBias).  ss->st: a state reused
  // for another socket while st sat closed in the quarantine is not this
  // socket's.
  SerState* ss = static_cast<SerState*>(st->ser);
  SerBias* b = ser_bias(ss);
  const uint64_t self = tls_hot.me;
  if (b->bias.load(std::memory_order_relaxed) == self && self != 0 && st->real[Id] && b->st == st &&
      ser_biased_call<Id, R>(st, b, self, out, iov_count, a...) == SerBiased::Done)
    return true;
  return ser_locked<Id, R>(st, name, kind, out, iov_count, a...);
}

// After ser_quick_begin and one attempt that failed or left waiters: the
// rest of the locked protocol, the turn held (a holds the caller's flags).
template <FnId Id, typename R, typename... A>
__attribute__((noinline)) R ser_quick_rest(SerState* ss, SocketState* st, const char* name, R r,
                                                 size_t iov_count, A... a) {
  constexpr MsgDir dir = msg_dir(Id);
  std::tuple<A...> args(a...);
  auto fn = reinterpret_cast<R (*)(A...)>(st->real[Id]);
  const int flags = std::get<sizeof...(A) - 1>(args);
  std::get<sizeof...(A) - 1>(args) = flags | ZMQ_DONTWAIT;
  SerCall c;
  ser_quick_adopt(ss, st, name, dir, ser_msg_flags<Id>(flags), &c);
  bool ok = r != static_cast<R>(-1);
  while (ser_after(&c, ok)) {
    r = ser_attempt<Id, true>(fn, args, iov_count);
    ok = r != static_cast<R>(-1);
  }
  ser_end(&c);
  return r;
}

// The locked protocol (a shared socket, or a sole user that must wait).
template <FnId Id, typename R, typename... A>
__attribute__((noinline)) bool ser_locked(SocketState* st, const char* name, CallKind kind, R* out,
                                                size_t iov_count, A... a) {
  constexpr MsgDir dir = msg_dir(Id);
  [[maybe_unused]] SerCarryDrop carry_drop;  // a carried deadline is this call's or nobody's
  std::tuple<A...> args(a...);
  auto fn = reinterpret_cast<R (*)(A...)>(st->real[Id]);
  if constexpr (Id == FN_zmq_getsockopt) {
    int rc;
    if (std::get<1>(args) == ZMQ_RCVMORE && ser_rcvmore(st, std::get<2>(args), std::get<3>(args), &rc, false)) {
      *out = rc;
      return true;
    }
  }
  int flags = 0;
  if constexpr (dir != MsgDir::None) {
    flags = std::get<sizeof...(A) - 1>(args);
    SerState* ss = __builtin_expect(fn != nullptr, 1) ? ser_quick_begin(st, dir, name) : nullptr;
    if (__builtin_expect(ss != nullptr, 1)) {
      std::get<sizeof...(A) - 1>(args) = flags | ZMQ_DONTWAIT;
      R r = ser_attempt<Id>(fn, args, iov_count);
      if (__builtin_expect(r != static_cast<R>(-1), 1) && ser_quick_end(ss, dir, ser_msg_flags<Id>(flags))) {
        *out = r;
        return true;
      }
      *out = ser_quick_rest<Id, R>(ss, st, name, r, iov_count, a...);
      return true;
    }
  }
  SerCall c;
  int begun = ser_begin(st, name, kind, dir, ser_msg_flags<Id>(flags), &c);
  if (begun == 0) return false;
  if (begun < 0) {
    *out = fail_value<R>();
    return true;
  }
  R r;
  if (__builtin_expect(!fn, 0)) {
    ser_end(&c);
    errno = ENOTSUP;  // a draft function this libzmq does not have
    *out = fail_value<R>();
    return true;
  }
  if constexpr (dir == MsgDir::None) {
    bool answered = false;
    if constexpr (Id == FN_zmq_getsockopt) {
      int rc;
      if (std::get<1>(args) == ZMQ_RCVMORE && ser_rcvmore(st, std::get<2>(args), std::get<3>(args), &rc, true)) {
        r = rc;
        answered = true;
      }
    }
    // The bias holder's own first call can come here, the bias (and so the
    // wake-up timeouts) given at its ser_begin.
    if (!answered && !ser_timeout_option<Id, R>(ser_bias(c.ss), st->real, &r, a...)) {
      Bypass nested;
      r = fn(a...);
    }
    c.saved_errno = errno;
  } else {
    std::get<sizeof...(A) - 1>(args) = flags | ZMQ_DONTWAIT;
    for (;;) {
      r = ser_attempt<Id, true>(fn, args, iov_count);
      if (!ser_after(&c, r != static_cast<R>(-1))) break;
    }
  }
  ser_end(&c);
  *out = r;
  return true;
}

}  // namespace zg
