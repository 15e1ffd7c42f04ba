// SPDX-License-Identifier: MIT
// Waiting without the turn: a thread whose call cannot go on now (EAGAIN,
// another thread's multipart message) registers as a waiter, gives the
// turn up and sleeps on the socket's ZMQ_FD and its own eventfd; whoever
// holds the turn after a call wakes the waiters whose direction became
// ready.  Everything here runs with the turn held unless it says otherwise.
#pragma once
#include <stdint.h>

#include "serialize/state.h"

namespace zg {

// This thread's wake-up eventfd (made on first use; -1 if that failed).
int ser_wake_fd();
// In the child after fork: the eventfd is the parent's too; a new one later.
void ser_wake_fd_after_fork();
// An int option of the socket, asked of its libzmq copy in a pass-through
// region (core/guard.h, socket_int_option).
int ser_sockopt_int(SerState* ss, int option, int* value);
int ser_sockopt_set_int(SerState* ss, int option, int value);

// The waiter list and its counts (SerState::asleep and co).
void ser_waiter_add(SerState* ss, SerWaiter* w);
void ser_waiter_remove(SerState* ss, SerWaiter* w);
void ser_waiters_clear(SerState* ss);
// Wakes the waiters that can make progress (events: ZMQ_EVENTS, or -1 for
// everyone), and after a call, those a pass could wake (ser_nobody_to_wake).
void ser_wake_ready(SerState* ss, int events);
void ser_wake_pass(SerState* ss);
// Reads the eventfd's count (raw: not a cancellation point).
void ser_raw_drain(int fd);
// After EINTR in a wait of the guard's own: true if a signal of the
// program's caused it, false for the live dump's stack sample.
bool ser_program_signal();

// What ser_wait_turn saw.
enum class SerWaited : uint8_t { Ready, TimedOut, Interrupted };
// Gives the turn up and waits for the socket (ZMQ_FD) or a wake-up, until
// the deadline.  Turn held on entry and on return.
SerWaited ser_wait_turn(SerState* ss, uint64_t me, short mask, const char* call, int64_t deadline_ns, bool forever);
// Reads the user's timeout for c's direction on its first wait.  False: the
// timeout is 0 (fail at once with EAGAIN, as libzmq does).
bool ser_arm_deadline(SerCall* c, int option);
// True if another live thread is in the middle of a multipart message in
// this direction (a dead one's reservation is dropped).
bool ser_reserved_by_other(SerState* ss, MsgDir dir, uint64_t me);

}  // namespace zg
