// SPDX-License-Identifier: MIT
#include "core/order.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/api.h"
#include "core/guard.h"
#include "core/options.h"
#include "core/threads.h"

namespace zg {

namespace {

bool g_enabled = false;

// What a thread knows: its own count of releases, and the latest release
// of each of a few other threads that it has acquired, the most recently
// acquired first.  Written and read by the thread itself only (a new
// thread gets its creator's copy).  A table that is full forgets what it
// acquired longest ago: an edge forgotten can only make a hand-off
// reported, never a misuse silent.
constexpr int kKnown = 8;
struct Known {
  uint32_t serial;
  uint32_t seq;
};
struct Clock {
  uint32_t released;
  Known known[kKnown];
};
__thread Clock tls_clock ZG_TLS;

// The sockets this thread took, so that a release visits those and not the
// whole table; past kOwned of them it walks the table.  Entries whose
// socket went to another thread are dropped at the next release.  Kept
// small: this is initial-exec TLS, and a library dlopen()ed with more of
// it than glibc's spare static TLS (about 1.6 KiB) fails to load ("cannot
// allocate memory in static TLS block"), as the guard does in a
// secure-execution test that loads it by hand.
constexpr int kOwned = 16;
struct Owned {
  int n;
  bool overflow;
  SocketHot* s[kOwned];
};
__thread Owned tls_owned ZG_TLS;

void offer(SocketHot* s, uint64_t me, uint64_t offer) {
  // A plain load first: a compare-and-swap that fails still takes the
  // cache line, and most of what a table walk meets is not ours.
  uint64_t w = s->owner.load(std::memory_order_relaxed);
  if (w == me) s->owner.compare_exchange_strong(w, offer, std::memory_order_acq_rel);
}

void acquire(Clock* c, uint64_t serial, uint32_t seq) {
  if (!owner_encodable(serial) || seq == 0) return;
  const auto s = static_cast<uint32_t>(serial);
  // Recency, not release numbers, picks what to forget: numbers of two
  // threads do not compare, and forgetting the lowest forgot a new actor's
  // edge at the next acquisition (czmq's zmonitor selftest after its
  // others: the caller starts two monitors, then binds the first's socket).
  // Empty entries stay at the end.  i: s's entry, the first empty, or the
  // oldest.
  int i = 0;
  while (i < kKnown - 1 && c->known[i].serial != s && c->known[i].serial != 0) i++;
  Known k = c->known[i];
  if (k.serial == s) {
    if (k.seq < seq) k.seq = seq;
  } else {
    k = Known{s, seq};
  }
  memmove(&c->known[1], &c->known[0], static_cast<size_t>(i) * sizeof(Known));
  c->known[0] = k;
}

// A pipe end: the releases of the messages sent on it that its peer has
// not received yet, in order (one entry per message part).  All of it,
// and SocketState::pipe, under g_pipe_mu.
constexpr size_t kRing = 64;
struct PipeEnd {
  SocketState* peer;
  uint64_t sent;      // parts sent on this end
  uint64_t received;  // of those, parts the peer received
  uint64_t ring[kRing];  // serial << 32 | release, per part
};

// Ends bound or connected on an inproc endpoint, waiting for their other end.
constexpr int kWaiting = 128;
struct Waiting {
  SocketState* st;
  void* ctx;
  bool bound;
  char addr[120];
};
pthread_mutex_t g_pipe_mu = PTHREAD_MUTEX_INITIALIZER;
Waiting g_waiting[kWaiting];

PipeEnd* pipe_of(const SocketState* st) { return static_cast<PipeEnd*>(st->pipe.load(std::memory_order_relaxed)); }

// Marks st's owner word as a pipe end's (whoever owns it, or takes it later
// through order_owner_word).
void mark_pipe(SocketState* st) {
  uint64_t w = st->owner.load(std::memory_order_relaxed);
  while (w != kNoOwner && !(w & kPipeBit) && owner_encodable(owner_serial(w)) &&
         !st->owner.compare_exchange_weak(w, owner_serial(w) | kPipeBit, std::memory_order_acq_rel)) {
  }
}

struct StartBlock {
  void* (*fn)(void*);
  void* arg;
  Clock clock;
};

}  // namespace

bool order_enabled() { return g_enabled; }

void order_init() {
  g_enabled = options().policy_value() == Policy::Handoff && (g_mode == Mode::Abort || g_mode == Mode::Warn);
}

void order_taken(SocketState* st) {
  if (!g_enabled || tls_owned.overflow) return;
  for (int i = 0; i < tls_owned.n; i++)
    if (tls_owned.s[i] == st) return;
  if (tls_owned.n == kOwned) {
    tls_owned.overflow = true;
    return;
  }
  tls_owned.s[tls_owned.n++] = st;
}

uint64_t order_owner_word(const SocketState* st, uint64_t me) {
  if (!g_enabled || !owner_encodable(me) || !st->pipe.load(std::memory_order_relaxed)) return me;
  return me | kPipeBit;
}

uint32_t order_release(uint64_t me) {
  if (!g_enabled || !owner_encodable(me)) return 0;
  if (tls_clock.released >= kSeqMax) return 0;  // a billion releases: no more offers
  const uint32_t seq = ++tls_clock.released;
  const uint64_t offer_word = kOfferBit | (static_cast<uint64_t>(seq) << 32) | me;
  // Lock-free, as the readers: states are never freed, and one whose owner
  // word is this thread's plain serial is a socket this thread owns.  One
  // missed while the table grows stays on the fast path: its hand-off is
  // then reported, as before.
  if (!tls_owned.overflow) {
    int kept = 0;
    for (int i = 0; i < tls_owned.n; i++) {
      SocketHot* s = tls_owned.s[i];
      offer(s, me, offer_word);
      if (owner_serial(s->owner.load(std::memory_order_relaxed)) == me) tls_owned.s[kept++] = s;
    }
    tls_owned.n = kept;
    return seq;
  }
  RegistryTable* t = g_registry_table.load(std::memory_order_acquire);
  for (size_t i = 0; i <= t->mask; i++) {
    SocketHot* s = t->slots[i].load(std::memory_order_acquire);
    if (s != &g_registry_empty) offer(s, me, offer_word);
  }
  return seq;
}

bool order_acquired(uint64_t owner, uint32_t seq) {
  if (!owner_encodable(owner)) return false;
  for (const Known& k : tls_clock.known)
    if (k.serial == static_cast<uint32_t>(owner)) return k.seq >= seq;
  return false;
}

void* order_thread_prepare(void* (*fn)(void*), void* arg, const void* ra) {
  // libzmq's own threads (its I/O threads, the reaper) never take a
  // program's socket; a thread that never reached the guard owns none.
  if (!g_enabled || !tls_rec || tls_bypass || pc_in_libzmq(ra)) return nullptr;
  auto* b = static_cast<StartBlock*>(malloc(sizeof(StartBlock)));
  if (!b) return nullptr;
  const uint64_t me = tls_rec->serial.load(std::memory_order_relaxed);
  const uint32_t seq = order_release(me);
  b->fn = fn;
  b->arg = arg;
  // The new thread knows what its creator knew, and the release made now.
  b->clock = tls_clock;
  b->clock.released = 0;
  acquire(&b->clock, me, seq);
  return b;
}

void* order_thread_start(void* block) {
  auto* b = static_cast<StartBlock*>(block);
  void* (*fn)(void*) = b->fn;
  void* arg = b->arg;
  tls_clock = b->clock;
  free(b);
  return fn(arg);
}

void order_thread_failed(void* block) { free(block); }

// Only a program's PAIR sockets become pipe ends (or wait to): the one
// test both order_endpoint and order_closed make, so that closing any other
// socket touches neither the lock nor the waiting list.
static bool may_pair(const SocketState* st) {
  return g_enabled && st && st->type == 0 /* ZMQ_PAIR */ && !st->internal && !st->thread_safe;
}

void order_endpoint(SocketState* st, const char* verb, const char* addr) {
  if (!may_pair(st)) return;
  if (strncmp(addr, "inproc://", 9) != 0 || strlen(addr) >= sizeof(Waiting::addr)) return;
  const bool bound = verb[0] == 'b';
  pthread_mutex_lock(&g_pipe_mu);
  if (pipe_of(st)) {  // already a pipe end: a PAIR has one peer
    pthread_mutex_unlock(&g_pipe_mu);
    return;
  }
  Waiting* other = nullptr;
  Waiting* free_slot = nullptr;
  for (Waiting& w : g_waiting) {
    if (!w.st) {
      if (!free_slot) free_slot = &w;
      continue;
    }
    if (w.st != st && w.ctx == st->ctx && w.bound != bound && !strcmp(w.addr, addr)) other = &w;
  }
  if (other) {
    auto* a = static_cast<PipeEnd*>(calloc(1, sizeof(PipeEnd)));
    auto* b = static_cast<PipeEnd*>(calloc(1, sizeof(PipeEnd)));
    if (a && b) {
      SocketState* peer = other->st;
      a->peer = peer;
      b->peer = st;
      st->pipe.store(a, std::memory_order_release);
      peer->pipe.store(b, std::memory_order_release);
      mark_pipe(st);
      mark_pipe(peer);
      other->st = nullptr;
      for (Waiting& w : g_waiting)
        if (w.st == st) w.st = nullptr;
    } else {
      free(a);
      free(b);
    }
  } else if (free_slot) {
    free_slot->st = st;
    free_slot->ctx = st->ctx;
    free_slot->bound = bound;
    strcpy(free_slot->addr, addr);
  }
  pthread_mutex_unlock(&g_pipe_mu);
}

void order_closed(SocketState* st) {
  if (!may_pair(st)) return;
  pthread_mutex_lock(&g_pipe_mu);
  for (Waiting& w : g_waiting)
    if (w.st == st) w.st = nullptr;
  if (PipeEnd* p = pipe_of(st)) {
    if (p->peer) {
      PipeEnd* q = pipe_of(p->peer);
      if (q) q->peer = nullptr;
    }
    st->pipe.store(nullptr, std::memory_order_release);
    free(p);
  }
  pthread_mutex_unlock(&g_pipe_mu);
}

uint64_t order_sending(SocketState* st, uint64_t me, size_t parts) {
  const uint32_t seq = order_release(me);
  pthread_mutex_lock(&g_pipe_mu);
  uint64_t token = 0;
  if (PipeEnd* p = pipe_of(st)) {
    token = p->sent + 1;
    for (size_t i = 0; i < parts; i++) p->ring[p->sent++ % kRing] = (me << 32) | seq;
  }
  pthread_mutex_unlock(&g_pipe_mu);
  return token;
}

void order_sent(SocketState* st, uint64_t token, size_t parts, bool ok) {
  if (ok || token == 0) return;
  pthread_mutex_lock(&g_pipe_mu);
  // Nothing was delivered, so the peer cannot have received these parts;
  // taken back only if no other send was queued after them (two threads
  // sending on one pipe end at once are reported anyway).
  PipeEnd* p = pipe_of(st);
  if (p && p->sent == token - 1 + parts) p->sent = token - 1;
  pthread_mutex_unlock(&g_pipe_mu);
}

void order_received(SocketState* st, size_t parts) {
  pthread_mutex_lock(&g_pipe_mu);
  PipeEnd* mine = pipe_of(st);
  PipeEnd* from = mine && mine->peer ? pipe_of(mine->peer) : nullptr;
  for (size_t i = 0; from && i < parts; i++) {
    // More parts queued than the ring holds: those releases are lost, and
    // nothing is acquired for them (a hand-off may be reported).
    if (from->received < from->sent) {
      if (from->sent - from->received <= kRing) {
        const uint64_t e = from->ring[from->received % kRing];
        acquire(&tls_clock, e >> 32, static_cast<uint32_t>(e));
      }
      from->received++;
    }
  }
  pthread_mutex_unlock(&g_pipe_mu);
}

void order_after_fork_child() {
  tls_clock = Clock{};
  tls_owned = Owned{};
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  g_pipe_mu = fresh;
}

}  // namespace zg
