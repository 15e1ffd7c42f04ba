// SPDX-License-Identifier: MIT
// The interposition layer: thin extern "C" wrappers, one per row of
// api.def, and nothing else.  The owner's call is the hot path: the socket
// announced in a thread-local word, a per-thread hint checked against the
// handle and the thread's serial, and a jump into libzmq.  Everything else
// is out of line: in the core (core/call.h has the slow path of a call) and,
// in mode=serialize, in serialize mode's module, reached only through
// serialize/serialize.h.
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <array>
#include <type_traits>
#include <utility>

#include "core/api.h"
#include "core/call.h"
#include "core/guard.h"
#include "core/lifecycle.h"
#include "core/locks.h"
#include "core/options.h"
#include "core/order.h"
#include "core/registry.h"
#include "core/threads.h"
#include "interpose/copies.h"
#include "report/sink.h"
#include "serialize/serialize.h"
#include "zmq_guard.h"
#include "zmq_guard_config.h"

#define ZG_EXPORT extern "C" __attribute__((visibility("default")))
#define ZG_RA __builtin_return_address(0)
#define ZG_UNPAREN(...) __VA_ARGS__

namespace zg {

void resolve_init();
void resolve_rescan();
void resolve_exit_notice();
extern std::atomic<void* const*> g_sole_copy;

namespace {

// After-call bookkeeping for a few functions (endpoints for the report).
// Their owner path comes back through the wrapper; every other one ends in
// a jump (owner_call).
template <FnId Id>
struct Post {
  static constexpr bool active = false;
  template <typename R, typename... A>
  static void run(R, A...) {}
};
template <>
struct Post<FN_zmq_bind> {
  static constexpr bool active = true;
  static void run(int rc, void* s, const char* a) {
    if (rc == 0) guard_endpoint(s, "bind", a);
  }
};
template <>
struct Post<FN_zmq_connect> {
  static constexpr bool active = true;
  static void run(int rc, void* s, const char* a) {
    if (rc == 0) guard_endpoint(s, "connect", a);
  }
};

template <FnId Id, typename R, typename... A>
R call_real(void* const* real, const void* ra, A... a) {
  if (!real) real = real_for_caller(ra)->fn;
  auto fn = reinterpret_cast<R (*)(A...)>(real[Id]);
  if (!fn) {
    errno = ENOTSUP;
    return fail_value<R>();
  }
  return fn(a...);
}

// The owner's own call.  It goes straight on into libzmq (or serialize
// mode's trampoline) as a tail call: no frame, no mark, nothing after it.
// A mark would need the wrapper to come back after the call, and that
// frame (the return through the guard, a saved register, the stack
// adjusted) costs more than everything else here together.  So the thread
// leaves only its announcement (HotTls::cur, written before the owner was
// read), and whoever must know whether the owner is inside a call on the
// socket asks core/probe.h.  bind and connect, which record their
// endpoint after the call, keep the frame and mark in_call as the slow
// path does.
template <FnId Id, typename R, typename... A>
__attribute__((always_inline)) inline R owner_call(SocketHot* st, uint64_t me, A... a) {
  auto fn = reinterpret_cast<R (*)(A...)>(st->owner_fn[Id]);
  if constexpr (!Post<Id>::active) {
    (void)me;
    return fn(a...);
  } else {
    // The plain stores pair with the intruder's read-modify-write on
    // in_call (guard.cpp), so an overlap is seen by one side or the other.
    st->in_call.store(me, std::memory_order_relaxed);
    R r = fn(a...);
    st->in_call.store(0, std::memory_order_relaxed);
    return r;
  }
}

template <FnId Id, bool Draft, typename R, typename... A>
__attribute__((noinline)) R lookup_rest(A... a, void* sock, CallKind kind, const void* ra) {
  if (__builtin_expect(g_mode == Mode::Off || tls_bypass, 0)) {
    // mode=off registers nothing, and calls inside a pass-through region
    // (libzmq's zmq_poll reading ZMQ_FD/ZMQ_EVENTS, zero-copy free
    // callbacks) are not checked: straight to the socket's own copy, or the
    // only one, or the caller's.
    SocketState* st = g_mode == Mode::Off ? nullptr : registry_lookup(sock);
    void* const* real = st ? st->real : g_sole_copy.load(std::memory_order_acquire);
    auto fn = reinterpret_cast<R (*)(A...)>(real ? real[Id] : nullptr);
    if (fn) return fn(a...);
    return call_real<Id, R>(nullptr, ra, a...);
  }
  SocketState* st = registry_lookup(sock);
  const uint64_t me = tls_hot.me;
  if (ZG_LIKELY(st != nullptr) && ZG_LIKELY(relaxed_peek(st->owner) == me) && (!Draft || st->real[Id])) {
    hint_set<Id>(st);
    return owner_call<Id, R>(st, me, a...);
  }
  return slow_call<Id, R, A...>(st, sock, kind, ra, a...);
}

// mode=off registers nothing: straight on to the only libzmq copy (with
// several, lookup_rest finds the caller's).
template <FnId Id, bool Draft, typename R, typename... A>
__attribute__((noinline)) R off_call(A... a, void* sock, CallKind kind, const void* ra) {
  void* const* copy = g_sole_copy.load(std::memory_order_acquire);
  auto fn = reinterpret_cast<R (*)(A...)>(copy ? copy[Id] : nullptr);
  if (ZG_LIKELY(fn != nullptr)) return fn(a...);
  return lookup_rest<Id, Draft, R, A...>(a..., sock, kind, ra);
}

// Everything but the hints' hits.  The wrapper's own arguments come first,
// in the registers they arrived in, so the wrapper gets here with a plain
// jump; and this is two plain jumps, so that serialize mode does not pay for
// the frame the other modes' lookup needs.
template <FnId Id, bool Draft, typename R, typename... A>
__attribute__((noinline)) R lookup_call(A... a, void* sock, CallKind kind, const void* ra) {
  if (g_mode == Mode::Off) return off_call<Id, Draft, R, A...>(a..., sock, kind, ra);
  if (g_mode == Mode::Serialize) return ser_call<Id, Draft, R, A...>(a..., sock, kind, ra);
  return lookup_rest<Id, Draft, R, A...>(a..., sock, kind, ra);
}

template <FnId Id, bool Draft, typename R, typename K, typename... A>
__attribute__((always_inline)) inline R socket_call(void* sock, K kind, A... a) {
  // The announcement first, then the owner: a thread that changes the
  // owner and then reads this word (after process_barrier) either sees it
  // or made this call see the new owner.
  tls_hot.cur.store(sock, std::memory_order_relaxed);
  __asm__ __volatile__("" ::: "memory");
  SocketHot* st = tls_hot.last[Id];
  const uint64_t me = tls_hot.me;
  if (ZG_LIKELY(relaxed_peek(st->handle) == sock)) {
    if (ZG_LIKELY(relaxed_peek(st->owner) == me) && (!Draft || st->real[Id])) return owner_call<Id, R>(st, me, a...);
  } else {
    // The second hint, checked as the first is, only when the first holds
    // another socket (a socket that is not this thread's, shared in
    // serialize mode, goes on as before); on a hit the two change places
    // (everything past the owner's call expects the first to be this
    // socket's state).
    SocketHot* st2 = tls_hot.prev[Id];
    if (relaxed_peek(st2->handle) == sock && relaxed_peek(st2->owner) == me && (!Draft || st2->real[Id])) {
      tls_hot.prev[Id] = st;
      tls_hot.last[Id] = st2;
      return owner_call<Id, R>(st2, me, a...);
    }
  }
  // Inlined into the wrapper, so this is the wrapper's return address; read
  // only here, off the owner's path.
  return lookup_call<Id, Draft, R, A...>(a..., sock, kind(), __builtin_return_address(0));
}

inline void ensure_init() {
  guard_init();
  ser_init();
}

// Marks one socket of a multi-socket call (poll, proxy).
struct Entry {
  SocketState* st;
  Ticket t;
  bool fast;
};

bool enter_one(void* sock, CallKind kind, const char* name, const void* ra, Entry* e, void* const** real) {
  e->st = nullptr;
  e->fast = false;
  e->t = Ticket();
  if (!sock) return true;
  SocketState* st = registry_lookup(sock);
  const uint64_t me = tls_hot.me;
  // A serialized socket's owner is its bias holder; its poll or proxy goes
  // through guard_enter, which leaves serialized sockets' in_call alone.
  if (st && st->owner.load(std::memory_order_relaxed) == me && !(g_mode == Mode::Serialize && st->ser)) {
    st->in_call.store(me, std::memory_order_relaxed);
    e->st = st;
    e->fast = true;
    if (real && !*real) *real = st->real;
    return true;
  }
  void* const* r = nullptr;
  bool ok = guard_enter(sock, st, name, kind, ra, &e->t, &r);
  if (real && !*real) *real = r;
  return ok;
}

void leave_one(Entry* e, const char* name) {
  if (e->fast) e->st->in_call.store(0, std::memory_order_relaxed);
  else if (e->t.marked) guard_leave(e->t, name);
}


// Zero-copy messages: the program's free callback may run on any thread
// (libzmq's I/O threads, or the sender's).  Calls it makes are exempt:
// pyzmq releases buffers by sending on its own garbage-collector socket
// from there, under its own lock.
struct FreeHook {
  zmq_free_fn* ffn;
  void* hint;
};

void hooked_free(void* data, void* hint) {
  FreeHook h = *static_cast<FreeHook*>(hint);
  free(hint);
  Bypass b;
  h.ffn(data, h.hint);
}

}  // namespace
}  // namespace zg

using namespace zg;

#define ZG_SOCK(ret, name, params, args, sock, kind, draft)                                                \
  ZG_EXPORT ret name params {                                                                              \
    ret r = zg::socket_call<zg::FN_##name, draft, ret>(sock, [=] { return kind; }, ZG_UNPAREN args); \
    zg::Post<zg::FN_##name>::run(r, ZG_UNPAREN args);                                                      \
    return r;                                                                                              \
  }
#define ZG_CALL(ret, name, params, args, draft)
#include "interpose/api.def"
#undef ZG_SOCK
#undef ZG_CALL

ZG_EXPORT void* zmq_socket(void* ctx, int type) {
  const void* ra = ZG_RA;
  ensure_init();
  lifecycle_first_socket();
  if (g_mode != Mode::Off) resolve_rescan();  // a libzmq copy loaded since the last look
  RealTable* rt = real_for_caller(ra);
  if (ZG_UNLIKELY(g_fork_gen != 0)) lifecycle_socket_opening(ctx);  // a context inherited across fork
  auto fn = reinterpret_cast<void* (*)(void*, int)>(rt->fn[FN_zmq_socket]);
  if (!fn) {
    errno = ENOTSUP;
    return nullptr;
  }
  void* s;
  {
    LocksPaused paused;
    s = fn(ctx, type);
  }
  if (s) {
    int e = errno;
    guard_created(s, ctx, type, rt, ra);
    errno = e;
  }
  return s;
}

ZG_EXPORT int zmq_close(void* s) {
  const void* ra = ZG_RA;
  SocketState* st = registry_lookup(s);
  Ticket t;
  void* const* real = nullptr;
  if (!guard_enter(s, st, "zmq_close", CallKind::Close, ra, &t, &real)) {
    errno = ENOTSOCK;
    return -1;
  }
  // mode=serialize: the close waits for its turn like any call.
  SerState* ser = g_mode == Mode::Serialize && t.st && t.st->ser ? ser_close_begin(t.st) : nullptr;
  int rc;
  {
    Bypass b;  // libzmq's close may run monitor teardown through the API
    LocksPaused paused;
    rc = call_real<FN_zmq_close, int>(real, ra, s);
  }
  ser_close_end(ser, rc);
  int e = errno;
  guard_close_done(t, "zmq_close", rc);
  errno = e;
  return rc;
}

ZG_EXPORT int zmq_poll(zmq_pollitem_t* items, int nitems, long timeout) {
  const void* ra = ZG_RA;
  if (g_mode == Mode::Off || tls_bypass || nitems <= 0 || !items)
    return call_real<FN_zmq_poll, int>(nullptr, ra, items, nitems, timeout);
  if (g_mode == Mode::Serialize) {
    int rc;  // waits without holding any socket's turn
    if (ser_poll(items, nitems, timeout, &rc)) return rc;
  }
  Entry local[16];
  Entry* entries = nitems <= 16 ? local : static_cast<Entry*>(malloc(sizeof(Entry) * nitems));
  if (!entries) return call_real<FN_zmq_poll, int>(nullptr, ra, items, nitems, timeout);
  void* const* real = nullptr;
  int entered = 0;
  bool ok = true;
  for (; entered < nitems; entered++) {
    if (!enter_one(items[entered].socket, CallKind::Poll, "zmq_poll", ra, &entries[entered], &real)) {
      ok = false;
      entered++;
      break;
    }
  }
  int rc;
  if (ok) {
    Bypass b;  // zmq_poll reads ZMQ_FD/ZMQ_EVENTS through the public API
    rc = call_real<FN_zmq_poll, int>(real, ra, items, nitems, timeout);
  } else {
    rc = -1;
    errno = ENOTSOCK;
  }
  int e = errno;
  for (int i = 0; i < entered; i++) leave_one(&entries[i], "zmq_poll");
  if (entries != local) free(entries);
  errno = e;
  return rc;
}

namespace {

template <FnId Id, typename... A>
int proxy_call(const char* name, const void* ra, void* const* socks, int nsocks, A... a) {
  if (g_mode == Mode::Off || tls_bypass) return call_real<Id, int>(nullptr, ra, a...);
  if (g_mode == Mode::Serialize) {
    int rc;  // moves messages through the turns; waits holding none
    if (ser_proxy(socks, nsocks, Id == FN_zmq_proxy_steerable, &rc)) return rc;
  }
  Entry entries[4];
  void* const* real = nullptr;
  int entered = 0;
  bool ok = true;
  for (; entered < nsocks; entered++)
    if (!enter_one(socks[entered], CallKind::Proxy, name, ra, &entries[entered], &real)) {
      ok = false;
      entered++;
      break;
    }
  int rc;
  if (ok) {
    Bypass b;
    rc = call_real<Id, int>(real, ra, a...);
  } else {
    rc = -1;
    errno = ENOTSOCK;
  }
  int e = errno;
  for (int i = 0; i < entered; i++) leave_one(&entries[i], name);
  errno = e;
  return rc;
}

}  // namespace

ZG_EXPORT int zmq_proxy(void* frontend, void* backend, void* capture) {
  void* socks[] = {frontend, backend, capture};
  return proxy_call<FN_zmq_proxy>("zmq_proxy", ZG_RA, socks, 3, frontend, backend, capture);
}

ZG_EXPORT int zmq_proxy_steerable(void* frontend, void* backend, void* capture, void* control) {
  void* socks[] = {frontend, backend, capture, control};
  return proxy_call<FN_zmq_proxy_steerable>("zmq_proxy_steerable", ZG_RA, socks, 4, frontend, backend, capture,
                                            control);
}

ZG_EXPORT int zmq_device(int type, void* frontend, void* backend) {
  void* socks[] = {frontend, backend};
  return proxy_call<FN_zmq_device>("zmq_device", ZG_RA, socks, 2, type, frontend, backend);
}

// Terminating calls are watched: if one stays blocked past term_timeout_ms,
// the guard's thread reports the context's sockets still open.
#define ZG_CTX_CALL(name, watched)                                                \
  ZG_EXPORT int name(void* ctx) {                                                 \
    const void* ra = ZG_RA;                                                       \
    int watch = watched ? lifecycle_ctx_term_begin(ctx, #name) : -1;              \
    int rc;                                                                       \
    {                                                                             \
      Bypass b;                                                                   \
      rc = call_real<FN_##name, int>(nullptr, ra, ctx);                           \
    }                                                                             \
    if (watched) {                                                                \
      int e = errno;                                                              \
      lifecycle_ctx_term_end(watch, ctx, rc);                                     \
      errno = e;                                                                  \
    }                                                                             \
    return rc;                                                                    \
  }
ZG_CTX_CALL(zmq_ctx_term, true)
ZG_CTX_CALL(zmq_ctx_destroy, true)
ZG_CTX_CALL(zmq_term, true)
ZG_CTX_CALL(zmq_ctx_shutdown, false)
#undef ZG_CTX_CALL

ZG_EXPORT int zmq_msg_init_data(zmq_msg_t* msg, void* data, size_t size, zmq_free_fn* ffn, void* hint) {
  const void* ra = ZG_RA;
  if (!ffn || g_mode == Mode::Off) return call_real<FN_zmq_msg_init_data, int>(nullptr, ra, msg, data, size, ffn, hint);
  auto* h = static_cast<FreeHook*>(malloc(sizeof(FreeHook)));
  if (!h) return call_real<FN_zmq_msg_init_data, int>(nullptr, ra, msg, data, size, ffn, hint);
  h->ffn = ffn;
  h->hint = hint;
  int rc = call_real<FN_zmq_msg_init_data, int>(nullptr, ra, msg, data, size, &hooked_free, static_cast<void*>(h));
  if (rc != 0) free(h);
  return rc;
}

// Thread creation orders a hand-off (core/order.h): the creator's release,
// acquired by the new thread before its start routine runs.
ZG_EXPORT int pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*fn)(void*), void* arg) {
  using create_fn = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
  static std::atomic<create_fn> real{nullptr};
  create_fn create = real.load(std::memory_order_acquire);
  if (ZG_UNLIKELY(!create)) {
    create = reinterpret_cast<create_fn>(dlsym(RTLD_NEXT, "pthread_create"));
    if (!create) {
      return EAGAIN;  // no pthread_create after us: nothing could start a thread
    }
    real.store(create, std::memory_order_release);
  }
  void* block = order_thread_prepare(fn, arg, ZG_RA);
  if (!block) return create(thread, attr, fn, arg);
  int rc = create(thread, attr, order_thread_start, block);
  if (rc != 0) order_thread_failed(block);
  return rc;
}

// The public API (include/zmq_guard.h).
ZG_EXPORT const char* zmq_guard_version(void) { return ZMQ_GUARD_VERSION; }

ZG_EXPORT int zmq_guard_release(void* socket) {
  SocketState* st = registry_lookup(socket);
  if (!st) st = registry_lookup_locked(socket);
  if (!st) {
    errno = ENOTSOCK;
    return -1;
  }
  pthread_mutex_lock(&st->mu);
  st->owner.store(kNoOwner, std::memory_order_release);
  // The next thread that uses it takes it, as at creation (and a socket
  // shared under a lock is no longer: core/locks.h).
  st->creator = 0;
  st->locked = false;
  st->nlockset = 0;
  pthread_mutex_unlock(&st->mu);
  return 0;
}

namespace {

// Two copies of the guard in one process (LD_PRELOAD naming the library at
// two paths, or a copy preloaded and another dlopen()ed): the program binds
// to the first one's wrappers, whose real functions are libzmq's own, so
// the second sees no call.  It must not act on its own either: its atfork
// handlers, signal handler (dump_signal would print its empty registry) and
// exit status would compete with the first's.  So it stays off.
bool another_guard_first() {
  // Our own address through a function of internal linkage: &zmq_guard_version
  // itself would be resolved through the GOT to the first copy's.
  void* first = dlsym(RTLD_DEFAULT, "zmq_guard_version");
  Dl_info a{}, b{};
  if (!first || !dladdr(first, &a) || !dladdr(reinterpret_cast<void*>(&another_guard_first), &b) ||
      a.dli_fbase == b.dli_fbase)
    return false;
  if (options().verbose) {
    sink_notice("zmq-guard: another copy of the guard is active (%s); this one (%s) stays off",
                a.dli_fname ? a.dli_fname : "?", b.dli_fname ? b.dli_fname : "?");
  }
  return true;
}

__attribute__((constructor)) void zg_constructor() {
  int e = errno;
  const bool second = another_guard_first();
  if (second) guard_stay_off();
  ensure_init();
  if (g_mode != Mode::Off) resolve_init();
  if (options().verbose && !second) sink_notice("zmq-guard %s: active (pid %d)", ZMQ_GUARD_VERSION, (int)getpid());
  errno = e;
}

__attribute__((destructor)) void zg_destructor() {
  int e = errno;
  if (g_mode != Mode::Off) resolve_exit_notice();
  lifecycle_fini();
  errno = e;
}

}  // namespace

// --- wrappers handed out by dlsym (interpose/dlsym.cpp) ---------------------
//
// An FFI binding calls through a pointer it got from dlsym, from libffi,
// whose own dependencies hold no libzmq: real_for_caller cannot tell which
// copy it meant.  The calls without a socket therefore get a wrapper bound
// to the copy the handle reached; the socket's own calls need none (a
// socket remembers its copy).  Hidden aliases reach this library's wrapper
// even if something ahead of it in the global scope defines the same name.
#define ZG_SOCK(ret, name, params, args, sock, kind, draft) \
  extern "C" __attribute__((visibility("hidden"), alias(#name))) ret zg_plain_##name params;
#define ZG_CALL(ret, name, params, args, draft) \
  extern "C" __attribute__((visibility("hidden"), alias(#name))) ret zg_plain_##name params;
#include "interpose/api.def"
#undef ZG_SOCK
#undef ZG_CALL

namespace zg {
namespace {

struct BoundScope {
  RealTable* saved;
  explicit BoundScope(int k) : saved(tls_bound_copy) { tls_bound_copy = resolve_copy(k); }
  ~BoundScope() { tls_bound_copy = saved; }
};

template <int K>
struct Bound {
#define ZG_SOCK(ret, name, params, args, sock, kind, draft)
#define ZG_CALL(ret, name, params, args, draft) \
  static ret name params {                      \
    BoundScope b(K);                            \
    return zg_plain_##name args;                \
  }
#include "interpose/api.def"
#undef ZG_SOCK
#undef ZG_CALL
};

template <int K>
void* const kBound[FN_COUNT] = {
#define ZG_SOCK(ret, name, params, args, sock, kind, draft) reinterpret_cast<void*>(&zg_plain_##name),
#define ZG_CALL(ret, name, params, args, draft) reinterpret_cast<void*>(&Bound<K>::name),
#include "interpose/api.def"
#undef ZG_SOCK
#undef ZG_CALL
};

void* const kPlain[FN_COUNT] = {
#define ZG_SOCK(ret, name, params, args, sock, kind, draft) reinterpret_cast<void*>(&zg_plain_##name),
#define ZG_CALL(ret, name, params, args, draft) reinterpret_cast<void*>(&zg_plain_##name),
#include "interpose/api.def"
#undef ZG_SOCK
#undef ZG_CALL
};

}  // namespace

void* const* plain_wrappers() { return kPlain; }

void* const* bound_wrappers(int k) {
  static_assert(kMaxLibzmqCopies == 8, "one case per copy");
  switch (k) {
    case 0: return kBound<0>;
    case 1: return kBound<1>;
    case 2: return kBound<2>;
    case 3: return kBound<3>;
    case 4: return kBound<4>;
    case 5: return kBound<5>;
    case 6: return kBound<6>;
    case 7: return kBound<7>;
  }
  return kPlain;
}

}  // namespace zg
