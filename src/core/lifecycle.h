// The process around the sockets: start-up and exit (warn mode's exit
// status, leaks, a hint when nothing could be interposed), fork, contexts
// (zmq_ctx_term blocked by open sockets), suppressions, the live dump.
#pragma once
#include "core/policy.h"
#include "core/registry.h"
#include "report/stack.h"

namespace zg {

void lifecycle_init();
// From the library destructor: leaks=1 listing, warn mode's exit status.
void lifecycle_fini();
void lifecycle_socket_created(SocketState* st, void* ctx);
void lifecycle_socket_closed(SocketState* st);
// True if a suppression matches this finding (kind and the offending stack).
bool lifecycle_suppressed(FindingKind kind, const Stack* stack, const char* py_stack);
// Loads a suppressions file; malformed lines are reported one each and
// skipped.  Returns the number of rules loaded, -1 if unreadable.
int suppressions_load(const char* path);
void suppressions_clear();

}  // namespace zg
