// SPDX-License-Identifier: MIT
// Python stacks recorded cheaply at a socket's creation, formatted only when
// a report needs them.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <atomic>

#include "report/python.h"
#include "report/python_api.h"

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

constexpr uint32_t kMaxCodes = 8192;
constexpr uint32_t kCodeSlots = 2 * kMaxCodes;  // a power of two

struct CodeTable {
  CodeEntry entries[kMaxCodes];
  std::atomic<uint32_t> slots[kCodeSlots];  // entry index + 1; 0: empty
  uint32_t n;
};

std::atomic<CodeTable*> g_codes{nullptr};
pthread_mutex_t g_codes_mu = PTHREAD_MUTEX_INITIALIZER;

uint32_t code_hash(const void* code) {
  uint64_t h = reinterpret_cast<uintptr_t>(code) * 0x9E3779B97F4A7C15ull;
  return static_cast<uint32_t>(h >> 40) & (kCodeSlots - 1);
}

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

// The index of code's entry, made if it is new; -1 when the table is full
// or out of memory.  GIL held.  Takes over the caller's reference to code
// when it makes the entry, else leaves it to the caller.
int code_entry(void* code, bool* kept) {
  *kept = false;
  CodeTable* t = g_codes.load(std::memory_order_acquire);
  if (t) {
    for (uint32_t i = code_hash(code);; i = (i + 1) & (kCodeSlots - 1)) {
      uint32_t v = t->slots[i].load(std::memory_order_acquire);
      if (v == 0) break;
      if (t->entries[v - 1].code == code) return static_cast<int>(v - 1);
    }
  }
  pthread_mutex_lock(&g_codes_mu);
  t = g_codes.load(std::memory_order_relaxed);
  if (!t) {
    t = static_cast<CodeTable*>(calloc(1, sizeof(CodeTable)));
    g_codes.store(t, std::memory_order_release);
  }
  int found = -1;
  if (t) {
    uint32_t i = code_hash(code);
    for (;; i = (i + 1) & (kCodeSlots - 1)) {
      uint32_t v = t->slots[i].load(std::memory_order_relaxed);
      if (v == 0) break;
      if (t->entries[v - 1].code == code) {
        found = static_cast<int>(v - 1);
        break;
      }
    }
    if (found < 0 && t->n < kMaxCodes) {
      char* file = field_text(code, "co_filename", true);
      char* name = field_text(code, "co_name", false);
      if (file && name) {
        found = static_cast<int>(t->n++);
        t->entries[found] = CodeEntry{code, file, name};
        t->slots[i].store(static_cast<uint32_t>(found) + 1, std::memory_order_release);
        *kept = true;
      } else {
        free(file);
        free(name);
      }
    }
  }
  pthread_mutex_unlock(&g_codes_mu);
  return found;
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
  void *et, *ev, *tb;
  g_py.err_fetch(&et, &ev, &tb);
  int gc_was = g_py.gc_disable();
  uint32_t codes[kPyMaxDepth];
  int lastis[kPyMaxDepth];
  int n = 0;
  bool failed = false, truncated = false;
  void* frame = g_py.tstate_frame(ts);
  while (frame) {
    if (n == kPyMaxDepth) {
      truncated = true;
      g_py.decref(frame);
      break;
    }
    void* code = g_py.frame_code(frame);
    bool kept = false;
    int e = code ? code_entry(code, &kept) : -1;
    if (code && !kept) g_py.decref(code);
    if (e < 0) {
      failed = true;  // the table is full: the caller makes the text now
      g_py.decref(frame);
      break;
    }
    codes[n] = static_cast<uint32_t>(e);
    lastis[n] = g_py.frame_lasti(frame);
    n++;
    void* back = g_py.frame_back(frame);
    g_py.decref(frame);
    frame = back;
  }
  if (g_py.err_occurred()) {
    g_py.err_clear();
    failed = true;
  }
  if (gc_was) g_py.gc_enable();
  g_py.err_restore(et, ev, tb);
  if (failed || n == 0) return nullptr;
  auto* st = static_cast<PyStack*>(malloc(sizeof(PyStack) + sizeof(PyStack::frames[0]) * (n - 1)));
  if (!st) return nullptr;
  st->n = n;
  st->truncated = truncated;
  for (int i = 0; i < n; i++) {
    st->frames[i].code = codes[i];
    st->frames[i].lasti = lastis[i];
  }
  return st;
}

char* py_stack_text(const PyStack* st) {
  CodeTable* t = g_codes.load(std::memory_order_acquire);
  if (!st || !t) return nullptr;
  // After Py_Finalize the code objects may be gone with the interpreter's
  // memory: the names (copies of ours) still say where.
  const bool alive = g_py.is_initialized();
  TextBuf b;
  b.puts("Stack (most recent call first):\n");
  for (int i = 0; i < st->n; i++) {
    const CodeEntry& e = t->entries[st->frames[i].code];
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
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  g_codes_mu = fresh;
}

}  // namespace zg
