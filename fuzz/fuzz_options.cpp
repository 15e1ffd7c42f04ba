// SPDX-License-Identifier: MIT
// libFuzzer harness: ZMQ_GUARD_OPTIONS's parser (options_parse) and the
// %p expansion of path options.  Any bytes are an options string as the
// environment may hold it (cut at the first NUL, as getenv would give it).
// Checked beyond "no crash": every problem is one line of the guard's, of
// bounded length, and every parsed value is one its table accepts.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <string>

#include "core/options.h"

namespace {

void check_line(const char* line, void* ctx) {
  ++*static_cast<int*>(ctx);
  size_t n = strlen(line);
  if (strncmp(line, "zmq-guard: ", 11) != 0 || n > 1024 || memchr(line, '\n', n)) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  text.resize(strlen(text.c_str()));
  zg::Options o;
  zg::options_defaults(&o);
  int lines = 0;
  int bad = zg::options_parse(text.c_str(), &o, check_line, &lines);
  if (bad != lines || bad < 0) abort();
  if (o.mode < 0 || o.mode > 3 || o.policy < 0 || o.policy > 2) abort();
  if (o.exitcode < 1 || o.exitcode > 255 || o.stack_depth < 1 || o.stack_depth > 64) abort();
  if (o.dump_signal < 0 || o.dump_signal > 64 || o.term_timeout_ms < 0) abort();
  for (const char* path : {o.log_path, o.json_path, o.suppressions}) {
    if (strnlen(path, sizeof o.log_path) == sizeof o.log_path) abort();
    char out[600];
    zg::expand_path(path, 2147483647, out, sizeof out);
    if (strnlen(out, sizeof out) == sizeof out) abort();
    char tiny[3];
    zg::expand_path(path, 12345, tiny, sizeof tiny);
    if (strnlen(tiny, sizeof tiny) == sizeof tiny) abort();
  }
  zg::options_secure_restrict(&o, true, check_line, &lines);
  if (o.log_path[0] || o.json_path[0] || o.suppressions[0]) abort();
  return 0;
}
