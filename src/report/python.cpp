#include "report/python.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <new>

#include "report/text.h"

#define ZG_PY_TLS __attribute__((tls_model("initial-exec")))

namespace zg {
namespace {

// The interpreter's C API, found with dlsym: no Python headers at build
// time, and nothing to pay in a process without Python.  PyObject* is void*.
struct Py {
  std::atomic<int> state{0};  // 0 unknown, 1 found, 2 absent
  // Loader generation when found absent.  Read without the lock by every
  // thread that asks (found by ThreadSanitizer): atomic, relaxed, as the
  // state's acquire load already orders it after the store before it.
  std::atomic<unsigned long long> absent_adds{0};
  int (*is_initialized)();
  void* (*this_tstate)();
  void (*dump)(int, void*);
  // Optional, each looked up on its own; `names` and `frames` say whether
  // all those a feature needs were found.
  void* (*holder_tstate)();  // _PyThreadState_UncheckedGet: the GIL holder
  int (*is_finalizing)();
  void* (*getattr)(void*, const char*);
  const char* (*as_utf8)(void*);
  void (*decref)(void*);
  void (*err_fetch)(void**, void**, void**);
  void (*err_restore)(void*, void*, void*);
  // Thread names.
  bool names;
  int (*gil_ensure)();
  void (*gil_release)(int);
  void* (*module_dict)();
  void* (*dict_get_string)(void*, const char*);
  void* (*dict_get)(void*, void*);
  void* (*long_from_ulong)(unsigned long);
  // Tracebacks read from the frames by a thread holding the GIL.
  bool frames;
  void* (*tstate_frame)(void*);  // PyThreadState_GetFrame: new reference
  void* (*frame_back)(void*);    // PyFrame_GetBack: new reference
  void* (*frame_code)(void*);    // PyFrame_GetCode: new reference
  int (*frame_line)(void*);      // PyFrame_GetLineNumber
  void* (*intern)(const char*);  // PyUnicode_InternFromString
  void* (*getattr_obj)(void*, void*);
  const char* (*as_utf8_size)(void*, ssize_t*);
  ssize_t (*unicode_len)(void*);
  uint32_t (*read_char)(void*, ssize_t);  // Py_UCS4, (Py_UCS4)-1 on error
  void* (*err_occurred)();
  void (*err_clear)();
  int (*gc_disable)();  // returns whether it was enabled
  int (*gc_enable)();
  // Stacks recorded as code objects and offsets (3.11's PyFrame_GetLasti).
  bool compact;
  int (*frame_lasti)(void*);          // PyFrame_GetLasti: bytes, or -1
  int (*code_addr2line)(void*, int);  // PyCode_Addr2Line: reads no Python state
};
Py g_py;
pthread_mutex_t g_lookup_mu = PTHREAD_MUTEX_INITIALIZER;

int adds_cb(struct dl_phdr_info* info, size_t size, void* data) {
  if (size >= offsetof(struct dl_phdr_info, dlpi_subs))
    *static_cast<unsigned long long*>(data) = info->dlpi_adds;
  return 1;
}

template <typename F>
bool sym(F* out, const char* name) {
  *out = reinterpret_cast<F>(dlsym(RTLD_DEFAULT, name));
  return *out != nullptr;
}

bool lookup() {
  int s = g_py.state.load(std::memory_order_acquire);
  if (s == 1) return true;
  // Python may be loaded later (embedding): an absent result is looked up
  // again only when the set of loaded objects has grown.
  unsigned long long adds = 0;
  dl_iterate_phdr(adds_cb, &adds);
  if (s == 2 && adds == g_py.absent_adds.load(std::memory_order_relaxed)) return false;
  pthread_mutex_lock(&g_lookup_mu);
  bool ok = g_py.state.load(std::memory_order_relaxed) == 1;
  if (!ok) {
    ok = sym(&g_py.is_initialized, "Py_IsInitialized") && sym(&g_py.this_tstate, "PyGILState_GetThisThreadState") &&
         sym(&g_py.dump, "_Py_DumpTraceback");
    if (ok) {
      // Names of 3.11; later versions made the first two public.
      bool common = (sym(&g_py.holder_tstate, "_PyThreadState_UncheckedGet") ||
                     sym(&g_py.holder_tstate, "PyThreadState_GetUnchecked")) &&
                    (sym(&g_py.is_finalizing, "_Py_IsFinalizing") || sym(&g_py.is_finalizing, "Py_IsFinalizing")) &&
                    sym(&g_py.getattr, "PyObject_GetAttrString") && sym(&g_py.as_utf8, "PyUnicode_AsUTF8") &&
                    sym(&g_py.decref, "Py_DecRef") && sym(&g_py.err_fetch, "PyErr_Fetch") &&
                    sym(&g_py.err_restore, "PyErr_Restore");
      g_py.names = common && sym(&g_py.gil_ensure, "PyGILState_Ensure") && sym(&g_py.gil_release, "PyGILState_Release") &&
                   sym(&g_py.module_dict, "PyImport_GetModuleDict") &&
                   sym(&g_py.dict_get_string, "PyDict_GetItemString") && sym(&g_py.dict_get, "PyDict_GetItem") &&
                   sym(&g_py.long_from_ulong, "PyLong_FromUnsignedLong");
      // PyGC_Disable and PyGC_Enable are 3.10's.
      g_py.frames = common && sym(&g_py.tstate_frame, "PyThreadState_GetFrame") &&
                    sym(&g_py.frame_back, "PyFrame_GetBack") && sym(&g_py.frame_code, "PyFrame_GetCode") &&
                    sym(&g_py.frame_line, "PyFrame_GetLineNumber") && sym(&g_py.intern, "PyUnicode_InternFromString") &&
                    sym(&g_py.getattr_obj, "PyObject_GetAttr") && sym(&g_py.as_utf8_size, "PyUnicode_AsUTF8AndSize") &&
                    sym(&g_py.unicode_len, "PyUnicode_GetLength") && sym(&g_py.read_char, "PyUnicode_ReadChar") &&
                    sym(&g_py.err_occurred, "PyErr_Occurred") && sym(&g_py.err_clear, "PyErr_Clear") &&
                    sym(&g_py.gc_disable, "PyGC_Disable") && sym(&g_py.gc_enable, "PyGC_Enable");
      g_py.compact = g_py.frames && sym(&g_py.frame_lasti, "PyFrame_GetLasti") &&
                     sym(&g_py.code_addr2line, "PyCode_Addr2Line");
      g_py.state.store(1, std::memory_order_release);
    } else {
      g_py.absent_adds.store(adds, std::memory_order_relaxed);
      g_py.state.store(2, std::memory_order_release);
    }
  }
  pthread_mutex_unlock(&g_lookup_mu);
  return ok;
}

// True if the calling thread holds the GIL now.  PyGILState_Check() answers
// 1 whenever its checks are disabled (subinterpreters), so compare the GIL
// holder with this thread's own state instead.
bool holds_gil() {
  if (!g_py.holder_tstate) return false;
  void* mine = g_py.this_tstate();
  return mine && g_py.holder_tstate() == mine;
}

// A name cut to fit is cut before a character, never inside one (a cut
// UTF-8 sequence is not text: the report's line would not be valid UTF-8).
void copy_utf8(char* out, size_t cap, const char* in) {
  size_t n = strlen(in);
  if (n >= cap) {
    n = cap - 1;
    while (n > 0 && (static_cast<unsigned char>(in[n]) & 0xC0) == 0x80) n--;
  }
  memcpy(out, in, n);
  out[n] = 0;
}

// threading._active[ident]._name for each ident.  GIL held.  No Python code
// runs (the plain attribute, not the property), and a pending exception is
// kept as it was.
void read_names_gil(const unsigned long* idents, int n, char (*names)[kPyNameLen]) {
  void *et, *ev, *tb;
  g_py.err_fetch(&et, &ev, &tb);
  // Attribute names made once and kept (interned): a thread's name is read
  // at every socket it makes.
  static void* s_active = nullptr;
  static void* s_name = nullptr;
  if (!s_name && g_py.frames) {
    s_active = g_py.intern("_active");
    s_name = s_active ? g_py.intern("_name") : nullptr;
    if (!s_name) g_py.err_clear();
  }
  void* modules = g_py.module_dict();
  void* threading = modules ? g_py.dict_get_string(modules, "threading") : nullptr;
  void* active = threading ? (s_name ? g_py.getattr_obj(threading, s_active) : g_py.getattr(threading, "_active"))
                           : nullptr;
  for (int i = 0; active && i < n; i++) {
    if (!idents[i] || names[i][0]) continue;
    void* key = g_py.long_from_ulong(idents[i]);
    if (!key) break;
    void* thread = g_py.dict_get(active, key);  // borrowed
    g_py.decref(key);
    if (!thread) continue;
    void* name = s_name ? g_py.getattr_obj(thread, s_name) : g_py.getattr(thread, "_name");
    if (!name) continue;
    const char* utf8 = g_py.as_utf8(name);
    if (utf8) copy_utf8(names[i], kPyNameLen, utf8);
    g_py.decref(name);
  }
  if (active) g_py.decref(active);
  g_py.err_restore(et, ev, tb);
}

// A request handed to the helper thread.  Whoever finishes last frees it, so
// a helper that gets the GIL after the reporter gave up writes into memory
// that is still its own.
struct Request {
  std::atomic<int> refs{2};
  pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t cv;
  bool done = false;
  int n = 0;
  unsigned long idents[8];
  char names[8][kPyNameLen];
};

void put(Request* r) {
  if (r->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    pthread_cond_destroy(&r->cv);
    free(r);
  }
}

void* helper_main(void* arg) {
  auto* r = static_cast<Request*>(arg);
  // A thread that asks for the GIL while the interpreter finalizes is ended
  // inside PyGILState_Ensure: the request then stays allocated, a small leak
  // at exit rather than a use after free.
  if (g_py.is_initialized() && !g_py.is_finalizing()) {
    int st = g_py.gil_ensure();
    read_names_gil(r->idents, r->n, r->names);
    g_py.gil_release(st);
  }
  pthread_mutex_lock(&r->mu);
  r->done = true;
  pthread_cond_signal(&r->cv);
  pthread_mutex_unlock(&r->mu);
  put(r);
  return nullptr;
}

// Names noted while their threads held the GIL, for threads gone by report
// time.  A small ring: reports name recent owners.
struct Noted {
  unsigned long long key;
  char name[kPyNameLen];
};
constexpr int kNoted = 256;
Noted g_noted[kNoted];
int g_noted_next = 0;
pthread_mutex_t g_noted_mu = PTHREAD_MUTEX_INITIALIZER;

}  // namespace

bool py_running() { return lookup() && g_py.is_initialized(); }

void py_thread_names(const unsigned long* idents, int n, char (*names)[kPyNameLen], int timeout_ms) {
  for (int i = 0; i < n; i++) names[i][0] = 0;
  if (n <= 0 || !py_running() || !g_py.names || g_py.is_finalizing()) return;
  if (holds_gil()) {
    read_names_gil(idents, n, names);
    return;
  }
  // Never PyGILState_Ensure here: the GIL holder may be waiting for
  // something this thread holds.  A helper waits for the GIL instead.
  auto* r = static_cast<Request*>(calloc(1, sizeof(Request)));
  if (!r) return;
  new (r) Request();
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&r->cv, &ca);
  pthread_condattr_destroy(&ca);
  r->n = n < 8 ? n : 8;
  memcpy(r->idents, idents, sizeof(unsigned long) * r->n);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  // The helper must not inherit a blocked-signal mask that the host relies
  // on, nor receive the host's signals: block them all in it.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t th;
  int rc = pthread_create(&th, &attr, helper_main, r);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    put(r);
    put(r);
    return;
  }
  struct timespec deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += timeout_ms / 1000;
  deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&r->mu);
  while (!r->done)
    if (pthread_cond_timedwait(&r->cv, &r->mu, &deadline) != 0) break;
  if (r->done)
    for (int i = 0; i < r->n; i++) memcpy(names[i], r->names[i], kPyNameLen);
  pthread_mutex_unlock(&r->mu);
  put(r);
}

void py_note_thread(unsigned long long key) {
  if (g_py.state.load(std::memory_order_acquire) != 1 && !lookup()) return;
  if (!g_py.names || !g_py.is_initialized() || !holds_gil()) return;
  unsigned long ident = static_cast<unsigned long>(pthread_self());
  char name[1][kPyNameLen];
  name[0][0] = 0;
  read_names_gil(&ident, 1, name);
  if (!name[0][0]) return;
  pthread_mutex_lock(&g_noted_mu);
  // A thread notes itself at every socket it makes: its slot from last
  // time, if still its own, saves the search.
  static __thread int tls_slot ZG_PY_TLS;
  int slot = -1;
  if (tls_slot > 0 && g_noted[tls_slot - 1].key == key) {
    slot = tls_slot - 1;
  } else {
    for (int i = 0; i < kNoted; i++)
      if (g_noted[i].key == key) slot = i;
  }
  if (slot < 0) {
    slot = g_noted_next;
    g_noted_next = (g_noted_next + 1) % kNoted;
  }
  g_noted[slot].key = key;
  memcpy(g_noted[slot].name, name[0], kPyNameLen);
  tls_slot = slot + 1;
  pthread_mutex_unlock(&g_noted_mu);
}

void codes_after_fork_child();

void py_after_fork_child() {
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  g_noted_mu = fresh;
  codes_after_fork_child();
}

bool py_noted_name(unsigned long long key, char* out, size_t len) {
  if (len) out[0] = 0;
  if (!key || g_py.state.load(std::memory_order_acquire) != 1) return false;
  bool found = false;
  pthread_mutex_lock(&g_noted_mu);
  for (int i = 0; i < kNoted && !found; i++)
    if (g_noted[i].key == key) {
      snprintf(out, len, "%s", g_noted[i].name);
      found = true;
    }
  pthread_mutex_unlock(&g_noted_mu);
  return found;
}

namespace {

// Appends code point c to out as UTF-8; a lone surrogate U+DC80..U+DCFF is
// the byte Python's surrogateescape made of an undecodable one in a file
// name, and becomes that byte again.
size_t put_utf8(uint32_t c, char* out, size_t at, size_t cap) {
  char u[4];
  size_t n;
  if (c >= 0xDC80 && c <= 0xDCFF) {
    u[0] = static_cast<char>(c & 0xFF);
    n = 1;
  } else if (c < 0x80) {
    u[0] = static_cast<char>(c);
    n = 1;
  } else if (c < 0x800) {
    u[0] = static_cast<char>(0xC0 | (c >> 6));
    u[1] = static_cast<char>(0x80 | (c & 0x3F));
    n = 2;
  } else if (c < 0x10000) {
    u[0] = static_cast<char>(0xE0 | (c >> 12));
    u[1] = static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    u[2] = static_cast<char>(0x80 | (c & 0x3F));
    n = 3;
  } else {
    u[0] = static_cast<char>(0xF0 | (c >> 18));
    u[1] = static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    u[2] = static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    u[3] = static_cast<char>(0x80 | (c & 0x3F));
    n = 4;
  }
  if (at + n >= cap) return at;
  memcpy(out + at, u, n);
  return at + n;
}

// The traceback dumper writes printable ASCII as it is and every other
// character as \xNN, \uNNNN or \UNNNNNNNN: back to UTF-8, so that a file
// name in a report is the file's real name.  (A backslash is printable and
// written as it is, so a name that itself holds "\x41" reads as "A": the
// dumper's output cannot tell them apart; traceback_from_frames writes a
// backslash as \x5C, so its text has no such doubt.)
void py_unescape(const char* s, size_t n, char* out, size_t cap) {
  size_t at = 0;
  for (size_t i = 0; i < n && at + 1 < cap;) {
    size_t digits = 0;
    if (s[i] == '\\' && i + 1 < n) digits = s[i + 1] == 'x' ? 2 : s[i + 1] == 'u' ? 4 : s[i + 1] == 'U' ? 8 : 0;
    uint32_t c = 0;
    bool ok = digits != 0 && i + 2 + digits <= n;
    for (size_t k = 0; ok && k < digits; k++) {
      char h = s[i + 2 + k];
      int v = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
      if (v < 0) ok = false;
      c = c * 16 + static_cast<uint32_t>(v);
    }
    if (ok && c <= 0x10FFFF) {
      at = put_utf8(c, out, at, cap);
      i += 2 + digits;
    } else {
      out[at++] = s[i++];
    }
  }
  out[at] = 0;
}

// \xNN, \uNNNN: a character written as the dumper writes it.
void put_hex(TextBuf* t, char kind, uint32_t c, int digits) { t->printf("\\%c%0*X", kind, digits, c); }

// What the dumper gives up after (traceback.c: MAX_FRAME_DEPTH and
// MAX_STRING_LENGTH): 100 frames, then "  ...", and 500 characters of a
// name, then "...".
constexpr int kMaxDepth = 100;
constexpr ssize_t kMaxChars = 500;

// A character py_unescape must get back as it was: a control character
// would break the line, and a backslash written as it is could be read
// as the start of an escape (the dumper's output has that ambiguity).
bool escaped(uint32_t c) { return c < 0x20 || c == 0x7F || c == '\\'; }

// Writes str s as the dumper would, but as UTF-8 rather than with escapes
// (py_unescape reads both the same).  False, and nothing written, if s is
// not a str.  GIL held, no exception set.
bool put_str(TextBuf* t, void* s) {
  if (!s) return false;
  ssize_t size = 0;
  if (const char* u = g_py.as_utf8_size(s, &size)) {
    ssize_t chars = 0;
    size_t i = 0, run = 0;
    for (; i < size_t(size); i++) {
      unsigned char b = static_cast<unsigned char>(u[i]);
      if ((b & 0xC0) != 0x80 && chars++ == kMaxChars) break;
      if (escaped(b)) {
        t->add(u + run, i - run);
        put_hex(t, 'x', b, 2);
        run = i + 1;
      }
    }
    t->add(u + run, i - run);
    if (i < size_t(size)) t->puts("...");
    return true;
  }
  // Not a str, or one that UTF-8 cannot hold: a lone surrogate, as
  // surrogateescape makes of an undecodable byte in a file name.  Written
  // as the dumper writes it, character by character.
  g_py.err_clear();
  ssize_t len = g_py.unicode_len(s);
  if (len < 0) {
    g_py.err_clear();
    return false;
  }
  for (ssize_t i = 0; i < len && i < kMaxChars; i++) {
    uint32_t c = g_py.read_char(s, i);
    if (c == uint32_t(-1)) {
      g_py.err_clear();
      break;
    }
    if (escaped(c)) {
      put_hex(t, 'x', c, 2);
    } else if (c >= 0xD800 && c <= 0xDFFF) {
      put_hex(t, 'u', c, 4);
    } else {
      char u[5];
      t->add(u, put_utf8(c, u, 0, sizeof u));
    }
  }
  if (len > kMaxChars) t->puts("...");
  return true;
}

// `  File "path", line N in name` for one code object's attribute, or ???
// when it is missing or not a str.
void put_field(TextBuf* t, void* code, void* attr, bool quoted) {
  void* v = code ? g_py.getattr_obj(code, attr) : nullptr;
  if (!v) g_py.err_clear();
  size_t at = t->n;
  if (quoted) t->add("\"", 1);
  if (put_str(t, v)) {
    if (quoted) t->add("\"", 1);
  } else {
    t->n = at;
    if (t->p) t->p[at] = 0;
    t->puts("???");
  }
  if (v) g_py.decref(v);
}

// The calling thread's traceback in the dumper's format, read from its
// frames through the C API: for a thread that holds the GIL, and without a
// system call.  Runs no Python code: the garbage collector, which the frame
// objects made for frames that had none could start (and with it any
// __del__), is off meanwhile; a pending exception is kept as it was.
// False when something failed or there is no frame (nothing is left behind
// and the caller asks the dumper).
bool traceback_from_frames(void* ts, char** out) {
  *out = nullptr;
  void *et, *ev, *tb;
  g_py.err_fetch(&et, &ev, &tb);
  int gc_was = g_py.gc_disable();
  void* co_filename = g_py.intern("co_filename");
  void* co_name = g_py.intern("co_name");
  bool failed = !co_filename || !co_name;
  TextBuf t;
  // No frame: none, or one that could not be made (and the error was
  // cleared): the dumper tells them apart.
  void* frame = failed ? nullptr : g_py.tstate_frame(ts);
  if (!frame) failed = true;
  t.puts("Stack (most recent call first):\n");
  for (int depth = 0; frame; depth++) {
    if (depth == kMaxDepth) {
      t.puts("  ...\n");
      g_py.decref(frame);
      break;
    }
    void* code = g_py.frame_code(frame);
    t.puts("  File ");
    put_field(&t, code, co_filename, true);
    int line = g_py.frame_line(frame);
    t.puts(", line ");
    if (line >= 0) {
      char num[16];
      t.add(num, snprintf(num, sizeof num, "%d", line));
    } else {
      t.puts("???");
    }
    t.puts(" in ");
    put_field(&t, code, co_name, false);
    t.puts("\n");
    if (code) g_py.decref(code);
    void* back = g_py.frame_back(frame);
    g_py.decref(frame);
    frame = back;
  }
  if (co_filename) g_py.decref(co_filename);
  if (co_name) g_py.decref(co_name);
  // Anything still set is this function's (a frame object that could not
  // be made ends the walk early): the text may be short.
  if (g_py.err_occurred()) {
    g_py.err_clear();
    failed = true;
  }
  if (gc_was) g_py.gc_enable();
  g_py.err_restore(et, ev, tb);
  if (failed || !t.ok) return false;
  *out = t.release();
  return true;
}

// The traceback as _Py_DumpTraceback writes it: safe without the GIL, but
// its every piece of text is a write() of its own (about 10 per frame).
char* traceback_dumped(void* ts) {
  int fd = memfd_create("zmq-guard-py", MFD_CLOEXEC);
  if (fd < 0) return nullptr;
  g_py.dump(fd, ts);
  off_t size = lseek(fd, 0, SEEK_END);
  char* text = nullptr;
  if (size > 0 && size < (1 << 20)) {
    text = static_cast<char*>(malloc(size + 1));
    if (text && pread(fd, text, size, 0) == size) {
      text[size] = 0;
    } else {
      free(text);
      text = nullptr;
    }
  }
  close(fd);
  return text;
}

// --- stacks recorded cheaply, formatted when a report needs them ----------
//
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
  put_field(&t, code, attr, quoted);
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
  if (!py_running() || !g_py.compact || !holds_gil() || g_py.is_finalizing()) return nullptr;
  void* ts = g_py.this_tstate();
  if (!ts) return nullptr;
  void *et, *ev, *tb;
  g_py.err_fetch(&et, &ev, &tb);
  int gc_was = g_py.gc_disable();
  uint32_t codes[kMaxDepth];
  int lastis[kMaxDepth];
  int n = 0;
  bool failed = false, truncated = false;
  void* frame = g_py.tstate_frame(ts);
  while (frame) {
    if (n == kMaxDepth) {
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

void codes_after_fork_child() {
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  g_codes_mu = fresh;
}

char* py_traceback_current() {
  if (!py_running()) return nullptr;
  void* ts = g_py.this_tstate();
  if (!ts) return nullptr;
  char* text = nullptr;
  // Without the GIL (inside pyzmq's send and receive) only the dumper is
  // safe; while the interpreter finalizes it is used too.
  bool read = g_py.frames && holds_gil() && !g_py.is_finalizing() && traceback_from_frames(ts, &text);
  if (!read) text = traceback_dumped(ts);
  if (text && !strstr(text, "File \"")) {
    free(text);
    text = nullptr;
  }
  return text;
}

int py_frames(const char* text, void (*fn)(const PyFrame& f, void* ctx), void* ctx) {
  if (!text) return 0;
  // Lines look like:   File "/path/x.py", line 12 in worker
  // and come most recent first; note where they are, then parse and hand
  // them out oldest first.  Only pointers are kept (on the stack): frames
  // in static TLS would cost every thread of the host ~80 KB of its stack
  // (glibc refuses to start threads with small stacks).  The name ends at
  // the line's last '", line ': a '"' inside a file name is written as it
  // is.
  constexpr int kMax = 128;
  const char* starts[kMax];
  size_t lens[kMax];
  int n = 0;
  for (const char* p = text; *p && n < kMax;) {
    const char* eol = strchr(p, '\n');
    size_t len = eol ? size_t(eol - p) : strlen(p);
    const char* f = static_cast<const char*>(memmem(p, len, "File \"", 6));
    if (f && memmem(f + 6, len - (f + 6 - p), "\", line ", 8)) {
      starts[n] = p;
      lens[n] = len;
      n++;
    }
    p = eol ? eol + 1 : p + len;
  }
  for (int i = n - 1; i >= 0; i--) {
    const char* p = starts[i];
    size_t len = lens[i];
    const char* f = static_cast<const char*>(memmem(p, len, "File \"", 6)) + 6;
    const char* q = nullptr;
    for (const char* at = f; (at = static_cast<const char*>(memmem(at, len - (at - p), "\", line ", 8))); at++) q = at;
    PyFrame fr;
    py_unescape(f, size_t(q - f), fr.file, sizeof fr.file);
    fr.line = atoi(q + 8);
    fr.function[0] = 0;
    const char* in = static_cast<const char*>(memmem(q, len - (q - p), " in ", 4));
    if (in) py_unescape(in + 4, len - (in + 4 - p), fr.function, sizeof fr.function);
    fn(fr, ctx);
  }
  return n;
}

void py_thread_name(char* out, size_t len) {
  if (len) out[0] = 0;
  if (!py_running() || !g_py.this_tstate()) return;
  unsigned long ident = static_cast<unsigned long>(pthread_self());
  char name[1][kPyNameLen];
  py_thread_names(&ident, 1, name, 300);
  snprintf(out, len, "%s", name[0]);
}

}  // namespace zg
