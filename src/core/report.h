// SPDX-License-Identifier: MIT
// A finding, from the guard's records to the written report.  What a
// report needs is recorded as it happens (where a socket was created,
// where its owner took it: native stacks, Python tracebacks, thread names),
// gathered with the threads' state when a finding is made, matched against
// the suppressions, handed to the report layer (report/format.h) and
// counted; in mode=abort the process then stops.  Whether a call is a
// finding is decided elsewhere (core/guard.cpp, the watcher, serialize
// mode); nothing here decides one.
#pragma once
#include <stdint.h>

#include "core/findings.h"
#include "core/registry.h"
#include "report/stack.h"

namespace zg {

struct ThreadInfo;
struct ThreadRecord;

// Records where st was made, by the calling thread rec (st->mu held): its
// name, its stack (the caller's frame ra alone when a Python traceback
// says where), its Python stack.
void record_creator(SocketState* st, ThreadRecord* rec, const void* ra);
// Records the calling thread rec taking st with `call` (st->mu held): the
// same records, kept for the report of another thread's use.
void record_taker(SocketState* st, ThreadRecord* rec, const char* call);

// What is known of the thread with this serial: its tid, OS name, whether
// it still runs.
void thread_info(uint64_t serial, ThreadInfo* out);

// A report made on behalf of another thread (one blocked in zmq_ctx_term):
// its serial and the stacks it left when it made the call.
struct ReportAs {
  uint64_t serial = 0;
  const Stack* stack = nullptr;
  const char* py = nullptr;
  bool no_abort = false;  // the caller aborts after a series of reports
};

// Reports a finding about st (null: about no socket) from the calling
// thread: once per socket and kind; suppressed ones are only counted in
// the wrapper's session; a problem (not an Info kind) is counted and in
// mode=abort aborts.  `other` is the thread the finding is against.
// errno is kept.
void guard_report(FindingKind kind, SocketState* st, const char* call, uint64_t other, const char* extra,
                  const ReportAs* as = nullptr);

// Findings reported so far (warn mode turns them into the exit status).
uint64_t guard_finding_count();
// Waits (at most timeout_ms) for the reports other threads are writing:
// called as the process exits, so that a finding made just before is
// written (and, in abort mode, stops the process) rather than lost.
void guard_wait_reports(int timeout_ms);
// A forked child starts with none: the parent's findings are the parent's.
void guard_after_fork_child();

}  // namespace zg
