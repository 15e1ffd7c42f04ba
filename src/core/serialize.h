// mode=serialize: calls on a socket take turns without holding the socket
// across a blocking wait (see serialize.cpp for the protocol).
//
// Every call on a serialized socket runs inside libzmq under the socket's
// turn lock, and every send/receive runs there with ZMQ_DONTWAIT: a call
// that would block gives the turn up, waits on the socket's ZMQ_FD and a
// per-thread wake-up fd, and tries again.  So a thread blocked in recv never
// keeps another thread from sending the request that produces its reply.
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

namespace zg {

// A call's arguments, one word each, kept in memory across the call into
// libzmq by the paths that must call again after a failed attempt: a store
// each, where keeping them in saved registers costs a push, a move and a
// pop each (see ser_owner in wrappers.cpp).
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

// The part of a socket's turn state the biased path reads (serialize.cpp
// has the rest).  While one thread is the socket's only user it holds the
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
  // path (ser_owner in wrappers.cpp): kept here across the call instead of
  // in saved registers, and read back only by an attempt that failed.
  // Only the holder touches them, and only while busy.
  SerHeld held;
};

constexpr int kSerWakeMs = 20;
// What libzmq gets while the bias is held, for the user's timeout `ms`.
inline int ser_wake_timeout(int ms) { return ms < 0 || ms > kSerWakeMs ? kSerWakeMs : ms; }
// The turn lock: a futex word (0 free, 1 held, 2 held and contended), so
// that the uncontended turn costs one atomic each way instead of
// pthread_mutex's bookkeeping.  The slow paths keep errno: callers hand
// libzmq's errno back to the user after giving the turn up.  Under
// sustained contention a release wakes a sleeper at most once per
// kTurnQuantumNs, and sleepers look at the turn again after that long on
// their own (turn_lock_slow has why).
struct TurnLock {
  std::atomic<int> v{0};
  std::atomic<int64_t> woke_at{0};  // mono_ns() of the last release that woke a sleeper
};
constexpr int64_t kTurnQuantumNs = 50 * 1000;
constexpr int kTurnShortNaps = 16;
constexpr int64_t kTurnNapMaxNs = kTurnQuantumNs * 512;  // 25.6 ms

void turn_lock_slow(TurnLock* l, int c);
void turn_unlock_slow(TurnLock* l);

// Takes the turn if it is free; *seen: the lock word found otherwise.
inline bool turn_try(TurnLock* l, int* seen) {
  *seen = 0;
  return l->v.compare_exchange_strong(*seen, 1, std::memory_order_acquire, std::memory_order_relaxed);
}

inline void turn_lock(TurnLock* l) {
  int c;
  if (__builtin_expect(!turn_try(l, &c), 0)) turn_lock_slow(l, c);
}

inline void turn_unlock(TurnLock* l) {
  if (__builtin_expect(l->v.exchange(0, std::memory_order_release) != 1, 0)) turn_unlock_slow(l);
}

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
  // The bias holder a revoker waits for (unbias), while it does; 0 else.
  std::atomic<uint64_t> revoking{0};
  // The turn and what only its holder touches, on a line of their own.
  alignas(64) TurnLock mu;
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
// passes on itself; no poller left untold).  See wake_pass.
inline bool ser_nobody_to_wake(const SerState* ss) {
  return ss->pollers_asleep == 0 && (ss->asleep[0] == 0 || ss->on_way[0] != 0) &&
         (ss->asleep[1] == 0 || ss->on_way[1] != 0);
}

extern uint32_t g_fork_gen;  // guard.h
// SerBias is the first member of the standard-layout SerState.
inline SerBias* ser_bias(SerState* ss) { return reinterpret_cast<SerBias*>(ss); }
// This thread's last locked receive: on which state, and its RCVMORE.  A
// biased receive clears it (libzmq's own answer is right again).
extern __thread SerState* tls_rcv_ss ZG_TLS;
inline void ser_biased_recv() { tls_rcv_ss = nullptr; }

enum class SerDir : uint8_t { None, Send, Recv };

// The flags by which a successful send says whether it left its message
// open (ZMQ_SNDMORE: the thread is in the middle of a multipart message).
// zmq_sendiov never does: libzmq sends the vector in one go and clears
// ZMQ_SNDMORE on its last part (with the flag the parts make one whole
// message, without it each part is a message of its own).
template <FnId Id>
constexpr int ser_msg_flags(int flags) {
  return Id == FN_zmq_sendiov ? flags & ~ZMQ_SNDMORE : flags;
}

// After the bias holder's send or receive (its busy mark cleared or about to
// be): what a revoker and the holder's next RCVMORE question need.  flags:
// the call's own.
template <SerDir dir, typename R>
inline void ser_biased_after(SerBias* b, R r, int flags) {
  static_assert(dir != SerDir::None, "sends and receives only");
  if constexpr (dir == SerDir::Send) {
    if (r != static_cast<R>(-1)) b->send_flags = flags;
  } else {
    ser_biased_recv();
  }
}

// A sole user's waiting call whose bias was revoked while it waited goes on
// under the turn (serialize_locked) with the deadline it had: set by
// ser_biased_wait, taken by that call's first wait (arm_deadline), dropped
// when serialize_locked returns (and by ser_slow, for a call that goes
// another way), so that no later call finds it.
struct SerCarry {
  SerBias* b;
  SerDir dir;
  int64_t deadline_ns;  // CLOCK_MONOTONIC
};
extern __thread SerCarry tls_ser_carry ZG_TLS;
struct SerCarryDrop {
  ~SerCarryDrop() { tls_ser_carry.b = nullptr; }
};

// The sole user's call (its thread holds the bias).  Done: *out and errno
// are the call's.  Gone: the bias was revoked before the call reached
// libzmq, or while it waited there (nothing done): take the locked path.
enum class Biased : uint8_t { Done, Gone };

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
enum class Again : uint8_t { No, Yes, Gone };
Again ser_biased_again(SerBias* b, SerDir dir, uint64_t self, int64_t* deadline_ns, const char* call);
// After the shortened last attempt of a wait (SerBias::wake_cut) succeeded:
// libzmq gets the wake-up timeout back (before busy is cleared).
void ser_biased_uncut(SerBias* b);

// One serialized call in progress (lives on the caller's stack).
struct SerCall {
  SocketState* st = nullptr;
  SerState* ss = nullptr;
  const char* call = nullptr;
  uint64_t me = 0;
  SerDir dir = SerDir::None;
  int flags = 0;             // the caller's flags
  bool deadline_set = false;
  bool forever = false;
  int64_t deadline_ns = 0;   // CLOCK_MONOTONIC
  int saved_errno = 0;
};

// Registers serialize mode's hooks with the core (core/hooks.h): from the
// interposition layer's init, before the program's first socket.
void serialize_init();
// Gives st (st->mu held, mode=serialize, not thread-safe) its turn state.
void serialize_attach(SocketState* st);
// In the child after fork: fresh locks, no waiters, no reservations.
void serialize_after_fork_child();
// A thread exits (its serial): a turn it still holds (it was cancelled
// inside libzmq) and the multipart reservations it held are given up, and
// the waiters look again.
void serialize_thread_exit(uint64_t serial);

// Takes the socket's turn for one call: 1.  0 if the socket is not
// serialized right now (closed, inherited, not yet attached): the caller
// takes the ordinary path, which reports what is wrong.  -1: the call fails
// now with errno (another thread's multipart message did not end in time,
// or the socket was closed while this call waited).
int ser_begin(SocketState* st, const char* call, CallKind kind, SerDir dir, int flags, SerCall* c);
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
  // shared: note_user has nothing left to do.  bias 0: no bias to revoke,
  // and none to give (only an unshared socket's claimant gets it).
  // The state's own closed flag and the bias are read again under the turn.
  return ss && tls_hot.me != 0 && ss->shared.load(std::memory_order_relaxed) &&
         !st->closed.load(std::memory_order_relaxed) && st->fork_gen == g_fork_gen;
}
// Under the turn: true if the straight path goes on (and the turn is
// marked as this thread's); false: the caller gives the turn up.
inline bool ser_quick_held(SerState* ss, SocketState* st, SerDir dir, const char* call) {
  const uint64_t me = tls_hot.me;
  const uint64_t res = dir == SerDir::Send ? ss->send_res : ss->recv_res;
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
inline SerState* ser_quick_begin(SocketState* st, SerDir dir, const char* call) {
  auto* ss = static_cast<SerState*>(st->ser);
  if (!ser_quick_ok(st, ss)) return nullptr;
  turn_lock(&ss->mu);
  if (!ser_quick_held(ss, st, dir, call)) {
    turn_unlock(&ss->mu);
    return nullptr;
  }
  return ss;
}
// After a successful attempt: true if nobody waits, the bookkeeping is done
// and the turn given up (errno untouched).  False: nothing done yet; the
// caller adopts the turn (ser_quick_adopt) and goes on as after ser_begin.
void ser_quick_recv_done(SerState* ss);
inline bool ser_quick_end(SerState* ss, SerDir dir, int flags) {
  // Waiters register only under the turn: none now, or none a pass could
  // wake, means nothing to do for them.
  if (ss->nwaiters != 0 && !ser_nobody_to_wake(ss)) return false;
  if (dir == SerDir::Send) ss->send_res = (flags & ZMQ_SNDMORE) ? ss->holder : 0;
  else ser_quick_recv_done(ss);
  ss->holder = 0;
  turn_unlock(&ss->mu);
  return true;
}
void ser_quick_adopt(SerState* ss, SocketState* st, const char* call, SerDir dir, int flags, SerCall* c);

// ZMQ_RCVMORE as the calling thread's own last receive on st left it (in
// libzmq it is the socket's, which another thread's first part changes
// between this thread's last part and its question).  False: this thread
// has not received on st; ask libzmq.
//
// Its own last receive under the turn (tls_rcv_ss) is the thread's alone
// and is answered at once.  What it received last as the sole user is what
// the revoker of its bias read from libzmq (bias_last_*) after waiting out
// its calls, under the turn: read with the turn held only (turn_held).
// The bias is dropped before that wait: a question asked meanwhile by a
// sole user that had its bias back after an earlier revocation would read
// that earlier revocation's value.
bool ser_rcvmore(SocketState* st, void* optval, size_t* optvallen, int* rc, bool turn_held);

// zmq_close of a serialized socket: waits for the turn, and afterwards
// wakes every waiter (they fail with ENOTSOCK, as on a closed socket).
SerState* ser_close_begin(SocketState* st);
void ser_close_end(SerState* ss, int rc);

// zmq_poll when every socket item is a serialized socket, however many
// items (plain fds may be among them).  Returns false otherwise (the caller
// polls as usual).
bool serialize_poll(zmq_pollitem_t* items, int nitems, long timeout, int* rc);

// zmq_proxy / zmq_proxy_steerable / zmq_device when the sockets are
// serialized (socks: frontend, backend, capture[, control]; the capture
// socket may be thread-safe instead).  False: not all are; libzmq proxies.
bool serialize_proxy(void* const* socks, int nsocks, bool steerable, int* rc);

// For the live dump: calls fn for each thread holding the turn or waiting
// on st (serial, tid, call name, waiting?).
void ser_for_each_thread(SocketState* st, void (*fn)(uint64_t serial, const char* call, bool waiting, void*),
                         void* ctx);

// libzmq forwards zmq_sendmsg/zmq_recvmsg through its exported
// zmq_msg_send/zmq_msg_recv: that nested call is part of this one and must
// not ask for the turn again.
template <FnId Id>
struct ForwardsThroughApi {
  static constexpr bool value = Id == FN_zmq_sendmsg || Id == FN_zmq_recvmsg;
};
template <bool On>
struct MaybeBypass {
  Bypass b;
};
template <>
struct MaybeBypass<false> {};

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
    [[maybe_unused]] MaybeBypass<ForwardsThroughApi<Id>::value> nested;
    return std::apply(fn, args);
  }
}

template <FnId Id>
struct SerTraits {
  static constexpr SerDir dir = SerDir::None;
};
#define ZG_SER_DIR(name, d)                        \
  template <>                                      \
  struct SerTraits<FN_##name> {                    \
    static constexpr SerDir dir = SerDir::d;       \
  };
ZG_SER_DIR(zmq_send, Send)
ZG_SER_DIR(zmq_send_const, Send)
ZG_SER_DIR(zmq_msg_send, Send)
ZG_SER_DIR(zmq_sendmsg, Send)
ZG_SER_DIR(zmq_sendiov, Send)
ZG_SER_DIR(zmq_recv, Recv)
ZG_SER_DIR(zmq_msg_recv, Recv)
ZG_SER_DIR(zmq_recvmsg, Recv)
ZG_SER_DIR(zmq_recviov, Recv)
#undef ZG_SER_DIR

// One call on a serialized socket.  Every send/receive function of the API
// takes its flags last, so the attempt swaps in ZMQ_DONTWAIT there.
template <FnId Id, typename R, typename... A>
__attribute__((noinline)) bool serialize_locked(SocketState* st, const char* name, CallKind kind, R* out,
                                                size_t iov_count, A... a);

// A waiting send or receive of the bias holder that came back with -1:
// calls again while it should (see SerBias), then finishes.  Everything
// but the arguments is found again from b (and the caller is the holder,
// tls_hot.me), so that the holder's call keeps little alive across it.
template <FnId Id, typename R, typename... A>
__attribute__((noinline)) Biased ser_biased_wait(SerBias* b, R* out, size_t iov_count, A... a) {
  constexpr SerDir dir = SerTraits<Id>::dir;
  const uint64_t self = tls_hot.me;
  auto fn = reinterpret_cast<R (*)(A...)>(b->st->real[Id]);
  std::tuple<A...> args(a...);
  int64_t deadline_ns = 0;
  R r = static_cast<R>(-1);
  for (;;) {
    Again again = ser_biased_again(b, dir, self, &deadline_ns, kFnNames[Id]);  // busy cleared unless Yes
    if (again == Again::Gone) {
      if (deadline_ns != 0) tls_ser_carry = {b, dir, deadline_ns};  // for the locked protocol's wait
      return Biased::Gone;
    }
    if (again == Again::No) break;
    r = ser_attempt<Id>(fn, args, iov_count);
    if (r != static_cast<R>(-1)) {
      if (b->wake_cut) ser_biased_uncut(b);
      b->busy.store(0, std::memory_order_release);
      break;
    }
  }
  ser_biased_after<dir>(b, r, ser_msg_flags<Id>(std::get<sizeof...(A) - 1>(args)));
  *out = r;
  return Biased::Done;
}

// The bias holder's call: straight into libzmq, as without the guard,
// marked by `busy` (set before the bias is looked at: the revoker's
// membarrier orders the two).  iov_count: zmq_recviov's *count on entry
// (libzmq zeroes it when a receive fails, and a call again needs it back).
template <FnId Id, typename R, typename... A>
__attribute__((always_inline)) inline Biased ser_biased_call(SocketState* st, SerBias* b, uint64_t self, R* out,
                                                             size_t iov_count, A... a) {
  constexpr SerDir dir = SerTraits<Id>::dir;
  auto fn = reinterpret_cast<R (*)(A...)>(st->real[Id]);
  std::tuple<A...> args(a...);
  b->busy.store(dir == SerDir::None ? 1 : 2, std::memory_order_relaxed);
  __asm__ __volatile__("" ::: "memory");  // the revoker's membarrier orders this store before the load below
  if (__builtin_expect(relaxed_peek(b->bias) != self, 0)) {
    b->busy.store(0, std::memory_order_release);
    return Biased::Gone;
  }
  R r;
  if (ser_timeout_option<Id, R>(b, st->real, out, a...)) {
    b->busy.store(0, std::memory_order_release);
    return Biased::Done;
  }
  r = ser_attempt<Id>(fn, args, iov_count);
  if constexpr (dir != SerDir::None) {
    if (__builtin_expect(r == static_cast<R>(-1), 0) && !(std::get<sizeof...(A) - 1>(args) & ZMQ_DONTWAIT))
      return ser_biased_wait<Id, R>(b, out, iov_count, a...);
  }
  b->busy.store(0, std::memory_order_release);
  if constexpr (dir != SerDir::None) ser_biased_after<dir>(b, r, ser_msg_flags<Id>(std::get<sizeof...(A) - 1>(args)));
  *out = r;
  return Biased::Done;
}

template <FnId Id, typename R, typename... A>
__attribute__((always_inline)) inline bool serialize_call(SocketState* st, const char* name, CallKind kind, R* out,
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
      ser_biased_call<Id, R>(st, b, self, out, iov_count, a...) == Biased::Done)
    return true;
  return serialize_locked<Id, R>(st, name, kind, out, iov_count, a...);
}

// After ser_quick_begin and one attempt that failed or left waiters: the
// rest of the locked protocol, the turn held (a holds the caller's flags).
template <FnId Id, typename R, typename... A>
__attribute__((noinline)) R serialize_quick_rest(SerState* ss, SocketState* st, const char* name, R r,
                                                 size_t iov_count, A... a) {
  constexpr SerDir dir = SerTraits<Id>::dir;
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

// What a failed call returns: -1, but 0 for zmq_connect_peer's routing id
// (the wrappers' fail_value).
template <typename R>
constexpr R ser_fail_value() {
  if constexpr (std::is_unsigned<R>::value) return 0;
  else return static_cast<R>(-1);
}

// The locked protocol (a shared socket, or a sole user that must wait).
template <FnId Id, typename R, typename... A>
__attribute__((noinline)) bool serialize_locked(SocketState* st, const char* name, CallKind kind, R* out,
                                                size_t iov_count, A... a) {
  constexpr SerDir dir = SerTraits<Id>::dir;
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
  if constexpr (dir != SerDir::None) {
    flags = std::get<sizeof...(A) - 1>(args);
    SerState* ss = __builtin_expect(fn != nullptr, 1) ? ser_quick_begin(st, dir, name) : nullptr;
    if (__builtin_expect(ss != nullptr, 1)) {
      std::get<sizeof...(A) - 1>(args) = flags | ZMQ_DONTWAIT;
      R r = ser_attempt<Id>(fn, args, iov_count);
      if (__builtin_expect(r != static_cast<R>(-1), 1) && ser_quick_end(ss, dir, ser_msg_flags<Id>(flags))) {
        *out = r;
        return true;
      }
      *out = serialize_quick_rest<Id, R>(ss, st, name, r, iov_count, a...);
      return true;
    }
  }
  SerCall c;
  int begun = ser_begin(st, name, kind, dir, ser_msg_flags<Id>(flags), &c);
  if (begun == 0) return false;
  if (begun < 0) {
    *out = ser_fail_value<R>();
    return true;
  }
  R r;
  if (__builtin_expect(!fn, 0)) {
    ser_end(&c);
    errno = ENOTSUP;  // a draft function this libzmq does not have
    *out = ser_fail_value<R>();
    return true;
  }
  if constexpr (dir == SerDir::None) {
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
