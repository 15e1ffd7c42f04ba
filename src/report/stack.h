// SPDX-License-Identifier: MIT
// Stack capture: raw return addresses only.  Cheap enough (well under a
// microsecond) to run whenever a socket is created or changes owner; never
// on the owner's own calls.  Symbolization happens only when printing.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace zg {

constexpr int kMaxFrames = 64;

struct Stack {
  int n = 0;
  void* pc[kMaxFrames];
};

// Captures the caller's stack, dropping the guard's own frames at the top.
// in_signal_handler: nothing that may allocate or lock is done (the walk
// learns no new rules).
void stack_capture(Stack* out, int max_depth, bool in_signal_handler = false);

// Loads the unwinder ahead of time (the first unwind in a process loads
// libgcc_s and costs ~200 us).
void stack_warm_up();

// True if pc lies inside the guard's own code.
bool pc_in_guard(const void* pc);

}  // namespace zg
