// SPDX-License-Identifier: MIT
// Ruby thread names read from the VM (ruby_names.h).
//
// A thread finds its own Ruby thread with rb_thread_current(), which only
// reads the thread's execution context (a thread-local): no GVL, no
// allocation, no Ruby code.  The name is a field of the VM's rb_thread_t,
// reached through the Thread object (a typed T_DATA); its offset is known
// per Ruby version only, so each read checks what it can before it
// trusts a word: the Thread object's type is named "VM/thread" and its
// data points back to the object, the name is nil or a frozen String; and
// the report shows a name only when its first 15 bytes are the thread's
// OS name, which Ruby set from the same name (Ruby's main thread, which
// Ruby never names to the OS, once some other thread's name agreed).  Any
// other Ruby, or a word that fails a check, leaves the OS name.
#include "report/ruby_names.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <atomic>

#include "report/late_lookup.h"
#include "report/ruby.h"
#include "report/script.h"

#define ZG_RB_TLS __attribute__((tls_model("initial-exec")))

namespace zg {

extern const LangOps kRubyLang;  // report/ruby.cpp, the Ruby row of langs.def

namespace {

using VALUE = uintptr_t;

// Measured on Debian 12's Ruby 3.1.2: a probe called through Ruby FFI
// found the words of rb_thread_current()'s object and of its rb_thread_t
// that hold the object itself and what Thread#name returns, and the
// String's layout for a short (embedded) name and a long one.
struct RbLayout {
  const char* version;  // ruby_version
  size_t typed_type;    // RTypedData.type: the rb_data_type_t, whose first field is its name
  size_t typed_flag;    // RTypedData.typed_flag: 1
  size_t typed_data;    // RTypedData.data: the rb_thread_t
  size_t th_self;       // rb_thread_t.self: the Thread object
  size_t th_name;       // rb_thread_t.name: nil or a frozen String
  size_t heap_len;      // RString.as.heap.len
  size_t heap_ptr;      // RString.as.heap.ptr
  size_t embed;         // RString.as.embed.ary
  unsigned noembed_bit;       // RSTRING_NOEMBED (FL_USER1)
  unsigned embed_len_shift;   // RSTRING_EMBED_LEN_SHIFT: an embedded string's length, in its flags
  VALUE embed_len_mask;
};
constexpr RbLayout kLayouts[] = {
    {"3.1.2", 16, 24, 32, 16, 352, 16, 24, 16, 13, 14, 0x1f},
};

constexpr VALUE kNil = 0x08;  // Qnil since Ruby 2.0 (flonum builds)
constexpr unsigned kTypeData = 0x0c;
constexpr unsigned kTypeString = 0x05;
constexpr VALUE kFrozen = VALUE(1) << 11;  // RUBY_FL_FREEZE
constexpr size_t kOsNameMax = 15;          // the kernel's, and what Ruby copies

struct Api {
  std::atomic<int> state{0};  // 0 not looked up, 1 usable, 2 not, 3 being published
  const RbLayout* layout = nullptr;
  int (*native_thread_p)() = nullptr;
  VALUE (*thread_current)() = nullptr;
  std::atomic<const void*> thread_type{nullptr};  // Thread's rb_data_type_t, once seen
};
Api g_api;

struct Noted {
  uint64_t serial;
  bool main;  // Ruby's main thread (the process's first): no OS name from Ruby
  char name[kRbNameLen];
};
constexpr int kNoted = 256;
Noted g_noted[kNoted];
int g_noted_next = 0;
pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
// Some thread's name read here agreed with the OS name Ruby gave it: the
// layout holds in this process.
std::atomic<bool> g_confirmed{false};

// The process's id (getpid is a system call), made anew in a forked child.
std::atomic<pid_t> g_pid{0};

pid_t process_id() {
  pid_t pid = g_pid.load(std::memory_order_relaxed);
  if (!pid) g_pid.store(pid = getpid(), std::memory_order_relaxed);
  return pid;
}

// What the calling thread noted last: its serial and the name's hash.
__thread uint64_t tls_serial ZG_RB_TLS;
__thread uint64_t tls_hash ZG_RB_TLS;

template <typename T>
T word(VALUE obj, size_t off) {
  T v;
  memcpy(&v, reinterpret_cast<const char*>(obj) + off, sizeof v);
  return v;
}

bool is_object(VALUE v, unsigned type) {
  if (v == 0 || (v & 7) != 0 || v < 4096) return false;  // nil, false, fixnums, symbols, flonums
  return (word<VALUE>(v, 0) & 0x1f) == type;
}

bool usable() {
  int s = g_api.state.load(std::memory_order_acquire);
  if (s != 0) return s == 1;
  if (!ruby_running()) return false;  // libruby may come later: looked up again then
  // Looked up without the loader's lock (late_find: a thread making a
  // socket from a constructor inside dlopen holds it, and may wait for a
  // lock of ours) and with no lock of the guard's held.  The first thread
  // to finish publishes; one that finds it being published notes nothing
  // this time.
  const char* version = static_cast<const char*>(late_find("ruby_version"));
  const RbLayout* layout = nullptr;
  for (const RbLayout& l : kLayouts)
    if (version && strcmp(version, l.version) == 0) layout = &l;
  auto native_thread_p = reinterpret_cast<int (*)()>(late_find("ruby_native_thread_p"));
  auto thread_current = reinterpret_cast<VALUE (*)()>(late_find("rb_thread_current"));
  if (g_api.state.compare_exchange_strong(s, 3, std::memory_order_acq_rel)) {
    g_api.layout = layout;
    g_api.native_thread_p = native_thread_p;
    g_api.thread_current = thread_current;
    g_api.state.store(layout && native_thread_p && thread_current ? 1 : 2, std::memory_order_release);
  }
  return g_api.state.load(std::memory_order_acquire) == 1;
}

// The calling thread's Thread#name into out (cut at a character
// boundary): 1, or 0 for nil, or -1 when a check fails.
int read_own_name(char* out, size_t len) {
  const RbLayout& l = *g_api.layout;
  if (!g_api.native_thread_p()) return -1;
  const VALUE th = g_api.thread_current();
  if (!is_object(th, kTypeData) || word<VALUE>(th, l.typed_flag) != 1) return -1;
  const void* type = word<const void*>(th, l.typed_type);
  if (!type) return -1;
  if (type != g_api.thread_type.load(std::memory_order_relaxed)) {
    const char* type_name = *static_cast<const char* const*>(type);
    if (!type_name || strcmp(type_name, "VM/thread") != 0) return -1;
    g_api.thread_type.store(type, std::memory_order_relaxed);
  }
  const VALUE t = word<VALUE>(th, l.typed_data);
  if (!t || word<VALUE>(t, l.th_self) != th) return -1;
  const VALUE name = word<VALUE>(t, l.th_name);
  if (name == kNil) return 0;
  if (!is_object(name, kTypeString)) return -1;
  const VALUE flags = word<VALUE>(name, 0);
  if (!(flags & kFrozen)) return -1;  // Thread#name= keeps a frozen copy
  const char* p;
  size_t n;
  if (flags & (VALUE(1) << l.noembed_bit)) {
    n = word<size_t>(name, l.heap_len);
    p = word<const char*>(name, l.heap_ptr);
  } else {
    n = (flags >> l.embed_len_shift) & l.embed_len_mask;
    p = reinterpret_cast<const char*>(name) + l.embed;
  }
  // Thread#name= refuses a NUL inside (its name goes to the OS).
  if (!p || n == 0 || n > 4096 || memchr(p, 0, n)) return -1;
  if (n >= len) {
    n = len - 1;
    while (n > 0 && (static_cast<unsigned char>(p[n]) & 0xC0) == 0x80) n--;
  }
  memcpy(out, p, n);
  out[n] = 0;
  return 1;
}

// The OS name Ruby makes of `name`: its first 15 bytes.
bool agrees(const char* name, const char* os_name) {
  const size_t n = strnlen(name, kOsNameMax);
  return strlen(os_name) == n && memcmp(name, os_name, n) == 0;
}

uint64_t hash_of(const char* s) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (; *s; s++) h = (h ^ static_cast<unsigned char>(*s)) * 1099511628211ull;
  return h;
}

bool is_ruby(const char* key) { return key && key == kRubyLang.key; }  // the same row's

void note(uint64_t serial, pid_t tid, const char* os_name) {
  if (!serial || !usable()) return;
  char name[kRbNameLen];
  const int r = read_own_name(name, sizeof name);
  if (r < 0) return;
  if (r == 0) name[0] = 0;
  const uint64_t h = hash_of(name);
  const bool same = tls_serial == serial && tls_hash == h;  // as noted last time
  if (same && (!name[0] || g_confirmed.load(std::memory_order_relaxed))) return;
  const bool main = tid == process_id();
  if (!main && name[0] && agrees(name, os_name)) g_confirmed.store(true, std::memory_order_relaxed);
  if (same) return;
  pthread_mutex_lock(&g_mu);
  int slot = -1;
  for (int i = 0; i < kNoted && slot < 0; i++)
    if (g_noted[i].serial == serial) slot = i;
  if (slot < 0 && name[0]) {  // a thread without a name takes no slot
    slot = g_noted_next;
    g_noted_next = (g_noted_next + 1) % kNoted;
  }
  if (slot >= 0) {
    g_noted[slot].serial = serial;
    g_noted[slot].main = main;
    memcpy(g_noted[slot].name, name, sizeof name);
  }
  pthread_mutex_unlock(&g_mu);
  tls_serial = serial;
  tls_hash = h;
}

}  // namespace

void ruby_note_thread(const ScriptStack* rec, uint64_t serial, pid_t tid, const char* os_name) {
  if (is_ruby(script_stack_key(rec))) note(serial, tid, os_name);
}

void ruby_note_thread(const char* script_text, uint64_t serial, pid_t tid, const char* os_name) {
  if (script_lang(script_text) == &kRubyLang) note(serial, tid, os_name);
}

void ruby_noted_name(uint64_t serial, const char* os_name, char* out, size_t len) {
  if (len) out[0] = 0;
  if (!serial || !len || g_api.state.load(std::memory_order_acquire) != 1) return;
  pthread_mutex_lock(&g_mu);
  for (int i = 0; i < kNoted; i++) {
    const Noted& e = g_noted[i];
    if (e.serial != serial) continue;
    if (e.name[0] && (agrees(e.name, os_name) || (e.main && g_confirmed.load(std::memory_order_relaxed)))) {
      size_t n = strlen(e.name);
      if (n >= len) {
        n = len - 1;
        while (n > 0 && (static_cast<unsigned char>(e.name[n]) & 0xC0) == 0x80) n--;
      }
      memcpy(out, e.name, n);
      out[n] = 0;
    }
    break;
  }
  pthread_mutex_unlock(&g_mu);
}

void ruby_names_after_fork_child() {
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  g_mu = fresh;
  g_pid.store(0, std::memory_order_relaxed);
}

}  // namespace zg
