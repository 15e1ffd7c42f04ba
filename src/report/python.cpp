// SPDX-License-Identifier: MIT
// Finding the interpreter's C API at run time, and Python thread names.
// The traceback text is python_text.cpp's, the stacks recorded at a
// socket's creation python_stack.cpp's.
#include "report/python.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <atomic>
#include <new>

#include "report/python_api.h"

#define ZG_PY_TLS __attribute__((tls_model("initial-exec")))

namespace zg {

Py g_py;

bool py_lookup() {
  return g_py.lookup.ensure([] {
    if (!(late_sym(&g_py.is_initialized, "Py_IsInitialized") &&
          late_sym(&g_py.this_tstate, "PyGILState_GetThisThreadState") && late_sym(&g_py.dump, "_Py_DumpTraceback")))
      return false;
    // Names of 3.11; later versions made the first two public.
    bool common =
        (late_sym(&g_py.holder_tstate, "_PyThreadState_UncheckedGet") ||
         late_sym(&g_py.holder_tstate, "PyThreadState_GetUnchecked")) &&
        (late_sym(&g_py.is_finalizing, "_Py_IsFinalizing") || late_sym(&g_py.is_finalizing, "Py_IsFinalizing")) &&
        late_sym(&g_py.getattr, "PyObject_GetAttrString") && late_sym(&g_py.as_utf8, "PyUnicode_AsUTF8") &&
        late_sym(&g_py.decref, "Py_DecRef") && late_sym(&g_py.err_fetch, "PyErr_Fetch") &&
        late_sym(&g_py.err_restore, "PyErr_Restore");
    g_py.names =
        common && late_sym(&g_py.gil_ensure, "PyGILState_Ensure") &&
        late_sym(&g_py.gil_release, "PyGILState_Release") && late_sym(&g_py.module_dict, "PyImport_GetModuleDict") &&
        late_sym(&g_py.dict_get_string, "PyDict_GetItemString") && late_sym(&g_py.dict_get, "PyDict_GetItem") &&
        late_sym(&g_py.long_from_ulong, "PyLong_FromUnsignedLong");
    // PyGC_Disable and PyGC_Enable are 3.10's.
    g_py.frames =
        common && late_sym(&g_py.tstate_frame, "PyThreadState_GetFrame") &&
        late_sym(&g_py.frame_back, "PyFrame_GetBack") && late_sym(&g_py.frame_code, "PyFrame_GetCode") &&
        late_sym(&g_py.frame_line, "PyFrame_GetLineNumber") && late_sym(&g_py.intern, "PyUnicode_InternFromString") &&
        late_sym(&g_py.getattr_obj, "PyObject_GetAttr") && late_sym(&g_py.as_utf8_size, "PyUnicode_AsUTF8AndSize") &&
        late_sym(&g_py.unicode_len, "PyUnicode_GetLength") && late_sym(&g_py.read_char, "PyUnicode_ReadChar") &&
        late_sym(&g_py.err_occurred, "PyErr_Occurred") && late_sym(&g_py.err_clear, "PyErr_Clear") &&
        late_sym(&g_py.gc_disable, "PyGC_Disable") && late_sym(&g_py.gc_enable, "PyGC_Enable");
    g_py.compact = g_py.frames && late_sym(&g_py.frame_lasti, "PyFrame_GetLasti") &&
                   late_sym(&g_py.code_addr2line, "PyCode_Addr2Line");
    late_sym(&g_py.incref, "Py_IncRef");
    late_sym(&g_py.version, "Py_GetVersion");
    void* ref_total = nullptr;
    g_py.ref_debug = late_sym(&ref_total, "_Py_RefTotal");
    return true;
  });
}

// True if the calling thread holds the GIL now.  PyGILState_Check() answers
// 1 whenever its checks are disabled (subinterpreters), so compare the GIL
// holder with this thread's own state instead.
bool py_holds_gil() {
  if (!g_py.holder_tstate) return false;
  void* mine = g_py.this_tstate();
  return mine && g_py.holder_tstate() == mine;
}

namespace {

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

bool py_running() { return py_lookup() && g_py.is_initialized(); }

void py_thread_names(const unsigned long* idents, int n, char (*names)[kPyNameLen], int timeout_ms) {
  for (int i = 0; i < n; i++) names[i][0] = 0;
  if (n <= 0 || !py_running() || !g_py.names || g_py.is_finalizing()) return;
  if (py_holds_gil()) {
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

void py_note_thread_once(unsigned long long key) {
  // Per thread: the key it noted last (a serial is never reused).
  static __thread unsigned long long tls_noted ZG_PY_TLS;
  if (tls_noted == key) return;
  py_note_thread(key);
  tls_noted = key;
}

void py_note_thread(unsigned long long key) {
  if (!g_py.lookup.found() && !py_lookup()) return;
  if (!g_py.names || !g_py.is_initialized() || !py_holds_gil()) return;
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

void py_after_fork_child() {
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  g_noted_mu = fresh;
  g_py.lookup.after_fork_child();
  py_codes_after_fork_child();
}

bool py_noted_name(unsigned long long key, char* out, size_t len) {
  if (len) out[0] = 0;
  if (!key || !g_py.lookup.found()) return false;
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

void py_thread_name(char* out, size_t len) {
  if (len) out[0] = 0;
  if (!py_running() || !g_py.this_tstate()) return;
  unsigned long ident = static_cast<unsigned long>(pthread_self());
  char name[1][kPyNameLen];
  py_thread_names(&ident, 1, name, kPyNamesWaitMs);
  snprintf(out, len, "%s", name[0]);
}

}  // namespace zg
