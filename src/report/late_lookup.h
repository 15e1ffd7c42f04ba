// SPDX-License-Identifier: MIT
// An interpreter's exported functions (libpython's, libruby's, ...), found
// (late_find) once the interpreter is loaded: no headers at build time, and
// almost nothing paid in a process without it.  A lookup that found the
// interpreter absent is tried again only when the loader has added objects
// since (dl_iterate_phdr's dlpi_adds, read from the first object: one
// callback), because an interpreter may come late (a C program embedding
// Python or Ruby, a plugin).  Once found, asking is one acquire load.
#pragma once
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>

#include <atomic>

#include "interpose/elf_symbol.h"  // a header of its own: C, no state

namespace zg {

// The default version of `name` defined by the first loaded object (in
// load order: the program, then its libraries, as the global scope looks)
// whose file name ends with `object` (any object: null), or null.  Read
// from each object's own dynamic symbol table (interpose/elf_symbol.h), not
// with dlsym: dlsym takes the loader's lock, which a thread running a
// library's constructor inside dlopen holds; if that constructor waited
// for a thread making a socket here, the guard would have made a deadlock
// the program does not have.  dl_iterate_phdr takes only the lock dlopen
// holds while it adds to the list.
inline void* late_find(const char* name, const char* object = nullptr) {
  struct Ctx {
    const char* name;
    const char* object;
    void* found;
  } ctx{name, object, nullptr};
  dl_iterate_phdr(
      [](struct dl_phdr_info* info, size_t, void* data) {
        auto* c = static_cast<Ctx*>(data);
        if (c->object) {
          const char* n = info->dlpi_name ? info->dlpi_name : "";
          const size_t len = strlen(n), want = strlen(c->object);
          if (len < want || strcmp(n + len - want, c->object) != 0) return 0;
        }
        for (int i = 0; i < info->dlpi_phnum; i++) {
          if (info->dlpi_phdr[i].p_type != PT_DYNAMIC) continue;
          struct link_map map = {};
          map.l_addr = info->dlpi_addr;
          map.l_ld = reinterpret_cast<ElfW(Dyn)*>(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
          c->found = zg_elf_lookup(&map, c->name);
          break;
        }
        return c->found ? 1 : 0;
      },
      &ctx);
  return ctx.found;
}

// *out = late_find(name, object); false if none.
template <typename F>
bool late_sym(F* out, const char* name, const char* object = nullptr) {
  *out = reinterpret_cast<F>(late_find(name, object));
  return *out != nullptr;
}

// One count of the loader's additions for all the lookups of one record
// (a creation or a claim asks Python and every language of langs.def
// whether it is loaded now: one dl_iterate_phdr each, without this).
// Inside a LoaderLook scope the first lookup that needs the count keeps
// it for the others; outside one, each counts.
extern __thread unsigned long long tls_loader_adds __attribute__((tls_model("initial-exec")));
extern __thread int tls_loader_look __attribute__((tls_model("initial-exec")));
struct LoaderLook {
  LoaderLook() { tls_loader_look++; }
  ~LoaderLook() {
    if (--tls_loader_look == 0) tls_loader_adds = 0;
  }
  LoaderLook(const LoaderLook&) = delete;
  LoaderLook& operator=(const LoaderLook&) = delete;
};

class LateLookup {
 public:
  // True once find() returned true; find() runs under a lock, at most once
  // per set of loaded objects, and fills the caller's pointers.  Never
  // waits long: see lock_a_while.
  template <typename Find>
  bool ensure(Find find) {
    int s = state_.load(std::memory_order_acquire);
    if (s == kFound) return true;
    unsigned long long adds = tls_loader_look ? tls_loader_adds : 0;
    if (adds == 0) {  // a count is never 0: the program itself is one addition
      dl_iterate_phdr(adds_of, &adds);
      if (tls_loader_look) tls_loader_adds = adds;
    }
    // Read without the lock by every thread that asks (ThreadSanitizer
    // found it): relaxed, as the state's acquire load orders it.
    if (s == kAbsent && adds == absent_adds_.load(std::memory_order_relaxed)) return false;
    // A look takes microseconds, and a thread must never wait without end
    // for another's: one holding a lock the looker waits for (the loader's
    // lock inside dlopen, in a find() that a reader extends) would make a
    // deadlock.  mu_ is tried for a while (yielding), then the answer is
    // what is known (no frames this time).
    if (!lock_a_while()) return state_.load(std::memory_order_acquire) == kFound;
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
  bool lock_a_while() {
    for (int i = 0; i < 2000; i++) {
      if (pthread_mutex_trylock(&mu_) == 0) return true;
      sched_yield();
    }
    return false;
  }
  static int adds_of(struct dl_phdr_info* info, size_t size, void* data) {
    if (size >= offsetof(struct dl_phdr_info, dlpi_subs)) *static_cast<unsigned long long*>(data) = info->dlpi_adds;
    return 1;
  }
  std::atomic<int> state_{0};  // 0 not looked yet
  std::atomic<unsigned long long> absent_adds_{0};
  pthread_mutex_t mu_ = PTHREAD_MUTEX_INITIALIZER;
};

}  // namespace zg
