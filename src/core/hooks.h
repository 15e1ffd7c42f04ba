// SPDX-License-Identifier: MIT
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

// The core's calls of them.
inline void hook_socket_made(SocketState* st) {
  if (auto hook = g_core_hooks.socket_made.load(std::memory_order_acquire)) hook(st);
}
inline void hook_thread_exit(uint64_t serial) {
  if (auto hook = g_core_hooks.thread_exit.load(std::memory_order_acquire)) hook(serial);
}
inline void hook_after_fork_child() {
  if (auto hook = g_core_hooks.after_fork_child.load(std::memory_order_acquire)) hook();
}
inline void hook_threads_on_socket(SocketState* st, CoreHooks::ThreadFn fn, void* ctx) {
  if (auto hook = g_core_hooks.threads_on_socket.load(std::memory_order_acquire)) hook(st, fn, ctx);
}

}  // namespace zg
