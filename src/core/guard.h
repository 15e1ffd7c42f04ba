// SPDX-License-Identifier: MIT
// The guard's decisions on the slow path: everything an intercepted call
// does that is not the owner's own fast path.  Whether a call is legal and
// which finding it is are decided here (with core/policy.h's rules) and
// nowhere else; the finding is then reported through core/report.h, which
// gathers it and decides nothing.  The interposition layer calls these and
// knows nothing of policies.
#pragma once
#include <stdint.h>

#include "core/api.h"
#include "core/options.h"
#include "core/policy.h"
#include "core/registry.h"

namespace zg {

struct Ticket {
  SocketState* st = nullptr;
  uint64_t me = 0;
  bool marked = false;  // in_call was set by this call; guard_leave clears it
  bool pipe = false;    // a send or receive on a pipe end (core/order.h)
};

// Once per process, from the library constructor (and lazily before it).
// Before guard_init: this copy of the guard stays off (another copy of the
// library is the one the program calls).
void guard_stay_off();
void guard_init();

// The slow path of a call on one socket.  Fills *real with the libzmq copy
// to call.  Returns false when the call must not reach libzmq (a handle used
// after zmq_close): the wrapper then fails with ENOTSOCK.
bool guard_enter(void* sock, SocketState* st, const char* call, CallKind kind, const void* ra, Ticket* t,
                 void* const** real);
void guard_leave(const Ticket& t, const char* call);

// zmq_socket returned `sock`.
void guard_created(void* sock, void* ctx, int type, RealTable* real, const void* ra);
// zmq_close(sock) returned rc (t from guard_enter with CallKind::Close).
void guard_close_done(const Ticket& t, const char* call, int rc);
// bind/connect/unbind/disconnect succeeded.
void guard_endpoint(void* sock, const char* verb, const char* addr);
// An int option of sock, asked of its own libzmq copy (real: its functions)
// in a pass-through region: the guard's question is not the program's use.
// -1 if the copy has no getsockopt or libzmq says no (*value untouched).
int socket_int_option(void* const* real, void* sock, int option, int* value);
// The same for setting one: libzmq's result (-1 also if there is no setsockopt).
int socket_set_int_option(void* const* real, void* sock, int option, int value);
// getsockopt(ZMQ_EVENTS) changes socket state: Data; any other option is a
// Query (ZMQ_RCVMORE and ZMQ_FD included).  Only ZMQ_EVENTS processes the
// socket's pending commands (libzmq's socket_base_t::getsockopt): it
// changes the socket's state, so it is a use.  ZMQ_RCVMORE and ZMQ_FD read
// a flag and a number, as the other options do: an event loop's set-up
// reads ZMQ_FD before the socket goes to the thread that runs the loop.
// Inline: the wrapper computes the kind before its owner check, and an
// out-of-line call there cost the owner's getsockopt a call and a frame.
inline CallKind getsockopt_kind(int option) {
  return option == ZMQ_EVENTS ? CallKind::Data : option == ZMQ_TYPE ? CallKind::TypeQuery : CallKind::Query;
}
// setsockopt(ZMQ_LINGER) is part of closing: Linger; any other option is
// Setup.  Inline, as getsockopt_kind.
inline CallKind setsockopt_kind(int option) { return option == ZMQ_LINGER ? CallKind::Linger : CallKind::Setup; }

}  // namespace zg
