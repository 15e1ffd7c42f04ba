// SPDX-License-Identifier: MIT
// Python stacks recorded cheaply at a socket's creation, formatted only when
// a report needs them.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <atomic>

#include "report/python.h"
#include "report/python_api.h"
#include "report/intern.h"

namespace zg {
namespace {

// A socket's creation records the creator's Python stack, and almost never
// is it reported.  Making its text at once costs more than the socket
// (about 20 us at a depth of 30, 65 at 200: every frame's file and name
// converted, its line looked up).  So a thread holding the GIL records,
// per frame, its code object and instruction offset.  Each code object
// gets an entry in a process-wide table the first time it is seen: a
// reference that keeps it (and so its address) alive, and its file and
// name already written as the traceback writes them.  The line comes from
// the offset when the text is made: PyCode_Addr2Line only reads the code
// object's line table, so that needs no GIL.  Entries are never removed
// (code objects are few and long-lived); once the table is full, stacks
// are recorded as text again.

struct CodeEntry {
  void* code;
  char* file;  // "path" (quoted) or ???
  char* name;
};

InternTable<CodeEntry, 8192> g_codes;

// Field text for an entry, as traceback_from_frames writes it.
char* field_text(void* code, const char* attr_name, bool quoted) {
  void* attr = g_py.intern(attr_name);
  if (!attr) {
    g_py.err_clear();
    return nullptr;
  }
  TextBuf t;
  py_put_field(&t, code, attr, quoted);
  g_py.decref(attr);
  return t.ok ? t.release() : nullptr;
}

// The index of code's entry, or -1.
int code_find(const void* code) {
  return g_codes.find(reinterpret_cast<uintptr_t>(code), [code](const CodeEntry& e) { return e.code == code; });
}

// The index of code's entry, made if it is new (with a reference of its
// own to code); -1 when the table is full or out of memory.  GIL held, the
// garbage collector off, no exception set.
int code_entry(void* code) {
  return g_codes.intern(
      reinterpret_cast<uintptr_t>(code), [code](const CodeEntry& e) { return e.code == code; },
      [code](CodeEntry* e) {
        char* file = field_text(code, "co_filename", true);
        char* name = field_text(code, "co_name", false);
        if (!file || !name) {
          free(file);
          free(name);
          return false;
        }
        g_py.incref(code);
        *e = CodeEntry{code, file, name};
        return true;
      });
}

// What a recorded stack holds before it is copied out.
struct Walk {
  uint32_t codes[kPyMaxDepth];
  int lastis[kPyMaxDepth];
  int n = 0;
  bool truncated = false;
  bool failed = false;
};

// A pending exception kept as it was and the garbage collector off while
// the C API runs (frame objects made for frames that had none could start
// it, and with it any __del__).
struct Quiet {
  void *et, *ev, *tb;
  int gc_was;
  Quiet() {
    g_py.err_fetch(&et, &ev, &tb);
    gc_was = g_py.gc_disable();
  }
  // False if the C API left an exception of its own.
  bool clean() {
    if (!g_py.err_occurred()) return true;
    g_py.err_clear();
    return false;
  }
  ~Quiet() {
    if (gc_was) g_py.gc_enable();
    g_py.err_restore(et, ev, tb);
  }
};

// The frames through the C API, most recent first: PyThreadState_GetFrame
// and PyFrame_GetBack make a frame object for each frame that has none.
// About 120 instructions a frame.  `raw` (if given) gets the code objects
// themselves, for direct_check.
void walk_api(void* ts, Walk* w, void** raw) {
  Quiet q;
  void* frame = g_py.tstate_frame(ts);
  while (frame) {
    if (w->n == kPyMaxDepth) {
      w->truncated = true;
      g_py.decref(frame);
      break;
    }
    void* code = g_py.frame_code(frame);
    int e = code ? code_entry(code) : -1;
    if (raw) raw[w->n] = code;
    if (code) g_py.decref(code);  // the table's entry holds its own
    if (e < 0) {
      w->failed = true;  // the table is full: the caller makes the text now
      g_py.decref(frame);
      break;
    }
    w->codes[w->n] = static_cast<uint32_t>(e);
    w->lastis[w->n] = g_py.frame_lasti(frame);
    w->n++;
    void* back = g_py.frame_back(frame);
    g_py.decref(frame);
    frame = back;
  }
  if (!q.clean()) w->failed = true;
}

// 3.11's frames read in place, as py-spy and the interpreter's own dumper
// read them: PyThreadState.cframe, _PyCFrame.current_frame, and in each
// _PyInterpreterFrame f_code, previous and prev_instr.  No frame object is
// made, nothing is called but for a code object seen for the first time:
// about 30 instructions a frame.  The offsets are 3.11's (Include/cpython/
// pystate.h, Include/internal/pycore_frame.h); the offset of a code
// object's instructions is learnt, and all of it checked once against the
// C API (direct_check) before it is used.
constexpr size_t kTsCframe = 56, kCframeCurrent = 8, kFrameCode = 32, kFramePrevious = 48, kFramePrevInstr = 56;

struct Direct {
  std::atomic<int> state{0};  // 0 unchecked, 1 on, 2 off
  ptrdiff_t code_start = 0;   // offset of co_code_adaptive in a code object
};
Direct g_direct;

const char* at(const void* base, size_t off) {
  const char* p;
  memcpy(&p, static_cast<const char*>(base) + off, sizeof p);
  return p;
}

const char* first_frame(void* ts) {
  const char* cframe = at(ts, kTsCframe);
  return cframe ? at(cframe, kCframeCurrent) : nullptr;
}

// Byte offset of a frame's last instruction (PyFrame_GetLasti's unit);
// negative for a frame that has not started.
ptrdiff_t lasti_of(const char* f, const char* code) {
  return at(f, kFramePrevInstr) - (code + g_direct.code_start);
}

// The last entries found, by code object: the table's probe costs more
// than the rest of a frame.  Only ever used with the GIL held (3.11 has one
// GIL a process), which orders its users.
struct Recent {
  const void* code;
  int entry;
};
constexpr size_t kRecent = 256;
Recent g_recent[kRecent];

void walk_direct(void* ts, Walk* w) {
  for (const char* f = first_frame(ts); f; f = at(f, kFramePrevious)) {
    const char* code = at(f, kFrameCode);
    ptrdiff_t lasti = lasti_of(f, code);
    if (lasti < 0) continue;  // pushed, not started: the C API skips it too
    if (w->n == kPyMaxDepth) {
      w->truncated = true;
      return;
    }
    Recent& r = g_recent[(reinterpret_cast<uintptr_t>(code) >> 4) & (kRecent - 1)];
    int e = r.code == code ? r.entry : code_find(code);
    if (e >= 0) {
      r.code = code;
      r.entry = e;
    } else {
      Quiet q;
      e = code_entry(const_cast<char*>(code));
      if (!q.clean()) e = -1;
    }
    if (e < 0) {
      w->failed = true;
      return;
    }
    w->codes[w->n] = static_cast<uint32_t>(e);
    w->lastis[w->n] = static_cast<int>(lasti);
    w->n++;
  }
}

// Once per process: does the direct walk see what the C API sees, on this
// stack, frame for frame?  Only 3.11 release builds are tried; a stack with
// a frame not yet started (which the C API skips) fails the check, and the
// C API stays.
bool direct_check(void* ts, const Walk& api, void* const* raw) {
  const char* v = g_py.version ? g_py.version() : "";
  if (strncmp(v, "3.11.", 5) != 0 || g_py.ref_debug || !g_py.incref || api.failed || api.n == 0) return false;
  const char* f = first_frame(ts);
  for (int i = 0; i < api.n; i++, f = at(f, kFramePrevious)) {
    if (!f || at(f, kFrameCode) != raw[i] || api.lastis[i] < 0) return false;
    ptrdiff_t start = at(f, kFramePrevInstr) - api.lastis[i] - static_cast<const char*>(raw[i]);
    if (i == 0) g_direct.code_start = start;
    if (start != g_direct.code_start) return false;
  }
  // The two walks end together (unless the C API stopped at its limit).
  return api.truncated || !f;
}

}  // namespace

struct PyStack {
  int n;
  bool truncated;
  struct {
    uint32_t code;
    int lasti;
  } frames[1];
};

PyStack* py_stack_record() {
  if (!py_running() || !g_py.compact || !py_holds_gil() || g_py.is_finalizing()) return nullptr;
  void* ts = g_py.this_tstate();
  if (!ts) return nullptr;
  Walk w;
  int direct = g_direct.state.load(std::memory_order_acquire);
  if (direct == 1) {
    walk_direct(ts, &w);
  } else {
    void* raw[kPyMaxDepth];
    walk_api(ts, &w, direct == 0 ? raw : nullptr);
    // Checked on the first stack seen (the GIL orders the callers).
    if (direct == 0) g_direct.state.store(direct_check(ts, w, raw) ? 1 : 2, std::memory_order_release);
  }
  if (w.failed || w.n == 0) return nullptr;
  auto* st = static_cast<PyStack*>(malloc(sizeof(PyStack) + sizeof(PyStack::frames[0]) * (w.n - 1)));
  if (!st) return nullptr;
  st->n = w.n;
  st->truncated = w.truncated;
  for (int i = 0; i < w.n; i++) {
    st->frames[i].code = w.codes[i];
    st->frames[i].lasti = w.lastis[i];
  }
  return st;
}

char* py_stack_text(const PyStack* st) {
  if (!st || g_codes.empty()) return nullptr;
  // After Py_Finalize the code objects may be gone with the interpreter's
  // memory: the names (copies of ours) still say where.
  const bool alive = g_py.is_initialized();
  TextBuf b;
  b.puts("Stack (most recent call first):\n");
  for (int i = 0; i < st->n; i++) {
    const CodeEntry& e = g_codes.at(st->frames[i].code);
    b.puts("  File ");
    b.puts(e.file);
    int line = alive ? g_py.code_addr2line(e.code, st->frames[i].lasti) : -1;
    if (line >= 0) {
      char num[32];
      b.add(num, snprintf(num, sizeof num, ", line %d in ", line));
    } else {
      b.puts(", line ??? in ");
    }
    b.puts(e.name);
    b.puts("\n");
  }
  if (st->truncated) b.puts("  ...\n");
  return b.ok ? b.release() : nullptr;
}

void py_stack_free(PyStack* st) { free(st); }

void py_codes_after_fork_child() {
  g_codes.after_fork_child();
}

}  // namespace zg
