// SPDX-License-Identifier: MIT
// A serialized socket's turn state (SerState) and the small pieces every
// path of serialize mode shares: the sole user's bias as its fast path reads
// it, the waiter records, one call in progress, one attempt in libzmq.
#pragma once
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <atomic>
#include <tuple>
#include <type_traits>
#include <utility>

#include "core/api.h"
#include "core/policy.h"
#include "core/registry.h"
#include "core/threads.h"
#include "serialize/turn.h"

namespace zg {

// A call's arguments, one word each, kept in memory across the call into
// libzmq by the paths that must call again after a failed attempt: a store
// each, where keeping them in saved registers costs a push, a move and a
// pop each (see ser_owner in serialize/dispatch.h).
struct SerHeld {
  uint64_t w[4] = {};
};

template <typename... A, size_t... I>
__attribute__((always_inline)) inline void ser_hold(SerHeld* h, std::index_sequence<I...>, A... a) {
  static_assert(sizeof...(A) <= sizeof(h->w) / sizeof(h->w[0]), "SerHeld needs a word per argument");
  static_assert(((std::is_trivially_copyable<A>::value && sizeof(A) <= sizeof(uint64_t)) && ...), "one word each");
  (memcpy(&h->w[I], &a, sizeof(A)), ...);
}
template <typename T>
__attribute__((always_inline)) inline T ser_held(const SerHeld* h, size_t i) {
  T v;
  memcpy(&v, &h->w[i], sizeof(T));
  return v;
}

// The part of a socket's turn state the biased path reads (SerState has
// the rest).  While one thread is the socket's only user it holds the
// bias and calls libzmq without the lock, as it would without the guard,
// waiting calls included; `busy` marks each call.  A second thread revokes
// the bias (membarrier, then waits for busy to clear) and from then on every
// call takes the lock.  A waiting call cannot be interrupted from outside
// libzmq, so while the bias is held the socket's ZMQ_RCVTIMEO and
// ZMQ_SNDTIMEO are at most kSerWakeMs: a call that waits longer than that
// returns EAGAIN to the guard, which calls again unless the bias was revoked
// (or the user's own timeout ran out).  A revoker waits at most that long.
struct SerBias {
  std::atomic<uint64_t> bias{0};
  std::atomic<int> busy{0};  // 1: inside a set-up or option call; 2: inside a send or receive
  int send_flags = 0;        // the biased thread's last successful send's flags (ZMQ_SNDMORE: a message in the middle)
  bool timeouts_set = false;  // libzmq has the wake-up timeouts, not the user's
  int wake_cut = 0;  // ZMQ_RCVTIMEO/ZMQ_SNDTIMEO while libzmq has less than kSerWakeMs for it (ser_biased_again)
  const char* wait_call = nullptr;   // the call that has waited a wake-up period, for the live dump
  int rcvtimeo = -1, sndtimeo = -1;  // the user's, while timeouts_set
  SocketState* st = nullptr;         // the socket it belongs to now (SerState::st)
  // The arguments of the holder's send or receive in flight on the owner
  // path (ser_owner, serialize/dispatch.h): kept here across the call
  // instead of in saved registers, and read back only by an attempt that
  // failed.
  // Only the holder touches them, and only while busy.
  SerHeld held;
};

constexpr int kSerWakeMs = 20;
// What libzmq gets while the bias is held, for the user's timeout `ms`.
inline int ser_wake_timeout(int ms) { return ms < 0 || ms > kSerWakeMs ? kSerWakeMs : ms; }

struct SerWaiter {
  SerWaiter* prev;
  SerWaiter* next;
  uint64_t me;
  int fd;
  short mask;  // ZMQ_POLLIN / ZMQ_POLLOUT it waits for
  bool woken;
  const char* call;
  bool poller;  // zmq_poll: told the socket is ready, it may not use it
};

struct SerState {
  SerBias b;  // first: the biased path reads it from the header
  // Read on every call, written rarely: kept off the turn's cache line, so
  // that a thread checking them does not steal the line from the holder.
  SocketState* st = nullptr;
  void* handle = nullptr;
  void* const* real = nullptr;
  // Who has used the socket: the first thread (the claimant) and whether a
  // second one came while the claimant was alive.  Read without the lock.
  std::atomic<uint64_t> claimant{0};
  std::atomic<bool> shared{false};
  std::atomic<bool> closed{false};
  // RCVMORE as the last biased receive left it, for that thread's next
  // question after the bias was revoked.
  std::atomic<uint64_t> bias_last_thread{0};
  std::atomic<int> bias_last_more{0};
  int zfd = -1;  // the socket's ZMQ_FD, read once
  SerState* next_all = nullptr;
  SerState* next_free = nullptr;
  // The bias holder a revoker waits for (ser_unbias), while it does; 0 else.
  std::atomic<uint64_t> revoking{0};
  // The turn and what only its holder touches, on a line of their own.
  alignas(64) SerTurn mu;
  // Under mu.
  uint64_t holder = 0;
  const char* holder_call = nullptr;
  SerHeld held;  // the holder's arguments, on the straight path (ser_shared)
  uint64_t send_res = 0;  // thread in the middle of a multipart send
  uint64_t recv_res = 0;  // thread in the middle of a multipart receive
  int nwaiters = 0;
  SerWaiter* waiters = nullptr;
  // The waiters by what a pass could do for them: senders and receivers not
  // woken yet ([0] receive, [1] send), those woken and on their way, and
  // pollers not told yet.  So that a call made while others wait knows in
  // O(1) whether there is anybody to wake (ser_nobody_to_wake).
  int asleep[2] = {0, 0};
  int on_way[2] = {0, 0};
  int pollers_asleep = 0;
};

// Under the turn: no waiter could be woken by a pass now (none asleep, or
// each direction with sleepers has one woken earlier still on its way, who
// passes on itself; no poller left untold).  See ser_wake_pass.
inline bool ser_nobody_to_wake(const SerState* ss) {
  return ss->pollers_asleep == 0 && (ss->asleep[0] == 0 || ss->on_way[0] != 0) &&
         (ss->asleep[1] == 0 || ss->on_way[1] != 0);
}

extern uint32_t g_fork_gen;  // guard.h
// SerBias is the first member of the standard-layout SerState (and a
// turn is a SerState's mu: ser_turn_lock_slow finds its state from it).
static_assert(std::is_standard_layout<SerState>::value, "ser_bias() casts a SerState to its first member");
inline SerBias* ser_bias(SerState* ss) { return reinterpret_cast<SerBias*>(ss); }
// This thread's last locked receive: on which state, and its RCVMORE.  A
// biased receive clears it (libzmq's own answer is right again).
extern __thread SerState* tls_ser_rcv_ss ZG_TLS;
inline void ser_biased_recv() { tls_ser_rcv_ss = nullptr; }

// The flags by which a successful send says whether it left its message
// open (ZMQ_SNDMORE: the thread is in the middle of a multipart message).
// zmq_sendiov never does: libzmq sends the vector in one go and clears
// ZMQ_SNDMORE on its last part (with the flag the parts make one whole
// message, without it each part is a message of its own).
template <FnId Id>
constexpr int ser_msg_flags(int flags) {
  return Id == FN_zmq_sendiov ? flags & ~ZMQ_SNDMORE : flags;
}

// A sole user's waiting call whose bias was revoked while it waited goes on
// under the turn (ser_locked) with the deadline it had: set by
// ser_biased_wait, taken by that call's first wait (ser_arm_deadline), dropped
// when ser_locked returns (and by ser_slow, for a call that goes
// another way), so that no later call finds it.
struct SerCarry {
  SerBias* b;
  MsgDir dir;
  int64_t deadline_ns;  // CLOCK_MONOTONIC
};
extern __thread SerCarry tls_ser_carry ZG_TLS;
struct SerCarryDrop {
  ~SerCarryDrop() { tls_ser_carry.b = nullptr; }
};

// One serialized call in progress (lives on the caller's stack).
struct SerCall {
  SocketState* st = nullptr;
  SerState* ss = nullptr;
  const char* call = nullptr;
  uint64_t me = 0;
  MsgDir dir = MsgDir::None;
  int flags = 0;             // the caller's flags
  bool deadline_set = false;
  bool forever = false;
  int64_t deadline_ns = 0;   // CLOCK_MONOTONIC
  int saved_errno = 0;
};

// libzmq forwards zmq_sendmsg/zmq_recvmsg through its exported
// zmq_msg_send/zmq_msg_recv: that nested call is part of this one and must
// not ask for the turn again.
template <FnId Id>
struct SerForwards {
  static constexpr bool value = Id == FN_zmq_sendmsg || Id == FN_zmq_recvmsg;
};
template <bool On>
struct SerMaybeBypass {
  Bypass b;
};
template <>
struct SerMaybeBypass<false> {};

// One attempt of a call in libzmq, with args as they go there (ZMQ_DONTWAIT
// already set where the protocol wants it); zmq_recviov gets its *count
// back first (libzmq zeroes it when a receive fails).  Full: inside a whole
// pass-through region (the locked protocol's attempts); else only around
// the calls libzmq forwards through its own API.
template <FnId Id, bool Full = false, typename R, typename... A>
__attribute__((always_inline)) inline R ser_attempt(R (*fn)(A...), std::tuple<A...>& args, size_t iov_count) {
  if constexpr (Id == FN_zmq_recviov) *std::get<2>(args) = iov_count;
  if constexpr (Full) {
    Bypass nested;
    return std::apply(fn, args);
  } else {
    [[maybe_unused]] SerMaybeBypass<SerForwards<Id>::value> nested;
    return std::apply(fn, args);
  }
}

}  // namespace zg
