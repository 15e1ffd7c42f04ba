// SPDX-License-Identifier: MIT
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/registry.h"
#include "serialize/locked.h"
#include "serialize/serialize.h"
#include "serialize/socket.h"

namespace zg {

namespace {

// zmq_proxy over serialized sockets.  libzmq's own proxy calls its sockets'
// internals directly, past the turns; this one moves each message part by
// part through serialized calls, so other threads may use the same sockets
// and a proxy waiting for traffic holds none of them.  What it does when is
// libzmq 4.3.4's proxy (src/proxy.cpp, the socket_poller version Debian
// builds): it reads a side only while the other side can take a message,
// so a backend that cannot accept never keeps the control socket from
// being served; each control command is read in a round of its own, copied
// to the capture socket, and answered before any message moves in that
// round; messages move in bursts of up to 1000, counted whole in the
// statistics.  The conformance suite (tests/conformance) holds it to that.
struct MsgFns {
  int (*init)(zmq_msg_t*);
  int (*init_size)(zmq_msg_t*, size_t);
  int (*close)(zmq_msg_t*);
  int (*copy)(zmq_msg_t*, zmq_msg_t*);
  size_t (*size)(const zmq_msg_t*);
  void* (*data)(zmq_msg_t*);
};

bool msg_fns(void* const* real, MsgFns* m) {
  const char* path = reinterpret_cast<const RealTable*>(real)->path;
  void* h = path[0] ? dlopen(path, RTLD_LAZY | RTLD_NOLOAD) : nullptr;
  if (!h) return false;
  m->init = reinterpret_cast<int (*)(zmq_msg_t*)>(dlsym(h, "zmq_msg_init"));
  m->init_size = reinterpret_cast<int (*)(zmq_msg_t*, size_t)>(dlsym(h, "zmq_msg_init_size"));
  m->close = reinterpret_cast<int (*)(zmq_msg_t*)>(dlsym(h, "zmq_msg_close"));
  m->copy = reinterpret_cast<int (*)(zmq_msg_t*, zmq_msg_t*)>(dlsym(h, "zmq_msg_copy"));
  m->size = reinterpret_cast<size_t (*)(const zmq_msg_t*)>(dlsym(h, "zmq_msg_size"));
  m->data = reinterpret_cast<void* (*)(zmq_msg_t*)>(dlsym(h, "zmq_msg_data"));
  dlclose(h);  // still loaded: the program uses it
  return m->init && m->init_size && m->close && m->copy && m->size && m->data;
}

// zmq_msg_recv (Id FN_zmq_msg_recv) or zmq_msg_send through st's turn.
template <FnId Id>
int ser_msg(SocketState* st, zmq_msg_t* msg, int flags) {
  int r = -1;
  if (!ser_socket_call<Id, int>(st, "zmq_proxy", CallKind::Proxy, &r, msg, st->handle.load(), flags)) {
    errno = ENOTSOCK;
    return -1;
  }
  return r;
}
int ser_msg_recv(SocketState* st, zmq_msg_t* msg, int flags) { return ser_msg<FN_zmq_msg_recv>(st, msg, flags); }
int ser_msg_send(SocketState* st, zmq_msg_t* msg, int flags) { return ser_msg<FN_zmq_msg_send>(st, msg, flags); }

// To the capture socket: a serialized one through its turn; one libzmq makes
// thread-safe itself (ser_proxy), straight into libzmq.
int capture_send(SocketState* st, zmq_msg_t* msg, int flags) {
  if (st->ser) return ser_msg_send(st, msg, flags);
  using send_fn = int (*)(zmq_msg_t*, void*, int);
  auto fn = real_fn<FN_zmq_msg_send, send_fn>(st->real);
  if (!fn) {
    errno = ENOTSUP;
    return -1;
  }
  Bypass nested;
  return fn(msg, st->handle.load(), flags);
}

// A copy of msg to the capture socket, if there is one.  -1: the proxy ends.
int capture_copy(const MsgFns& m, SocketState* capture, zmq_msg_t* msg, bool more) {
  if (!capture) return 0;
  zmq_msg_t copy;
  m.init(&copy);
  if (m.copy(&copy, msg) < 0 || capture_send(capture, &copy, more ? ZMQ_SNDMORE : 0) < 0) {
    int e = errno;
    m.close(&copy);
    errno = e;
    return -1;
  }
  return 0;
}

// ZMQ_RCVMORE after a receive: 1 or 0, -1 if it could not be read.
int ser_more(SocketState* st) {
  int more = 0;
  size_t len = sizeof more;
  int r = -1;
  if (!ser_socket_call<FN_zmq_getsockopt, int>(st, "zmq_proxy", CallKind::Proxy, &r, st->handle.load(),
                                             (int)ZMQ_RCVMORE, static_cast<void*>(&more), &len))
    return -1;
  return r == 0 ? more != 0 : -1;
}

struct Stats {
  uint64_t msg_in, bytes_in, msg_out, bytes_out;
};

constexpr int kProxyBurst = 1000;  // libzmq's proxy_burst_size (src/config.hpp)

// A burst of whole messages from -> to (and copies to capture): until from
// has none left, or kProxyBurst of them.  -1 with errno as the failing call
// left it.  (libzmq fails the proxy when the burst's first receive finds
// nothing; here another thread may have taken that message from a shared
// socket, so it is the burst's end, as for the later ones.)
int forward(const MsgFns& m, SocketState* from, SocketState* to, SocketState* capture, Stats* from_st, Stats* to_st) {
  for (int i = 0; i < kProxyBurst; i++) {
    size_t whole = 0;
    for (;;) {
      zmq_msg_t msg;
      m.init(&msg);
      if (ser_msg_recv(from, &msg, ZMQ_DONTWAIT) < 0) {
        int e = errno;
        m.close(&msg);
        errno = e;
        return e == EAGAIN ? 0 : -1;
      }
      whole += m.size(&msg);
      const int more = ser_more(from);
      if (more < 0 || capture_copy(m, capture, &msg, more) < 0 ||
          ser_msg_send(to, &msg, more ? ZMQ_SNDMORE : 0) < 0) {
        int e = errno;
        m.close(&msg);
        errno = e;
        return -1;
      }
      if (!more) break;
    }
    // A message in several parts counts once, as in libzmq.
    from_st->msg_in++;
    from_st->bytes_in += whole;
    to_st->msg_out++;
    to_st->bytes_out += whole;
  }
  return 0;
}

// STATISTICS: eight 8-byte parts, frontend's then backend's (messages in,
// bytes in, messages out, bytes out).  Only the first send may fail (as in
// libzmq: after it the pipe has room for the rest).
int reply_stats(const MsgFns& m, SocketState* control, const Stats& fs, const Stats& bs) {
  const uint64_t v[8] = {fs.msg_in, fs.bytes_in, fs.msg_out, fs.bytes_out,
                         bs.msg_in, bs.bytes_in, bs.msg_out, bs.bytes_out};
  for (int i = 0; i < 8; i++) {
    zmq_msg_t part;
    m.init_size(&part, sizeof v[i]);
    memcpy(m.data(&part), &v[i], sizeof v[i]);
    int r;
    do {
      r = ser_msg_send(control, &part, i < 7 ? ZMQ_SNDMORE : 0);
    } while (i > 0 && r < 0 && errno == EAGAIN);
    if (r < 0) {
      int e = errno;
      m.close(&part);
      errno = e;
      if (i == 0) return -1;
    }
  }
  return 0;
}

enum class Command : uint8_t { Pause, Resume, Terminate, Statistics, Unknown };

Command command_of(const MsgFns& m, zmq_msg_t* msg) {
  const size_t len = m.size(msg);
  const void* d = m.data(msg);
  auto is = [&](const char* word) { return len == strlen(word) && memcmp(d, word, len) == 0; };
  return is("PAUSE") ? Command::Pause
         : is("RESUME") ? Command::Resume
         : is("TERMINATE") ? Command::Terminate
         : is("STATISTICS") ? Command::Statistics
                            : Command::Unknown;
}


}  // namespace

bool ser_proxy(void* const* socks, int nsocks, bool steerable, int* rc) {
  SocketState* st[4] = {};
  for (int i = 0; i < nsocks && i < 4; i++) {
    if (!socks[i]) continue;
    st[i] = registry_lookup(socks[i]);
    if (!st[i]) st[i] = registry_lookup_locked(socks[i]);
    // The capture socket is only sent to: one of a thread-safe type needs
    // no turn (capture_send).  The others are waited on too, which needs
    // their ZMQ_FD (a thread-safe socket has none).
    if (i == 2 && st[i] && st[i]->thread_safe && !st[i]->closed.load(std::memory_order_relaxed)) continue;
    // Not all serialized: libzmq proxies, past the turns (doc/serialize.md, Limits).
    if (!st[i] || !ser_usable(st[i])) return false;
  }
  SocketState* front = st[0];
  SocketState* back = st[1];
  SocketState* capture = nsocks > 2 ? st[2] : nullptr;
  SocketState* control = steerable && nsocks > 3 ? st[3] : nullptr;
  MsgFns m;
  if (!front || !back || !msg_fns(front->real, &m)) return false;
  const bool same = front == back;
  Stats fs = {}, bs = {};
  bool paused = false;
  // What the last look saw: front/back readable (in) and writable (out).
  bool fi = false, fo = false, bi = false, bo = false;
  auto fail = [&](int* out) {
    *out = -1;
    return true;
  };
  for (;;) {
    // The wait: the control socket always; while active, each direction's
    // reading side while its writing side took the last message, else the
    // writing side's room (libzmq's poller_in / *_blocked sets).
    short fmask = 0, bmask = 0;
    if (!paused) {
      if (fi && !bo && !same) bmask |= ZMQ_POLLOUT;
      else fmask |= ZMQ_POLLIN;
      if (!same) {
        if (bi && !fo) fmask |= ZMQ_POLLOUT;
        else bmask |= ZMQ_POLLIN;
      }
    }
    zmq_pollitem_t items[3];
    int n = 0;
    if (fmask) items[n++] = {socks[0], 0, fmask, 0};
    if (bmask) items[n++] = {socks[1], 0, bmask, 0};
    if (control) items[n++] = {socks[3], 0, ZMQ_POLLIN, 0};
    int prc = -1;
    if (n == 0) {
      errno = EINVAL;  // paused without a control socket: cannot happen
    } else if (!ser_poll(items, n, -1, &prc)) {
      errno = ENOTSOCK;
      prc = -1;
    }
    if (prc < 0) return fail(rc);  // ETERM when the context ends, as libzmq's proxy
    // Then everything, without waiting.
    n = 0;
    items[n++] = {socks[0], 0, ZMQ_POLLIN | ZMQ_POLLOUT, 0};
    if (!same) items[n++] = {socks[1], 0, ZMQ_POLLIN | ZMQ_POLLOUT, 0};
    if (control) items[n++] = {socks[3], 0, ZMQ_POLLIN, 0};
    prc = -1;
    if (!ser_poll(items, n, 0, &prc)) {
      errno = ENOTSOCK;
      prc = -1;
    }
    if (prc < 0) return fail(rc);
    fi = items[0].revents & ZMQ_POLLIN;
    fo = items[0].revents & ZMQ_POLLOUT;
    bi = !same && (items[1].revents & ZMQ_POLLIN);
    bo = !same && (items[1].revents & ZMQ_POLLOUT);
    if (control && (items[n - 1].revents & ZMQ_POLLIN)) {
      zmq_msg_t cmd;
      m.init(&cmd);
      int more = -1;
      if (ser_msg_recv(control, &cmd, 0) < 0 || (more = ser_more(control)) != 0 ||
          capture_copy(m, capture, &cmd, false) < 0) {
        int e = errno;  // a command in several parts: -1, errno as it is (libzmq's)
        m.close(&cmd);
        errno = e;
        return fail(rc);
      }
      const Command c = command_of(m, &cmd);
      m.close(&cmd);
      switch (c) {
        case Command::Pause:
          paused = true;
          break;
        case Command::Resume:
          paused = false;
          break;
        case Command::Terminate:
          *rc = 0;
          return true;
        case Command::Statistics:
          if (reply_stats(m, control, fs, bs) < 0) return fail(rc);
          break;
        case Command::Unknown:
          // libzmq asserts on it (an API error): so does the proxy here,
          // rather than go on where libzmq's would not.
          puts("E: invalid command sent to proxy");
          fflush(stdout);
          abort();
      }
    }
    if (paused) continue;
    if (fi && (bo || same)) {
      if (forward(m, front, back, capture, &fs, &bs) < 0) return fail(rc);
      fi = bo = false;
    }
    if (bi && fo) {
      if (forward(m, back, front, capture, &bs, &fs) < 0) return fail(rc);
      bi = fo = false;
    }
  }
}

}  // namespace zg
