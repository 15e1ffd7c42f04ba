#include "report/stack.h"

#include <dlfcn.h>
#include <execinfo.h>
#include <link.h>
#include <string.h>

#include <atomic>

namespace zg {
namespace {

// libunwind is loaded on demand so it never appears in the host's NEEDED
// list; glibc's backtrace() is the fallback.
using unw_backtrace_fn = int (*)(void**, int);
std::atomic<unw_backtrace_fn> g_unw{nullptr};
std::atomic<int> g_warm{0};

uintptr_t g_self_lo = 0, g_self_hi = 0;

int find_self(struct dl_phdr_info* info, size_t, void* data) {
  uintptr_t me = reinterpret_cast<uintptr_t>(data);
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
    uintptr_t lo = info->dlpi_addr + ph.p_vaddr, hi = lo + ph.p_memsz;
    if (me >= lo && me < hi) {
      g_self_lo = lo;
      g_self_hi = hi;
      return 1;
    }
  }
  return 0;
}

}  // namespace

bool pc_in_guard(const void* pc) {
  uintptr_t p = reinterpret_cast<uintptr_t>(pc);
  return p >= g_self_lo && p < g_self_hi;
}

void stack_warm_up() {
  int expected = 0;
  if (!g_warm.compare_exchange_strong(expected, 1)) return;
  dl_iterate_phdr(find_self, reinterpret_cast<void*>(&find_self));
  void* h = dlopen("libunwind.so.8", RTLD_LAZY | RTLD_LOCAL);
  if (h) {
    auto fn = reinterpret_cast<unw_backtrace_fn>(dlsym(h, "unw_backtrace"));
    if (fn) g_unw.store(fn);
  }
  void* tmp[4];
  if (auto fn = g_unw.load()) fn(tmp, 4);
  else backtrace(tmp, 4);
}

void stack_capture(Stack* out, int max_depth) {
  if (max_depth > kMaxFrames) max_depth = kMaxFrames;
  if (max_depth < 1) max_depth = 1;
  void* raw[kMaxFrames + 16];
  int want = max_depth + 16;  // room for the guard's own frames
  int n;
  if (auto fn = g_unw.load(std::memory_order_relaxed)) n = fn(raw, want);
  else n = backtrace(raw, want);
  int i = 0;
  while (i < n && pc_in_guard(raw[i])) i++;
  if (i == n) i = 0;  // the guard is the executable itself (unit tests)
  int k = 0;
  for (; i < n && k < max_depth; i++) out->pc[k++] = raw[i];
  out->n = k;
}

}  // namespace zg
