// SPDX-License-Identifier: MIT
// Python tracebacks without Python headers: the interpreter's exported
// helpers are looked up in the process at run time.  With the GIL released
// (pyzmq drops it around blocking calls), PyGILState_GetThisThreadState()
// still names the calling thread's state, and _Py_DumpTraceback() prints its
// frames with write() only: no allocation, no GIL, no deadlock.  A thread
// that holds the GIL (pyzmq keeps it to create a socket or set an option)
// has its frames read through the C API instead, into memory: the same
// text without the dumper's write() per piece (about 300 at a depth of 30).
#pragma once
#include <stddef.h>

namespace zg {

struct PyFrame {
  char file[512];
  int line;
  char function[128];
};

// True when a Python interpreter is loaded and initialized.
bool py_running();

// The calling thread's Python traceback as text (malloc'd, "most recent call
// first" lines as _Py_DumpTraceback prints them; read from the frames, names
// are UTF-8 rather than escaped), or null when the thread runs no Python.
char* py_traceback_current();

// The calling thread's Python stack recorded for a later report, cheaply:
// code objects and instruction offsets, no text (see python.cpp).  Null
// when the thread does not hold the GIL or runs no Python, or the record
// cannot be made: then py_traceback_current() gives the text.
struct PyStack;
PyStack* py_stack_record();
// Its text, as py_traceback_current() would have made it then (malloc'd),
// or null.  Needs no GIL.
char* py_stack_text(const PyStack* st);
void py_stack_free(PyStack* st);

// Calls fn for each frame of such a text, most recent call last (the order
// Python's own tracebacks use).  Returns the number of frames.
int py_frames(const char* text, void (*fn)(const PyFrame& f, void* ctx), void* ctx);

// The calling thread's Python thread name (threading.current_thread().name)
// when it can be read safely, else "".
void py_thread_name(char* out, size_t len);

// Python thread names of several threads, by pthread id (what
// threading.get_ident() returns), for a report.  Reading threading's table
// needs the GIL: a caller holding it reads directly; otherwise a short-lived
// helper thread takes the GIL while the caller waits at most `timeout_ms`
// and then gives up, leaving the names it could not get empty.
constexpr int kPyNameLen = 64;
// How long a report waits for a helper thread to read Python thread names
// under the GIL (python.cpp): a busy machine can take a few hundred ms to
// schedule it; a GIL holder that waits for the reporter never gives it.
constexpr int kPyNamesWaitMs = 1000;
void py_thread_names(const unsigned long* idents, int n, char (*names)[kPyNameLen], int timeout_ms);

// Remembers the calling thread's Python name under `key` (a thread serial)
// if it can be read without waiting (the thread holds the GIL), so a report
// can still name a thread that has exited.  Cheap when Python is absent.
void py_note_thread(unsigned long long key);
// The same, only the first time the calling thread asks for `key`: for a
// socket's creation, where reading the name again for every socket cost
// more than the rest of the Python record (a thread's later claims still
// note it afresh, and a running thread's name is read when a report is).
void py_note_thread_once(unsigned long long key);
// The name noted for `key`; false if none.
bool py_noted_name(unsigned long long key, char* out, size_t len);

// In a forked child: the lock a parent thread may have held is made fresh.
void py_after_fork_child();

}  // namespace zg
