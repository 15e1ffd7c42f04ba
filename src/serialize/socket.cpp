// SPDX-License-Identifier: MIT
#include "serialize/socket.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include <atomic>
#include <new>

#include "core/guard.h"
#include "core/hooks.h"
#include "core/report.h"
#include "core/options.h"
#include "core/threads.h"
#include "report/python.h"
#include "report/ruby_names.h"
#include "report/script.h"
#include "report/stack.h"
#include "serialize/bias.h"
#include "serialize/serialize.h"
#include "serialize/wait.h"

namespace zg {

namespace {

pthread_mutex_t g_pool_mu = PTHREAD_MUTEX_INITIALIZER;
SerState* g_all = nullptr;
// Closed states wait in a FIFO before reuse: a thread that read st->ser just
// before the close finds ss->st changed or ss->closed set, never a state
// half re-initialized under it.
SerState* g_free_head = nullptr;
SerState* g_free_tail = nullptr;
int g_free_len = 0;
constexpr int kReuseDelay = 256;

void retire(SerState* ss) {
  pthread_mutex_lock(&g_pool_mu);
  ss->next_free = nullptr;
  if (g_free_tail) g_free_tail->next_free = ss;
  else g_free_head = ss;
  g_free_tail = ss;
  g_free_len++;
  pthread_mutex_unlock(&g_pool_mu);
}

}  // namespace

// The first thread that uses a socket claims it; a second one while the
// claimant runs makes it shared (reported once, as information).  The
// creator's set-up calls and a close are not uses; a claimant that has
// exited hands the socket on (policy handoff); with policy=strict the
// creator is the claimant from the start.
//
// A question (a getsockopt that only reads a value) and ZMQ_LINGER set
// before a close are no use by anyone, as in the other modes (decide):
// they claim nothing and share nothing.  pyzmq asks ZMQ_TYPE from whichever
// thread drops a socket's last reference, and close(linger=N) sets the
// linger there, just before the final close: the socket's hand-off, not a
// sharing.  They are serialized all the same: ser_begin takes the turn and
// revokes the sole user's bias first, waiting out its call in flight (a
// wake-up period at most), so no question ever runs inside libzmq beside
// the sole user's call.  The claimant stays the claimant and the socket
// unshared, so its next call, on the locked path now, gets the bias back
// in its ser_begin, as its first call did.
void ser_note_user(SerState* ss, SocketState* st, const char* call, CallKind kind, uint64_t me) {
  if (claims_nothing(kind)) return;
  uint64_t cl = ss->claimant.load(std::memory_order_relaxed);
  if (cl == me || ss->shared.load(std::memory_order_relaxed)) return;
  if (cl == 0 && kind == CallKind::Setup && me == st->creator) return;
  ThreadRecord* rec = thread_self();
  bool report = false;
  pthread_mutex_lock(&st->mu);
  cl = ss->claimant.load(std::memory_order_relaxed);
  if (cl == 0 || (cl != me && !thread_alive(cl))) {
    // Kept for the report: where the socket's first user took it.
    ss->claimant.store(me, std::memory_order_relaxed);
    if (rec) {
      st->owner_tid = rec->tid;
      thread_name_of(rec->tid, st->owner_name, sizeof st->owner_name);
    }
    stack_capture(&st->owner_stack, static_cast<int>(options().stack_depth));
    if (options().python) {
      free(st->owner_py);
      st->owner_py = py_traceback_current();
    }
    script_capture(&st->owner_script);
    if (rec) ruby_note_thread(st->owner_script, me, rec->tid, st->owner_name);
    st->owner_call = call;
  } else if (cl != me && !ss->shared.load(std::memory_order_relaxed)) {
    ss->shared.store(true, std::memory_order_relaxed);
    report = true;
  }
  pthread_mutex_unlock(&st->mu);
  if (report) guard_report(FindingKind::SharedSocket, st, call, cl, "");
}

SerState* ser_usable(SocketState* st) {
  auto* ss = static_cast<SerState*>(st->ser);
  if (!ss || ss->closed.load(std::memory_order_relaxed) || st->closed.load(std::memory_order_relaxed)) return nullptr;
  if (st->fork_gen != g_fork_gen) return nullptr;  // inherited: the ordinary path reports it
  return ss;
}



void ser_attach(SocketState* st) {
  SerState* ss = nullptr;
  pthread_mutex_lock(&g_pool_mu);
  if (g_free_len > kReuseDelay) {
    ss = g_free_head;
    g_free_head = ss->next_free;
    if (!g_free_head) g_free_tail = nullptr;
    g_free_len--;
  }
  pthread_mutex_unlock(&g_pool_mu);
  if (ss) {
    ser_turn_lock(&ss->mu);
  } else {
    ss = new (std::nothrow) SerState;
    if (!ss) return;
    pthread_mutex_lock(&g_pool_mu);
    ss->next_all = g_all;
    g_all = ss;
    pthread_mutex_unlock(&g_pool_mu);
    ser_turn_lock(&ss->mu);
  }
  ss->st = st;
  ss->b.st = st;
  ss->handle = st->handle.load(std::memory_order_relaxed);
  ss->real = st->real;
  ss->claimant.store(options().policy_value() == Policy::Strict ? st->creator : 0, std::memory_order_relaxed);
  ss->shared.store(false, std::memory_order_relaxed);
  ss->b.bias.store(0, std::memory_order_relaxed);
  ss->b.busy.store(0, std::memory_order_relaxed);
  ss->b.send_flags = 0;
  ss->b.timeouts_set = false;
  ss->b.wake_cut = 0;
  ss->b.wait_call = nullptr;
  ss->b.rcvtimeo = ss->b.sndtimeo = -1;
  ss->bias_last_thread.store(0, std::memory_order_relaxed);
  ss->revoking.store(0, std::memory_order_relaxed);
  ss->holder = 0;
  ss->holder_call = nullptr;
  ss->send_res = ss->recv_res = 0;
  ss->zfd = st->zfd;  // read once, when the guard saw the socket made (-1: ser_wait_turn looks now and then)
  ser_waiters_clear(ss);
  ss->closed.store(false, std::memory_order_release);
  ser_turn_unlock(&ss->mu);
  st->ser = ss;
  // The bias holder's calls take the owner path into serialize mode's
  // trampolines (ser_begin makes it the owner).
  if (void* const* fns = ser_owner_fns()) st->owner_fn = fns;
}

SerState* ser_close_begin(SocketState* st) {
  auto* ss = static_cast<SerState*>(st->ser);
  if (!ss || ss->closed.load(std::memory_order_relaxed)) return nullptr;
  ser_turn_lock(&ss->mu);
  if (ss->st != st || ss->closed.load(std::memory_order_relaxed)) {
    ser_turn_unlock(&ss->mu);
    return nullptr;
  }
  ss->holder = tls_rec ? tls_rec->serial.load(std::memory_order_relaxed) : 0;
  ser_unbias(ss, ss->holder);
  ser_drop_bias(ss);  // the closer is the last user
  ss->holder_call = "zmq_close";
  return ss;
}

void ser_close_end(SerState* ss, int rc) {
  if (!ss) return;
  int e = errno;
  ss->holder = 0;
  if (rc == 0) {
    ss->closed.store(true, std::memory_order_release);
    ser_wake_ready(ss, -1);
  }
  bool idle = rc == 0 && ss->nwaiters == 0;
  ser_turn_unlock(&ss->mu);
  // Waiters still registered leave through the closed flag; the state is
  // reused only after many more closes.
  if (idle) retire(ss);
  errno = e;
}

void ser_for_each_thread(SocketState* st, void (*fn)(uint64_t, const char*, bool, void*), void* ctx) {
  auto* ss = static_cast<SerState*>(st->ser);
  if (!ss) return;
  uint64_t serials[32];
  const char* calls[32];
  bool waiting[32];
  int n = 0;
  ser_turn_lock(&ss->mu);
  if (ss->st == st && !ss->closed.load(std::memory_order_relaxed)) {
    if (ss->holder) {
      serials[n] = ss->holder;
      calls[n] = ss->holder_call;
      waiting[n++] = false;
    }
    for (SerWaiter* w = ss->waiters; w && n < 32; w = w->next) {
      serials[n] = w->me;
      calls[n] = w->call;
      waiting[n++] = true;
    }
    // The sole user inside a call that may wait (in libzmq, without the turn).
    uint64_t biased = ss->b.bias.load(std::memory_order_relaxed);
    if (biased && ss->b.busy.load(std::memory_order_acquire) == 2 && n < 32) {
      serials[n] = biased;
      calls[n] = ss->b.wait_call ? ss->b.wait_call : "a call";
      waiting[n++] = true;
    }
  }
  ser_turn_unlock(&ss->mu);
  for (int i = 0; i < n; i++) fn(serials[i], calls[i], waiting[i], ctx);
}

void ser_thread_exit(uint64_t me) {
  if (me == 0) return;
  pthread_mutex_lock(&g_pool_mu);
  SerState* head = g_all;
  pthread_mutex_unlock(&g_pool_mu);
  // States are never freed, and next_all is written before a state is
  // published: the list can be walked without the pool lock.
  for (SerState* ss = head; ss; ss = ss->next_all) {
    // Only this thread writes its own serial into the holder word, so a
    // match read without the turn is exact.  The reservations are checked
    // again under the turn; one a revoker of this thread's bias writes
    // after this look is found dead later (ser_reserved_by_other).
    // An exiting thread is inside no call: a busy mark of its own (left by
    // a call cancelled inside libzmq) is stale.  Cleared first, before any
    // turn is waited for: a revoker holding the turn waits for the mark
    // while this thread would wait for the turn.  (The revoker names this
    // thread before it drops the bias: read in that order.)
    const uint64_t bias = ss->b.bias.load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if ((bias == me || ss->revoking.load(std::memory_order_relaxed) == me) &&
        ss->b.busy.load(std::memory_order_relaxed) != 0)
      ss->b.busy.store(0, std::memory_order_release);
    const bool held = __atomic_load_n(&ss->holder, __ATOMIC_RELAXED) == me;
    if (!held && __atomic_load_n(&ss->send_res, __ATOMIC_RELAXED) != me &&
        __atomic_load_n(&ss->recv_res, __ATOMIC_RELAXED) != me)
      continue;
    // Held: the thread was cancelled inside libzmq under the turn.
    if (!held) ser_turn_lock(&ss->mu);
    if (ss->send_res == me) ss->send_res = 0;
    if (ss->recv_res == me) ss->recv_res = 0;
    ss->holder = 0;
    // What the thread's call or message held up, everyone looks at again.
    if (!ss->closed.load(std::memory_order_relaxed)) ser_wake_ready(ss, -1);
    ser_turn_unlock(&ss->mu);
  }
}

void ser_after_fork_child() {
  // Only the forking thread exists here: whatever the others held (turns,
  // reservations, waits) is gone with them.  The eventfd is shared with the
  // parent's copy of this thread: make a new one when needed.
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  g_pool_mu = fresh;
  for (SerState* ss = g_all; ss; ss = ss->next_all) {
    ss->mu.v.store(0, std::memory_order_relaxed);
    ser_drop_bias(ss);
    ss->b.busy.store(0, std::memory_order_relaxed);
    ss->holder = 0;
    ss->revoking.store(0, std::memory_order_relaxed);
    ss->send_res = ss->recv_res = 0;
    ser_waiters_clear(ss);
  }
  ser_wake_fd_after_fork();
}

void ser_init() {
  if (g_mode != Mode::Serialize) return;
  g_core_hooks.socket_made.store(&ser_attach, std::memory_order_release);
  g_core_hooks.thread_exit.store(&ser_thread_exit, std::memory_order_release);
  g_core_hooks.after_fork_child.store(&ser_after_fork_child, std::memory_order_release);
  g_core_hooks.threads_on_socket.store(&ser_for_each_thread, std::memory_order_release);
}

}  // namespace zg
