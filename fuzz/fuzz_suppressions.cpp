// SPDX-License-Identifier: MIT
// libFuzzer harness: the suppressions file parser (suppressions_parse),
// over any bytes a file may hold.  The lines it says go to stderr; run it
// with -close_fd_mask=2 to keep them out of the fuzzer's output.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vector>

#include "core/suppressions.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The parser writes into its text, one byte past the end included: a
  // copy of exactly that size, so that ASan sees any write beyond it.
  std::vector<char> text(data, data + size);
  text.push_back('\0');
  zg::suppressions_clear();
  int n = zg::suppressions_parse("fuzz.supp", text.data(), size);
  // A rule is at most one line: never more rules than lines, nor than 256.
  size_t lines = 1;
  for (size_t i = 0; i < size; i++) lines += data[i] == '\n';
  if (n < 0 || static_cast<size_t>(n) > lines || n > 256) abort();
  return 0;
}
