// SPDX-License-Identifier: MIT
// The sole user's bias: while one thread is a socket's only user it calls
// libzmq without the turn, as it would without the guard (SerBias), and a
// second thread revokes the bias before it takes the turn.
#pragma once
#include <errno.h>
#include <stdint.h>

#include <tuple>

#include "serialize/state.h"

namespace zg {

// Biasing needs membarrier(2) (Linux 4.14): without it every call locks.
bool ser_bias_ok();
// Turn held: the bias and the ownership that lets its holder take the owner
// path, dropped together.
void ser_drop_bias(SerState* ss);
// Turn held, by the thread about to get the bias: libzmq gets the wake-up
// timeouts, the user's are kept.  False if that failed (then no bias).
bool ser_set_wake_timeouts(SerState* ss);
// Turn held, the socket shared from now on: the user's timeouts again.
void ser_restore_timeouts(SerState* ss);
// Turn held, by a thread other than the bias holder: revokes the bias and
// waits out the holder's call in flight (a wake-up period at most).
void ser_unbias(SerState* ss, uint64_t me);

// After the bias holder's send or receive (its busy mark cleared or about to
// be): what a revoker and the holder's next RCVMORE question need.  flags:
// the call's own.
template <MsgDir dir, typename R>
inline void ser_biased_after(SerBias* b, R r, int flags) {
  static_assert(dir != MsgDir::None, "sends and receives only");
  if constexpr (dir == MsgDir::Send) {
    if (r != static_cast<R>(-1)) b->send_flags = flags;
  } else {
    ser_biased_recv();
  }
}

// The sole user's call (its thread holds the bias).  Done: *out and errno
// are the call's.  Gone: the bias was revoked before the call reached
// libzmq, or while it waited there (nothing done): take the locked path.
enum class SerBiased : uint8_t { Done, Gone };

// Out of line, for ser_biased_call: the bias holder's option calls on the
// two timeouts (the user's values are kept; libzmq gets the wake-up ones);
// a waiting call that came back with -1: should it call again?  (EAGAIN
// after a wake-up period, or EINTR from the live dump's stack sample.)
// Gone when the bias was revoked meanwhile.
int ser_biased_option(SerBias* b, void* const* real, void* s, int option, const void* in, void* out,
                      size_t* outlen, size_t inlen, bool set, bool* handled);
// zmq_setsockopt/zmq_getsockopt of ZMQ_RCVTIMEO or ZMQ_SNDTIMEO while the
// wake-up timeouts are in place (the bias holder's call, biased or under the
// turn): the user's value is kept and answered.  False: not such a call.
template <FnId Id, typename R, typename... A>
inline bool ser_timeout_option(SerBias* b, void* const* real, R* out, A... a) {
  if constexpr (Id == FN_zmq_setsockopt || Id == FN_zmq_getsockopt) {
    std::tuple<A...> args(a...);
    const int option = std::get<1>(args);
    if (__builtin_expect(option != ZMQ_RCVTIMEO && option != ZMQ_SNDTIMEO, 1) || !b->timeouts_set) return false;
    bool handled = false;
    int rc;
    if constexpr (Id == FN_zmq_setsockopt)
      rc = ser_biased_option(b, real, std::get<0>(args), option, std::get<2>(args), nullptr, nullptr,
                             std::get<3>(args), true, &handled);
    else
      rc = ser_biased_option(b, real, std::get<0>(args), option, nullptr, std::get<2>(args), std::get<3>(args), 0,
                             false, &handled);
    if (handled) *out = rc;
    return handled;
  } else {
    return false;
  }
}
enum class SerAgain : uint8_t { No, Yes, Gone };
SerAgain ser_biased_again(SerBias* b, MsgDir dir, uint64_t self, int64_t* deadline_ns, const char* call);
// After the shortened last attempt of a wait (SerBias::wake_cut) succeeded:
// libzmq gets the wake-up timeout back (before busy is cleared).
void ser_biased_uncut(SerBias* b);

// A waiting send or receive of the bias holder that came back with -1:
// calls again while it should (see SerBias), then finishes.  Everything
// but the arguments is found again from b (and the caller is the holder,
// tls_hot.me), so that the holder's call keeps little alive across it.
template <FnId Id, typename R, typename... A>
__attribute__((noinline)) SerBiased ser_biased_wait(SerBias* b, R* out, size_t iov_count, A... a) {
  constexpr MsgDir dir = msg_dir(Id);
  const uint64_t self = tls_hot.me;
  auto fn = reinterpret_cast<R (*)(A...)>(b->st->real[Id]);
  std::tuple<A...> args(a...);
  int64_t deadline_ns = 0;
  R r = static_cast<R>(-1);
  for (;;) {
    SerAgain again = ser_biased_again(b, dir, self, &deadline_ns, kFnNames[Id]);  // busy cleared unless Yes
    if (again == SerAgain::Gone) {
      if (deadline_ns != 0) tls_ser_carry = {b, dir, deadline_ns};  // for the locked protocol's wait
      return SerBiased::Gone;
    }
    if (again == SerAgain::No) break;
    r = ser_attempt<Id>(fn, args, iov_count);
    if (r != static_cast<R>(-1)) {
      if (b->wake_cut) ser_biased_uncut(b);
      b->busy.store(0, std::memory_order_release);
      break;
    }
  }
  ser_biased_after<dir>(b, r, ser_msg_flags<Id>(std::get<sizeof...(A) - 1>(args)));
  *out = r;
  return SerBiased::Done;
}

// The bias holder's call: straight into libzmq, as without the guard,
// marked by `busy` (set before the bias is looked at: the revoker's
// membarrier orders the two).  iov_count: zmq_recviov's *count on entry
// (libzmq zeroes it when a receive fails, and a call again needs it back).
template <FnId Id, typename R, typename... A>
__attribute__((always_inline)) inline SerBiased ser_biased_call(SocketState* st, SerBias* b, uint64_t self, R* out,
                                                             size_t iov_count, A... a) {
  constexpr MsgDir dir = msg_dir(Id);
  auto fn = reinterpret_cast<R (*)(A...)>(st->real[Id]);
  std::tuple<A...> args(a...);
  b->busy.store(dir == MsgDir::None ? 1 : 2, std::memory_order_relaxed);
  __asm__ __volatile__("" ::: "memory");  // the revoker's membarrier orders this store before the load below
  if (__builtin_expect(relaxed_peek(b->bias) != self, 0)) {
    b->busy.store(0, std::memory_order_release);
    return SerBiased::Gone;
  }
  R r;
  if (ser_timeout_option<Id, R>(b, st->real, out, a...)) {
    b->busy.store(0, std::memory_order_release);
    return SerBiased::Done;
  }
  r = ser_attempt<Id>(fn, args, iov_count);
  if constexpr (dir != MsgDir::None) {
    if (__builtin_expect(r == static_cast<R>(-1), 0) && !(std::get<sizeof...(A) - 1>(args) & ZMQ_DONTWAIT))
      return ser_biased_wait<Id, R>(b, out, iov_count, a...);
  }
  b->busy.store(0, std::memory_order_release);
  if constexpr (dir != MsgDir::None) ser_biased_after<dir>(b, r, ser_msg_flags<Id>(std::get<sizeof...(A) - 1>(args)));
  *out = r;
  return SerBiased::Done;
}

}  // namespace zg
