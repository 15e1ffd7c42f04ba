// SPDX-License-Identifier: MIT
#include "core/report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <atomic>

#include "core/options.h"
#include "core/order.h"
#include "core/suppressions.h"
#include "core/threads.h"
#include "report/format.h"
#include "report/late_lookup.h"
#include "report/python.h"
#include "report/ruby_names.h"
#include "report/script.h"

namespace zg {
namespace {

std::atomic<uint64_t> g_findings{0};
std::atomic<int> g_reports_in_flight{0};

void copy_name(char* dst, const char* src, size_t len) { snprintf(dst, len, "%s", src); }

// ---- Python: recorded as it happens, gathered for a report ----------------
// (A thread's stacks in another language go next to these.)

void capture_python(char** slot) {
  if (!options().python) return;
  char* py = py_traceback_current();
  free(*slot);
  *slot = py;
}

// Creation: recorded without text while the creator holds the GIL (pyzmq
// keeps it to create a socket), which is nearly always; the text is made
// if a report needs it.
void capture_created_python(SocketState* st) {
  if (!options().python) return;
  free(st->created_py);
  st->created_py = nullptr;
  py_stack_free(st->created_pys);
  st->created_pys = py_stack_record();
  if (!st->created_pys) st->created_py = py_traceback_current();
}

// Python thread names for the threads a report mentions: read now for those
// still running (threading.get_ident() is the pthread id), else the name
// noted when the thread last held the GIL at a claim.
void python_names(Finding* f) {
  if (!options().python || !py_running()) return;
  ThreadInfo* who[3] = {&f->thread, &f->owner, &f->creator};
  unsigned long idents[3] = {};
  bool any = false;
  for (int i = 0; i < 3; i++)
    if (who[i]->known && who[i]->running == 1 && (idents[i] = who[i]->ident)) any = true;
  char names[3][kPyNameLen] = {};
  if (any) py_thread_names(idents, 3, names, kPyNamesWaitMs);
  for (int i = 0; i < 3; i++) {
    if (!who[i]->known) continue;
    if (names[i][0]) copy_name(who[i]->py_name, names[i], sizeof who[i]->py_name);
    else py_noted_name(who[i]->serial, who[i]->py_name, sizeof who[i]->py_name);
  }
}

// Ruby thread names, whole: the calling thread reads its own now (unless
// the report is made on its behalf), the others noted theirs when they made
// or took a socket.
void ruby_names(Finding* f, bool caller_is_self) {
  if (caller_is_self && f->thread.known)
    ruby_note_thread(f->script_stack, f->thread.serial, f->thread.tid, f->thread.name);
  ThreadInfo* who[3] = {&f->thread, &f->owner, &f->creator};
  for (ThreadInfo* t : who)
    if (t->known) ruby_noted_name(t->serial, t->name, t->rb_name, sizeof t->rb_name);
}

// ---- One report: the Finding and what its pointers point into -------------

struct Gathered {
  Finding f;
  Stack here, owner_stack, created_stack;
  char endpoints[512] = {};
  char* py_here = nullptr;
  char* owner_py = nullptr;
  char* created_py = nullptr;
  char* script_here = nullptr;  // a report made on another thread's behalf has none
  char* owner_script = nullptr;
  char* created_script = nullptr;
  Gathered() = default;
  Gathered(const Gathered&) = delete;
  Gathered& operator=(const Gathered&) = delete;
  ~Gathered() {
    free(py_here);
    free(owner_py);
    free(created_py);
    free(script_here);
    free(owner_script);
    free(created_script);
  }
};

// The thread the report is about: the calling one, or the one it reports
// for (as).
void gather_caller(Gathered* g, const ReportAs* as) {
  Finding& f = g->f;
  if (as) {
    // Reported by a guard thread on behalf of a thread that is blocked.
    if (as->stack) g->here = *as->stack;
    if (as->py) g->py_here = strdup(as->py);
    thread_info(as->serial, &f.thread);
  } else {
    ThreadRecord* rec = thread_self();
    stack_capture(&g->here, static_cast<int>(options().stack_depth));
    g->py_here = options().python ? py_traceback_current() : nullptr;
    g->script_here = script_backtrace_current();
    if (rec) thread_info(rec->serial.load(std::memory_order_relaxed), &f.thread);
  }
  f.stack = &g->here;
  f.py_stack = g->py_here;
  f.script_stack = g->script_here;
}

// The socket, snapshot under its lock (formatted outside it): the other
// thread (the owner, or `other`), where it took the socket, the creator.
void gather_socket(Gathered* g, FindingKind kind, SocketState* st, uint64_t other) {
  Finding& f = g->f;
  pthread_mutex_lock(&st->mu);
  f.socket = st->handle.load(std::memory_order_relaxed);
  f.socket_id = st->id;
  f.socket_type = st->type;
  memcpy(g->endpoints, st->endpoints, sizeof g->endpoints);
  uint64_t owner = owner_serial_of(st);
  if (owner == kNoOwner && st->closed.load(std::memory_order_relaxed)) owner = st->owner_at_close;
  const OtherThread role = finding_info(kind).other;
  if (other && other != kNoOwner) {
    thread_info(other, &f.owner);
    // In mode=serialize the socket has no owner; the stack kept is where
    // its first user took it.
    if (other == owner || role == OtherThread::FirstUser) {
      g->owner_stack = st->owner_stack;
      if (f.owner.running != 1) {
        f.owner.tid = st->owner_tid;
        copy_name(f.owner.name, st->owner_name, sizeof f.owner.name);
      }
      f.owner_stack = &g->owner_stack;
      f.owner_call = st->owner_call;
      if (st->owner_py) g->owner_py = strdup(st->owner_py);
      g->owner_script = script_stack_text(st->owner_script);
    } else if (other == st->creator && f.owner.running != 1) {
      f.owner.tid = st->creator_tid;
      copy_name(f.owner.name, st->creator_name, sizeof f.owner.name);
    }
  }
  thread_info(st->creator, &f.creator);
  if (f.creator.running != 1) {
    f.creator.tid = st->creator_tid;
    copy_name(f.creator.name, st->creator_name, sizeof f.creator.name);
  }
  g->created_stack = st->created_stack;
  f.created_stack = &g->created_stack;
  g->created_py = created_python_text(st);
  g->created_script = script_stack_text(st->created_script);
  pthread_mutex_unlock(&st->mu);
  if (role == OtherThread::Inside)
    f.owner_role = other == owner ? "owner, inside a call on it" : "other thread, inside a call on it";
  if (role == OtherThread::FirstUser) f.owner_role = "first used by";
  if (kind == FindingKind::CrossThread && st->locked) f.owner_role = "other thread, calling under the lock";
}

}  // namespace

void record_creator(SocketState* st, ThreadRecord* rec, const void* ra) {
  LoaderLook look;  // one count of loaded objects for every interpreter's lookup
  st->creator_tid = rec->tid;
  thread_name_of(rec->tid, st->creator_name, sizeof st->creator_name);
  capture_created_python(st);
  script_capture(&st->created_script);
  ruby_note_thread(st->created_script, st->creator, rec->tid, st->creator_name);
  if (st->created_script) {
    // A Ruby, Perl, PHP or Java creator: its own frames say where; its
    // native frames are the interpreter's (Ruby's cost about 3,000
    // instructions each to unwind, more than the rest of the creation).
    // Only the caller of zmq_socket is kept; a binding that reached libzmq
    // through dlsym (ffi-rzmq, ZMQ::FFI) calls a wrapper of the guard's
    // bound to its libzmq copy (dlsym.cpp): then there is no caller outside
    // the guard to keep.
    st->created_stack.n = 0;
    if (ra && !pc_in_guard(ra)) st->created_stack.pc[st->created_stack.n++] = const_cast<void*>(ra);
  } else if (st->created_pys && ra && !pc_in_guard(ra)) {
    // A Python creator's native frames are the interpreter's, and unwinding
    // them (libgcc, about 4,000 instructions a frame) cost three times the
    // socket itself: its traceback says where, the caller of zmq_socket
    // (the extension module) which code made the call.
    st->created_stack.pc[0] = const_cast<void*>(ra);
    st->created_stack.n = 1;
  } else {
    stack_capture(&st->created_stack, static_cast<int>(options().stack_depth));
  }
  if (options().python) py_note_thread_once(st->creator);
}

void record_taker(SocketState* st, ThreadRecord* rec, const char* call) {
  LoaderLook look;
  st->owner_tid = rec->tid;
  thread_name_of(rec->tid, st->owner_name, sizeof st->owner_name);
  stack_capture(&st->owner_stack, static_cast<int>(options().stack_depth));
  capture_python(&st->owner_py);
  script_capture(&st->owner_script);
  ruby_note_thread(st->owner_script, rec->serial.load(std::memory_order_relaxed), rec->tid, st->owner_name);
  if (options().python) py_note_thread(rec->serial.load(std::memory_order_relaxed));
  st->owner_call = call;
}

void thread_info(uint64_t serial, ThreadInfo* out) {
  *out = ThreadInfo();
  if (!serial || serial == kNoOwner) return;
  out->known = true;
  out->serial = serial;
  struct Ctx {
    uint64_t serial;
    ThreadInfo* out;
  } ctx{serial, out};
  out->running = 0;
  threads_for_each(
      [](ThreadRecord* r, void* p) {
        auto* c = static_cast<Ctx*>(p);
        if (r->serial.load(std::memory_order_relaxed) != c->serial) return;
        c->out->tid = r->tid;
        c->out->running = 1;
        c->out->ident = static_cast<unsigned long>(r->pthread);
        thread_name_of(r->tid, c->out->name, sizeof c->out->name);
      },
      &ctx);
}

uint64_t guard_finding_count() { return g_findings.load(); }

void guard_wait_reports(int timeout_ms) {
  // A report waits at most 300 ms for Python's thread names, then formats
  // and writes: a bounded wait, from the exiting thread, which never has
  // one of its own in flight (a report does not exit; abort() runs no
  // destructor).
  for (int waited = 0; g_reports_in_flight.load(std::memory_order_acquire) > 0 && waited < timeout_ms; waited++) {
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, nullptr);
  }
}

void guard_after_fork_child() {
  g_findings.store(0);
  // Reports other threads were writing stayed in the parent: the child's
  // exit must not wait for them.
  g_reports_in_flight.store(0);
}

void guard_report(FindingKind kind, SocketState* st, const char* call, uint64_t other, const char* extra,
                  const ReportAs* as) {
  int saved = errno;
  if (st) {
    uint32_t bit = 1u << static_cast<unsigned>(kind);
    if (st->reported.fetch_or(bit) & bit) {
      errno = saved;
      return;  // each finding once per socket
    }
  }
  // Counted in flight until it is written: an exit meanwhile waits for it
  // (guard_wait_reports), or the finding would be lost with the process.
  // Not cancellable meanwhile (the Python names' wait, open and write are
  // cancellation points): a thread cancelled inside a report would never
  // take itself off the count, and every exit would wait for it.
  NoCancel no_cancel;
  NoSignals no_signals;
  struct InFlight {
    InFlight() { g_reports_in_flight.fetch_add(1, std::memory_order_acq_rel); }
    ~InFlight() { g_reports_in_flight.fetch_sub(1, std::memory_order_acq_rel); }
  } in_flight;
  Gathered g;
  Finding& f = g.f;
  f.kind = kind;
  const bool info = finding_is_info(kind);
  f.severity = severity_text(finding_info(kind).severity, g_mode == Mode::Abort);
  f.call = call;
  f.mode = mode_name(options().mode_value());
  f.policy = policy_name(options().policy_value());
  gather_caller(&g, as);
  if (st) gather_socket(&g, kind, st, other);

  // A rule may name a frame of any of the finding's stacks, as
  // ThreadSanitizer's do: a library's frame is often only in the owner's
  // (czmq's actor took the socket) or where the socket was made.
  const Stack* stacks[3] = {&g.here, f.owner_stack, f.created_stack};
  const char* pys[3] = {g.py_here, g.owner_py, g.created_py};
  const char* rbs[3] = {g.script_here, g.owner_script, g.created_script};
  if (suppressions_match(kind, stacks, pys, 3, rbs)) {
    report_suppressed(kind, call);
    errno = saved;
    return;
  }
  python_names(&f);
  ruby_names(&f, !as);
  f.endpoints = g.endpoints;
  f.owner_py = g.owner_py;
  f.created_py = g.created_py;
  f.owner_script = g.owner_script;
  f.created_script = g.created_script;
  f.extra = extra;

  if (!info) g_findings.fetch_add(1);
  report_emit(f);
  if (g_mode == Mode::Abort && !info && !(as && as->no_abort)) {
    // Stop at the culprit: a core dump and a debugger land on this call.
    abort();
  }
  errno = saved;
}

}  // namespace zg
