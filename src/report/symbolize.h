// SPDX-License-Identifier: MIT
// Turning return addresses into frames: function (demangled), file:line
// when debug information exists, module+offset and build-id always.
// libdw is dlopen()ed on the first report; without it, dladdr() names the
// exported functions.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace zg {

struct Frame {
  void* pc = nullptr;
  char function[256] = {};
  char file[256] = {};
  char dir[256] = {};  // the compilation directory a relative file is in
  int line = 0;
  char module[256] = {};
  uintptr_t offset = 0;  // pc - module base
};

// Fills *out for a return address (frame index i > 0 is looked up at pc-1,
// the call instruction).  Never fails: unknown parts stay empty.
void symbolize(void* pc, bool is_return_address, Frame* out);

// A Rust legacy symbol as the C++ demangler leaves it
// ("_$LT$T$u20$as$u20$zmq..Sendable$GT$::send::h0123456789abcdef") made
// into what rustc-demangle prints ("<T as zmq::Sendable>::send"), in
// place; any other name is left alone.  symbolize() applies it.
void rust_legacy_clean(char* name);

// Drops cached module lists (after dlopen of new objects the next report
// refreshes anyway).
void symbolize_reset();
// In a forked child: fresh lock and session, whatever the parent's threads held.
void symbolize_after_fork_child();

}  // namespace zg
