// SPDX-License-Identifier: MIT
// Helpers shared by the unit tests.
#pragma once
#include <stdint.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "core/options.h"
#include "report/stack.h"

namespace zgunit {

// Makes pc_in_libzmq() true for [lo, hi) (0, 0: for nothing, the default).
void pretend_libzmq(uintptr_t lo, uintptr_t hi);

// Installs the defaults of options.def as the process-wide options.
zg::Options default_options();
void use_default_options();

// Captures a stack whose frame 0 is zgunit_capture_site (the frames of
// stack_capture itself are trimmed).  *line is the line of the call.
void capture_here(zg::Stack* out, int* line);

// Redirects file descriptor 2 into a temporary file until stop().
class StderrCapture {
 public:
  StderrCapture();
  ~StderrCapture();
  std::string stop();

 private:
  int saved_ = -1;
  int fd_ = -1;
};

// Non-empty lines of a text.
std::vector<std::string> lines_of(const std::string& text);

// A temporary directory removed (with its files) at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  std::string path(const char* name) const { return dir_ + "/" + name; }
  std::string write(const char* name, const std::string& content) const;
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

// True once thread `tid` of this process sleeps in system call `nr` (or
// any, for -1); false after about 5 s.
bool asleep_in(pid_t tid, long nr);

// Runs a command and returns its standard output; *status gets the exit
// status (or -1 if it did not exit normally).
std::string run_command(const std::string& cmd, int* status);

}  // namespace zgunit

void zgunit_capture_site(zg::Stack* out, int* line);
