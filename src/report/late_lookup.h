// SPDX-License-Identifier: MIT
// An interpreter's exported functions (libpython's, libruby's, ...), found
// with dlsym once the interpreter is loaded: no headers at build time, and
// almost nothing paid in a process without it.  A lookup that found the
// interpreter absent is tried again only when the loader has added objects
// since (dl_iterate_phdr's dlpi_adds, read from the first object: one
// callback), because an interpreter may come late (a C program embedding
// Python or Ruby, a plugin).  Once found, asking is one acquire load.
#pragma once
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stddef.h>

#include <atomic>

namespace zg {

// *out = the function or object `name` in the global scope; false if none.
template <typename F>
bool late_sym(F* out, const char* name) {
  *out = reinterpret_cast<F>(dlsym(RTLD_DEFAULT, name));
  return *out != nullptr;
}

class LateLookup {
 public:
  // True once find() returned true; find() runs under a lock, at most once
  // per set of loaded objects, and fills the caller's pointers.
  template <typename Find>
  bool ensure(Find find) {
    int s = state_.load(std::memory_order_acquire);
    if (s == kFound) return true;
    unsigned long long adds = 0;
    dl_iterate_phdr(adds_of, &adds);
    // Read without the lock by every thread that asks (ThreadSanitizer
    // found it): relaxed, as the state's acquire load orders it.
    if (s == kAbsent && adds == absent_adds_.load(std::memory_order_relaxed)) return false;
    pthread_mutex_lock(&mu_);
    bool ok = state_.load(std::memory_order_relaxed) == kFound;
    if (!ok) {
      ok = find();
      if (!ok) absent_adds_.store(adds, std::memory_order_relaxed);
      state_.store(ok ? kFound : kAbsent, std::memory_order_release);
    }
    pthread_mutex_unlock(&mu_);
    return ok;
  }

  bool found() const { return state_.load(std::memory_order_acquire) == kFound; }

  // In a forked child: the lock a parent thread may have held, made fresh.
  void after_fork_child() {
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    mu_ = fresh;
  }

 private:
  static constexpr int kFound = 1, kAbsent = 2;
  static int adds_of(struct dl_phdr_info* info, size_t size, void* data) {
    if (size >= offsetof(struct dl_phdr_info, dlpi_subs)) *static_cast<unsigned long long*>(data) = info->dlpi_adds;
    return 1;
  }
  std::atomic<int> state_{0};  // 0 not looked yet
  std::atomic<unsigned long long> absent_adds_{0};
  pthread_mutex_t mu_ = PTHREAD_MUTEX_INITIALIZER;
};

}  // namespace zg
