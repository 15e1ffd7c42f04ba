// SPDX-License-Identifier: MIT
// The interposition layer's calls on sockets in mode=serialize, from the
// wrapper's lookup (ser_call, serialize/serialize.h) and from the owner
// path's trampolines (ser_owner, serialize/owner.cpp), to the sole user's
// biased call, the shared socket's straight turn, or the whole protocol.
// Each function's arguments come first, in the registers they arrived in,
// so that one step to the next is a plain jump; the rare paths are out of
// line.  What serialize mode does not handle goes to the core's slow path
// (core/call.h), never back to the wrappers.
#pragma once
#include <stddef.h>
#include <sys/uio.h>

#include <tuple>
#include <utility>

#include "core/call.h"
#include "core/registry.h"
#include "core/threads.h"
#include "serialize/bias.h"
#include "serialize/locked.h"
#include "serialize/state.h"

namespace zg {

// Of internal linkage, as they were when they lived in the wrappers' file:
// so GCC specializes each instantiation for its constant arguments (the
// call kind) and keeps the rare paths' plain jumps; with external linkage
// the owner path's trampolines passed the kind along and made a call with
// a frame where they jumped.  Only the wrappers (ser_call) and owner.cpp
// (the trampolines) instantiate them, and only zmq_sendiov's by-parts path
// in both.
namespace {

template <FnId Id, bool Draft, typename R, typename... A>
R ser_call(A... a, void* sock, CallKind kind, const void* ra);

// mode=serialize, everything but the sole user's successful attempt: the
// locked protocol, waits, sockets found only by a probe, thread-safe ones.
template <FnId Id, bool Draft, typename R, typename... A>
__attribute__((noinline)) R ser_slow(A... a, void* sock, CallKind kind, const void* ra) {
  // A biased wait revoked on its way here (ser_entry) carries its deadline
  // to ser_locked; if the call goes elsewhere it is nobody's.
  [[maybe_unused]] SerCarryDrop carry_drop;
  if (__builtin_expect(tls_bypass != 0, 0)) {
    // A pass-through call (libzmq forwarding zmq_sendmsg to zmq_msg_send
    // through its API, a zero-copy free callback) is not checked: straight
    // to the socket's own copy, or through the core's slow path to the
    // caller's.
    SocketState* st = registry_lookup(sock);
    auto fn = reinterpret_cast<R (*)(A...)>(st ? st->real[Id] : nullptr);
    if (fn) return fn(a...);
    return slow_call<Id, R, A...>(st, sock, kind, ra, a...);
  }
  // A serialized socket never has an owner, so the wrapper's hint never
  // hits; here it saves the probe.  A hint whose handle matches is the
  // table's state for that handle (a replaced or recycled state has its
  // handle changed first), exactly what the probe would find.
  SocketHot* h = tls_hot.last[Id];
  SocketState* st;
  if (relaxed_peek(h->handle) == sock && h != &g_registry_empty) {
    st = static_cast<SocketState*>(h);
  } else {
    st = registry_lookup(sock);
    if (!st) st = registry_lookup_locked(sock);  // a lock-free miss must not skip the turn
    if (!st) return slow_call<Id, R, A...>(nullptr, sock, kind, ra, a...);
    if (st->ser) hint_set<Id>(st);
  }
  R r;
  if (st->ser && ser_socket_call<Id, R>(st, kFnNames[Id], kind, &r, a...)) return r;
  // Not serialized (a thread-safe socket, libzmq's own) or no longer (closed,
  // inherited across fork): the core's checks, as in the other modes.
  return slow_call<Id, R, A...>(st, sock, kind, ra, a...);
}

// ser_shared's attempt failed, or left waiters to wake: the rest of the
// locked protocol, the turn still this thread's, and with it the arguments
// in ss->held (and ss->st, which ser_quick_held checked is this socket).
template <FnId Id, typename R, typename... A, size_t... I>
__attribute__((noinline)) R ser_shared_rest(SerState* ss, R r, std::index_sequence<I...>) {
  const std::tuple<A...> args(ser_held<A>(&ss->held, I)...);
  return ser_quick_rest<Id, R>(ss, ss->st, kFnNames[Id], r, 0, std::get<I>(args)...);
}

// ser_shared with the turn taken and checked (ser_quick_held): one attempt
// and the turn given up.  The arguments wait in the turn's held words, not
// in saved registers (see ser_owner): only ser_shared_rest reads them back.
template <FnId Id, typename R, typename... A>
__attribute__((always_inline)) inline R ser_shared_turn(SerState* ss, R (*fn)(A...), A... a) {
  constexpr MsgDir dir = msg_dir(Id);
  ser_hold(&ss->held, std::index_sequence_for<A...>{}, a...);
  std::tuple<A...> args(a...);
  std::get<sizeof...(A) - 1>(args) |= ZMQ_DONTWAIT;
  R r = ser_attempt<Id>(fn, args, 0);
  if (ZG_LIKELY(r != static_cast<R>(-1)) &&
      ser_quick_end(ss, dir, ser_msg_flags<Id>(ser_held<int>(&ss->held, sizeof...(A) - 1))))
    return r;
  return ser_shared_rest<Id, R, A...>(ss, r, std::index_sequence_for<A...>{});
}

// The turn is held but the straight path may not go on (ser_quick_held
// said no): give it up, and go the whole protocol's way.
template <FnId Id, bool Draft, typename R, typename... A>
__attribute__((noinline)) R ser_shared_bail(SerState* ss, A... a, void* sock, CallKind kind, const void* ra) {
  ser_turn_unlock(&ss->mu);
  return ser_slow<Id, Draft, R, A...>(a..., sock, kind, ra);
}

// ser_shared when the turn was taken: waits for it (ser_turn_lock), then the
// same.  Apart, so that ser_shared itself makes no call before libzmq's and
// keeps nothing alive across one but its state and result.
template <FnId Id, bool Draft, typename R, typename... A>
__attribute__((noinline)) R ser_shared_wait(A... a, void* sock, CallKind kind, const void* ra) {
  constexpr MsgDir dir = msg_dir(Id);
  auto* st = static_cast<SocketState*>(tls_hot.last[Id]);
  auto* ss = static_cast<SerState*>(st->ser);
  ser_turn_lock(&ss->mu);
  if (ZG_LIKELY(ser_quick_held(ss, st, dir, kFnNames[Id])))
    return ser_shared_turn<Id, R>(ss, reinterpret_cast<R (*)(A...)>(st->real[Id]), a...);
  return ser_shared_bail<Id, Draft, R, A...>(ss, a..., sock, kind, ra);
}

// mode=serialize, a send or receive on a socket shared by several threads
// (ser_call or ser_entry found the hint, not this thread's bias): the turn,
// one attempt, the turn given up, in a straight line when nothing is in the way
// (ser_quick_ok, ser_quick_held); anything else through the whole protocol.
// Both callers have checked the hint (tls_hot.last[Id] is sock's state), so
// it is not checked again; ser_quick_held checks the state under the turn.
template <FnId Id, bool Draft, typename R, typename... A>
__attribute__((noinline)) R ser_shared(A... a, void* sock, CallKind kind, const void* ra) {
  constexpr MsgDir dir = msg_dir(Id);
  static_assert(dir != MsgDir::None && Id != FN_zmq_recviov, "ser_entry's calls only");
  auto* st = static_cast<SocketState*>(tls_hot.last[Id]);
  auto fn = reinterpret_cast<R (*)(A...)>(st->real[Id]);
  auto* ss = static_cast<SerState*>(st->ser);
  if (ZG_LIKELY(fn != nullptr) && ZG_LIKELY(ser_quick_ok(st, ss))) {
    int seen;
    if (ZG_UNLIKELY(!ser_turn_try(&ss->mu, &seen))) return ser_shared_wait<Id, Draft, R, A...>(a..., sock, kind, ra);
    if (ZG_LIKELY(ser_quick_held(ss, st, dir, kFnNames[Id]))) return ser_shared_turn<Id, R>(ss, fn, a...);
    return ser_shared_bail<Id, Draft, R, A...>(ss, a..., sock, kind, ra);
  }
  return ser_slow<Id, Draft, R, A...>(a..., sock, kind, ra);
}

// mode=serialize, the sole user's call found by the hint but not through
// the owner path (the owner path was handed off, or the wrapper's hint held
// another socket).  Kept small so that it saves few registers; anything
// else goes to ser_shared or ser_slow.
template <FnId Id, bool Draft, typename R, typename... A>
__attribute__((noinline)) R ser_entry(A... a, void* sock, CallKind kind, const void* ra) {
  constexpr MsgDir dir = msg_dir(Id);
  if constexpr (dir != MsgDir::None && Id != FN_zmq_recviov) {
    SocketHot* h = tls_hot.last[Id];
    const uint64_t self = tls_hot.me;  // 0 inside a Bypass: never the bias
    if (ZG_LIKELY(relaxed_peek(h->handle) == sock) && ZG_LIKELY(h != &g_registry_empty)) {
      SocketState* st = static_cast<SocketState*>(h);
      auto* ss = static_cast<SerState*>(st->ser);
      SerBias* b = ser_bias(ss);
      if (ZG_LIKELY(ss != nullptr) && ZG_LIKELY(relaxed_peek(b->bias) == self) && self != 0 && b->st == st &&
          st->real[Id]) {
        R r;
        if (ZG_LIKELY((ser_biased_call<Id, R>(st, b, self, &r, 0, a...) == SerBiased::Done))) return r;
        // The bias was revoked: the locked protocol takes over.
      } else {
        return ser_shared<Id, Draft, R, A...>(a..., sock, kind, ra);
      }
    }
  }
  return ser_slow<Id, Draft, R, A...>(a..., sock, kind, ra);
}

// mode=serialize: the owner-path trampoline's everything-but-the-call.
template <FnId Id, bool Draft, typename R, typename... A>
__attribute__((noinline)) R ser_owner_rest(A... a, void* sock, CallKind kind, const void* ra) {
  auto* st = static_cast<SocketState*>(tls_hot.last[Id]);
  R out;
  if (ser_socket_call<Id, R>(st, kFnNames[Id], kind, &out, a...)) return out;
  return slow_call<Id, R, A...>(st, sock, kind, ra, a...);
}

// mode=serialize: the sole user's owner-path attempt came back with -1.
// b is still busy, so b->held is still this call's arguments and b->st
// this socket.  A non-blocking attempt is done; a waiting one waits on as
// ser_biased_call's would (ser_biased_wait), or, if a second thread
// revoked the bias meanwhile, goes on under the turn.
template <FnId Id, bool Draft, typename R, typename... A, size_t... I>
__attribute__((noinline)) R ser_owner_failed(SerBias* b, R r, CallKind kind, const void* ra,
                                             std::index_sequence<I...>) {
  constexpr MsgDir dir = msg_dir(Id);
  const std::tuple<A...> args(ser_held<A>(&b->held, I)...);
  const int flags = std::get<sizeof...(A) - 1>(args);
  if (flags & ZMQ_DONTWAIT) {
    b->busy.store(0, std::memory_order_release);
    ser_biased_after<dir>(b, r, ser_msg_flags<Id>(flags));
    return r;
  }
  void* sock = relaxed_peek(b->st->handle);  // read while busy: the socket cannot be closed yet
  R out;
  if (ser_biased_wait<Id, R>(b, &out, 0, std::get<I>(args)...) == SerBiased::Done) return out;
  return ser_owner_rest<Id, Draft, R, A...>(std::get<I>(args)..., sock, kind, ra);
}

// mode=serialize: a zmq_sendiov of several parts without ZMQ_SNDMORE, which
// libzmq sends as that many messages, one zmq_msg_send each (ZMQ_SNDMORE
// only ever joins the parts into one message, and is cleared on the last).
// Sent whole, one part that has to wait (the guard's ZMQ_DONTWAIT attempt,
// or the sole user's wake-up period) fails the vector with the parts before
// it already sent, and the call made again sends them again: the guard
// sends the parts one zmq_sendiov each instead, as libzmq does, so that
// only the part that waited is tried again.  (With ZMQ_SNDMORE the parts
// after the first never wait: libzmq counts whole messages against the
// high-water mark.)
template <bool Draft>
__attribute__((noinline)) int ser_sendiov_parts(void* s, struct iovec* iov, size_t count, int flags, void* sock,
                                                CallKind kind, const void* ra) {
  int r = -1;
  for (size_t i = 0; i < count; i++) {
    r = ser_call<FN_zmq_sendiov, Draft, int, void*, struct iovec*, size_t, int>(s, iov + i, 1, flags, sock, kind, ra);
    if (r < 0) break;
  }
  return r;
}
// Whether a zmq_sendiov goes part by part (ser_sendiov_parts).
template <FnId Id, typename... A>
__attribute__((always_inline)) inline bool ser_by_parts(A... a) {
  if constexpr (Id == FN_zmq_sendiov) {
    std::tuple<A...> args(a...);
    return std::get<2>(args) > 1 && std::get<1>(args) && !(std::get<3>(args) & ZMQ_SNDMORE) && !tls_bypass;
  } else {
    return false;
  }
}

// mode=serialize: what the owner path jumps to (SocketHot::owner_fn) for
// the thread holding a serialized socket's bias, which ser_begin makes the
// socket's owner while it holds it.  So the sole user's send or receive
// pays the owner path's hint check and then only its call, straight into
// libzmq: no probe, no lock; its busy mark is what a revoker waits out
// (ser_unbias).  Invariants that make it check nothing else: the wrapper's
// owner_call is the only caller, and its caller (the wrapper's hint check;
// in mode=serialize the wrappers' lookup_rest is not reached) has
// tls_hot.last[Id] pointing at this socket's
// state; owner_fn is this table only once st->ser is set, and st->ser
// stays this socket's turn state until its close, which revokes the bias
// (and the ownership) before it goes on.
//
// The call needs a frame (busy is cleared after it), and what makes a
// frame dear is keeping the arguments alive across the call for the rare
// attempt made again: saved registers, each a push, a move and a pop.  So
// they are stored in b->held, one store each, and only b stays in a
// register.  This is ser_biased_call, laid out for that; calls that
// libzmq forwards through its own API (a pass-through region around them)
// and zmq_recviov (its *count restored before each attempt) take that one.
template <FnId Id, bool Draft, typename R, typename... A>
__attribute__((always_inline)) inline R ser_owner(void* sock, CallKind kind, A... a) {
  constexpr MsgDir dir = msg_dir(Id);
  if constexpr (Id == FN_zmq_sendiov) {
    if (ser_by_parts<Id>(a...)) return ser_sendiov_parts<Draft>(a..., sock, kind, __builtin_return_address(0));
  }
  if constexpr (dir != MsgDir::None && Id != FN_zmq_recviov && !SerForwards<Id>::value) {
    auto* st = static_cast<SocketState*>(tls_hot.last[Id]);
    SerBias* b = ser_bias(static_cast<SerState*>(st->ser));
    auto fn = reinterpret_cast<R (*)(A...)>(st->real[Id]);
    b->busy.store(2, std::memory_order_relaxed);
    __asm__ __volatile__("" ::: "memory");  // the revoker's membarrier orders this store before the load below
    if (ZG_LIKELY(relaxed_peek(b->bias) == tls_hot.me)) {
      ser_hold(&b->held, std::index_sequence_for<A...>{}, a...);
      R r = fn(a...);
      if (ZG_UNLIKELY(r == static_cast<R>(-1)))
        return ser_owner_failed<Id, Draft, R, A...>(b, r, kind, __builtin_return_address(0),
                                                    std::index_sequence_for<A...>{});
      b->busy.store(0, std::memory_order_release);
      ser_biased_after<dir>(b, r, ser_msg_flags<Id>(ser_held<int>(&b->held, sizeof...(A) - 1)));
      return r;
    }
    b->busy.store(0, std::memory_order_release);
  } else if constexpr (dir != MsgDir::None && Id != FN_zmq_recviov) {
    auto* st = static_cast<SocketState*>(tls_hot.last[Id]);
    R r;
    if (ZG_LIKELY((ser_biased_call<Id, R>(st, ser_bias(static_cast<SerState*>(st->ser)), tls_hot.me, &r, 0, a...) ==
                   SerBiased::Done)))
      return r;
  }
  return ser_owner_rest<Id, Draft, R, A...>(a..., sock, kind, __builtin_return_address(0));
}

// A call on a socket from the wrappers' lookup (the owner's hint missed) in
// mode=serialize: whatever the socket needs, down to the core's slow path
// for one serialize mode does not handle.  Inlined there: only loads and
// plain jumps, so the wrapper's lookup keeps no frame.
template <FnId Id, bool Draft, typename R, typename... A>
__attribute__((always_inline)) inline R ser_call(A... a, void* sock, CallKind kind, const void* ra) {
  if constexpr (Id == FN_zmq_sendiov) {
    if (ser_by_parts<Id>(a...)) return ser_sendiov_parts<Draft>(a..., sock, kind, ra);
  }
  if constexpr (msg_dir(Id) != MsgDir::None && Id != FN_zmq_recviov) {
    // A shared socket (nobody's bias) skips ser_entry's frame.  Only
    // loads here, so the caller stays two plain jumps.
    SocketHot* h = tls_hot.last[Id];
    if (relaxed_peek(h->handle) == sock && h != &g_registry_empty) {
      auto* ss = static_cast<SerState*>(static_cast<SocketState*>(h)->ser);
      if (ss && relaxed_peek(ser_bias(ss)->bias) == 0) return ser_shared<Id, Draft, R, A...>(a..., sock, kind, ra);
    }
  }
  return ser_entry<Id, Draft, R, A...>(a..., sock, kind, ra);
}

}  // namespace
}  // namespace zg
