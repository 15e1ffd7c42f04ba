// SPDX-License-Identifier: MIT
// Ruby thread names, whole.  Thread#name= gives the OS only 15 bytes
// ("a-very-long-thr"), and never names the main thread to it; the name
// itself is a String in the VM's thread structure, whose layout Ruby does
// not export.  Each thread reads its own, without the GVL and without
// calling Ruby code, when it makes or takes a socket and when it is
// reported (doc/bindings.md, "Ruby"); a report shows the name a thread
// noted last, if it still agrees with the thread's OS name.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

namespace zg {

// Longer names are cut at a character boundary.
constexpr size_t kRbNameLen = 128;

struct ScriptStack;

// The calling thread (serial, tid, its OS name now) notes its Ruby name, if
// `rec`, the script frames it just recorded, are Ruby's, and the guard
// knows this Ruby's layout (else it notes nothing: a thread without Ruby
// frames pays a compare).  Costs a lock only when the name changed since
// the thread last noted it.
void ruby_note_thread(const ScriptStack* rec, uint64_t serial, pid_t tid, const char* os_name);
// The same from a report made in the thread, `script_text` its frames.
void ruby_note_thread(const char* script_text, uint64_t serial, pid_t tid, const char* os_name);

// The name thread `serial` noted last, if it agrees with `os_name` (the OS
// name the report has for it): its first 15 bytes are the OS name, or it
// is Ruby's main thread, once another thread's name agreed with its OS
// name.  Else "".
void ruby_noted_name(uint64_t serial, const char* os_name, char* out, size_t len);

// In a forked child: the table's lock made fresh.
void ruby_names_after_fork_child();

}  // namespace zg
