// The process around the sockets: start-up and exit (warn mode's exit
// status, leaks, a hint when nothing could be interposed), fork, contexts
// (zmq_ctx_term blocked by open sockets), the live dump.
#pragma once
#include "core/policy.h"
#include "core/registry.h"
#include "core/threads.h"
#include "report/stack.h"

namespace zg {

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

// The live dump (option dump_signal): prints every open socket, its owner
// and the threads inside calls on it.  Also callable directly (tests).
void lifecycle_dump();
// Set in a thread when the live dump's signal sampled its stack: a call the
// guard makes that fails with EINTR then calls again (serialize mode's sole
// user waiting inside libzmq); any other signal's EINTR is the program's.
extern __thread int tls_sampled ZG_TLS;

}  // namespace zg
