// SPDX-License-Identifier: MIT
// Running the program as the wrapper's child while keeping what the
// program would have had if the wrapper had exec()ed it: the terminal and
// its process group, stdin, the signals sent to it, its exit status.
#pragma once
#include <string>

namespace zgtool {

struct ChildEnd {
  bool started = false;  // false: fork failed (errno in code)
  bool signaled = false;
  int code = 0;  // exit status, or the signal number when signaled
};

// Starts argv[0] (PATH searched) with the current environment and waits for
// it.  Meanwhile the signals a user or a supervisor sends the wrapper
// (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM) are passed
// to the child, except those the terminal sent to the whole foreground
// process group, which the child received itself.  `started`, if not null,
// is told the child's pid before the wait.
ChildEnd run_child(char** argv, void (*started)(long pid, void* ctx), void* ctx);

// Ends the wrapper the way the child ended: the same exit status, or death
// by the same signal (without a core file of the wrapper's own).
[[noreturn]] void exit_like(const ChildEnd& end, int status_override);

// A private directory for the run's findings (mkdtemp under $TMPDIR or
// /tmp, mode 0700); "" with a line in *error when none can be made.
std::string make_session(std::string* error);
// A session that the next wrapper finds unlocked (its wrapper was killed
// outright) is removed by it.  keep_session makes one the user's for good.
void keep_session(const std::string& dir);
// Removes the session's files and the directory.
void remove_session(const std::string& dir);
// Appends every file of a finished session to the same file in `outer`
// (a wrapper run under another one passes its findings up).
void pass_session_up(const std::string& dir, const std::string& outer);

}  // namespace zgtool
