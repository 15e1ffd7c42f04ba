// Where serialize mode (src/serialize/, a layer above the core) joins the
// core's events, so that the core never calls it by name: a function
// pointer per event, set by ser_init from the interposition layer's init
// (before the program's first socket) and never changed after.  No
// allocation and no lock: a thread's exit reads its hook from a pthread
// key destructor.  A hook not set (the other modes, the unit tests) is
// skipped.
#pragma once
#include <stdint.h>

#include <atomic>

namespace zg {

struct SocketState;

struct CoreHooks {
  // A socket the guard checks was made in mode=serialize (st->mu held).
  std::atomic<void (*)(SocketState* st)> socket_made{nullptr};
  // A thread that reached the guard exits (its serial).
  std::atomic<void (*)(uint64_t serial)> thread_exit{nullptr};
  // In the child after fork: only the forking thread is left.
  std::atomic<void (*)()> after_fork_child{nullptr};
  // For the live dump: calls fn for each thread holding st's turn or
  // waiting on st (serial, call name, waiting?).
  using ThreadFn = void (*)(uint64_t serial, const char* call, bool waiting, void* ctx);
  std::atomic<void (*)(SocketState* st, ThreadFn fn, void* ctx)> threads_on_socket{nullptr};
};
inline CoreHooks g_core_hooks;

}  // namespace zg
