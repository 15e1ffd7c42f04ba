// SPDX-License-Identifier: MIT
#include "core/guard.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <atomic>

#include "core/lifecycle.h"
#include "core/locks.h"
#include "core/order.h"
#include "core/probe.h"
#include "core/report.h"
#include "core/hooks.h"
#include "core/threads.h"
#include "report/format.h"

namespace zg {

namespace {

std::atomic<int> g_init_state{0};  // 0 new, 1 running, 2 done

// Records the calling thread as the owner (st->mu held).
void take(SocketState* st, ThreadRecord* rec, const char* call) {
  record_taker(st, rec, call);
  st->owner.store(order_owner_word(st, rec->serial.load(std::memory_order_relaxed)), std::memory_order_release);
  order_taken(st);
  // The program's locks it holds now (st->mu, the guard's, is not one).
  st->ntake_locks = 0;
  const uint32_t n = tls_held.n < kHeldMax ? tls_held.n : kHeldMax;
  for (uint32_t i = n; i-- > 0 && st->ntake_locks < 4;)
    if (tls_held.held[i] != &st->mu) st->take_locks[st->ntake_locks++] = tls_held.held[i];
}

// The socket's mailbox fd (ZMQ_FD): where a call on it that waits sleeps
// (core/probe.h).  Reading it changes nothing in the socket.
int mailbox_fd(RealTable* real, void* sock) {
  int fd = -1;
  return socket_int_option(real ? real->fn : nullptr, sock, ZMQ_FD, &fd) == 0 ? fd : -1;
}

// Is the thread `owner` inside a call on st that the guard did not mark
// (its owner path)?  Only a Yes counts: Unknown is no finding.
bool owner_inside(SocketState* st, uint64_t owner, bool wait) {
  return probe_inside(owner, st->handle.load(std::memory_order_relaxed), st->zfd, wait) == Inside::Yes;
}

// Ends st's life without checking the call that ends it: a close of a
// thread-safe socket or of libzmq's own, or one made inside a pass-through
// region.  True if this call closed it; *t then makes guard_close_done
// retire the state.  A serialized socket is left alone: its close takes its
// turn (zmq_close in wrappers.cpp), which a pass-through close does not.
bool close_unchecked(SocketState* st, Ticket* t) {
  if (!st || registry_is_sentinel(st) || st->ser) return false;
  pthread_mutex_lock(&st->mu);
  const bool first = !st->closed.load(std::memory_order_relaxed);
  if (first) {
    st->closed.store(true, std::memory_order_release);
    st->owner_at_close = owner_serial_of(st);
    st->owner.store(kNoOwner, std::memory_order_release);
  }
  pthread_mutex_unlock(&st->mu);
  if (first) t->st = st;
  return first;
}

bool is_thread_safe(RealTable* real, void* sock, int type) {
  // Types 12..20 are the draft types; all but DGRAM (18) answer
  // ZMQ_THREAD_SAFE with 1.  Ask the socket itself when we can.
  int v = 0;
  if (socket_int_option(real ? real->fn : nullptr, sock, 81 /* ZMQ_THREAD_SAFE */, &v) == 0) return v != 0;
  return type >= 12 && type <= 20 && type != 18;
}

}  // namespace

int socket_int_option(void* const* real, void* sock, int option, int* value) {
  using getsockopt_fn = int (*)(void*, int, void*, size_t*);
  auto gs = real ? real_fn<FN_zmq_getsockopt, getsockopt_fn>(real) : nullptr;
  if (!gs) return -1;
  int v = 0;
  size_t len = sizeof v;
  Bypass b;
  if (gs(sock, option, &v, &len) != 0) return -1;
  *value = v;
  return 0;
}

int socket_set_int_option(void* const* real, void* sock, int option, int value) {
  using setsockopt_fn = int (*)(void*, int, const void*, size_t);
  auto ss = real ? real_fn<FN_zmq_setsockopt, setsockopt_fn>(real) : nullptr;
  if (!ss) return -1;
  Bypass b;
  return ss(sock, option, &value, sizeof value);
}

static bool g_stay_off = false;
void guard_stay_off() { g_stay_off = true; }

void guard_init() {
  int expected = 0;
  if (!g_init_state.compare_exchange_strong(expected, 1)) {
    while (g_init_state.load(std::memory_order_acquire) != 2) {
    }
    return;
  }
  int saved = errno;
  options_init_from_env();
  g_mode = g_stay_off ? Mode::Off : options().mode_value();
  order_init();
  if (g_mode != Mode::Off) {
    stack_warm_up();
    lifecycle_init();
    // membarrier's registration waits for an RCU grace period (~15 ms) once
    // a process has threads, and costs microseconds before: register now,
    // from the constructor, while the program has only its main thread.
    process_barrier_exact();
  }
  g_init_state.store(2, std::memory_order_release);
  errno = saved;
}

void guard_created(void* sock, void* ctx, int type, RealTable* real, const void* ra) {
  if (!sock || g_mode == Mode::Off) return;
  int saved = errno;
  const bool internal = pc_in_libzmq(ra);
  if (tls_bypass && !internal) {
    // Made inside a pass-through region by code that is not libzmq's (a
    // zero-copy free callback): not tracked until its first checked call
    // adopts it, but whatever the registry knew about the address is gone.
    registry_forget(sock);
    errno = saved;
    return;
  }
  // libzmq's own socket (a monitor's PAIR, made by zmq_socket_monitor
  // through its own API, often inside the pass-through region of the
  // program's call) is registered too: it may have the address of a socket
  // the program closed, and libzmq's calls on it must not meet that one's
  // state.
  ThreadRecord* rec = thread_self();
  SocketState* st = rec ? registry_new(sock) : nullptr;
  if (!st) {
    errno = saved;
    return;
  }
  pthread_mutex_lock(&st->mu);
  st->real = real->fn;
  st->owner_fn = real->fn;  // hook_socket_made may replace it
  st->ctx = ctx;
  st->type = type;
  st->fork_gen = g_fork_gen;
  st->thread_safe = is_thread_safe(real, sock, type);
  st->internal = internal;
  if (!st->thread_safe && !st->internal) st->zfd = mailbox_fd(real, sock);
  st->creator = rec->serial.load(std::memory_order_relaxed);
  record_creator(st, rec, ra);
  if (options().policy_value() == Policy::Strict && g_mode != Mode::Serialize && !st->thread_safe && !st->internal)
    take(st, rec, "zmq_socket");
  if (g_mode == Mode::Serialize && !st->thread_safe && !st->internal) hook_socket_made(st);
  pthread_mutex_unlock(&st->mu);
  registry_publish(st);  // filled first: see registry_create
  if (order_enabled() && options().locks && !st->thread_safe && !st->internal && !g_locks_on) locks_start();
  lifecycle_socket_created(st, ctx);
  errno = saved;
}

void guard_endpoint(void* sock, const char* verb, const char* addr) {
  if (g_mode == Mode::Off || !addr) return;
  SocketState* st = registry_lookup(sock);
  if (!st) st = registry_lookup_locked(sock);
  if (!st) return;
  pthread_mutex_lock(&st->mu);
  endpoints_add(st->endpoints, sizeof st->endpoints, verb, addr);
  pthread_mutex_unlock(&st->mu);
  order_endpoint(st, verb, addr);
}

bool guard_enter(void* sock, SocketState* st, const char* call, CallKind kind, const void* ra, Ticket* t,
                 void* const** real) {
  *t = Ticket();
  if (st && registry_is_sentinel(st)) st = nullptr;
  if (__builtin_expect(g_init_state.load(std::memory_order_acquire) != 2, 0)) guard_init();
  if (st) *real = st->real;
  if (g_mode == Mode::Off || tls_bypass || !sock) {
    if (!st) *real = real_for_caller(ra)->fn;
    if (kind == CallKind::Close && tls_bypass && g_mode != Mode::Off && sock) {
      // Not checked, but closed all the same (libzmq's own monitor PAIR,
      // closed by zmq_socket_monitor inside the program's call).
      int saved = errno;
      close_unchecked(st ? st : registry_lookup_locked(sock), t);
      errno = saved;
    }
    return true;
  }
  int saved = errno;
  const bool locks_fresh = locks_enter();  // before the guard takes a mutex of its own
  if (!st) st = registry_lookup_locked(sock);
  if (!st) {
    RealTable* rt = real_for_caller(ra);
    *real = rt->fn;
    if (pc_in_libzmq(ra)) {  // libzmq's own socket (a monitor's PAIR)
      errno = saved;
      return true;
    }
    // A socket we did not see created (made before the guard could see
    // it, or by a copy of libzmq we could not interpose): adopt it now.
    int type = -1;
    if (socket_int_option(rt->fn, sock, 16 /* ZMQ_TYPE */, &type) != 0) {  // not a socket: let libzmq say so
      errno = saved;
      return true;
    }
    guard_created(sock, nullptr, type, rt, ra);
    st = registry_lookup_locked(sock);
    if (!st) {
      errno = saved;
      return true;
    }
    pthread_mutex_lock(&st->mu);
    st->adopted = true;
    pthread_mutex_unlock(&st->mu);
  }
  *real = st->real;
  if (st->closed.load(std::memory_order_acquire) && pc_in_libzmq(ra)) {
    // libzmq's own call on a handle the registry has as closed: a socket
    // libzmq made for itself at that address without the guard seeing it.
    // Never the program's closed socket: a program's call that libzmq
    // forwards through its API was stopped at the program's own call.
    errno = saved;
    return true;
  }
  if (st->internal || st->thread_safe) {
    // libzmq serializes a thread-safe socket's calls itself, and libzmq's
    // own sockets are its business: no owner, no overlap check.  Their life
    // is checked all the same: a close ends it (so it is neither a leak nor
    // listed at a blocked zmq_ctx_term), and a call after it is a use
    // after close.
    if ((kind == CallKind::Close && close_unchecked(st, t)) || !st->closed.load(std::memory_order_acquire)) {
      errno = saved;
      return true;
    }
    t->st = st;
    if (kind != CallKind::TypeQuery) guard_report(FindingKind::UseAfterClose, st, call, 0, nullptr);
    errno = saved;
    return false;
  }
  ThreadRecord* rec = thread_self();
  if (!rec) {
    errno = saved;
    return true;
  }
  const uint64_t me = rec->serial.load(std::memory_order_relaxed);

  FindingKind finding = FindingKind::None;
  uint64_t other = 0;
  uint64_t probe = 0;  // the owner to ask about (below), if any
  // The program's locks this thread holds, read before the guard takes its
  // own (st->mu would be among them).
  void* held[kHeldMax];
  const uint32_t nheld = tls_held.n < kHeldMax ? tls_held.n : kHeldMax;
  memcpy(held, tls_held.held, nheld * sizeof(void*));
  const auto holds = [&](const void* m) {
    for (uint32_t i = 0; i < nheld; i++)
      if (held[i] == m) return true;
    return false;
  };
  pthread_mutex_lock(&st->mu);
  PolicyInput in;
  in.policy = options().policy_value();
  if (g_mode == Mode::Serialize) in.policy = Policy::Overlap;  // src/serialize/ decides sharing (ser_note_user)
  in.kind = kind;
  in.closed = st->closed.load(std::memory_order_relaxed);
  in.inherited = st->fork_gen != g_fork_gen;
  in.is_ctx_setup = kind == CallKind::Setup && call &&
                    (!strcmp(call, "zmq_bind") || !strcmp(call, "zmq_connect"));
  in.me = me;
  const uint64_t word = st->owner.load(std::memory_order_relaxed);
  in.owner = owner_serial(word);
  if (owner_offered(word)) {
    // Offered by its owner's release (core/order.h).  The owner's own call
    // takes the offer back: it used the socket after the release.  Another
    // thread's is ordered after the owner's last call if it has acquired
    // that release.
    if (in.owner == me) st->owner.store(order_owner_word(st, me), std::memory_order_release);
    else in.ordered = order_acquired(in.owner, owner_offer_seq(word));
  }
  in.creator = st->creator;
  in.owner_alive = in.owner == kNoOwner || in.owner == me || thread_alive(in.owner);
  Decision d;
  // A socket shared under a lock: every use must hold one of the locks all
  // the others held (Close and questions as for any socket).
  const bool lock_checked = st->locked && !in.closed && !in.inherited && !claims_nothing(kind) &&
                            kind != CallKind::Close && order_enabled();
  bool lock_entered = false;
  bool holds_common = false;  // this call holds the socket's common lock
  const char* extra = nullptr;
  char lock_text[200];
  if (lock_checked) {
    void* keep[4];
    int k = 0;
    for (int i = 0; i < st->nlockset; i++)
      if (holds(st->lockset[i])) keep[k++] = st->lockset[i];
    for (int i = 0; k == 0 && i < st->nlockset; i++)
      if (locks_owned(st->lockset[i])) keep[k++] = st->lockset[i];  // taken before this thread tracked
    if (k == 0) {
      d.finding = FindingKind::CrossThread;
      snprintf(lock_text, sizeof lock_text,
               "  the socket is shared under a lock: every other call on it since it was shared held %p;\n"
               "  this thread holds none of the locks those calls held",
               lock_addr(st->lockset[0]));
      extra = lock_text;
    } else {
      holds_common = true;
      memcpy(st->lockset, keep, sizeof(void*) * static_cast<size_t>(k));
      st->nlockset = k;
      if (st->lock_last != me) st->lock_other = st->lock_last;
      st->lock_last = me;
    }
  } else {
    d = decide(in);
    int k = 0;
    if (d.finding == FindingKind::CrossThread && g_locks_on && !claims_nothing(kind)) {
      for (int i = 0; i < st->ntake_locks; i++)
        if (holds(st->take_locks[i])) st->lockset[k++] = st->take_locks[i];
      for (int i = 0; k == 0 && i < st->ntake_locks; i++)
        if (locks_owned(st->take_locks[i])) st->lockset[k++] = st->take_locks[i];  // taken before it tracked
      bool owner_mutex = false;
      for (int i = 0; i < st->ntake_locks; i++) owner_mutex |= is_mutex_key(st->take_locks[i]);
      if (k == 0 && st->take_partial && !owner_mutex) {
        // The owner's mutexes at its take are unknown (it took them before
        // it tracked, and its latest was another): this thread's are the
        // candidates, and the owner's next call must hold one of them as
        // every call from now on must.
        for (uint32_t i = 0; i < nheld && k < 4; i++)
          if (is_mutex_key(held[i])) st->lockset[k++] = held[i];
      }
    }
    if (k > 0) {
      // A second thread holding a lock its owner held when it took it: the
      // socket is shared under that lock from now on, and every call on it
      // (the owner's too) is checked.  (Locks one thread holds for its
      // whole life, as each Python thread does, are never common.)
      st->nlockset = k;
      st->locked = true;
      st->lock_other = in.owner;
      st->lock_last = me;
      st->owner.store(kLockedWord, std::memory_order_release);
      d.finding = FindingKind::None;
      lock_entered = true;
    }
  }
  finding = d.finding;
  const bool refuse = d.refuse;
  if (finding == FindingKind::CrossThread)
    other = !lock_checked ? in.owner : st->lock_last != me ? st->lock_last : st->lock_other;
  if (in.owner != kNoOwner && in.owner != me && in.owner_alive && g_mode != Mode::Serialize && !lock_checked &&
      (finding == FindingKind::CrossThread || (finding == FindingKind::None && !d.take)))
    probe = in.owner;
  if (d.take) {
    take(st, rec, call);
    st->take_partial = locks_fresh;
  }
  if (!in.closed && finding != FindingKind::UseAfterFork) {
    if (kind == CallKind::Close) {
      // From here on every call on the handle takes the slow path and sees
      // it closed; a call already past the fast-path check shows up in
      // in_call, now or when the close returns.
      st->closed.store(true, std::memory_order_release);
      st->owner_at_close = owner_serial_of(st);
      st->owner.store(kNoOwner, std::memory_order_release);
    }
    // A serialized socket's calls take turns instead (src/serialize/, which
    // also keeps who is inside one for the live dump): no mark.
    if (!(g_mode == Mode::Serialize && st->ser)) {
      uint64_t prev = st->in_call.exchange(me, std::memory_order_acq_rel);
      t->marked = true;
      // mode=serialize makes overlapping calls take turns: not a finding.
      // A call holding the common lock cannot overlap another that holds
      // it: the one inside lacks it and was reported by its own entry, as
      // the thread that forgot the lock.
      // A mark whose thread is gone is a call that never returned: its
      // thread was cancelled inside it (pthread_cancel unwinds through the
      // wrappers, which run nothing after the call), so nobody is inside.
      if (prev != 0 && prev != me && g_mode != Mode::Serialize && !holds_common && thread_alive(prev)) {
        finding = kind == CallKind::Close ? FindingKind::CloseWhileInUse : FindingKind::ConcurrentCall;
        other = prev;
        probe = 0;
      }
    }
  }
  pthread_mutex_unlock(&st->mu);
  if (probe) {
    // The owner's calls leave no in_call mark (wrappers.cpp, owner_call), so
    // whether it is inside one now is asked of the kernel (core/probe.h).
    // A close by another thread is the hand-off's last step, legal unless
    // the owner is inside a call: asked in full, after the barrier that
    // makes a call which passed its owner check before the close show its
    // announcement.  A use, a question or a linger set by another thread is
    // asked without waiting, once per socket: an owner asleep in a call on
    // it makes the sharper finding (and the only one for the last two).
    const uint32_t seen = st->reported.load(std::memory_order_relaxed);
    const auto bit = [](FindingKind k) { return 1u << static_cast<unsigned>(k); };
    if (kind == CallKind::Close) {
      process_barrier();
      if (owner_inside(st, probe, true)) {
        finding = FindingKind::CloseWhileInUse;
        other = probe;
      }
    } else if (!(seen & (bit(FindingKind::ConcurrentCall) | bit(FindingKind::CrossThread))) &&
               (finding == FindingKind::CrossThread || claims_nothing(kind) || lock_entered) &&
               owner_inside(st, probe, false)) {
      finding = FindingKind::ConcurrentCall;
      other = probe;
    }
  }
  t->st = st;
  t->me = me;
  t->pipe = kind == CallKind::Data && !refuse && st->pipe.load(std::memory_order_relaxed) != nullptr;
  if (finding != FindingKind::None) guard_report(finding, st, call, other, extra);
  errno = saved;
  return !refuse;
}

void guard_leave(const Ticket& t, const char* call) {
  if (!t.marked) return;
  uint64_t expected = t.me;
  if (t.st->in_call.compare_exchange_strong(expected, 0, std::memory_order_acq_rel)) return;
  if (g_mode == Mode::Serialize) return;
  // Someone entered while we were inside and wrote its mark over ours: its
  // exchange returned our mark, so it reports the overlap itself, with its
  // own stacks and ours as the owner's.  Reported from here too, the two
  // reports would race for the socket's one concurrent_call, and this one,
  // made by a thread that cannot read the other's Python traceback, would
  // sometimes win (the demo's owner_python_stack came back empty about one
  // run in 25).  expected == 0: our mark was cleared by someone else.
  if (expected == 0 && !t.st->closed.load()) {
    // The owner's framed path (bind, connect) cleared the mark: it ran a
    // call inside ours.
    uint64_t owner = owner_serial_of(t.st);
    if (owner != t.me && owner != kNoOwner && owner != 0) guard_report(FindingKind::ConcurrentCall, t.st, call, owner, nullptr);
  }
}

void guard_close_done(const Ticket& t, const char* call, int rc) {
  (void)rc;
  if (!t.st) return;
  int saved = errno;
  uint64_t expected = t.me;
  if (t.marked && !t.st->in_call.compare_exchange_strong(expected, 0, std::memory_order_acq_rel)) {
    uint64_t other = expected ? expected : owner_serial_of(t.st);
    if (other && other != t.me && g_mode != Mode::Serialize) guard_report(FindingKind::CloseWhileInUse, t.st, call, other, nullptr);
  }
  if (t.st->closed.load(std::memory_order_acquire)) {
    order_closed(t.st);
    lifecycle_socket_closed(t.st);
    registry_retire(t.st);
  }
  errno = saved;
}

}  // namespace zg
