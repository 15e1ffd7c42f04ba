// SPDX-License-Identifier: MIT
// A serialized socket's life: its turn state given at creation (from a pool
// of states that are never freed), who has used it, its close, and what a
// thread's exit, a fork and the live dump need of every state.  The core
// reaches these through its hooks (core/hooks.h), registered by ser_init;
// the close comes from the wrappers (serialize/serialize.h).
#pragma once
#include <stdint.h>

#include "core/policy.h"
#include "core/registry.h"
#include "serialize/state.h"

namespace zg {

// Gives st (st->mu held, mode=serialize, not thread-safe) its turn state.
void ser_attach(SocketState* st);
// In the child after fork: fresh locks, no waiters, no reservations.
void ser_after_fork_child();
// A thread exits (its serial): a turn it still holds (it was cancelled
// inside libzmq) and the multipart reservations it held are given up, and
// the waiters look again.
void ser_thread_exit(uint64_t serial);

// For the live dump: calls fn for each thread holding the turn or waiting
// on st (serial, tid, call name, waiting?).
void ser_for_each_thread(SocketState* st, void (*fn)(uint64_t serial, const char* call, bool waiting, void*),
                         void* ctx);

// The socket's turn state if it is serialized and open in this process;
// else nullptr (the ordinary path reports what is wrong).
SerState* ser_usable(SocketState* st);
// Notes a call by thread me: the first user claims the socket, a second
// one while the claimant runs makes it shared (reported once).
void ser_note_user(SerState* ss, SocketState* st, const char* call, CallKind kind, uint64_t me);
// What the owner path of a serialized socket calls, indexed by FnId (see
// SocketHot::owner_fn): serialize/owner.cpp.
void* const* ser_owner_fns();

}  // namespace zg
