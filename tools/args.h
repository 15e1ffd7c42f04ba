// SPDX-License-Identifier: MIT
// The wrapper's command line, parsed without side effects beyond reading
// the file system (a report path's directory must be writable): what to do,
// the options the flags make, or the one error line.  Separate from main so
// that a fuzzer can call it (fuzz/fuzz_args.cpp) on any argument vector.
#pragma once
#include <string>
#include <vector>

namespace zgtool {

// The wrapper's own flags, for a run and for `report`.
struct RunFlags {
  std::string junit, sarif;
  bool keep_session = false;
};

struct Args {
  enum What { Run, Report, Help, Version, HelpOptions, Dump, Bad } what = Run;
  std::string opts;                 // Run: the pairs for ZMQ_GUARD_OPTIONS, ':'-separated
  RunFlags flags;                   // Run, Report
  int program = 0;                  // Run: argv index of the program
  std::vector<std::string> files;   // Report: the JSON findings files
  std::string dump_pid;             // Dump: the word after --dump
  std::string error;                // Bad: the message, without the program's name
};

// argv[0] is the wrapper itself; argv[argc] need not be null.
Args parse_args(int argc, char* const* argv);

}  // namespace zgtool
