#include "core/registry.h"

#include <stdlib.h>
#include <string.h>

#include <new>

namespace zg {
namespace {

constexpr unsigned kInitialBits = 8;

// The first table lives in static storage, so lookups work before any
// constructor has run (a zmq call from another library's constructor).
struct InitialTable {
  RegistryTable hdr;
  std::atomic<SocketState*> rest[(1u << kInitialBits) - 1];
};
InitialTable g_initial{{(1u << kInitialBits) - 1, 64 - kInitialBits, {{nullptr}}}, {}};

pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
size_t g_count = 0;  // entries in the table (open and quarantined)
size_t g_open = 0;
SocketState* g_free = nullptr;
SocketState* g_q_head = nullptr;  // oldest quarantined
SocketState* g_q_tail = nullptr;
int g_q_len = 0;
uint64_t g_next_id = 1;

RegistryTable* table() { return g_registry_table.load(std::memory_order_relaxed); }

RegistryTable* new_table(unsigned bits) {
  size_t cap = size_t(1) << bits;
  size_t bytes = sizeof(RegistryTable) + (cap - 1) * sizeof(std::atomic<SocketState*>);
  void* mem = calloc(1, bytes);
  if (!mem) return nullptr;
  auto* t = static_cast<RegistryTable*>(mem);
  t->mask = cap - 1;
  t->shift = 64 - bits;
  return t;
}

void place(RegistryTable* t, SocketState* s) {
  size_t i = registry_hash(s->handle.load(std::memory_order_relaxed), t->shift);
  while (t->slots[i].load(std::memory_order_relaxed)) i = (i + 1) & t->mask;
  t->slots[i].store(s, std::memory_order_release);
}

void grow_if_needed() {
  RegistryTable* t = table();
  if ((g_count + 1) * 2 <= t->mask + 1) return;
  unsigned bits = 64 - t->shift + 1;
  RegistryTable* n = new_table(bits);
  if (!n) return;  // keep probing a fuller table rather than fail
  for (size_t i = 0; i <= t->mask; i++)
    if (SocketState* s = t->slots[i].load(std::memory_order_relaxed)) place(n, s);
  g_registry_table.store(n, std::memory_order_release);
  // The old table is never freed: readers may still be probing it, and the
  // sizes double, so the retired ones together stay smaller than the live one.
}

// Backward-shift deletion keeps probe chains intact without tombstones.
void unplace(SocketState* s) {
  RegistryTable* t = table();
  void* h = s->handle.load(std::memory_order_relaxed);
  size_t i = registry_hash(h, t->shift);
  for (size_t n = 0; n <= t->mask; n++, i = (i + 1) & t->mask) {
    SocketState* cur = t->slots[i].load(std::memory_order_relaxed);
    if (!cur) return;
    if (cur == s) break;
  }
  if (t->slots[i].load(std::memory_order_relaxed) != s) return;
  size_t j = i;
  for (;;) {
    j = (j + 1) & t->mask;
    SocketState* cur = t->slots[j].load(std::memory_order_relaxed);
    if (!cur) break;
    size_t k = registry_hash(cur->handle.load(std::memory_order_relaxed), t->shift);
    bool stays = (i <= j) ? (i < k && k <= j) : (i < k || k <= j);
    if (stays) continue;
    t->slots[i].store(cur, std::memory_order_release);
    i = j;
  }
  t->slots[i].store(nullptr, std::memory_order_release);
  g_count--;
}

void recycle(SocketState* s) {
  free(s->created_py);
  free(s->owner_py);
  s->created_py = s->owner_py = nullptr;
  s->next_free = g_free;
  g_free = s;
}

void quarantine(SocketState* s) {
  s->next_quarantine = nullptr;
  if (g_q_tail) g_q_tail->next_quarantine = s;
  else g_q_head = s;
  g_q_tail = s;
  if (++g_q_len <= kQuarantine) return;
  SocketState* old = g_q_head;
  g_q_head = old->next_quarantine;
  if (!g_q_head) g_q_tail = nullptr;
  g_q_len--;
  if (old->handle.load(std::memory_order_relaxed)) {
    unplace(old);
    old->handle.store(nullptr, std::memory_order_release);
  }
  recycle(old);
}

SocketState* find_locked(void* h) {
  RegistryTable* t = table();
  size_t i = registry_hash(h, t->shift);
  for (size_t n = 0; n <= t->mask; n++, i = (i + 1) & t->mask) {
    SocketState* s = t->slots[i].load(std::memory_order_relaxed);
    if (!s) return nullptr;
    if (s->handle.load(std::memory_order_relaxed) == h) return s;
  }
  return nullptr;
}

}  // namespace

std::atomic<RegistryTable*> g_registry_table{&g_initial.hdr};

SocketState* registry_lookup_locked(void* h) {
  pthread_mutex_lock(&g_mu);
  SocketState* s = find_locked(h);
  pthread_mutex_unlock(&g_mu);
  return s;
}

SocketState* registry_create(void* h) {
  pthread_mutex_lock(&g_mu);
  if (SocketState* old = find_locked(h)) {
    // The handle came back from zmq_socket: whatever we knew is another
    // socket.  Take it out of the table; it is recycled from the quarantine.
    bool was_open = !old->closed.load(std::memory_order_relaxed);
    unplace(old);
    old->handle.store(nullptr, std::memory_order_release);
    if (was_open) {
      g_open--;
      quarantine(old);
    }
  }
  SocketState* s = g_free;
  if (s) {
    g_free = s->next_free;
    s->~SocketState();
    new (s) SocketState;
  } else {
    s = new (std::nothrow) SocketState;
    if (!s) {
      pthread_mutex_unlock(&g_mu);
      return nullptr;
    }
  }
  s->id = g_next_id++;
  s->handle.store(h, std::memory_order_relaxed);
  grow_if_needed();
  place(table(), s);
  g_count++;
  g_open++;
  pthread_mutex_unlock(&g_mu);
  return s;
}

void registry_retire(SocketState* s) {
  pthread_mutex_lock(&g_mu);
  if (s->handle.load(std::memory_order_relaxed)) {
    g_open--;
    quarantine(s);
  }
  pthread_mutex_unlock(&g_mu);
}

size_t registry_open_count() {
  pthread_mutex_lock(&g_mu);
  size_t n = g_open;
  pthread_mutex_unlock(&g_mu);
  return n;
}

size_t registry_capacity() { return table()->mask + 1; }

void registry_for_each_open(void (*fn)(SocketState*, void*), void* ctx) {
  pthread_mutex_lock(&g_mu);
  RegistryTable* t = table();
  for (size_t i = 0; i <= t->mask; i++) {
    SocketState* s = t->slots[i].load(std::memory_order_relaxed);
    if (s && !s->closed.load(std::memory_order_relaxed)) fn(s, ctx);
  }
  pthread_mutex_unlock(&g_mu);
}

void registry_fork_prepare() { pthread_mutex_lock(&g_mu); }
void registry_fork_parent() { pthread_mutex_unlock(&g_mu); }
void registry_fork_child() {
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  g_mu = fresh;
  // Per-socket locks may have been held by threads that do not exist in the
  // child; no call of this process is inside them now.
  RegistryTable* t = table();
  for (size_t i = 0; i <= t->mask; i++)
    if (SocketState* s = t->slots[i].load(std::memory_order_relaxed)) {
      s->mu = fresh;
      s->in_call.store(0, std::memory_order_relaxed);
    }
  for (SocketState* s = g_q_head; s; s = s->next_quarantine) s->mu = fresh;
}

}  // namespace zg
