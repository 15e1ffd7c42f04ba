// SPDX-License-Identifier: MIT
#include "report/user_frame.h"

#include <stdio.h>
#include <string.h>

#include "report/frames.h"
#include "report/python.h"
#include "report/script.h"
#include "report/symbolize.h"

namespace zg {
namespace {

void copy_field(char* out, size_t size, const char* in) {
  snprintf(out, size, "%s", in ? in : "");
}

// "/a/b/../c/./d" becomes "/a/c/d", in place (no file system access: the
// file may exist only on the machine that built the program).
void normalize_path(char* path) {
  char* parts[128];
  int n = 0;
  char copy[512];
  copy_field(copy, sizeof copy, path);
  for (char* save = nullptr, *t = strtok_r(copy, "/", &save); t; t = strtok_r(nullptr, "/", &save)) {
    if (!strcmp(t, ".")) continue;
    if (!strcmp(t, "..")) {
      if (n > 0 && strcmp(parts[n - 1], "..")) n--;
      continue;
    }
    if (n < 128) parts[n++] = t;
  }
  size_t len = 0, size = 512;
  path[0] = 0;
  for (int i = 0; i < n && len + 1 < size; i++) len += size_t(snprintf(path + len, size - len, "/%s", parts[i]));
}

// How well a frame names where a thread was, for SUMMARY: the program's
// own code first, then a library, then the binding (pyzmq's layer, libzmq,
// czmq, cppzmq); never the runtime (libc's start_thread, the interpreter).
int rank_python(const PyFrame& f) {
  switch (classify_python(f)) {
    case FrameClass::User: return pyzmq_file(f.file) ? 1 : 3;  // a checkout of pyzmq is still pyzmq
    case FrameClass::Library: return pyzmq_file(f.file) ? 1 : 2;
    case FrameClass::Runtime: return 0;
  }
  return 0;
}

int rank_native(const Frame& f) {
  switch (classify_native(f)) {
    case FrameClass::User: return native_binding(f) ? 1 : 3;
    case FrameClass::Library: return native_binding(f) ? 1 : 2;
    case FrameClass::Runtime: return 0;
  }
  return 0;
}

}  // namespace

UserFrame user_frame(const char* py_stack, const Stack* stack, const char* script_stack) {
  UserFrame u;
  // The innermost frame of the best rank, Python before native at equal
  // rank (a Python program's own line says more than its interpreter's C).
  struct Best {
    PyFrame frame;
    int rank;
  } py{};
  if (py_stack)
    py_frames(
        py_stack,
        [](const PyFrame& fr, void* ctx) {
          auto* b = static_cast<Best*>(ctx);
          int r = rank_python(fr);
          if (r > 0 && r >= b->rank) {
            b->frame = fr;
            b->rank = r;
          }
        },
        &py);
  Frame native;
  int native_rank = 0;
  for (int i = 0; stack && i < stack->n; i++) {
    Frame fr;
    symbolize(stack->pc[i], true, &fr);
    int r = rank_native(fr);
    // A frame with neither a name nor a file names nothing, unless it is
    // the program's own (a stripped executable: module+offset).
    if (!fr.function[0] && r != 3) continue;
    if (r > native_rank) {
      native = fr;
      native_rank = r;
    }
  }
  ScriptFrame rb;
  const int rb_rank = script_best_frame(script_stack, &rb);
  if (rb_rank > 0 && rb_rank >= native_rank && rb_rank >= py.rank) {  // as a Python frame, for Ruby, Perl, ...
    u.have = true;
    u.language = script_lang(script_stack)->key;
    u.ruby = !strcmp(u.language, "ruby");
    copy_field(u.function, sizeof u.function, rb.function);
    copy_field(u.file, sizeof u.file, rb.file);
    u.line = rb.line;
    return u;
  }
  if (py.rank > 0 && py.rank >= native_rank) {
    u.have = u.python = true;
    u.language = "python";
    copy_field(u.function, sizeof u.function, py.frame.function);
    copy_field(u.file, sizeof u.file, py.frame.file);
    u.line = py.frame.line;
    return u;
  }
  if (native_rank == 0) return u;
  u.have = true;
  u.language = "native";
  copy_field(u.function, sizeof u.function, native.function);
  if (native.file[0] && native.file[0] != '/' && native.dir[0] == '/') {
    // A CI annotation needs the file itself, not a path relative to
    // wherever the compiler ran.
    snprintf(u.file, sizeof u.file, "%s/%s", native.dir, native.file);
    normalize_path(u.file);
  } else {
    copy_field(u.file, sizeof u.file, native.file);
  }
  copy_field(u.module, sizeof u.module, native.module);
  u.offset = native.offset;
  u.line = native.line;
  return u;
}

// " in send_requests client.py:27": where a thread was, for SUMMARY.
void culprit(TextBuf& b, const UserFrame& u) {
  if (!u.have) return;
  b.puts(" in ");
  if (!u.function[0]) {  // a stripped module of the program's own
    b.plain(module_base(u.module));
    b.printf("+0x%lx", (unsigned long)u.offset);
    return;
  }
  b.plain(u.function);
  if (u.file[0]) {
    b.puts(" ");
    b.plain(module_base(u.file));
    b.printf(":%d", u.line);
  }
}

void json_user_frame(TextBuf& b, const UserFrame& u) {
  if (!u.have) {
    b.puts("null");
    return;
  }
  b.puts("{\"function\":");
  b.json_str(u.function);
  b.puts(",\"file\":");
  b.json_str(u.file);
  b.printf(",\"line\":%d,\"module\":", u.line);
  b.json_str(u.module);
  b.printf(",\"offset\":\"0x%lx\"", (unsigned long)u.offset);
  b.printf(",\"python\":%s,\"ruby\":%s,\"language\":\"%s\"}", u.python ? "true" : "false", u.ruby ? "true" : "false",
           u.language);
}

}  // namespace zg
