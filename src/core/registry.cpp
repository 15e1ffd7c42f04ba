// SPDX-License-Identifier: MIT
#include "core/registry.h"

#include <stdlib.h>
#include <string.h>

#include <new>

#include "report/python.h"
#include "report/script.h"

namespace zg {
namespace {

constexpr size_t kInitialSlots = 256;

// The first table is one constant slot pointing at the sentinel, so lookups
// work before any constructor has run (a zmq call from another library's
// constructor); the first insertion replaces it.
RegistryTable g_initial{0, nullptr, {{&g_registry_empty}}};

pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
size_t g_count = 0;  // entries in the table (open and quarantined)
size_t g_open = 0;
SocketState* g_free = nullptr;
SocketState* g_q_head = nullptr;  // oldest quarantined
SocketState* g_q_tail = nullptr;
int g_q_len = 0;
uint64_t g_next_id = 1;

RegistryTable* table() { return g_registry_table.load(std::memory_order_relaxed); }

bool empty(const SocketHot* s) { return s == &g_registry_empty; }

RegistryTable* new_table(size_t cap) {
  size_t bytes = sizeof(RegistryTable) + (cap - 1) * sizeof(std::atomic<SocketHot*>);
  void* mem = calloc(1, bytes);
  if (!mem) return nullptr;
  auto* t = static_cast<RegistryTable*>(mem);
  t->mask = cap - 1;
  for (size_t i = 0; i < cap; i++) t->slots[i].store(&g_registry_empty, std::memory_order_relaxed);
  return t;
}

void place(RegistryTable* t, SocketState* s) {
  size_t i = registry_index(s->handle.load(std::memory_order_relaxed), t->mask);
  while (!empty(t->slots[i].load(std::memory_order_relaxed))) i = (i + 1) & t->mask;
  t->slots[i].store(s, std::memory_order_release);
}

void grow_if_needed() {
  RegistryTable* t = table();
  if ((g_count + 1) * 2 <= t->mask + 1) return;
  size_t cap = (t->mask + 1) * 2;
  if (cap < kInitialSlots) cap = kInitialSlots;
  RegistryTable* n = new_table(cap);
  if (!n) return;  // keep probing a fuller table rather than fail
  for (size_t i = 0; i <= t->mask; i++) {
    SocketHot* s = t->slots[i].load(std::memory_order_relaxed);
    if (!empty(s)) place(n, static_cast<SocketState*>(s));
  }
  n->retired = t == &g_initial ? nullptr : t;
  g_registry_table.store(n, std::memory_order_release);
  // The old table is never freed: readers may still be probing it, and the
  // sizes double, so the retired ones together stay smaller than the live one.
}

// Backward-shift deletion keeps probe chains intact without tombstones.
void unplace(SocketState* s) {
  RegistryTable* t = table();
  void* h = s->handle.load(std::memory_order_relaxed);
  size_t i = registry_index(h, t->mask);
  for (size_t n = 0; n <= t->mask; n++, i = (i + 1) & t->mask) {
    SocketHot* cur = t->slots[i].load(std::memory_order_relaxed);
    if (empty(cur)) return;
    if (cur == s) break;
  }
  if (t->slots[i].load(std::memory_order_relaxed) != s) return;
  size_t j = i;
  for (;;) {
    j = (j + 1) & t->mask;
    SocketHot* cur = t->slots[j].load(std::memory_order_relaxed);
    if (empty(cur)) break;
    size_t k = registry_index(cur->handle.load(std::memory_order_relaxed), t->mask);
    bool stays = (i <= j) ? (i < k && k <= j) : (i < k || k <= j);
    if (stays) continue;
    t->slots[i].store(cur, std::memory_order_release);
    i = j;
  }
  t->slots[i].store(&g_registry_empty, std::memory_order_release);
  g_count--;
}

void recycle(SocketState* s) {
  free(s->created_py);
  free(s->owner_py);
  py_stack_free(s->created_pys);
  s->created_py = s->owner_py = nullptr;
  script_stack_free(s->created_script);
  script_stack_free(s->owner_script);
  s->created_script = s->owner_script = nullptr;
  s->created_pys = nullptr;
  s->next_free = g_free;
  g_free = s;
}

void quarantine(SocketState* s) {
  if (s->quarantined) return;  // retiring twice must not link it twice
  s->quarantined = true;
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
  if (old->pins > 0) old->recycle_pending = true;  // registry_unpin recycles it
  else recycle(old);
}

SocketState* find_locked(void* h) {
  RegistryTable* t = table();
  size_t i = registry_index(h, t->mask);
  for (size_t n = 0; n <= t->mask; n++, i = (i + 1) & t->mask) {
    SocketHot* s = t->slots[i].load(std::memory_order_relaxed);
    if (empty(s)) return nullptr;
    if (s->handle.load(std::memory_order_relaxed) == h) return static_cast<SocketState*>(s);
  }
  return nullptr;
}

// The handle came back from zmq_socket: whatever we knew about it is
// another socket's.  Take that out of the table; it is recycled from the
// quarantine.
void forget_locked(void* h) {
  SocketState* old = find_locked(h);
  if (!old) return;
  bool was_open = !old->closed.load(std::memory_order_relaxed);
  unplace(old);
  old->handle.store(nullptr, std::memory_order_release);
  if (was_open) {
    g_open--;
    quarantine(old);
  }
}

}  // namespace

// Its own address is never a socket handle; being a constant, it is in
// place before any code runs.
SocketHot g_registry_empty{&g_registry_empty};
std::atomic<RegistryTable*> g_registry_table{&g_initial};

SocketState* registry_lookup_locked(void* h) {
  pthread_mutex_lock(&g_mu);
  SocketState* s = find_locked(h);
  pthread_mutex_unlock(&g_mu);
  return s;
}

SocketState* registry_new(void* h) {
  pthread_mutex_lock(&g_mu);
  forget_locked(h);
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
  pthread_mutex_unlock(&g_mu);
  return s;
}

void registry_publish(SocketState* s) {
  pthread_mutex_lock(&g_mu);
  // A stale call on the handle (the program's use after close of the
  // socket that had this address) may have adopted it meanwhile: the
  // socket zmq_socket made is the one that counts.
  forget_locked(s->handle.load(std::memory_order_relaxed));
  grow_if_needed();
  place(table(), s);  // a release store: everything filled in is seen with it
  g_count++;
  g_open++;
  pthread_mutex_unlock(&g_mu);
}

SocketState* registry_create(void* h) {
  SocketState* s = registry_new(h);
  if (s) registry_publish(s);
  return s;
}

void registry_forget(void* h) {
  pthread_mutex_lock(&g_mu);
  forget_locked(h);
  pthread_mutex_unlock(&g_mu);
}

void registry_retire(SocketState* s) {
  pthread_mutex_lock(&g_mu);
  if (s->handle.load(std::memory_order_relaxed) && !s->quarantined) {
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

int registry_pin_open(bool (*keep)(const SocketState*, void*), void* ctx, SocketState** out, int max) {
  int n = 0;
  pthread_mutex_lock(&g_mu);
  RegistryTable* t = table();
  for (size_t i = 0; i <= t->mask && n < max; i++) {
    SocketHot* h = t->slots[i].load(std::memory_order_relaxed);
    if (empty(h)) continue;
    auto* s = static_cast<SocketState*>(h);
    if (s->closed.load(std::memory_order_relaxed) || !keep(s, ctx)) continue;
    s->pins++;
    out[n++] = s;
  }
  pthread_mutex_unlock(&g_mu);
  return n;
}

void registry_unpin(SocketState* const* s, int n) {
  pthread_mutex_lock(&g_mu);
  for (int i = 0; i < n; i++)
    if (--s[i]->pins == 0 && s[i]->recycle_pending) {
      s[i]->recycle_pending = false;
      recycle(s[i]);
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
    if (SocketHot* h = t->slots[i].load(std::memory_order_relaxed); !empty(h)) {
      auto* s = static_cast<SocketState*>(h);
      s->mu = fresh;
      s->in_call.store(0, std::memory_order_relaxed);
    }
  for (SocketState* s = g_q_head; s; s = s->next_quarantine) s->mu = fresh;
  // A state a thread of the parent had pinned (a dump in progress) and that
  // has left the quarantine stays pinned here, unrecycled: at most the 256
  // a dump pins (or 4096 if the parent was reporting leaks at exit).
}

char* created_python_text(const SocketState* st) {
  if (st->created_py) return strdup(st->created_py);
  return py_stack_text(st->created_pys);
}

}  // namespace zg
