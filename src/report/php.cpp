// SPDX-License-Identifier: MIT
// PHP backtraces without PHP headers (the "php" row of report/langs.def).
// The Zend engine of the main program (php-cli, php-fpm, php-cgi) is found
// (report/late_lookup.h) once, and its frames are read in place: the structures'
// offsets are PHP 8.2's (NTS, x86-64), trusted only once the process's
// first read matched what the engine's own exported functions say about
// the same frame (doc/bindings.md, "PHP").
//
// Nothing of PHP's is run: no PHP code, no engine function that could
// allocate, throw or call back; the exported functions the check calls
// only read the same frames.  Debian's PHP is built without threads (NTS):
// one thread runs PHP, its executor state is one global, and only the
// process's main thread reads it.
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>

#include "core/options.h"
#include "core/threads.h"
#include "report/frame_record.h"
#include "report/intern.h"
#include "report/late_lookup.h"
#include "report/php_layout.h"
#include "report/script.h"
#include "report/text.h"

namespace zg {
namespace {

using namespace php82;

struct Php {
  std::atomic<int> state{0};   // 0 not looked, 1 found, 2 absent
  std::atomic<int> layout{0};  // 0 not verified yet, 1 verified, 2 wrong: never read again
  const char* eg;              // &executor_globals
  const char* (*filename)();   // zend_get_executed_filename
  uint32_t (*lineno)();        // zend_get_executed_lineno
  const char* (*function)();   // get_active_function_name
  const char* (*class_name)(const char**);  // get_active_class_name
};
Php g_php;
pthread_mutex_t g_lookup_mu = PTHREAD_MUTEX_INITIALIZER;

// -1 not known yet, 0 no, 1 yes: whether this thread is the process's main
// thread, the one that runs PHP in every NTS server API the guard reads
// (cli, cgi, fpm's workers).  Made unknown again in a forked child.
__thread int tls_main ZG_TLS = -1;

bool on_main_thread() {
  if (tls_main < 0) tls_main = syscall(SYS_gettid) == getpid();
  return tls_main == 1;
}

struct InMain {
  uintptr_t addr;
  bool in;
};

// The first object dl_iterate_phdr reports is the main program.
int main_holds(struct dl_phdr_info* info, size_t, void* data) {
  auto* q = static_cast<InMain*>(data);
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    const uintptr_t start = info->dlpi_addr + ph.p_vaddr;
    if (ph.p_type == PT_LOAD && q->addr >= start && q->addr - start < ph.p_memsz) q->in = true;
  }
  return 1;
}

// The engine is looked for once: it is the main program or nothing.  A PHP
// loaded as a library (apache's mod_php, the embed SAPI) may run PHP on any
// thread, so its frames are not read (native frames only).  ZTS builds
// export no executor_globals (their globals are per thread): not read.
bool lookup() {
  int s = g_php.state.load(std::memory_order_acquire);
  if (s) return s == 1;
  pthread_mutex_lock(&g_lookup_mu);
  s = g_php.state.load(std::memory_order_relaxed);
  if (!s) {
    const char* (*version)() = nullptr;
    bool ok = late_sym(&g_php.eg, "executor_globals") && late_sym(&version, "get_zend_version") &&
              late_sym(&g_php.filename, "zend_get_executed_filename") &&
              late_sym(&g_php.lineno, "zend_get_executed_lineno") &&
              late_sym(&g_php.function, "get_active_function_name") &&
              late_sym(&g_php.class_name, "get_active_class_name");
    if (ok) {
      InMain q{reinterpret_cast<uintptr_t>(g_php.eg), false};
      dl_iterate_phdr(main_holds, &q);
      // "Zend Engine v4.2.36, Copyright (c) Zend Technologies\n...": PHP 8.2.
      const char* v = version();
      ok = q.in && v && !strncmp(v, "Zend Engine v4.2.", 17);
    }
    s = ok ? 1 : 2;
    g_php.state.store(s, std::memory_order_release);
  }
  pthread_mutex_unlock(&g_lookup_mu);
  return s == 1;
}

// --- reading the frames ----------------------------------------------------
//
// Until the layout is verified every word is read through the kernel
// (process_vm_readv, or /proc/self/mem where a seccomp filter refuses the
// call): a wrong offset gives a failed read, never a fault.  Once
// verified, plainly: the frames are the calling thread's own, and it is
// inside a C call, so none of them changes while it reads.

struct SafeRead {
  static bool bytes(uintptr_t addr, void* out, size_t len) {
    if (addr < 4096) return false;
    struct iovec local = {out, len};
    struct iovec remote = {reinterpret_cast<void*>(addr), len};
    const int saved = errno;
    ssize_t n = syscall(SYS_process_vm_readv, getpid(), &local, 1UL, &remote, 1UL, 0UL);
    if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
      const int fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
      n = fd < 0 ? -1 : pread(fd, out, len, static_cast<off_t>(addr));
      if (fd >= 0) close(fd);
    }
    errno = saved;
    return n == static_cast<ssize_t>(len);
  }
};

struct DirectRead {
  static bool bytes(uintptr_t addr, void* out, size_t len) {
    if (addr < 4096) return false;
    memcpy(out, reinterpret_cast<const void*>(addr), len);
    return true;
  }
};

template <typename R, typename T>
bool get(uintptr_t addr, T* out) {
  return R::bytes(addr, out, sizeof *out);
}

constexpr int kMaxDepth = 100;
constexpr size_t kMaxString = 400;

// A frame as read: what makes its entry, and its line.
struct Raw {
  uintptr_t func, name, scope, file;  // the zend_strings' addresses (0: none)
  uint8_t type;
  bool obj;  // called on an object: "Class->method", else "Class::method"
  uint32_t line;  // user code: the line it runs; internal: 0
  uint8_t top;    // top-level code: 1 "{main}", 2.. an include kind (kTopNames)
};

const char* const kTopNames[] = {"", "{main}", "include", "include_once", "require", "require_once", "eval"};

// How the file of top-level code was entered, from the opline of the user
// frame that entered it (ZEND_INCLUDE_OR_EVAL's extended_value).
template <typename R>
uint8_t include_kind(uintptr_t opline) {
  uint8_t opcode = 0;
  uint32_t how = 0;
  if (!opline || !get<R>(opline + kOpOpcode, &opcode) || opcode != kIncludeOrEval ||
      !get<R>(opline + kOpExtended, &how))
    return 2;
  switch (how) {
    case kEval: return 6;
    case kIncludeOnce: return 3;
    case kRequire: return 4;
    case kRequireOnce: return 5;
    default: return 2;  // ZEND_INCLUDE
  }
}

// Reads up to kMaxDepth frames of the calling thread; the number read, or
// -1 when a read failed (only SafeRead fails).  A frame without a function
// (the engine's stand-in for the generators that delegate, with yield
// from, to the running one) is left out: naming them means reading the
// generators' own structure, which nothing exported vouches for; *top:
// the running frame was not left out.
template <typename R>
int walk(Raw* out, bool* top) {
  uintptr_t ex = 0;
  if (!get<R>(reinterpret_cast<uintptr_t>(g_php.eg) + kEgCurrentExecuteData, &ex)) return -1;
  int n = 0;
  *top = true;
  int last_top = -1;  // the frame of top-level code whose caller names it
  while (ex && n < kMaxDepth) {
    uintptr_t func = 0, opline = 0, prev = 0;
    if (!get<R>(ex + kExFunc, &func) || !get<R>(ex + kExOpline, &opline) || !get<R>(ex + kExPrev, &prev)) return -1;
    if (last_top >= 0) {
      if (func) out[last_top].top = include_kind<R>(opline);
      last_top = -1;
    }
    Raw r{};
    if (func && get<R>(func + kFnType, &r.type) &&
        (r.type == kInternalFunction || r.type == kUserFunction || r.type == kEvalCode)) {
      r.func = func;
      uint8_t this_type = 0;
      if (!get<R>(func + kFnName, &r.name) || !get<R>(func + kFnScope, &r.scope) || !get<R>(ex + kExThisType, &this_type))
        return -1;
      r.obj = this_type == kIsObject;
      if (r.type != kInternalFunction) {
        if (!get<R>(func + kOpFilename, &r.file)) return -1;
        uintptr_t op = opline;
        if (!op && !get<R>(func + kOpOpcodes, &op)) return -1;  // not started: its first line
        if (!get<R>(op + kOpLineno, &r.line)) return -1;
        if (!r.name) {
          r.top = r.type == kEvalCode ? 6 : 1;
          if (r.type != kEvalCode) last_top = n;  // "{main}" unless a caller included it
        }
      }
      out[n++] = r;
    } else if (func) {
      return -1;  // not a function PHP 8.2 has: not this layout
    } else {
      if (n == 0) *top = false;
    }
    ex = prev;
  }
  return n;
}

// A zend_string's bytes, as the record's text keeps them (a tab or newline
// made '?'), cut at kMaxString.
template <typename R>
bool put_string(TextBuf& t, uintptr_t s) {
  uint64_t len = 0;
  if (!get<R>(s + kStrLen, &len)) return false;
  char buf[kMaxString];
  const size_t n = len < kMaxString ? size_t(len) : kMaxString;
  if (!R::bytes(s + kStrVal, buf, n)) return false;
  for (size_t i = 0; i < n; i++)
    if (buf[i] == '\t' || buf[i] == '\n') buf[i] = '?';
  t.add(buf, n);
  return true;
}

// --- verifying the layout ----------------------------------------------------
//
// The first stack read in the process is read through the kernel and
// compared with what the engine's exported functions say: the top frame's
// function and class name (get_active_function_name, get_active_class_name:
// the same strings, not equal copies), and the first frame of user code
// (the API skips internal frames through prev_execute_data as the walk
// does): its file (zend_get_executed_filename) and line
// (zend_get_executed_lineno).  A match proves every offset the walk uses
// but This's type and the include opline's fields (read within structures
// whose neighbouring fields it proves).  A difference, or a failed read:
// never read again.  A stack that proves nothing either way (no internal
// frame above user code, a running frame without a function, a frame handling an
// exception, a class being linked) is not read, and the next one is tried
// (up to kMaxUnsure).
enum class Verdict { Match, Differ, Unsure };

template <typename R>
bool string_is(uintptr_t s, const char* api) {
  uint64_t len = 0;
  char c = 1;
  return s && api && reinterpret_cast<uintptr_t>(api) == s + kStrVal && get<R>(s + kStrLen, &len) &&
         len < (1u << 20) && strnlen(api, len + 1) == len && get<R>(s + kStrVal + len, &c) && c == 0;
}

Verdict verify(const Raw* raw, int n, bool top_read) {
  if (n <= 0 || !top_read) return Verdict::Unsure;
  // get_active_function_name: an internal function's name; user code's, or
  // "main" for top-level code; none for eval'd code.  get_active_class_name:
  // the function's class, or "".
  const Raw& top = raw[0];
  const char* fn = g_php.function();
  const char* cls = g_php.class_name(nullptr);
  if (top.type == kEvalCode) return fn == nullptr && cls && !*cls ? Verdict::Unsure : Verdict::Differ;
  if (top.name ? !string_is<SafeRead>(top.name, fn) : !(fn && !strcmp(fn, "main"))) return Verdict::Differ;
  uintptr_t scope_name = 0;
  if (top.scope && !get<SafeRead>(top.scope + kCeName, &scope_name)) return Verdict::Differ;
  if (top.scope ? !string_is<SafeRead>(scope_name, cls) : !(cls && !*cls)) return Verdict::Differ;
  int user = 0;
  while (user < n && raw[user].type == kInternalFunction) user++;
  if (user == 0 || user == n) return Verdict::Unsure;
  if (!string_is<SafeRead>(raw[user].file, g_php.filename())) {
    // While the engine links a class (an autoloader may run meanwhile),
    // the API answers the class's file instead.
    uintptr_t override = 1;
    const uintptr_t at = reinterpret_cast<uintptr_t>(g_php.eg) + kEgFilenameOverride;
    return get<SafeRead>(at, &override) && override ? Verdict::Unsure : Verdict::Differ;
  }
  if (raw[user].line != g_php.lineno()) {
    // The engine answers the line before the exception for a frame at its
    // exception handler, the class's line while it links a class: not a
    // difference of layout.
    return Verdict::Unsure;
  }
  return Verdict::Match;
}

// The frames of the calling thread, once the layout is known good.  A
// program whose stacks keep proving nothing is not read through the
// kernel forever (a few hundred system calls each): after kMaxUnsure such
// stacks it gets native frames only.
constexpr int kMaxUnsure = 16;
int g_unsure = 0;  // only the main thread verifies

int read_frames(Raw* raw) {
  const int layout = g_php.layout.load(std::memory_order_acquire);
  bool top = true;
  if (layout == 1) return walk<DirectRead>(raw, &top);
  if (layout == 2) return -1;
  const int n = walk<SafeRead>(raw, &top);
  if (n == 0 && top) return 0;  // no PHP running (a call at shutdown): one read, nothing to prove
  Verdict v = n < 0 ? Verdict::Differ : verify(raw, n, top);
  if (v == Verdict::Unsure && ++g_unsure < kMaxUnsure) return -1;
  if (v == Verdict::Unsure) v = Verdict::Differ;
  int expected = 0;
  g_php.layout.compare_exchange_strong(expected, v == Verdict::Match ? 1 : 2, std::memory_order_acq_rel);
  return v == Verdict::Match ? n : -1;
}

// --- records: frame entries and lines ----------------------------------------
//
// As for Ruby (ruby.cpp): each function gets an entry in a process-wide
// table the first time it is seen, with its name and file copied once; a
// record is entry numbers and lines.  An entry is found again by the
// function's address and its name, class and file strings' addresses: a
// function freed at the end of a request (php-fpm without opcache) whose
// memory a new one took matches only if those are the same strings too.

struct FuncEntry {
  uintptr_t func, name, scope, file;
  bool obj;
  char* text;      // "file\t" ... "function": the line goes between
  uint32_t split;  // where the line goes
  bool internal;
};

InternTable<FuncEntry, 4096> g_funcs;

// "Class->method" (called on an object) or "Class::method", as PHP's
// backtraces name it.
template <typename R>
bool put_function(TextBuf& b, const Raw& r) {
  if (r.scope) {
    uintptr_t cname = 0;
    if (!get<R>(r.scope + kCeName, &cname) || !put_string<R>(b, cname)) return false;
    b.puts(r.obj ? "->" : "::");
  }
  return r.name ? put_string<R>(b, r.name) : true;
}

int entry_of(const Raw& r) {
  return g_funcs.intern(
      r.func,
      [&](const FuncEntry& e) {
        return e.func == r.func && e.name == r.name && e.scope == r.scope && e.file == r.file && e.obj == r.obj;
      },
      [&](FuncEntry* e) {
        TextBuf b;
        if (r.file && !put_string<DirectRead>(b, r.file)) return false;
        const uint32_t split = static_cast<uint32_t>(b.n);
        if (!put_function<DirectRead>(b, r) || !b.ok) return false;
        if (!b.p) b.add("", 0);
        *e = FuncEntry{r.func, r.name, r.scope, r.file, r.obj, b.release(), split, r.type == kInternalFunction};
        return true;
      });
}

struct PhpRecord {
  int n;
  struct {
    uint32_t entry;
    uint32_t line;
    uint8_t top;
  } frames[1];
};

bool running() { return options().php && lookup() && g_php.layout.load(std::memory_order_relaxed) != 2; }

void* record() {
  if (!running() || !on_main_thread()) return nullptr;
  Raw raw[kMaxDepth];
  const int n = read_frames(raw);
  if (n <= 0) return nullptr;
  auto* rec = static_cast<PhpRecord*>(malloc(sizeof(PhpRecord) + sizeof(PhpRecord::frames[0]) * (n - 1)));
  if (!rec) return nullptr;
  rec->n = 0;
  for (int i = 0; i < n; i++) {
    const int e = entry_of(raw[i]);
    if (e < 0) {  // the table is full: no stack with a frame left out
      free(rec);
      return nullptr;
    }
    rec->frames[i].entry = static_cast<uint32_t>(e);
    rec->frames[i].line = raw[i].line;
    rec->frames[i].top = raw[i].top;
  }
  rec->n = n;
  return rec;
}

// A function written in C (ZMQSocket->send) has no file: PHP's backtraces
// give it the file and line it was called from, the next frame of user
// code's; so does this text.
char* text(const void* r) {
  const auto* rec = static_cast<const PhpRecord*>(r);
  if (!rec || g_funcs.empty()) return nullptr;
  TextBuf b;
  for (int i = 0; i < rec->n; i++) {
    const FuncEntry& e = g_funcs.at(static_cast<int>(rec->frames[i].entry));
    const FuncEntry* at = &e;
    uint32_t line = rec->frames[i].line;
    for (int j = i + 1; at->internal && j < rec->n; j++) {
      at = &g_funcs.at(static_cast<int>(rec->frames[j].entry));
      line = rec->frames[j].line;
    }
    if (at->internal) {
      b.puts("[internal function]");
      line = 0;
    } else {
      b.add(at->text, at->split);
    }
    put_tab_line(b, static_cast<int>(line));
    if (rec->frames[i].top) b.puts(kTopNames[rec->frames[i].top]);
    else b.puts(e.text + e.split);
    b.add("\n", 1);
  }
  return b.ok && b.n ? b.release() : nullptr;
}

void free_record(void* rec) { free(rec); }

bool has(const char* s, const char* part) { return strstr(s, part) != nullptr; }

// php-zmq's classes (its exceptions' methods are PHP's Exception's).
bool is_binding(const char* function) {
  static const char* const kClasses[] = {"ZMQ", "ZMQContext", "ZMQSocket", "ZMQPoll", "ZMQDevice"};
  const size_t n = strcspn(function, "-:");
  for (const char* c : kClasses)
    if (strlen(c) == n && !strncmp(function, c, n) && function[n]) return true;
  return false;
}

ScriptClass classify(const char* file, const char* function) {
  if (is_binding(function)) return ScriptClass::Binding;
  if (file[0] == '[') return ScriptClass::Runtime;  // "[internal function]"
  if (!strncmp(file, "/usr/share/php/", 15) || has(file, "/vendor/")) return ScriptClass::Library;
  return ScriptClass::User;
}

// A fold line's name: "php-zmq", "PHP" for the engine's own functions, a
// library's package ("/usr/share/php/Monolog/..." "Monolog", composer's
// "vendor/monolog/monolog/..." "monolog/monolog").
void short_name(const char* file, const char* function, char* out, size_t size) {
  if (classify(file, function) == ScriptClass::Binding) {
    snprintf(out, size, "php-zmq");
  } else if (file[0] == '[') {
    snprintf(out, size, "PHP");
  } else if (const char* v = strstr(file, "/vendor/")) {
    v += 8;
    const char* slash = strchr(v, '/');
    const size_t n = slash ? strcspn(slash + 1, "/") + size_t(slash + 1 - v) : strlen(v);
    snprintf(out, size, "%.*s", static_cast<int>(n), v);
  } else if (!strncmp(file, "/usr/share/php/", 15)) {
    snprintf(out, size, "%.*s", static_cast<int>(strcspn(file + 15, "/")), file + 15);
  } else {
    const char* slash = strrchr(file, '/');
    snprintf(out, size, "%s", slash ? slash + 1 : file);
  }
}

void after_fork_child() {
  g_funcs.after_fork_child();
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  g_lookup_mu = fresh;
  tls_main = -1;
}

}  // namespace

extern const LangOps kPhpLang = {
    "php", "PHP backtrace", "%M() in %F:%L", running, record, text, free_record, classify, short_name,
    after_fork_child,
};

}  // namespace zg
