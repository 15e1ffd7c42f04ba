// SPDX-License-Identifier: MIT
// A thread's stacks in a text report: its Python traceback, then its
// native frames; with frames=user the runtime's and libraries' frames are
// folded into counted lines (report/frames.h says whose a frame is).
#pragma once
#include "report/stack.h"
#include "report/text.h"

namespace zg {

// One thread's part of a report: Python first when there is Python (py:
// a traceback as python.h gives it, or null), headed py_title.  brief (a
// notice): the first few of the program's own native frames only.
void text_thread_stacks(TextBuf& b, const Stack* s, const char* py, const char* py_title, bool brief,
                        const char* rb = nullptr);

}  // namespace zg
