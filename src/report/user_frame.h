// SPDX-License-Identifier: MIT
// Where each thread of a report was, as one frame: the SUMMARY line's
// culprits, the JSON's user_frame (and through it SARIF's locations).
#pragma once
#include <stdint.h>

#include "report/stack.h"
#include "report/text.h"

namespace zg {

// The frame a user recognizes as where a thread was, in the user's terms:
// its innermost Python (Ruby, Perl, ...) frame outside the binding's own
// layer, else the first named native frame outside libzmq and the bindings.
struct UserFrame {
  bool have = false;
  bool python = false;
  bool ruby = false;
  const char* language = "native";  // "native", "python", or a report/langs.def key ("ruby", "perl", ...)
  char function[256] = {};
  char file[512] = {};
  char module[256] = {};
  uintptr_t offset = 0;
  int line = 0;
};

// Picked from a thread's Python traceback (text as python.h gives it) and
// its native stack; .have is false when neither has a frame worth naming.
UserFrame user_frame(const char* py_stack, const Stack* stack, const char* script_stack = nullptr);
// " in send_requests client.py:27", or nothing.
void culprit(TextBuf& b, const UserFrame& u);
// Its JSON object, or null.
void json_user_frame(TextBuf& b, const UserFrame& u);

}  // namespace zg
