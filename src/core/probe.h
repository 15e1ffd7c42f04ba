// SPDX-License-Identifier: MIT
// Is another thread inside a libzmq call on a socket right now?
//
// The owner's own calls go straight into libzmq: the wrapper ends in a jump,
// so nothing of the guard runs when the call returns and no mark can say
// that it did (wrappers.cpp, owner_call; the frame a mark needs is most of
// what a guarded call would cost).  What every wrapper does leave is the
// socket it entered with, in the thread's HotTls::cur.  The rare question
// "is the owner inside a call on this socket?" (another thread closes it,
// uses it or asks about it; a live dump) is answered from that word and
// from what the kernel says the thread is doing (/proc/self/task/T/syscall):
//
//  - asleep in poll/ppoll on the socket's own mailbox fd (its ZMQ_FD),
//    called from libzmq: inside a call on it that waits (a receive, or a
//    send at the high-water mark).  That is the one place a call on a socket
//    that is not thread-safe sleeps in libzmq, so this answer is exact.  A
//    poll of the program's own on ZMQ_FD (an event loop) is not a call;
//  - asleep anywhere else: not inside a call on it (the call returned and
//    the thread waits in its own code, or in a call on another socket);
//  - running: inside a short call, or back in its own code.  With `wait`
//    the thread is watched until it sleeps, announces another socket, or
//    has run kProbeCpuBudgetNs of its own CPU time without either (no libzmq
//    call on a socket runs that long without sleeping, short of copying a
//    message of many megabytes); without `wait`, Unknown at once.
//
// Calls the guard marks itself (its slow path, zmq_poll, proxies, bind and
// connect) set SocketHot::in_call as before; callers look there first.
#pragma once
#include <stdint.h>
#include <sys/types.h>

namespace zg {

enum class Inside : uint8_t { No, Yes, Unknown };

constexpr int64_t kProbeCpuBudgetNs = 2000000;   // 2 ms of the watched thread's CPU time
constexpr int64_t kProbeWallCapNs = 200000000;   // and never more than 200 ms of ours

// Every thread of the process passes a full memory barrier before this
// returns (membarrier(2); a fence and a yield where the kernel lacks it).
// A wrapper writes HotTls::cur and then reads the socket's owner: after
// changing the owner and calling this, a thread reads any announcement made
// by a call that saw the old owner.
void process_barrier();
// True once membarrier's private expedited command is registered (serialize
// mode's bias needs the exact barrier).  The registration is inherited by a
// forked child.
bool process_barrier_exact();

// Copies memory of this process that another thread may be changing or
// giving back, or that may not be mapped: a failed read is an answer
// (false), never a fault.
bool read_memory(unsigned long addr, void* out, size_t len);

// serial: the thread asked about; handle and zfd: the socket and its
// ZMQ_FD (-1 if unknown: a sleeping thread is then Unknown).
Inside probe_inside(uint64_t serial, void* handle, int zfd, bool wait);

// One line of /proc/<pid>/task/<tid>/syscall: "running", or "-1 sp pc"
// (asleep outside a system call), or "nr a1 a2 a3 a4 a5 a6 sp pc".
struct SyscallLine {
  bool running = false;
  long nr = -1;
  unsigned long args[6] = {};
  unsigned long sp = 0;
};
bool parse_syscall_line(const char* text, SyscallLine* out);

}  // namespace zg
