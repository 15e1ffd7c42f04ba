// SPDX-License-Identifier: MIT
// A native stack walk that gives exactly what glibc's backtrace() gives for
// the same call, at a hash lookup and two loads a frame once the frames'
// rules are known (x86-64 with glibc's _dl_find_object; elsewhere it is
// backtrace() itself).  src/report/unwind.cpp says how a rule is learned and
// checked against libgcc before the walk may follow it.
#pragma once
#include <dlfcn.h>

#if defined(__x86_64__) && defined(__linux__) && defined(__GLIBC__)
#if defined(DLFO_STRUCT_HAS_EH_DBASE)
#define ZG_FAST_UNWIND 1
#endif
#endif
#ifndef ZG_FAST_UNWIND
#define ZG_FAST_UNWIND 0
#endif

// Like backtrace(out, max): out[0] is the return address into the caller
// of zg_unwind_backtrace, then its callers'; at most 80 frames.  may_init
// false: the caller is a signal handler, so nothing is set up or learned
// that may allocate or lock (the thread's stack bounds, new rules).
extern "C" int zg_unwind_backtrace(void** out, int max, bool may_init);

namespace zg {

// Loads libgcc_s's unwinder (the first unwind loads it, about 200 us).
void unwind_warm_up();

// In the child after fork: only the forking thread is left.
void unwind_after_fork_child();

// For tests: how many of the calling thread's captures took the cached
// walk and how many libgcc's, and how many rules the process has cached.
struct UnwindStats {
  unsigned long fast, slow;
  unsigned rules;
};
UnwindStats unwind_stats();

}  // namespace zg
