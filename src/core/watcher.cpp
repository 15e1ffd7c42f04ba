// SPDX-License-Identifier: MIT
#include "core/watcher.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

#include "core/clock.h"
#include "core/order.h"
#include "core/probe.h"
#include "core/registry.h"
#include "core/report.h"
#include "core/hooks.h"
#include "report/format.h"
#include "report/python.h"
#include "report/sink.h"
#include "report/text.h"

namespace zg {

__thread int tls_sampled ZG_TLS = 0;

namespace {

// The guard's own thread ("zmq-guard"): it reports contexts whose
// zmq_ctx_term stays blocked, and prints the live dump.  Started when first
// needed; the signal handler only writes to its eventfd.  It blocks every
// signal but dump_signal, which `zmq-guard --dump` sends to it alone: sent
// to the process, the signal would go to a thread of the program, whose
// blocked call (poll in zmq_recv, zmq_ctx_term) would fail with EINTR.
constexpr char kSvcName[] = "zmq-guard";  // what `zmq-guard --dump` looks for (guard_thread in the wrapper)
pthread_mutex_t g_svc_mu = PTHREAD_MUTEX_INITIALIZER;
bool g_svc_started = false;
int g_svc_efd = -1;
std::atomic<int> g_dump_requested{0};
int g_dump_handled = 0;  // dump_signal, once its handler is installed

struct TermWatch {
  bool active;
  bool reported;
  void* ctx;
  const char* call;
  uint64_t serial;
  int64_t deadline_ns;
  int64_t start_ns;
  Stack stack;
  char* py;
};
constexpr int kMaxWatches = 32;
TermWatch g_watches[kMaxWatches];

// One stack sample at a time, taken by the target thread in the signal
// handler (SI_QUEUE with this value tells it from a dump request).
constexpr int kSampleMagic = 0x7a675354;
struct Sample {
  std::atomic<pid_t> tid{0};
  std::atomic<int> done{0};
  Stack stack;
};
Sample g_sample;

void svc_wake() {
  if (g_svc_efd < 0) return;
  uint64_t one = 1;
  ssize_t n = write(g_svc_efd, &one, sizeof one);
  (void)n;
}

void on_dump_signal(int, siginfo_t* si, void*) {
  int e = errno;
  if (si && si->si_code == SI_QUEUE && si->si_value.sival_int == kSampleMagic) {
    if (g_sample.tid.load(std::memory_order_acquire) == static_cast<pid_t>(syscall(SYS_gettid))) {
      stack_capture(&g_sample.stack, static_cast<int>(options().stack_depth));
      tls_sampled = 1;
      g_sample.done.store(1, std::memory_order_release);
    }
  } else {
    g_dump_requested.store(1, std::memory_order_relaxed);
    svc_wake();
  }
  errno = e;
}

void report_blocked_terms();
void* svc_main(void*);

// The eventfd is made with the thread, when first needed (a socket's
// creation with dump_signal set, a zmq_ctx_term to watch), never in the
// constructor: a daemon that closes every inherited descriptor at start
// and opens its own files would otherwise have one of them written to by
// svc_wake.
void svc_ensure() {
  pthread_mutex_lock(&g_svc_mu);
  if (!g_svc_started && g_svc_efd < 0) g_svc_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (!g_svc_started && g_svc_efd >= 0) {
    // The guard's thread must not receive the program's signals (svc_main
    // unblocks dump_signal alone).
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t t;
    if (pthread_create(&t, nullptr, svc_main, nullptr) == 0) {
      // Named here, before the program's zmq_socket returns, and not only
      // by itself (svc_main): `zmq-guard --dump` finds the thread by name,
      // and a new thread may not run for a while on a busy machine.
      pthread_setname_np(t, kSvcName);
      pthread_detach(t);
      g_svc_started = true;
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }
  pthread_mutex_unlock(&g_svc_mu);
}

void* svc_main(void*) {
  prctl(PR_SET_NAME, kSvcName, 0, 0, 0);  // again, in case its creator could not (no /proc)
  if (g_dump_handled > 0) {
    sigset_t dump;
    sigemptyset(&dump);
    sigaddset(&dump, g_dump_handled);
    pthread_sigmask(SIG_UNBLOCK, &dump, nullptr);
  }
  // A dump asked for before this thread was there (`zmq-guard --dump`
  // then signals the process) is printed now.
  if (g_dump_requested.exchange(0)) watcher_dump();
  Bypass b;  // nothing this thread does is the program's use of a socket
  for (;;) {
    int64_t next = -1;
    pthread_mutex_lock(&g_svc_mu);
    for (auto& w : g_watches)
      if (w.active && !w.reported && (next < 0 || w.deadline_ns < next)) next = w.deadline_ns;
    int efd = g_svc_efd;
    pthread_mutex_unlock(&g_svc_mu);
    struct pollfd pfd = {efd, POLLIN, 0};
    int timeout = -1;
    if (next >= 0) {
      int64_t left = next - mono_ns();
      timeout = left <= 0 ? 0 : static_cast<int>(left / 1000000 + 1);
    }
    if (poll(&pfd, 1, timeout) > 0) {
      uint64_t v;
      ssize_t n = read(efd, &v, sizeof v);
      (void)n;
    }
    report_blocked_terms();
    if (g_dump_requested.exchange(0)) watcher_dump();
  }
  return nullptr;
}

// The program's open sockets (of one context, or all), pinned while a
// report reads them (registry_pin_open): a socket closed meanwhile keeps
// its state however many sockets the program opens and closes.
struct OpenList {
  SocketState* s[256];
  int n;
  void* ctx;
};

bool program_socket(const SocketState* st, void* ctx) { return !st->internal && (!ctx || st->ctx == ctx); }

// Null when out of memory; release with drop_open.
OpenList* pin_open(void* ctx) {
  auto* list = static_cast<OpenList*>(calloc(1, sizeof(OpenList)));
  if (!list) return nullptr;
  list->ctx = ctx;
  list->n = registry_pin_open(program_socket, ctx, list->s, int(sizeof list->s / sizeof list->s[0]));
  return list;
}

void drop_open(OpenList* list) {
  registry_unpin(list->s, list->n);
  free(list);
}

void report_blocked_terms() {
  int64_t now = mono_ns();
  for (int i = 0; i < kMaxWatches; i++) {
    pthread_mutex_lock(&g_svc_mu);
    TermWatch* w = &g_watches[i];
    bool due = w->active && !w->reported && w->deadline_ns <= now;
    TermWatch copy;
    if (due) {
      w->reported = true;
      copy = *w;
      copy.py = w->py ? strdup(w->py) : nullptr;
    }
    pthread_mutex_unlock(&g_svc_mu);
    if (!due) continue;
    OpenList* list = pin_open(copy.ctx);
    if (!list) {
      free(copy.py);
      continue;
    }
    char extra[512];
    ReportAs as;
    as.serial = copy.serial;
    as.stack = &copy.stack;
    as.py = copy.py;
    as.no_abort = true;
    for (int k = 0; k < list->n; k++) {
      SocketState* st = list->s[k];
      snprintf(extra, sizeof extra,
               "  %s(%p) has been blocked for %lld ms; %d socket%s of the context %s still open (this is %d of "
               "%d).\n",
               copy.call, copy.ctx, (long long)((now - copy.start_ns) / 1000000), list->n, list->n == 1 ? "" : "s",
               list->n == 1 ? "is" : "are", k + 1, list->n);
      uint64_t owner = owner_serial_of(st);
      guard_report(FindingKind::CtxTermOpenSockets, st, copy.call, owner == kNoOwner ? 0 : owner, extra, &as);
    }
    free(copy.py);
    bool any = list->n > 0;
    drop_open(list);
    if (any && g_mode == Mode::Abort) abort();  // after every open socket is listed
  }
}

}  // namespace

void watcher_init() {
  const Options& o = options();
  if (o.dump_signal > 0) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_dump_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(static_cast<int>(o.dump_signal), &sa, nullptr) != 0)
      sink_notice("zmq-guard: cannot handle dump_signal=%ld: %s; no live dump", o.dump_signal, strerror(errno));
    else
      g_dump_handled = static_cast<int>(o.dump_signal);
  }
}

void watcher_socket_created() {
  if (options().dump_signal > 0 && !g_svc_started) svc_ensure();
}

int watcher_term_begin(void* ctx, const char* call) {
  long ms = options().term_timeout_ms;
  if (ms <= 0) return -1;
  int saved = errno;
  // Nothing to watch when the context has no socket open.
  OpenList* list = pin_open(ctx);
  if (!list) return -1;
  int n = list->n;
  drop_open(list);
  if (n == 0) {
    errno = saved;
    return -1;
  }
  ThreadRecord* rec = thread_self();
  Stack stack;
  stack_capture(&stack, static_cast<int>(options().stack_depth));
  char* py = options().python ? py_traceback_current() : nullptr;
  int slot = -1;
  pthread_mutex_lock(&g_svc_mu);
  for (int i = 0; i < kMaxWatches; i++)
    if (!g_watches[i].active) {
      TermWatch& w = g_watches[i];
      w.active = true;
      w.reported = false;
      w.ctx = ctx;
      w.call = call;
      w.serial = rec ? rec->serial.load(std::memory_order_relaxed) : 0;
      w.start_ns = mono_ns();
      w.deadline_ns = w.start_ns + int64_t(ms) * 1000000;
      w.stack = stack;
      free(w.py);
      w.py = py;
      py = nullptr;
      slot = i;
      break;
    }
  pthread_mutex_unlock(&g_svc_mu);
  free(py);
  if (slot >= 0) {
    svc_ensure();
    svc_wake();
  }
  errno = saved;
  return slot;
}

void watcher_term_end(int watch) {
  pthread_mutex_lock(&g_svc_mu);
  if (watch >= 0 && watch < kMaxWatches) g_watches[watch].active = false;
  pthread_mutex_unlock(&g_svc_mu);
}

void watcher_after_fork_child() {
  // The guard's thread stayed in the parent, and its eventfd is shared
  // with it: a new one, and a new thread when next needed.
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  g_svc_mu = fresh;
  g_svc_started = false;
  for (auto& w : g_watches) w.active = false;  // the terminating threads are gone
  if (g_svc_efd >= 0) close(g_svc_efd);
  g_svc_efd = -1;
}

namespace {

// The dump's text is built with the report layer's buffer and frame printer.
using Out = TextBuf;

void thread_line(Out& o, uint64_t serial) {
  ThreadInfo t;
  thread_info(serial, &t);
  if (!t.known) {
    o.printf("an unknown thread");
    return;
  }
  o.printf("T%llu (tid %d", (unsigned long long)serial, (int)t.tid);
  if (t.name[0]) {
    o.puts(", \"");
    o.plain(t.name);  // the program's text: a control character must not break the line
    o.puts("\"");
  }
  o.puts(")");
  if (t.running == 0) o.printf(" (exited)");
}

pid_t tid_of(uint64_t serial) {
  ThreadInfo t;
  thread_info(serial, &t);
  return t.running == 1 ? t.tid : 0;
}

// The live stack of a thread waiting in the guard (serialize mode): it
// takes it itself, in the dump signal's handler.
bool sample_stack(pid_t tid, Stack* out) {
  int sig = static_cast<int>(options().dump_signal);
  if (sig <= 0 || tid <= 0) return false;
  g_sample.done.store(0, std::memory_order_relaxed);
  g_sample.tid.store(tid, std::memory_order_release);
  siginfo_t si;
  memset(&si, 0, sizeof si);
  si.si_signo = sig;
  si.si_code = SI_QUEUE;
  si.si_pid = getpid();
  si.si_uid = getuid();
  si.si_value.sival_int = kSampleMagic;
  bool ok = false;
  if (syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, sig, &si) == 0) {
    for (int i = 0; i < 500 && !ok; i++) {
      ok = g_sample.done.load(std::memory_order_acquire) == 1;
      if (!ok) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, nullptr);
      }
    }
  }
  g_sample.tid.store(0, std::memory_order_release);
  if (!ok) return false;
  // From the program's own call on: the handler, the signal frame and the
  // guard's wait are not the user's business.
  const Stack& s = g_sample.stack;
  int from = 0;
  for (int i = 0; i < s.n; i++)
    if (pc_in_guard(s.pc[i])) from = i + 1;
  if (from >= s.n) from = 0;
  out->n = 0;
  for (int i = from; i < s.n; i++) out->pc[out->n++] = s.pc[i];
  return true;
}

struct InCall {
  uint64_t serial;
  const char* call;
  bool waiting;
};

}  // namespace

void watcher_dump() {
  int saved = errno;
  OpenList* list = pin_open(nullptr);
  if (!list) return;
  Out o;
  int pid = getpid();
  o.printf("=================================================================\n");
  o.printf("==%d==zmq-guard: live dump: %d open socket%s (mode=%s)\n", pid, list->n, list->n == 1 ? "" : "s",
           mode_name(g_mode));
  for (int k = 0; k < list->n; k++) {
    SocketState* st = list->s[k];
    pthread_mutex_lock(&st->mu);
    void* handle = st->handle.load(std::memory_order_relaxed);
    int type = st->type;
    uint64_t id = st->id;
    char endpoints[600];
    endpoints_join(st->endpoints, endpoints, sizeof endpoints);
    uint64_t owner = owner_serial_of(st);
    uint64_t creator = st->creator;
    Stack created = st->created_stack;
    Stack owner_stack = st->owner_stack;
    const char* owner_call = st->owner_call;
    char* created_py = created_python_text(st);
    bool has_first_user = st->owner_call != nullptr;
    pthread_mutex_unlock(&st->mu);
    uint64_t inside = st->in_call.load(std::memory_order_relaxed);
    // A mark whose thread is gone is a call that never returned (its thread
    // was cancelled inside it): nobody is inside, as core/guard.cpp decides.
    if (inside && !thread_alive(inside)) inside = 0;
    // The owner's own calls leave no mark (core/probe.h): ask about it.
    if (!inside && owner != kNoOwner && owner != 0 && g_mode != Mode::Serialize &&
        probe_inside(owner, handle, st->zfd, false) == Inside::Yes)
      inside = owner;

    o.printf("\n  socket %p (%s, #%llu)", handle, socket_type_name(type), (unsigned long long)id);
    if (endpoints[0]) {
      o.puts(", ");
      o.plain(endpoints);
    }
    o.puts("\n");
    o.printf("    created by ");
    thread_line(o, creator);
    o.printf(" here:\n");
    o.stack(&created, "      ");
    o.py(created_py, "Python", "      ");
    free(created_py);
    if (owner == 0) {
      o.printf("    shared under a lock (doc/policy.md)\n");  // kLockedWord: no one owner
    } else if (owner != kNoOwner) {
      o.printf("    owner: ");
      thread_line(o, owner);
      o.printf(", which took it with %s here:\n", owner_call ? owner_call : "a call");
      o.stack(&owner_stack, "      ");
    } else if (g_mode == Mode::Serialize && has_first_user) {
      o.printf("    serialized; first used with %s here:\n", owner_call);
      o.stack(&owner_stack, "      ");
    } else {
      o.printf("    no owner yet\n");
    }
    InCall calls[33] = {};
    int ncalls = 0;
    if (inside) calls[ncalls++] = InCall{inside, nullptr, false};
    hook_threads_on_socket(
        st,
        [](uint64_t serial, const char* call, bool waiting, void* p) {
          auto* c = static_cast<InCall*>(p);
          int i = 0;
          while (c[i].serial) i++;
          if (i < 32) c[i] = InCall{serial, call, waiting};
        },
        calls + ncalls);
    while (ncalls < 33 && calls[ncalls].serial) ncalls++;
    if (ncalls == 0) o.printf("    no thread is inside a call on it\n");
    for (int i = 0; i < ncalls; i++) {
      o.printf("    ");
      thread_line(o, calls[i].serial);
      if (!calls[i].call) {
        o.printf(" is inside a libzmq call on it (its stack is not sampled: a signal would make a blocked "
                 "call fail with EINTR)\n");
        continue;
      }
      o.printf(calls[i].waiting ? " waits in %s for the socket:\n" : " is inside %s (holds the turn)\n",
               calls[i].call);
      Stack live;
      if (calls[i].waiting) {
        if (sample_stack(tid_of(calls[i].serial), &live)) o.stack(&live, "      ");
        else o.printf("      <stack not available>\n");
      }
    }
  }
  // Threads blocked in zmq_ctx_term.
  pthread_mutex_lock(&g_svc_mu);
  TermWatch terms[kMaxWatches];
  int nterms = 0;
  for (auto& w : g_watches)
    if (w.active) {
      terms[nterms] = w;
      terms[nterms++].py = w.py ? strdup(w.py) : nullptr;
    }
  pthread_mutex_unlock(&g_svc_mu);
  for (int i = 0; i < nterms; i++) {
    o.printf("\n  ");
    thread_line(o, terms[i].serial);
    o.printf(" is blocked in %s(%p) for %lld ms, called here:\n", terms[i].call, terms[i].ctx,
             (long long)((mono_ns() - terms[i].start_ns) / 1000000));
    o.stack(&terms[i].stack, "    ");
    o.py(terms[i].py, "Python", "    ");
    free(terms[i].py);
  }
  o.printf("=================================================================\n");
  drop_open(list);
  sink_lock();
  if (o.p) sink_write_text(o.p, o.n);
  sink_unlock();
  errno = saved;
}

}  // namespace zg
