// SPDX-License-Identifier: MIT
// mode=serialize: the trampolines the owner path of a serialized socket
// jumps to (SocketHot::owner_fn), one per socket function of
// interpose/api.def, and their table.  ser_attach hands the table to each
// serialized socket; ser_begin makes the bias holder its owner.
#include "serialize/dispatch.h"
#include "serialize/socket.h"

namespace zg {
namespace {
#define ZG_UNPAREN(...) __VA_ARGS__
#define ZG_SOCK(ret, name, params, args, sock, kind, draft) \
  ret ser_owner_##name params { return ser_owner<FN_##name, draft, ret>(sock, kind, ZG_UNPAREN args); }
#define ZG_CALL(ret, name, params, args, draft)
#include "interpose/api.def"
#undef ZG_SOCK
#undef ZG_CALL
#undef ZG_UNPAREN
}  // namespace

void* const* ser_owner_fns() {
  // A function-local static: initialized on first use, whatever the order
  // of the library's constructors and the program's first zmq_socket.
  static void* const table[FN_COUNT] = {
#define ZG_SOCK(ret, name, params, args, sock, kind, draft) reinterpret_cast<void*>(&ser_owner_##name),
#define ZG_CALL(ret, name, params, args, draft) nullptr,
#include "interpose/api.def"
#undef ZG_SOCK
#undef ZG_CALL
  };
  return table;
}

}  // namespace zg
