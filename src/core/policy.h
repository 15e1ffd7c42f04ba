// SPDX-License-Identifier: MIT
// Policies: who may call on a socket.  A pure function of what the guard
// knows about the socket and the calling thread, so every rule is unit
// tested without threads or libzmq.
#pragma once
#include <stdint.h>

#include "core/findings.h"
#include "core/options.h"

namespace zg {

// What a call does to a socket, from the table of interposed functions.
enum class CallKind : uint8_t {
  Setup,    // setsockopt, bind, connect, unbind, disconnect, monitor
  Data,     // send, recv and their variants; getsockopt(ZMQ_EVENTS)
  Poll,     // zmq_poll on the socket
  Proxy,    // zmq_proxy, zmq_proxy_steerable, zmq_device
  Close,    // zmq_close
  Query,    // getsockopt of a value it only reads: claims nothing, is no use
            // by another thread; only overlapping calls are checked.  (pyzmq
            // reads ZMQ_TYPE from whichever thread drops the last reference,
            // just before the final close.)
  Linger,   // setsockopt(ZMQ_LINGER): part of closing (libzmq reads the
            // linger only at zmq_close and zmq_ctx_term; pyzmq's
            // close(linger=N) and Context.destroy(linger=N) set it from the
            // closing thread just before zmq_close).  As a Query: claims
            // nothing, is no use by another thread; only overlapping calls
            // are checked.
  TypeQuery,  // getsockopt(ZMQ_TYPE): a Query, and pyzmq's closed probe
              // (Socket.closed on a socket closed through a shadow reads it
              // and takes ENOTSOCK as "closed"): on a handle this process
              // closed it is answered ENOTSOCK without reaching libzmq, and
              // is no finding.
};

// A question or a linger set: claims nothing and is no use of the socket by
// another thread; only an overlap with the owner's call is checked.
inline bool claims_nothing(CallKind k) {
  return k == CallKind::Query || k == CallKind::Linger || k == CallKind::TypeQuery;
}

struct PolicyInput {
  Policy policy = Policy::Handoff;
  CallKind kind = CallKind::Data;
  bool closed = false;
  bool exempt = false;         // thread-safe type or libzmq's own socket
  bool inherited = false;      // created before a fork, used in the child
  uint64_t me = 0;
  uint64_t owner = 0;          // kNoOwner while unclaimed
  uint64_t creator = 0;
  bool owner_alive = true;
  bool is_ctx_setup = false;   // bind/connect (counts as use after fork)
  // The owner's last call on it is ordered before this one by an edge the
  // guard saw (thread creation, a message over a pipe: core/order.h).
  bool ordered = false;
};

struct Decision {
  FindingKind finding = FindingKind::None;
  bool take = false;    // the caller becomes the owner
  bool refuse = false;  // fail with ENOTSOCK without reaching libzmq (no finding)
};

Decision decide(const PolicyInput& in);

}  // namespace zg
