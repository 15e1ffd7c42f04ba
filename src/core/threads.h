// SPDX-License-Identifier: MIT
// Thread identity.  A thread is known by a serial number drawn from a
// process-wide counter the first time it reaches the guard's slow path; a
// serial is never reused, unlike pthread_t and (eventually) tids, so an
// exited owner is never confused with a new thread that got its ids.
#pragma once
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include <atomic>

#define ZG_TLS __attribute__((tls_model("initial-exec")))

namespace zg {

struct SocketHot;
constexpr int kHotSlots = 64;  // at least one per interposed function (checked in core/call.h)

// What the owner's fast path reads and writes, in one thread-local block so
// that one TLS offset serves all of it:
//  - me: the value socket owners are compared against: this thread's serial,
//    or 0 while the thread is unknown or inside a pass-through region.
//    Socket owners are never 0, so 0 always falls to the slow path;
//  - cur: the socket handle this thread's latest call on a socket entered
//    with (written first thing by every wrapper, before it reads the
//    socket's owner).  The owner's call jumps into libzmq and never comes
//    back through the guard, so nothing says when it returned; a thread that
//    needs to know whether the owner is inside a call on a socket reads this
//    word and asks the kernel what the owner is doing (core/probe.h);
//  - last: per interposed function, the socket state its last owner call
//    used (a hint, checked in full; never null: the registry's sentinel);
//  - prev: the state last held before, checked when last misses, so that a
//    thread alternating two sockets on one function (a forwarder receiving
//    on one and sending on the other, and back) keeps finding both.
struct HotTls {
  uint64_t me;
  std::atomic<void*> cur;
  SocketHot* last[kHotSlots];
  SocketHot* prev[kHotSlots];
};

struct ThreadRecord {
  std::atomic<uint64_t> serial{0};  // 0 while the record is free
  std::atomic<bool> alive{false};
  pid_t tid = 0;
  pthread_t pthread{};
  char name[16] = {};  // OS thread name (comm)
  HotTls* hot = nullptr;  // the thread's own block; read by others only while alive, under the list lock
  ThreadRecord* next = nullptr;  // list of every record ever made (never freed)
  ThreadRecord* next_free = nullptr;
};
extern __thread HotTls tls_hot ZG_TLS;
extern __thread ThreadRecord* tls_rec ZG_TLS;
extern __thread int tls_bypass ZG_TLS;

// This thread's record, created on first use.
ThreadRecord* thread_self();

// True if the thread with this serial is still running.
bool thread_alive(uint64_t serial);

// For a running thread: the socket its latest call entered with
// (HotTls::cur) and its kernel tid.  False if the thread has exited.
bool thread_current_socket(uint64_t serial, void** cur, pid_t* tid);

// Copies the current OS name of the thread (or "" if unknown).
void thread_name_of(pid_t tid, char* out, size_t len);

// Calls fn for every running thread (under the thread list lock).
void threads_for_each(void (*fn)(ThreadRecord*, void*), void* ctx);

// Called in the child after fork: the only thread left gets a new serial,
// every other record is marked exited.
void threads_after_fork_child();
void threads_fork_prepare();
void threads_fork_parent();

// Calls inside a Bypass region pass straight through the guard: libzmq's
// own calls to its API (zmq_poll calls zmq_getsockopt), the free callbacks
// of zero-copy messages, the guard's own calls into libzmq.  Their wrappers
// still write HotTls::cur; the region puts back what the enclosing call
// announced, since that call is still in progress.
// Cancellation off for a scope: the guard's own work that holds a lock or
// has records of its stack on shared lists must not be torn down halfway by
// pthread_cancel (the library is built without exceptions: nothing of it
// is undone on the way out).  `old` is the state to put back.
struct NoCancel {
  int old = PTHREAD_CANCEL_ENABLE;
  NoCancel() { pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old); }
  ~NoCancel() { pthread_setcancelstate(old, nullptr); }
  NoCancel(const NoCancel&) = delete;
  NoCancel& operator=(const NoCancel&) = delete;
};

// The program's signal handlers held off this thread for a scope (a
// report): a handler that calls exit(), longjmps or reports itself would
// otherwise run on top of a report half made, holding the report lock, and
// exit would wait for a report that can never end (found by
// tests/hostile/test_processes.py).  The synchronous signals stay open (a
// fault inside must still kill), and a signal sent to the process goes to
// another of its threads meanwhile.
struct NoSignals {
  sigset_t old;
  NoSignals() {
    sigset_t all;
    sigfillset(&all);
    static const int kSync[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT};
    for (int sig : kSync) sigdelset(&all, sig);
    pthread_sigmask(SIG_BLOCK, &all, &old);
  }
  ~NoSignals() { pthread_sigmask(SIG_SETMASK, &old, nullptr); }
  NoSignals(const NoSignals&) = delete;
  NoSignals& operator=(const NoSignals&) = delete;
};

struct Bypass {
  void* cur;
  Bypass() : cur(tls_hot.cur.load(std::memory_order_relaxed)) {
    tls_bypass++;
    tls_hot.me = 0;
  }
  ~Bypass() {
    tls_hot.cur.store(cur, std::memory_order_relaxed);
    if (--tls_bypass == 0 && tls_rec) tls_hot.me = tls_rec->serial.load(std::memory_order_relaxed);
  }
  Bypass(const Bypass&) = delete;
  Bypass& operator=(const Bypass&) = delete;
};

}  // namespace zg
