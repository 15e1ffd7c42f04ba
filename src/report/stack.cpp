// SPDX-License-Identifier: MIT
#include "report/stack.h"

#include "report/unwind.h"
#include <link.h>
#include <string.h>

#include <atomic>

namespace zg {
namespace {

// The unwinder is glibc's backtrace() (libgcc's, driven by .eh_frame), not
// libunwind's unw_backtrace: libunwind 1.6 validates memory by writing to a
// pipe it opens once and keeps, so a host that closes its inherited file
// descriptors (a daemon's clean-up) and opens its own gets that pipe's
// numbers, and the next capture writes a byte into the host's file or, on
// EBADF, closes the host's descriptors to reopen its pipe.  backtrace()
// holds no file descriptor; its first call loads libgcc_s (about 200 us),
// which stack_warm_up pays from the constructor.  On x86-64 the walk is
// report/unwind.cpp's, which gives backtrace()'s frames from rules it
// caches per return address once libgcc confirmed them.
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
  unwind_warm_up();
}

void stack_capture(Stack* out, int max_depth, bool in_signal_handler) {
  if (max_depth > kMaxFrames) max_depth = kMaxFrames;
  if (max_depth < 1) max_depth = 1;
  void* raw[kMaxFrames + 16];
  int want = max_depth + 16;  // room for the guard's own frames
  int n = zg_unwind_backtrace(raw, want, !in_signal_handler);
  // The guard's own frames go, and whatever comes before them: in a process
  // with AddressSanitizer, backtrace() is its interceptor, one frame of
  // libasan above the guard's (the sanitized test run showed it as #0);
  // the walk of unwind.cpp has no such frame, backtrace() elsewhere may.
  int i = 0;
  while (i < n && !pc_in_guard(raw[i]) && i < 4) i++;
  if (i == n || i == 4) i = 0;
  while (i < n && pc_in_guard(raw[i])) i++;
  if (i == n) i = 0;  // the guard is the executable itself (unit tests)
  int k = 0;
  for (; i < n && k < max_depth; i++) out->pc[k++] = raw[i];
  out->n = k;
}

}  // namespace zg
