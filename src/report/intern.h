// SPDX-License-Identifier: MIT
// An add-only table that gives each distinct thing (a Python code object,
// a Ruby frame) a small index, so that a recorded stack keeps indices and
// the text is made once per thing, not per stack.  Looking up needs no
// lock: entries are only added, each filled before its slot is published
// with release; adding takes a mutex.  The table is allocated at the first
// add and never freed; when it is full, intern says -1 and the callers
// record text instead.
#pragma once
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include <atomic>

namespace zg {

template <typename Entry, uint32_t kMax>
class InternTable {
 public:
  // The index of the entry of key that same(entry) accepts, or -1.
  template <typename Same>
  int find(uint64_t key, Same same) const {
    const Table* t = table_.load(std::memory_order_acquire);
    return t ? find_in(t, key, same, nullptr) : -1;
  }

  // The index of that entry, made by make(Entry*) if it is new (make
  // returns false when it could not fill it); -1 when the table is full or
  // out of memory, or make failed.
  template <typename Same, typename Make>
  int intern(uint64_t key, Same same, Make make) {
    int found = find(key, same);
    if (found >= 0) return found;
    pthread_mutex_lock(&mu_);
    Table* t = table_.load(std::memory_order_relaxed);
    if (!t) {
      t = static_cast<Table*>(calloc(1, sizeof(Table)));
      table_.store(t, std::memory_order_release);
    }
    uint32_t slot = 0;
    if (t && (found = find_in(t, key, same, &slot)) < 0 && t->n < kMax && make(&t->entries[t->n])) {
      found = static_cast<int>(t->n++);
      t->slots[slot].store(static_cast<uint32_t>(found) + 1, std::memory_order_release);
    }
    pthread_mutex_unlock(&mu_);
    return found;
  }

  // Entry i, an index find or intern gave.
  const Entry& at(int i) const { return table_.load(std::memory_order_acquire)->entries[i]; }
  bool empty() const { return table_.load(std::memory_order_acquire) == nullptr; }

  // In the child after fork: only the forking thread is left.
  void after_fork_child() {
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    mu_ = fresh;
  }

 private:
  static constexpr uint32_t kSlots = 2 * kMax;  // a power of two when kMax is
  static_assert((kMax & (kMax - 1)) == 0, "kMax is a power of two");

  struct Table {
    Entry entries[kMax];
    std::atomic<uint32_t> slots[kSlots];  // entry index + 1; 0: empty
    uint32_t n;
  };

  static uint32_t slot_of(uint64_t key) {
    return static_cast<uint32_t>((key * 0x9E3779B97F4A7C15ull) >> 40) & (kSlots - 1);
  }

  template <typename Same>
  static int find_in(const Table* t, uint64_t key, Same same, uint32_t* free_slot) {
    for (uint32_t i = slot_of(key);; i = (i + 1) & (kSlots - 1)) {
      uint32_t v = t->slots[i].load(std::memory_order_acquire);
      if (v == 0) {
        if (free_slot) *free_slot = i;
        return -1;
      }
      if (same(t->entries[v - 1])) return static_cast<int>(v - 1);
    }
  }

  std::atomic<Table*> table_{nullptr};
  pthread_mutex_t mu_ = PTHREAD_MUTEX_INITIALIZER;
};

}  // namespace zg
