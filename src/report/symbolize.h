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

// Drops cached module lists (after dlopen of new objects the next report
// refreshes anyway).
void symbolize_reset();
// In a forked child: fresh lock and session, whatever the parent's threads held.
void symbolize_after_fork_child();

}  // namespace zg
