// SPDX-License-Identifier: MIT
// The socket registry: handle -> per-socket state.
//
// Readers (every intercepted call) never lock: an open-addressed table of
// pointers to type-stable SocketState records, probed linearly.  Writers
// (zmq_socket, zmq_close, eviction) hold one mutex.  A reader that races a
// writer can miss an entry; it then falls to the slow path, which looks
// again under the lock, so a miss costs time, never correctness.
//
// Memory follows open sockets: closed sockets stay in a bounded quarantine
// (so use-after-close is caught for the most recent kQuarantine closes) and
// are then recycled; tables only grow, and a retired table is kept (readers
// may still be inside it), so all tables together stay under twice the
// largest one.
#pragma once
#include <pthread.h>
#include <stdint.h>

#include <atomic>

#include "core/threads.h"
#include "report/stack.h"

namespace zg {

struct PyStack;  // report/python.h
struct ScriptStack;  // report/script.h

constexpr uint64_t kNoOwner = ~0ull;  // never a thread serial: always slow path

// What the fast path reads, first in every SocketState.  Empty table slots
// point at a static SocketHot whose handle matches no socket, so a probe
// needs no null test.
struct SocketHot {
  std::atomic<void*> handle;
  std::atomic<uint64_t> owner;
  // Serial of a thread inside a call the guard marks (its slow path, poll,
  // proxies, bind/connect), or 0.  The owner's own calls are not marked:
  // core/probe.h asks the kernel about those.
  std::atomic<uint64_t> in_call;
  void* const* real;              // the libzmq copy this socket belongs to
  // What the owner's call goes to: real, or in mode=serialize the table of
  // trampolines that run the sole user's non-blocking attempt (the owner of
  // a serialized socket is the thread holding its bias).
  void* const* owner_fn;
  constexpr explicit SocketHot(void* h = nullptr)
      : handle(h), owner(kNoOwner), in_call(0), real(nullptr), owner_fn(nullptr) {}
};

struct SocketState : SocketHot {
  // Everything below is guarded by mu.
  pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  uint64_t id = 0;  // a number for this socket, unique for the process's life
  void* ctx = nullptr;
  int type = -1;
  bool thread_safe = false;
  bool internal = false;  // made or used by libzmq itself (monitor sockets)
  bool adopted = false;   // first seen on use, not at zmq_socket
  int zfd = -1;           // its ZMQ_FD (the mailbox a waiting call sleeps on), read at creation
  std::atomic<bool> closed{false};
  uint32_t fork_gen = 0;  // process generation it was created in
  std::atomic<uint32_t> reported{0};  // bit per finding kind already reported

  uint64_t creator = 0;
  pid_t creator_tid = 0;
  char creator_name[16] = {};
  Stack created_stack;
  char* created_py = nullptr;  // Python traceback text, or null
  PyStack* created_pys = nullptr;  // or recorded for later (report/python.h)
  ScriptStack* created_script = nullptr;  // Ruby, Perl, ... frames recorded (report/script.h), or null

  pid_t owner_tid = 0;
  char owner_name[16] = {};
  Stack owner_stack;           // where the owner took the socket
  char* owner_py = nullptr;
  ScriptStack* owner_script = nullptr;
  const char* owner_call = nullptr;
  uint64_t owner_at_close = 0;  // zmq_close clears owner; reports still name it

  char endpoints[512] = {};  // "bind tcp://..." NUL "connect ..." NUL NUL (endpoints_add)

  // Serialize mode's turn state (serialize/state.h, SerState).
  void* ser = nullptr;
  // A pipe end (core/order.h): an inproc PAIR whose peer the guard saw.
  std::atomic<void*> pipe{nullptr};
  // Shared under a lock (core/locks.h): every call since the second thread
  // came held all of lockset; lock_last is the latest thread that did,
  // lock_other the latest before it that is another thread.
  bool locked = false;
  int nlockset = 0;
  void* lockset[4] = {};
  uint64_t lock_last = 0;
  uint64_t lock_other = 0;
  // The program's locks its owner held when it took it (the most recent
  // four): a second thread holding one of them shares it under that lock.
  int ntake_locks = 0;
  void* take_locks[4] = {};
  // The owner took it at the call where it began to track its mutexes: one
  // it took before may be missing from take_locks (core/locks.h).
  bool take_partial = false;

  bool quarantined = false;  // registry lock
  SocketState* next_quarantine = nullptr;
  SocketState* next_free = nullptr;
  // Registry lock: held past the lock by registry_pin_open's caller (the
  // live dump, a blocked zmq_ctx_term's report, the leak report), which
  // reads it for as long as its report takes.  A pinned state leaving the
  // quarantine is recycled when the last pin goes (recycle_pending), not
  // re-made for another socket under its reader.
  int pins = 0;
  bool recycle_pending = false;
};

struct RegistryTable {
  uint64_t mask;
  // The table this one replaced, kept (never freed: a reader may still
  // probe it) and reachable, so that a leak checker sees it as in use.
  RegistryTable* retired;
  std::atomic<SocketHot*> slots[1];  // mask + 1 of them
};

#define ZG_HIDDEN __attribute__((visibility("hidden")))
extern std::atomic<RegistryTable*> g_registry_table ZG_HIDDEN;
extern SocketHot g_registry_empty ZG_HIDDEN;  // what empty slots point at

// Socket handles are heap addresses of objects much larger than 16 bytes,
// so their bits above the fourth spread well; no multiply needed.
inline size_t registry_index(const void* h, uint64_t mask) { return (reinterpret_cast<uintptr_t>(h) >> 4) & mask; }

// A relaxed read that the compiler may fold into the compare using it (GCC
// never folds std::atomic loads into another instruction).  On x86-64 both
// are one plain load; the hot path reads each word once.
template <typename T>
__attribute__((always_inline)) inline T relaxed_peek(const std::atomic<T>& a) {
  static_assert(sizeof(std::atomic<T>) == sizeof(T), "std::atomic with extra state");
#if defined(__SANITIZE_THREAD__)
  // The same relaxed read, in a form ThreadSanitizer knows is atomic: the
  // plain load is this protocol's deliberate choice for the hot path's
  // code, not a race (tests/run.sh --sanitize=thread).
  return a.load(std::memory_order_relaxed);
#else
  return *reinterpret_cast<const T*>(&a);
#endif
}

// The hot path's probe: the slot the handle hashes to, without following
// the chain.  Never null (empty slots hold the sentinel), so the caller
// compares handle and owner with no other test; a non-match goes to
// registry_lookup out of line.
__attribute__((always_inline)) inline SocketHot* registry_first(void* h) {
  RegistryTable* t = g_registry_table.load(std::memory_order_acquire);
  // Pointer arithmetic, not slots[i]: GCC adds the header as a separate
  // instruction when indexing the one-element array.
  return (&t->slots[0] + registry_index(h, t->mask))->load(std::memory_order_acquire);
}

// Lock-free lookup; may miss while a writer is moving entries.
inline SocketState* registry_lookup(void* h) {
  RegistryTable* t = g_registry_table.load(std::memory_order_acquire);
  size_t i = registry_index(h, t->mask);
  for (;;) {
    SocketHot* s = t->slots[i].load(std::memory_order_acquire);
    if (__builtin_expect(relaxed_peek(s->handle) == h, 1)) {
      if (s == nullptr) __builtin_unreachable();  // slots are never null: no test on the hot path
      return static_cast<SocketState*>(s);
    }
    if (s == &g_registry_empty) return nullptr;
    i = (i + 1) & t->mask;
  }
}

// True for the sentinel (a caller passing the sentinel's handle value).
inline bool registry_is_sentinel(const SocketState* s) { return static_cast<const SocketHot*>(s) == &g_registry_empty; }

// Lookup under the registry lock (never misses).
SocketState* registry_lookup_locked(void* h);

// A fresh state for handle h, replacing (and retiring) any earlier state
// for the same handle: a handle that zmq_socket returns again is a new socket.
// registry_new leaves it out of the table: the caller fills it in, then
// publishes it with registry_publish, so that a lock-free reader on another
// thread (libzmq's I/O thread using the monitor PAIR it was handed) sees
// the filled state through the slot's release store.  registry_create does
// both at once.
SocketState* registry_new(void* h);
void registry_publish(SocketState* s);
SocketState* registry_create(void* h);

// Drops whatever the registry knew about handle h (a socket it will not
// track came back at that address): a later call on h is not checked
// against the earlier socket's state.
void registry_forget(void* h);

// Moves a closed socket into the quarantine; the oldest quarantined state is
// removed from the table and recycled once the quarantine is full.
void registry_retire(SocketState* s);

// Number of open (not closed) sockets and of table slots, for tests.
size_t registry_open_count();
size_t registry_capacity();

// The open sockets keep(state, ctx) accepts, at most max of them, into out,
// pinned: their states stay theirs (are not recycled for other sockets,
// however many closes follow) until registry_unpin.  Returns how many.
int registry_pin_open(bool (*keep)(const SocketState*, void*), void* ctx, SocketState** out, int max);
void registry_unpin(SocketState* const* s, int n);

void registry_fork_prepare();
void registry_fork_parent();
void registry_fork_child();

constexpr int kQuarantine = 1024;

// The Python traceback where st was created, as text (malloc'd), or null.
// Called with st->mu held.
char* created_python_text(const SocketState* st);

}  // namespace zg
