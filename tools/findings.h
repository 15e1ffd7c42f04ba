// SPDX-License-Identifier: MIT
// A run's findings, merged: the JSON lines every guarded process wrote (to
// the wrapper's session, or to json_path files), grouped into distinct
// findings, and what the user and CI see of them: the summary, JUnit XML,
// SARIF 2.1.0.
#pragma once
#include <stdio.h>

#include <string>
#include <vector>

#include "json.h"

namespace zgtool {

struct Occurrence {
  long pid = 0;
  std::string test;     // pytest's test id, "" outside a test
  std::string cmdline;  // the process's command line
};

struct Distinct {
  std::string key;      // what makes two reports the same finding
  std::string kind;     // cross_thread, ...
  std::string summary;  // its SUMMARY line, without "SUMMARY: zmq-guard: "
  Json first;           // the first report of it, whole
  std::vector<Occurrence> seen;
  bool sets_status = false;  // found in mode=warn or abort, not information
};

struct Merge {
  std::vector<Distinct> findings;  // in the order first seen
  long reports = 0;                // unsuppressed reports, all copies
  long suppressed = 0;
  std::vector<long> pids;          // processes with an unsuppressed report
  std::vector<std::string> problems;  // lines that could not be read, one each
  bool any_sets_status() const;
};

// Adds every line of a findings file.  False (with a line in problems) if
// the file cannot be read at all.
bool merge_file(const std::string& path, Merge* m);
// Every <pid>.jsonl of a session directory, in pid order.
void merge_session(const std::string& dir, Merge* m);
// One JSON line (exposed for the fuzzer and the unit tests).
void merge_line(const char* line, size_t len, const std::string& where, Merge* m);

// The summary: every distinct finding once, then one total line; nothing
// at all when nothing was found.  Each line starts with `prefix`.
void print_summary(FILE* out, const Merge& m, const char* prefix);

// The report text of a finding, rebuilt from its JSON (JUnit's failure body).
std::string finding_text(const Distinct& d);

bool write_junit(const std::string& path, const Merge& m, std::string* error);
bool write_sarif(const std::string& path, const Merge& m, std::string* error);

}  // namespace zgtool
