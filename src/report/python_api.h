// SPDX-License-Identifier: MIT
// Internal to src/report/python*.cpp: the interpreter's C API as found at
// run time (python.cpp), shared by the traceback text (python_text.cpp) and
// the stacks recorded at creation (python_stack.cpp).
#pragma once
#include <stdint.h>
#include <sys/types.h>

#include <atomic>

#include "report/late_lookup.h"
#include "report/text.h"

namespace zg {

// The interpreter's C API, found with dlsym: no Python headers at build
// time, and nothing to pay in a process without Python.  PyObject* is void*.
struct Py {
  LateLookup lookup;  // the pointers below are set once it is found
  int (*is_initialized)();
  void* (*this_tstate)();
  void (*dump)(int, void*);
  // Optional, each looked up on its own; `names` and `frames` say whether
  // all those a feature needs were found.
  void* (*holder_tstate)();  // _PyThreadState_UncheckedGet: the GIL holder
  int (*is_finalizing)();
  void* (*getattr)(void*, const char*);
  const char* (*as_utf8)(void*);
  void (*decref)(void*);
  void (*err_fetch)(void**, void**, void**);
  void (*err_restore)(void*, void*, void*);
  // Thread names.
  bool names;
  int (*gil_ensure)();
  void (*gil_release)(int);
  void* (*module_dict)();
  void* (*dict_get_string)(void*, const char*);
  void* (*dict_get)(void*, void*);
  void* (*long_from_ulong)(unsigned long);
  // Tracebacks read from the frames by a thread holding the GIL.
  bool frames;
  void* (*tstate_frame)(void*);  // PyThreadState_GetFrame: new reference
  void* (*frame_back)(void*);    // PyFrame_GetBack: new reference
  void* (*frame_code)(void*);    // PyFrame_GetCode: new reference
  int (*frame_line)(void*);      // PyFrame_GetLineNumber
  void* (*intern)(const char*);  // PyUnicode_InternFromString
  void* (*getattr_obj)(void*, void*);
  const char* (*as_utf8_size)(void*, ssize_t*);
  ssize_t (*unicode_len)(void*);
  uint32_t (*read_char)(void*, ssize_t);  // Py_UCS4, (Py_UCS4)-1 on error
  void* (*err_occurred)();
  void (*err_clear)();
  int (*gc_disable)();  // returns whether it was enabled
  int (*gc_enable)();
  // Stacks recorded as code objects and offsets (3.11's PyFrame_GetLasti).
  bool compact;
  int (*frame_lasti)(void*);          // PyFrame_GetLasti: bytes, or -1
  int (*code_addr2line)(void*, int);  // PyCode_Addr2Line: reads no Python state
  // Optional: 3.11's frames read in place (python_stack.cpp), which a build
  // with reference debugging (_Py_RefTotal) lays out otherwise.
  void (*incref)(void*);         // Py_IncRef
  const char* (*version)();      // Py_GetVersion
  bool ref_debug;
};
extern Py g_py;

// Finds the interpreter's functions (again, when objects were loaded since
// it was found absent); true if a Python is loaded.
bool py_lookup();
// True if the calling thread holds the GIL now.
bool py_holds_gil();

// What the dumper gives up after (traceback.c: MAX_FRAME_DEPTH and
// MAX_STRING_LENGTH): 100 frames, then "  ...", and 500 characters of a
// name, then "...".
constexpr int kPyMaxDepth = 100;
constexpr ssize_t kPyMaxChars = 500;

// `"path"` or `name`: one code object's attribute as the traceback writes
// it, or ??? when it is missing or not a str.  GIL held.
void py_put_field(TextBuf* t, void* code, void* attr, bool quoted);

// In a forked child: python_stack.cpp's lock made fresh.
void py_codes_after_fork_child();

}  // namespace zg
