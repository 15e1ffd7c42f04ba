// Python tracebacks without Python headers: the interpreter's exported
// helpers are looked up in the process at run time.  With the GIL released
// (pyzmq drops it around blocking calls), PyGILState_GetThisThreadState()
// still names the calling thread's state, and _Py_DumpTraceback() prints its
// frames with write() only: no allocation, no GIL, no deadlock.
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
// first" lines as _Py_DumpTraceback prints them), or null when the thread
// runs no Python.
char* py_traceback_current();

// Calls fn for each frame of such a text, most recent call last (the order
// Python's own tracebacks use).  Returns the number of frames.
int py_frames(const char* text, void (*fn)(const PyFrame& f, void* ctx), void* ctx);

// The calling thread's Python thread name (threading.current_thread().name)
// when it can be read safely, else "".
void py_thread_name(char* out, size_t len);

}  // namespace zg
