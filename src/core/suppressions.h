// SPDX-License-Identifier: MIT
// Suppressions: findings to ignore, matched as ThreadSanitizer matches
// its own: a rule names a finding kind and a shell glob, and it matches
// when the glob matches a function, module or source file of ANY stack of
// the finding: the offending thread's, the owner's (or the other thread
// inside a call), where the socket was created; native or Python.  Rules
// come from the file the `suppressions` option names and, unless
// builtin_suppressions=0, from the guard's built-in list (suppressions.cpp,
// each entry with why it is safe).  print_suppressions=1 lists at exit
// which rules matched how often.
#pragma once
#include "core/policy.h"
#include "report/stack.h"

namespace zg {

// The built-in rules and the options' file (at the process's first socket,
// lifecycle_first_socket: a process that never uses ZeroMQ reads nothing).
// A file is read only if regular, at most 1 MiB, never waiting for a
// writer; at most 10 bad lines are said, then a count.
void suppressions_init();
// Loads a suppressions file; malformed lines are reported one each and
// skipped.  Returns the number of rules loaded, -1 if unreadable.
int suppressions_load(const char* path);
// The parser itself, over len bytes of any kind, NUL included (changed in
// place; text[len] must be writable too): the rules are added, the count of
// them returned.  path only names the file in the lines it says.
int suppressions_parse(const char* path, char* text, size_t len);
// Forgets every rule, built-in ones included (tests).
void suppressions_clear();
// Adds the built-in rules (tests; suppressions_init adds them when on).
void suppressions_add_builtin();

// True if a rule of kind `kind` matches a frame of one of the n stacks
// (stacks[i] native, pys[i] a Python traceback's text, rbs[i] a Ruby, Perl, ...
// backtrace's (report/ruby.h); any may be null).  The first rule that
// matches counts one hit.
bool suppressions_match(FindingKind kind, const Stack* const* stacks, const char* const* pys, int n,
                        const char* const* rbs = nullptr);
// One stack (the offending thread's), for callers that have only that.
inline bool lifecycle_suppressed(FindingKind kind, const Stack* stack, const char* py) {
  return suppressions_match(kind, &stack, &py, 1);
}

// Writes every rule with its hits ("zmq-guard: suppressions used:"),
// built-in ones marked, to the report sink.
void suppressions_print_used();

}  // namespace zg
