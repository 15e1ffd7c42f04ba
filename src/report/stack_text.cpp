// SPDX-License-Identifier: MIT
#include "report/stack_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/options.h"
#include "report/frames.h"
#include "report/python.h"
#include "report/script.h"
#include "report/symbolize.h"

namespace zg {
namespace {

using Buf = TextBuf;

// threading.py's own frames start every thread's traceback; they are noise.
bool bootstrap_frame(const PyFrame& f) {
  const char* base = strrchr(f.file, '/');
  if (!base || strcmp(base, "/threading.py") != 0) return false;
  return !strcmp(f.function, "_bootstrap") || !strcmp(f.function, "_bootstrap_inner") || !strcmp(f.function, "run");
}

bool all_frames() { return options().frames == 1; }

// The distinct names a fold line lists: at most three, then "...".
struct FoldNames {
  char names[3][96] = {};
  int n = 0;
  bool more = false;
  void add(const char* name) {
    for (int i = 0; i < n; i++)
      if (!strcmp(names[i], name)) return;
    if (n == 3) {
      more = true;
      return;
    }
    size_t k = strnlen(name, sizeof names[0] - 1);
    memcpy(names[n], name, k);
    names[n++][k] = 0;
  }
};

// "... 34 frames in _pytest, pluggy, <frozen runpy> (frames=all shows them)"
void fold_line(Buf& b, const char* indent, int count, const FoldNames& names, bool dots = true) {
  b.printf("%s%s%d frame%s in ", indent, dots ? "... " : "", count, count == 1 ? "" : "s");
  for (int i = 0; i < names.n; i++) {
    if (i) b.puts(", ");
    b.plain(names.names[i]);
  }
  if (names.more) b.puts(", ...");
  b.puts(" (frames=all shows them)\n");
}

struct PyList {
  static constexpr int kMax = 128;
  PyFrame frames[kMax];
  FrameClass cls[kMax];
  int n = 0;
};

// A Python traceback, oldest call first.  With frames=user it starts at the
// outermost frame of the program's own code (the test function under
// pytest, a script's <module>), and what the program's last frame called
// (pyzmq's layer) is one counted line; a traceback with no frame of the
// program's own is shown whole.
void text_py(Buf& b, const char* py, const char* title) {
  if (!py) return;
  auto* list = static_cast<PyList*>(calloc(1, sizeof(PyList)));
  if (!list) return;
  py_frames(
      py,
      [](const PyFrame& f, void* ctx) {
        auto* l = static_cast<PyList*>(ctx);
        if (bootstrap_frame(f) || l->n >= PyList::kMax) return;
        l->cls[l->n] = classify_python(f);
        l->frames[l->n++] = f;
      },
      list);
  int first = 0, last = list->n - 1;
  if (!all_frames()) {
    int fu = -1, lu = -1;
    for (int i = 0; i < list->n; i++)
      if (list->cls[i] == FrameClass::User) {
        if (fu < 0) fu = i;
        lu = i;
      }
    if (fu >= 0) first = fu, last = lu;
  }
  b.printf("    %s (most recent call last):\n", title);
  auto fold = [&](int from, int to) {  // [from, to)
    if (to <= from) return;
    FoldNames names;
    for (int i = from; i < to; i++) {
      char shortname[512];
      python_short_name(list->frames[i].file, shortname, sizeof shortname);
      // Outer frames by package (pytest's are dozens of files), inner ones
      // by file (the one or two of pyzmq's that the call went through).
      if (to == first) {
        char* slash = strchr(shortname, '/');
        if (slash && shortname[0] != '<') *slash = 0;
        else if (char* dot = strstr(shortname, ".py")) *dot = 0;
      }
      names.add(shortname);
    }
    fold_line(b, "      ", to - from, names);
  };
  fold(0, first);
  for (int i = first; i <= last && i < list->n; i++) {
    const PyFrame& f = list->frames[i];
    b.puts("      File \"");
    b.plain(f.file);
    b.printf("\", line %d, in ", f.line);
    b.plain(f.function);
    b.puts("\n");
  }
  fold(last + 1, list->n);
  free(list);
}

// Native frames.  With frames=user: beside a Python traceback only the
// program's own (a C extension of its own) are shown; without one, all but
// the runtime's.  Each run of hidden frames is one counted line; a stack
// with nothing to show beside its Python traceback is one line.  A frame
// of the program's own without a name says how to get names.
void text_native(Buf& b, const Stack* s, bool has_py, bool brief) {
  if (!s || s->n == 0) {
    if (has_py) b.puts("    native stack:\n");
    b.puts("    <no stack>\n");
    return;
  }
  if (all_frames()) {
    if (has_py) b.puts("    native stack:\n");
    b.stack(s, "    ");
    return;
  }
  // On the heap: a report runs on the program's threads, whose stacks
  // may be small.
  auto* frames = static_cast<Frame*>(calloc(kMaxFrames, sizeof(Frame)));
  if (!frames) {
    b.stack(s, "    ");
    return;
  }
  bool show[kMaxFrames];
  int shown = 0;
  for (int i = 0; i < s->n; i++) {
    symbolize(s->pc[i], true, &frames[i]);
    FrameClass c = classify_native(frames[i]);
    show[i] = has_py ? c == FrameClass::User : c != FrameClass::Runtime;
    // A brief report (a notice) shows the first few only.
    if (show[i] && brief && shown >= 3) show[i] = false;
    if (show[i]) shown++;
  }
  if (has_py && shown == 0) {
    FoldNames names;
    for (int i = 0; i < s->n; i++) names.add(frames[i].module[0] ? module_base(frames[i].module) : "?");
    fold_line(b, "    native stack: ", s->n, names, false);
    free(frames);
    return;
  }
  if (has_py) b.puts("    native stack:\n");
  char stripped[256] = {};
  for (int i = 0; i < s->n;) {
    if (show[i]) {
      b.frame_line(i, s->pc[i], frames[i], "    ");
      if (!frames[i].function[0] && !stripped[0] && classify_native(frames[i]) == FrameClass::User)
        snprintf(stripped, sizeof stripped, "%s", frames[i].module);
      i++;
      continue;
    }
    FoldNames names;
    int j = i;
    for (; j < s->n && !show[j]; j++) names.add(frames[j].module[0] ? module_base(frames[j].module) : "?");
    fold_line(b, "    ", j - i, names);
    i = j;
  }
  if (stripped[0]) {
    char id[96];
    b.puts("    (");
    b.plain(module_base(stripped));
    b.puts(" has no symbols: install its debug symbols (its -dbgsym or -dbg package) or build it with -g");
    if (module_build_id(stripped, id, sizeof id)) b.printf("; build-id %s", id);
    b.puts(")\n");
  }
  free(frames);
}

}  // namespace

// One thread's part of a report: Python first when there is Python.
void text_thread_stacks(Buf& b, const Stack* s, const char* py, const char* py_title, bool brief, const char* rb) {
  if (py) text_py(b, py, py_title);
  if (rb) script_text(b, rb, py_title);
  if (rb && (!s || s->n == 0)) return;  // a Ruby (Perl, ...) creation keeps no native frames (core/report.cpp)
  text_native(b, s, py != nullptr, brief);
}

}  // namespace zg
