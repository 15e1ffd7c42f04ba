// SPDX-License-Identifier: MIT
// libFuzzer harness: the wrapper's command line (tools/args.cpp,
// parse_args), over any argument vector: the input is split at NUL bytes
// into words after argv[0].  Checked beyond "no crash": the outcome is
// whole (a run names a program inside argv; an error has a message of one
// message; the options made pass the library's own parser without a problem).
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <string>
#include <vector>

#include "tools/args.h"
#include "core/options.h"

namespace {

void count_line(const char*, void* ctx) { ++*static_cast<int*>(ctx); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;  // a command line, not a file
  std::vector<std::string> words{"zmq-guard"};
  std::string cur;
  for (size_t i = 0; i < size; i++) {
    if (data[i] == 0) {
      words.push_back(cur);
      cur.clear();
    } else {
      cur += static_cast<char>(data[i]);
    }
  }
  if (size) words.push_back(cur);
  if (words.size() > 64) return 0;
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(&w[0]);
  argv.push_back(nullptr);
  const int argc = static_cast<int>(words.size());

  zgtool::Args a = zgtool::parse_args(argc, argv.data());
  switch (a.what) {
    case zgtool::Args::Bad:
      if (a.error.empty()) abort();
      break;
    case zgtool::Args::Run: {
      if (a.program < 1 || a.program >= argc) abort();
      // What the wrapper puts in ZMQ_GUARD_OPTIONS, the library takes whole.
      zg::Options o;
      zg::options_defaults(&o);
      int lines = 0;
      if (zg::options_parse(a.opts.c_str(), &o, count_line, &lines) != 0 || lines != 0) abort();
      break;
    }
    case zgtool::Args::Report:
      if (a.files.empty()) abort();
      break;
    case zgtool::Args::Dump:
    case zgtool::Args::Help:
    case zgtool::Args::Version:
    case zgtool::Args::HelpOptions:
      break;
  }
  return 0;
}
