// SPDX-License-Identifier: MIT
// Function ids for the interposed libzmq API (from interpose/api.def), so
// the core can call a socket's own copy of libzmq (serialize mode needs
// send/recv/getsockopt/poll) without knowing how the copy was found.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <zmq.h>

namespace zg {

enum FnId : int {
#define ZG_SOCK(ret, name, params, args, sock, kind, draft) FN_##name,
#define ZG_CALL(ret, name, params, args, draft) FN_##name,
#include "interpose/api.def"
#undef ZG_SOCK
#undef ZG_CALL
  FN_COUNT
};

// Their names, for dlsym and for reports.
inline constexpr const char* kFnNames[FN_COUNT] = {
#define ZG_SOCK(ret, name, params, args, sock, kind, draft) #name,
#define ZG_CALL(ret, name, params, args, draft) #name,
#include "interpose/api.def"
#undef ZG_SOCK
#undef ZG_CALL
};

// A loaded copy of libzmq: its functions, indexed by FnId.
struct RealTable {
  void* fn[FN_COUNT];
  char path[256];
};

template <FnId Id, typename F>
inline F real_fn(void* const* real) {
  return reinterpret_cast<F>(real[Id]);
}

// How many copies of libzmq one process may hold that the guard tells apart.
constexpr int kMaxLibzmqCopies = 8;

// Supplied by the interposition layer.
// The copy of libzmq a call from return address `ra` reaches.
RealTable* real_for_caller(const void* ra);
// True if pc lies in the code of a loaded libzmq (calls libzmq makes to its
// own API).
bool pc_in_libzmq(const void* pc);

// Which way a function moves messages: the pipe order of a send and a
// receive (core/order.h), the direction a serialized call waits for.
enum class MsgDir : uint8_t { None, Send, Recv };
constexpr MsgDir msg_dir(FnId id) {
  switch (id) {
    case FN_zmq_send:
    case FN_zmq_send_const:
    case FN_zmq_msg_send:
    case FN_zmq_sendmsg:
    case FN_zmq_sendiov:
      return MsgDir::Send;
    case FN_zmq_recv:
    case FN_zmq_msg_recv:
    case FN_zmq_recvmsg:
    case FN_zmq_recviov:
      return MsgDir::Recv;
    default:
      return MsgDir::None;
  }
}

}  // namespace zg
