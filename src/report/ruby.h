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

// The Ruby row of report/langs.def (kRubyLang) is what the rest of the
// guard uses; these are its parts.

// True when libruby is loaded, of a version whose API the guard knows, and
// its VM exists.  Cheap when Ruby is absent (a look again only when the set
// of loaded objects has grown).
bool ruby_running();

// The calling thread's frames recorded for a later report, cheaply: frame
// numbers and lines, the text ("file\tline\tlabel" lines, most recent call
// first) made by ruby_stack_text (malloc'd, or null; reads nothing of
// Ruby's, so any thread may make it at any time).  Null when the thread
// runs no Ruby.  Takes no GVL; a lock only the first time a frame is seen.
struct FrameRecord;  // report/frame_record.h
FrameRecord* ruby_stack_record();
char* ruby_stack_text(const FrameRecord* st);
void ruby_stack_free(FrameRecord* st);

// In a forked child (Ruby servers fork workers): the locks a parent thread
// may have held are made fresh.
void ruby_after_fork_child();

}  // namespace zg
