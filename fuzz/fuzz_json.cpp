// SPDX-License-Identifier: MIT
// libFuzzer harness: the JSON reader of `zmq-guard report` (tools/json.cpp)
// and what the merge makes of a line (tools/findings.cpp: merge_line, the
// summary, the report text JUnit carries).  Any bytes are a findings file a
// user may name.  Checked beyond "no crash": the parser's error says where,
// within the input; a line that parses as an object with a string "kind" is
// counted as a report or a suppressed one, anything else as one problem.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <string>

#include "tools/findings.h"
#include "tools/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Exactly size bytes, no terminator: a read past the end is ASan's.
  char* text = static_cast<char*>(malloc(size ? size : 1));
  memcpy(text, data, size);
  zgtool::Json j;
  std::string err;
  bool ok = zgtool::json_parse(text, size, &j, &err);
  if (ok != err.empty()) abort();
  if (!ok && err.find(" at byte ") == std::string::npos) abort();
  if (!ok) {
    long at = strtol(err.c_str() + err.rfind(' ') + 1, nullptr, 10);
    if (at < 0 || static_cast<size_t>(at) > size) abort();
  }

  // The same bytes as a findings file: one JSON object a line.
  zgtool::Merge m;
  size_t lines = 0;
  for (size_t at = 0; at < size;) {
    const char* nl = static_cast<const char*>(memchr(text + at, '\n', size - at));
    size_t end = nl ? static_cast<size_t>(nl - text) : size;
    zgtool::merge_line(text + at, end - at, "fuzz", &m);
    lines++;
    at = end + 1;
  }
  if (static_cast<size_t>(m.reports + m.suppressed) + m.problems.size() > lines) abort();
  FILE* null = fopen("/dev/null", "w");
  if (null) {
    zgtool::print_summary(null, m, "==zmq-guard== ");
    fclose(null);
  }
  for (const zgtool::Distinct& d : m.findings) (void)zgtool::finding_text(d);
  free(text);
  return 0;
}
