// SPDX-License-Identifier: MIT
// The process around the sockets: start-up and exit (warn mode's exit
// status, leaks), fork, contexts (one inherited across fork, zmq_ctx_term
// blocked by open sockets: watched by the guard's thread, core/watcher.h).
#pragma once
#include <stdint.h>

#include "core/registry.h"

namespace zg {

// The process generation: 0, and one more in each forked child.
extern uint32_t g_fork_gen;

void lifecycle_init();
// From the library destructor: leaks=1 listing, warn mode's exit status.
void lifecycle_fini();
// From every zmq_socket, before libzmq's: the lines about bad options and
// the suppressions file, once per process.
void lifecycle_first_socket();
void lifecycle_socket_created(SocketState* st, void* ctx);
void lifecycle_socket_closed(SocketState* st);
// zmq_socket(ctx) is about to run: a context inherited from the parent
// process is reported (use_after_fork).  Cheap unless the process forked.
void lifecycle_socket_opening(void* ctx);

// zmq_ctx_term/zmq_ctx_destroy/zmq_term: a guard thread reports the
// context's sockets still open if the call is still blocked after
// term_timeout_ms.  begin returns a watch id (or -1) for end.
int lifecycle_ctx_term_begin(void* ctx, const char* call);
void lifecycle_ctx_term_end(int watch, void* ctx, int rc);

}  // namespace zg
