// SPDX-License-Identifier: MIT
// The guard's own thread ("zmq-guard"): it reports the open sockets of a
// context whose zmq_ctx_term stays blocked, and prints the live dump when
// dump_signal arrives.  Started when first needed (a zmq_ctx_term to watch,
// a socket made with dump_signal set), never in the constructor.
#pragma once
#include "core/options.h"
#include "core/threads.h"

namespace zg {

// From lifecycle_init: handles dump_signal, if set.
void watcher_init();
// A socket was made: with dump_signal set, the thread is started now, so
// that `zmq-guard --dump` finds it by its name.
void watcher_socket_created();
// zmq_ctx_term(ctx) (or zmq_ctx_destroy, zmq_term: `call`) is about to
// block: if it still blocks after term_timeout_ms while sockets of the
// context are open, they are reported (ctx_term_open_sockets) on behalf of
// the calling thread.  Returns a watch id for watcher_term_end, or -1 when
// there is nothing to watch.
int watcher_term_begin(void* ctx, const char* call);
void watcher_term_end(int watch);
// In a forked child: the thread stayed in the parent.
void watcher_after_fork_child();

// The live dump: prints every open socket, its owner and the threads
// inside calls on it, and the threads blocked in zmq_ctx_term.  Also
// callable directly (tests).
void watcher_dump();
// Set in a thread when the live dump's signal sampled its stack: a call the
// guard makes that fails with EINTR then calls again (serialize mode's sole
// user waiting inside libzmq); any other signal's EINTR is the program's.
extern __thread int tls_sampled ZG_TLS;

}  // namespace zg
