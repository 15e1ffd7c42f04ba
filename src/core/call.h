// SPDX-License-Identifier: MIT
// One call on a socket the owner's fast path did not take: the guard's
// checks around it (guard_enter, guard_leave), the pipe order of a send or
// receive (core/order.h), and the call into the socket's libzmq copy.  For
// the interposition layer's slow path, and for serialize mode's calls on
// sockets it does not serialize.  Templates over the API table (core/api.h),
// so that each function keeps its own signature all the way.
#pragma once
#include <errno.h>
#include <stddef.h>

#include <tuple>
#include <type_traits>

#include "core/api.h"
#include "core/guard.h"
#include "core/order.h"
#include "core/registry.h"
#include "core/threads.h"

#define ZG_LIKELY(x) __builtin_expect(!!(x), 1)
#define ZG_UNLIKELY(x) __builtin_expect(!!(x), 0)

namespace zg {

// What a failed call returns: -1, NULL, or 0 for an unsigned result
// (zmq_connect_peer's routing id).
template <typename R>
constexpr R fail_value() {
  if constexpr (std::is_pointer<R>::value) return nullptr;
  else if constexpr (std::is_unsigned<R>::value) return 0;
  else return static_cast<R>(-1);
}

// Message parts a send or receive moves: one, but for the vectors (a
// receive's count is what it wrote back).
template <FnId Id, typename... A>
size_t pipe_parts(A... a) {
  if constexpr (Id == FN_zmq_sendiov) {
    return std::get<2>(std::tuple<A...>(a...));
  } else if constexpr (Id == FN_zmq_recviov) {
    size_t* n = std::get<2>(std::tuple<A...>(a...));
    return n ? *n : 1;
  } else {
    return 1;
  }
}

// The checked call: guard_enter decides (and reports), then the call.
template <FnId Id, typename R, typename... A>
__attribute__((noinline)) R slow_call(SocketState* st, void* sock, CallKind kind, const void* ra, A... a) {
  if (st && registry_is_sentinel(st)) st = nullptr;  // a caller passed the sentinel's address
  Ticket t;
  void* const* real = nullptr;
  const char* name = kFnNames[Id];
  if (!guard_enter(sock, st, name, kind, ra, &t, &real)) {
    errno = ENOTSOCK;
    return fail_value<R>();
  }
  auto fn = reinterpret_cast<R (*)(A...)>(real ? real[Id] : nullptr);
  if (ZG_UNLIKELY(!fn)) {
    guard_leave(t, name);
    errno = ENOTSUP;  // a draft function this libzmq does not have
    return fail_value<R>();
  }
  R r;
  // A pipe end's send releases before the call (its message may be
  // received before the call returns); its receive acquires after it.
  constexpr MsgDir dir = msg_dir(Id);
  [[maybe_unused]] uint64_t token = 0;
  if constexpr (dir == MsgDir::Send) {
    if (ZG_UNLIKELY(t.pipe)) token = order_sending(t.st, t.me, pipe_parts<Id>(a...));
  }
  {
    // libzmq forwards some calls through its own exported API
    // (zmq_recvmsg calls zmq_msg_recv): those are part of this call, and a
    // nested mark would clear ours and look like a second thread.
    Bypass b;
    r = fn(a...);
  }
  if constexpr (dir != MsgDir::None) {
    if (ZG_UNLIKELY(t.pipe)) {
      int e = errno;
      const bool ok = r != static_cast<R>(-1);
      if constexpr (dir == MsgDir::Send) order_sent(t.st, token, pipe_parts<Id>(a...), ok);
      else if (ok) order_received(t.st, pipe_parts<Id>(a...));
      errno = e;
    }
  }
  if (t.marked) {
    int e = errno;
    guard_leave(t, name);
    errno = e;
  }
  return r;
}

// Per thread and per wrapper, the state its last owner call used: a hint
// that saves the table probe in the loops that matter (a thread receiving
// on one socket and sending on another hits every time), and a second one,
// the state the first held before (a forwarder alternating two sockets on
// each function hits the one or the other).  Each is checked in
// full, handle and owner, exactly as a table slot is: states are never
// freed, only recycled, so a stale hint is a state whose handle or owner no
// longer matches.  Unused entries hold the table's sentinel, which never
// matches, so the hit needs no null test.
static_assert(FN_COUNT <= kHotSlots, "tls_hot.last needs a slot per interposed function");

// A new state for the hint; the one it replaces becomes the second hint
// (HotTls::prev).
template <FnId Id>
inline void hint_set(SocketHot* st) {
  SocketHot* old = tls_hot.last[Id];
  if (old == st) return;
  tls_hot.prev[Id] = old;
  tls_hot.last[Id] = st;
}

}  // namespace zg
