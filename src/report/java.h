// SPDX-License-Identifier: MIT
// Java stack traces without a JDK's headers: the JVM (libjvm.so) is found
// in the process at run time, only once it is loaded, and its frames are
// read through JVMTI, which reads the VM's own frames and runs no Java code.
//
// Only a Java thread reads its own frames: a thread inside a JNI call
// (jzmq's natives) into libzmq.  Each method's class, name, source file and
// line table are asked of JVMTI once, the first time the method is seen,
// and kept in an add-only table; a record is table entries and lines, and
// its text is made from the table alone, by any thread, at any time (the
// guard's watcher thread, after the VM is gone).  doc/bindings.md, "Java".
#pragma once
#include <stddef.h>

#include "report/script.h"

namespace zg {

// The Java row of report/langs.def (kJavaLang) is what the rest of the
// guard uses; these are its parts.

// True when libjvm is loaded, its VM made, and option java is on.  Cheap
// when Java is absent (a look again only when the set of loaded objects has
// grown).
bool java_running();

// The calling thread's Java frames, recorded for a later report (null when
// the thread is not a Java thread or has no Java frame), most recent call
// first.  Its text (malloc'd, or null) has one frame a line,
// "file\tline\tClass.method", as Java prints them: file "Native Method"
// (line -2) for a native method, "Unknown Source" (line -1) for a class
// without a SourceFile attribute; line -1 for a method without a line
// table.  Making the text reads nothing of the VM's.
struct FrameRecord;  // report/frame_record.h
FrameRecord* java_stack_record();
char* java_stack_text(const FrameRecord* st);
void java_stack_free(FrameRecord* st);

// How a frame counts for a report: the binding's (jzmq: org.zeromq.*), the
// runtime's (java.*, jdk.*, sun.*, the VM's hidden lambda classes), a
// language runtime's or a test framework's (Kotlin, Scala, JUnit: library),
// else the program's own.  function is "pkg.Class.method".
ScriptClass java_classify(const char* file, const char* function);
// A fold line's name: the frame's package ("org.zeromq", "java.lang"), or
// for a class in no package its name up to any "$$" ("JzmqPair").
void java_short_name(const char* file, const char* function, char* out, size_t size);

// In a forked child: the locks a parent thread may have held made fresh.
void java_after_fork_child();

}  // namespace zg
