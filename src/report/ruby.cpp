// SPDX-License-Identifier: MIT
#include "report/ruby.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <atomic>

#include "core/options.h"
#include "report/frame_record.h"
#include "report/intern.h"
#include "report/late_lookup.h"
#include "report/script.h"
#include "report/text.h"

namespace zg {
namespace {

// A VALUE is a machine word; the few facts about it the guard relies on
// have held since Ruby 2.3: an object is an aligned pointer whose first
// word (RBasic.flags) holds its type in the low five bits.
using VALUE = uintptr_t;
constexpr unsigned kTypeString = 0x05;  // RUBY_T_STRING
constexpr unsigned kTypeImemo = 0x1a;   // RUBY_T_IMEMO: iseqs and method entries

struct Rb {
  LateLookup lookup;  // the pointers below are set once it is found
  int (*native_thread_p)();  // ruby_native_thread_p: the caller is a Ruby thread
  int (*profile_frames)(int, int, VALUE*, int*);
  VALUE (*frame_path)(VALUE);
  VALUE (*frame_label)(VALUE);
  char* (*string_ptr)(volatile VALUE*);
  void* const* vm;  // ruby_current_vm_ptr: null before the VM is made and after it is gone
};
Rb g_rb;

// Ruby 2.3 to 3.x: the profiling API (2.1) and imemo frames (2.3).  Any
// other major version is not read: its reports show native frames only.
bool understood() {
  const int* api = static_cast<const int*>(late_find("ruby_api_version"));
  return api && (api[0] == 3 || (api[0] == 2 && api[1] >= 3));
}

bool lookup() {
  return g_rb.lookup.ensure([] {
    return late_sym(&g_rb.native_thread_p, "ruby_native_thread_p") &&
           late_sym(&g_rb.profile_frames, "rb_profile_frames") &&
           late_sym(&g_rb.frame_path, "rb_profile_frame_path") &&
           late_sym(&g_rb.frame_label, "rb_profile_frame_label") &&
           late_sym(&g_rb.string_ptr, "rb_string_value_ptr") && late_sym(&g_rb.vm, "ruby_current_vm_ptr") &&
           understood();
  });
}

bool is_object(VALUE v, unsigned type) {
  if (v == 0 || (v & 7) != 0 || v < 4096) return false;  // nil, false, fixnums, symbols, flonums
  return (*reinterpret_cast<const VALUE*>(v) & 0x1f) == type;
}

// A string's bytes, a tab or newline made '?' (they separate the record's
// fields), cut at 400 bytes.  Copied whole: a creation records up to 100
// frames, and a byte at a time cost five times the socket itself.
void put_string(TextBuf& t, VALUE s) {
  if (!is_object(s, kTypeString)) {
    t.add("?", 1);
    return;
  }
  volatile VALUE v = s;
  const char* p = g_rb.string_ptr(&v);
  const size_t n = p ? strnlen(p, 400) : 0, at = t.n;
  t.add(p, n);
  if (t.n != at + n || (!memchr(p, '\t', n) && !memchr(p, '\n', n))) return;  // (t.ok says if it was cut)
  for (char* c = t.p + at; c < t.p + t.n; c++)
    if (*c == '\t' || *c == '\n') *c = '?';
}

// What Ruby's own backtraces stop at is far deeper; 100 frames name the
// program's code (the innermost) at any depth, as Python's dumper's do.
constexpr int kMaxDepth = 100;

enum class RbClass { User, Library, Binding, Runtime };

bool has(const char* s, const char* part) { return strstr(s, part) != nullptr; }

RbClass classify(const char* file) {
  if (!strncmp(file, "<internal:", 10)) return RbClass::Runtime;
  if (has(file, "/ffi-rzmq") || has(file, "/vendor_ruby/ffi/") || has(file, "/gems/ffi-")) return RbClass::Binding;
  if (!strncmp(file, "/usr/lib/ruby/", 14) || !strncmp(file, "/usr/share/ruby", 15) ||
      !strncmp(file, "/usr/local/lib/ruby/", 20) || has(file, "/gems/") || has(file, "/vendor_ruby/") ||
      has(file, "/site_ruby/"))
    return RbClass::Library;
  return RbClass::User;
}

// For a fold line: the gem or standard library a file belongs to
// ("ffi-rzmq", "monitor"), or the file itself.
void short_name(const char* file, char* out, size_t size) {
  const char* p = file;
  static const char* const dirs[] = {"/vendor_ruby/", "/site_ruby/", "/gems/"};
  for (const char* dir : dirs)
    if (const char* at = strstr(file, dir)) p = at + strlen(dir);
  if (p == file && !strncmp(file, "/usr/lib/ruby/", 14)) {
    p = strchr(file + 14, '/');  // past the version directory
    p = p ? p + 1 : file;
  }
  if (p == file) {
    const char* slash = strrchr(file, '/');
    p = slash ? slash + 1 : file;
  }
  size_t n = strcspn(p, "/");
  if (p[n] == 0) {  // a file of its own: without .rb
    const char* dot = strstr(p, ".rb");
    if (dot) n = size_t(dot - p);
  }
  snprintf(out, size, "%.*s", static_cast<int>(n), p);
}

}  // namespace

bool ruby_running() { return options().ruby && lookup() && *g_rb.vm != nullptr; }

namespace {

// --- stacks recorded cheaply, made text when a report needs them --------
//
// A socket's creation records its creator's backtrace, and almost never is
// it reported.  Copying every frame's file and label at once cost about
// 600 instructions a frame (100 frames at a depth of 200).  So each frame
// (an iseq or a method entry) gets an entry in a process-wide table the
// first time it is seen, with its file and label copied once; a record is
// entry numbers and lines.  An entry is found again by the frame's address
// and its path and label objects' addresses, all three read from the live
// frame: an address Ruby's GC freed and gave to a new frame matches only if
// its path and label objects are the same ones too.  Entries are never
// removed (frames are few and long-lived); once the table is full, stacks
// are recorded as text.

struct FrameEntry {
  VALUE frame, path, label;
  char* text;  // "path\t" ... "\tlabel": the line goes between
  uint32_t split;  // where the line goes
};

InternTable<FrameEntry, 8192> g_frames;

// The entry of a frame, made if it is new; -1 when the table is full.
int entry_of(VALUE frame, VALUE path, VALUE label) {
  return g_frames.intern(
      frame, [=](const FrameEntry& e) { return e.frame == frame && e.path == path && e.label == label; },
      [=](FrameEntry* e) {
        TextBuf b;
        put_string(b, path);
        const uint32_t split = static_cast<uint32_t>(b.n);
        put_string(b, label);
        if (!b.ok) return false;
        *e = FrameEntry{frame, path, label, b.release(), split};
        return true;
      });
}

}  // namespace

FrameRecord* ruby_stack_record() {
  if (!ruby_running() || !g_rb.native_thread_p()) return nullptr;
  VALUE frames[kMaxDepth];
  int lines[kMaxDepth];
  int n = g_rb.profile_frames(0, kMaxDepth, frames, lines);
  if (n <= 0) return nullptr;
  if (n > kMaxDepth) n = kMaxDepth;
  FrameRecord* st = frame_record_new(n);
  if (!st) return nullptr;
  TextBuf full;  // used only once the table is full
  for (int i = 0; i < n; i++) {
    // A method written in C (FFI's attached function) has no file: Ruby's
    // own backtraces give it its caller's line, which the next frame shows.
    // The VM's own top frame of a script (line 0) is not in Ruby's.
    if (!is_object(frames[i], kTypeImemo) || lines[i] <= 0) continue;
    VALUE path = g_rb.frame_path(frames[i]);
    if (!is_object(path, kTypeString)) continue;
    VALUE label = g_rb.frame_label(frames[i]);
    int e = full.n ? -1 : entry_of(frames[i], path, label);
    if (e < 0 && !full.n) frame_record_put(full, st, g_frames);  // the frames so far, as text
    if (e >= 0) {
      st->frames[st->n].entry = static_cast<uint32_t>(e);
      st->frames[st->n++].line = lines[i];
    } else {
      put_string(full, path);
      put_tab_line(full, lines[i]);
      put_string(full, label);
      full.add("\n", 1);
    }
  }
  return frame_record_done(st, full);
}

char* ruby_stack_text(const FrameRecord* st) { return frame_record_text(st, g_frames); }

void ruby_stack_free(FrameRecord* st) { frame_record_free(st); }

void ruby_after_fork_child() {
  g_frames.after_fork_child();
  g_rb.lookup.after_fork_child();
}

namespace {

ScriptClass classify_frame(const char* file, const char*) {
  switch (classify(file)) {
    case RbClass::User: return ScriptClass::User;
    case RbClass::Library: return ScriptClass::Library;
    case RbClass::Binding: return ScriptClass::Binding;
    case RbClass::Runtime: return ScriptClass::Runtime;
  }
  return ScriptClass::Runtime;
}

void short_frame_name(const char* file, const char*, char* out, size_t size) { short_name(file, out, size); }

void* record() { return ruby_stack_record(); }
char* text(const void* rec) { return ruby_stack_text(static_cast<const FrameRecord*>(rec)); }
void free_record(void* rec) { ruby_stack_free(static_cast<FrameRecord*>(rec)); }

}  // namespace

extern const LangOps kRubyLang = {
    "ruby",           "Ruby backtrace", "%F:%L:in `%M'",       ruby_running, record, text, free_record,
    classify_frame,   short_frame_name, ruby_after_fork_child,
};

}  // namespace zg
