// SPDX-License-Identifier: MIT
// Ruby backtraces without Ruby headers: libruby's exported profiling API is
// looked up in the process at run time, only once libruby is loaded.
//
// The guard never takes the GVL.  A thread's Ruby frames are read from its
// own VM stack (rb_profile_frames reads the calling thread's execution
// context), which only that thread changes, and it is inside a libzmq call:
// with the GVL released (Ruby FFI's blocking calls, which ffi-rzmq makes
// for every libzmq function) or held, the frames stand still.  Taking the
// GVL from inside a call (rb_thread_call_with_gvl) could wait for a holder
// that waits for this thread (doc/bindings.md, "Ruby").  Ruby thread names,
// whole: report/ruby_names.h.
#pragma once
#include <stddef.h>

namespace zg {

struct TextBuf;

struct RbFrame {
  char file[512];
  int line;
  char label[128];  // "send_job", "block in run", "<main>": Ruby's own labels
};

// True when libruby is loaded, of a version whose API the guard knows, and
// its VM exists.  Cheap when Ruby is absent (a look again only when the set
// of loaded objects has grown).
bool ruby_running();

// The calling thread's Ruby backtrace (malloc'd; one frame a line, most
// recent call first, "file\tline\tlabel"), or null when the thread runs no
// Ruby.  Takes no GVL; a lock only the first time a frame is seen.
char* ruby_backtrace_current();

// The same recorded for a later report, cheaply: frame numbers and lines,
// the text made by ruby_stack_text (malloc'd, or null; reads nothing of
// Ruby's, so any thread may make it at any time).  Null when the thread
// runs no Ruby.
struct RbStack;
RbStack* ruby_stack_record();
char* ruby_stack_text(const RbStack* st);
void ruby_stack_free(RbStack* st);
// *slot replaced by the calling thread's record (the old one freed).
void ruby_capture(RbStack** slot);

// In a forked child (Ruby servers fork workers): the locks a parent thread
// may have held are made fresh.
void ruby_after_fork_child();

// Calls fn for each frame of such a text, most recent call first.  Returns
// the number of frames.
int ruby_frames(const char* text, void (*fn)(const RbFrame& f, void* ctx), void* ctx);

// The report's part (title: the Python part's, "Python traceback of this
// thread", whose tail it takes): a backtrace as text lines ("      file:line:in `label'",
// with frames=user the program's own, runs of other frames one counted
// line), and as a JSON array of {"file","line","method","class"}.
void ruby_text(TextBuf& b, const char* text, const char* title);
void ruby_json(TextBuf& b, const char* text);

// The frame a report's SUMMARY names: the innermost of the best rank
// (3 the program's own, 2 a library, 1 the binding: ffi-rzmq and Ruby FFI;
// 0 none).
int ruby_best_frame(const char* text, RbFrame* out);

}  // namespace zg
