// SPDX-License-Identifier: MIT
#include "core/lifecycle.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/options.h"
#include "core/order.h"
#include "core/registry.h"
#include "core/report.h"
#include "core/hooks.h"
#include "core/suppressions.h"
#include "core/threads.h"
#include "core/watcher.h"
#include "report/python.h"
#include "report/ruby_names.h"
#include "report/script.h"
#include "report/sink.h"
#include "report/symbolize.h"
#include "report/unwind.h"

namespace zg {

uint32_t g_fork_gen = 0;

namespace {

// Contexts seen in zmq_socket, with the process generation they were first
// seen in: after fork, a socket opened on one of them is a use of the
// parent's context.  Removed when terminated.
struct CtxSeen {
  void* ctx;
  uint32_t gen;
};
constexpr int kMaxCtx = 256;
CtxSeen g_ctxs[kMaxCtx];
int g_nctx = 0;
pthread_mutex_t g_ctx_mu = PTHREAD_MUTEX_INITIALIZER;

void fork_prepare() {
  registry_fork_prepare();
  threads_fork_prepare();
}
void fork_parent() {
  threads_fork_parent();
  registry_fork_parent();
}
void fork_child() {
  g_fork_gen++;
  guard_after_fork_child();
  threads_after_fork_child();
  registry_fork_child();
  order_after_fork_child();
  hook_after_fork_child();
  sink_after_fork_child();
  symbolize_after_fork_child();
  unwind_after_fork_child();
  py_after_fork_child();
  script_after_fork_child();
  ruby_names_after_fork_child();
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  g_ctx_mu = fresh;
  watcher_after_fork_child();
}

// The last thing exit() runs: a process that had findings exits with
// exitcode.  stdio is flushed first: _exit skips it.  Findings made by a
// destructor that ran after the guard's count too.
void warn_exit_status(int, void*) {
  if (guard_finding_count() == 0) return;
  fflush(nullptr);
  _exit(static_cast<int>(options().exitcode));
}

}  // namespace

void lifecycle_init() {
  pthread_atfork(fork_prepare, fork_parent, fork_child);
  watcher_init();
}

// The suppressions file is read here, not in the constructor: the shells,
// compilers and tools of a guarded test suite never open it nor hear about
// it.  Every socket is created through here before any thread can use it,
// so the rules are complete before any finding can be matched against them.
static void load_suppressions() { suppressions_init(); }

void lifecycle_first_socket() {
  options_say_errors();
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  if (g_mode != Mode::Off) pthread_once(&once, load_suppressions);
}

void lifecycle_socket_created(SocketState* st, void* ctx) {
  watcher_socket_created();
  if (!ctx) return;
  pthread_mutex_lock(&g_ctx_mu);
  bool known = false;
  for (int i = 0; i < g_nctx && !known; i++) known = g_ctxs[i].ctx == ctx;
  if (!known && g_nctx < kMaxCtx) g_ctxs[g_nctx++] = CtxSeen{ctx, st->fork_gen};
  pthread_mutex_unlock(&g_ctx_mu);
}

void lifecycle_socket_closed(SocketState*) {}

void lifecycle_socket_opening(void* ctx) {
  if (g_fork_gen == 0 || g_mode == Mode::Off || tls_bypass || !ctx) return;
  int saved = errno;
  pthread_mutex_lock(&g_ctx_mu);
  bool inherited = false;
  for (int i = 0; i < g_nctx; i++)
    if (g_ctxs[i].ctx == ctx) inherited = g_ctxs[i].gen != g_fork_gen;
  pthread_mutex_unlock(&g_ctx_mu);
  if (inherited) {
    char extra[256];
    snprintf(extra, sizeof extra,
             "  zmq_socket was called on context %p, which this process inherited from its parent (this is "
             "pid %d); its I/O threads did not survive the fork.\n",
             ctx, (int)getpid());
    guard_report(FindingKind::UseAfterFork, nullptr, "zmq_socket", 0, extra);
  }
  errno = saved;
}

int lifecycle_ctx_term_begin(void* ctx, const char* call) {
  if (g_mode == Mode::Off || tls_bypass || !ctx) return -1;
  return watcher_term_begin(ctx, call);
}

void lifecycle_ctx_term_end(int watch, void* ctx, int rc) {
  if (g_mode == Mode::Off) return;
  int saved = errno;
  watcher_term_end(watch);
  pthread_mutex_lock(&g_ctx_mu);
  if (rc == 0)  // the address may come back for a new context
    for (int i = 0; i < g_nctx; i++)
      if (g_ctxs[i].ctx == ctx) g_ctxs[i] = g_ctxs[--g_nctx];
  pthread_mutex_unlock(&g_ctx_mu);
  errno = saved;
}

void lifecycle_fini() {
  if (g_mode == Mode::Off) return;
  guard_wait_reports(2000);
  if (options().leaks) {
    // Collected first, reported after: guard_report takes locks that must
    // not nest inside the registry's.
    constexpr int kMaxLeaks = 4096;
    auto** leaked = static_cast<SocketState**>(calloc(kMaxLeaks, sizeof(SocketState*)));
    if (leaked) {
      int n = registry_pin_open([](const SocketState* st, void*) { return !st->internal; }, nullptr, leaked, kMaxLeaks);
      for (int i = 0; i < n; i++) guard_report(FindingKind::Leak, leaked[i], "exit", 0, nullptr);
      registry_unpin(leaked, n);
      free(leaked);
    }
  }
  // The findings decide the exit status in warn mode, so a test suite run
  // under the guard fails; but not from here: the destructors of libraries
  // that run after the guard's (a coverage runtime writing its data) would
  // be skipped.  This destructor runs from _dl_fini, the last of exit()'s
  // handlers; glibc's exit() looks at its list again after each handler,
  // so one registered now runs after _dl_fini returns, and before stdio is
  // flushed.  on_exit, not atexit: atexit from a shared library is tied to
  // it and runs with its destructors (__cxa_finalize).  Where it cannot be
  // registered, the status is set now, as it was before.
  if (options().print_suppressions) suppressions_print_used();
  if (g_mode == Mode::Warn && on_exit(warn_exit_status, nullptr) != 0) warn_exit_status(0, nullptr);
}

}  // namespace zg
