// SPDX-License-Identifier: MIT
// Whose code a frame is, decided once per module or file, so that a report
// shows the program's own frames and folds the machinery away (as pytest's
// __tracebackhide__ and the sanitizers' interceptor frames do).
//
//   User     the program's own code: the executable (unless it is an
//            interpreter), libraries outside the system's directories,
//            Python files outside the interpreter's and site packages'
//            directories (a script, a test, a notebook cell)
//   Library  code the program uses: system libraries (czmq, libstdc++),
//            cppzmq's header, pyzmq, the test runner, Python's standard
//            library and every installed package
//   Runtime  what runs everything: libc, the dynamic loader, libgcc,
//            libzmq, libpython and the python executable, the php and perl
//            interpreters (libperl), the guard itself,
//            Python's frozen modules
#pragma once
#include <stddef.h>

#include "report/python.h"
#include "report/symbolize.h"

namespace zg {

enum class FrameClass { User, Library, Runtime };

const char* frame_class_name(FrameClass c);  // "user", "library", "runtime"

FrameClass classify_native(const Frame& f);
FrameClass classify_python(const PyFrame& f);

// pyzmq's own Python layer (the installed package's zmq/sugar, ...): the
// binding, never where a user looks, even beside other libraries.
bool pyzmq_file(const char* file);
// libzmq, czmq, cppzmq's header: the binding in a native stack.
bool native_binding(const Frame& f);

// A short name for a fold line: a Python file below its packages or
// standard library directory ("zmq/sugar/socket.py", "asyncio/events.py"),
// a native module's file name ("libc.so.6").
void python_short_name(const char* file, char* out, size_t size);
const char* module_base(const char* module);

// The GNU build-id of a loaded module (by path, as symbolize names it),
// in hex; false if it has none or is not loaded.
bool module_build_id(const char* module, char* hex, size_t size);

}  // namespace zg
