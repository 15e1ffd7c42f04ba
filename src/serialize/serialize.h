// SPDX-License-Identifier: MIT
// mode=serialize: calls on a socket that threads share take turns, without
// holding the socket across a blocking wait; the interposition layer's one
// door into it (doc/serialize.md says what it guarantees).
//
// The protocol:
//  - each socket has a turn lock; every call on it runs under the lock, and
//    sends/receives run with ZMQ_DONTWAIT, so no thread ever blocks inside
//    libzmq while holding the turn;
//  - a call that gets EAGAIN but wanted to block reads ZMQ_EVENTS, registers
//    as a waiter, gives the turn up and waits on the socket's ZMQ_FD plus its
//    own thread's eventfd, then tries again;
//  - ZMQ_FD is edge-triggered and any call on the socket consumes the edge,
//    so whoever holds the turn reads ZMQ_EVENTS after its call when there
//    are waiters, and wakes those whose direction became ready;
//  - a message sent or received in parts belongs to one thread from its
//    first part to its last (a per-direction reservation), so parts of two
//    threads never interleave;
//  - ZMQ_RCVTIMEO/ZMQ_SNDTIMEO are read when a call first has to wait and
//    kept as a deadline; ETERM and every other error come from libzmq;
//  - while only one thread uses a socket, it holds the socket's bias and
//    calls libzmq directly, without the lock and without ZMQ_DONTWAIT, as
//    it would without the guard (serialize/state.h, SerBias).  Its waits inside
//    libzmq last at most kSerWakeMs each (the guard gives libzmq that
//    timeout while the bias is held and keeps the user's own), so when a
//    second thread comes it can revoke the bias (membarrier, then wait out
//    the call in flight, a wake-up period at most) and the sole user's call
//    goes on in the locked protocol.  What the sole user left half done (a
//    multipart message in either direction) becomes a reservation at that
//    moment.  The bias holder is also the socket's owner, so its calls take
//    the wrapper's owner path into serialize mode's trampolines
//    (serialize/owner.cpp, ser_owner); every call marks SerBias::busy.
//
// Cancellation (pthread_cancel).  libzmq is not cancel-safe: a thread
// cancelled inside libzmq leaves the socket as libzmq left it, and the
// guard cannot undo that.  What the guard promises is that its own state
// stays whole, so that a cancelled thread neither crashes the process nor
// leaves the other threads stuck:
//  - a thread cancelled while it waits in the guard's own ppoll (ser_wait_turn,
//    poll_serialized) takes its waiter records, which live on its stack,
//    off the socket's list in a cleanup handler, and passes on a wake-up
//    it was given;
//  - the guard's own code makes no call that is a cancellation point while
//    it holds a turn (its eventfd reads and writes and its sleeps are raw
//    system calls);
//  - a thread cancelled inside libzmq while it holds a turn (an attempt, or
//    ZMQ_EVENTS read after one: libzmq polls its mailbox) keeps it while it
//    unwinds: a call it makes on that socket from a cleanup handler goes on
//    with it (ser_turn_lock_slow), and its exit gives it up, together with the
//    multipart reservations it held, and wakes the waiters
//    (ser_thread_exit, the core's thread-exit hook; the turn's holder word
//    says whose it is);
//  - a bias holder cancelled inside libzmq keeps its busy mark: a revoker
//    waits until the thread has exited, or until it calls on the socket
//    again from a cleanup handler (which clears the stale mark).
// Not promised: that the socket itself is usable after a cancellation
// inside libzmq (it is, in the cases tried: the mailbox poll, a blocking
// wait), and that calls the thread makes from its cleanup handlers are
// checked when the cancellation struck inside a pass-through region (the
// guard's own calls into libzmq; the thread holds the turn then, so they do
// not race with other threads).
//
// Where it lives (one concern a file, all under the ser_/Ser prefix):
//   turn.*     the turn lock (a futex word) and its contended paths
//   state.h    a socket's turn state, one call in progress, one attempt
//   bias.*     the sole user's bias: its lock-free call, revoking it
//   wait.*     waiters: registering, waking, waiting without the turn
//   locked.*   the locked protocol and the entry of every serialized call
//   socket.*   a state's life: attach, users, close, thread exit, fork, dump
//   poll.cpp   zmq_poll over serialized sockets
//   proxy.cpp  zmq_proxy / zmq_proxy_steerable / zmq_device over them
//   dispatch.h the wrappers' calls, owner.cpp the owner path's trampolines
// It calls the core (and through it the report layer), never the
// interposition layer; the core calls it only through core/hooks.h.
#pragma once
#include <stdint.h>
#include <zmq.h>

#include "core/api.h"
#include "core/registry.h"
#include "serialize/dispatch.h"

namespace zg {

// Registers serialize mode's hooks with the core (core/hooks.h) if the mode
// is serialize: from the wrappers' init, after guard_init and before the
// program's first socket.
void ser_init();

// ser_call<Id, Draft, R, A...>(a..., sock, kind, ra): a call on a socket in
// mode=serialize from the wrappers' lookup (the owner's hint missed),
// inlined there (serialize/dispatch.h).

// zmq_close of a serialized socket (st->ser set): waits for the turn, and
// afterwards wakes every waiter (they fail with ENOTSOCK, as on a closed
// socket).  ser_close_end(nullptr, rc) does nothing.
SerState* ser_close_begin(SocketState* st);
void ser_close_end(SerState* ss, int rc);

// zmq_poll when every socket item is a serialized socket, however many
// items (plain fds may be among them).  Returns false otherwise (the caller
// polls as usual).
bool ser_poll(zmq_pollitem_t* items, int nitems, long timeout, int* rc);

// zmq_proxy / zmq_proxy_steerable / zmq_device when the sockets are
// serialized (socks: frontend, backend, capture[, control]; the capture
// socket may be thread-safe instead).  False: not all are; libzmq proxies.
bool ser_proxy(void* const* socks, int nsocks, bool steerable, int* rc);

}  // namespace zg
