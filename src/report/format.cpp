#include "report/format.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report/python.h"
#include "report/sink.h"
#include "report/symbolize.h"
#include "report/text.h"

namespace zg {
namespace {

using Buf = TextBuf;

const char* default_hint(FindingKind k) {
  switch (k) {
    case FindingKind::CrossThread:
      return "a ZeroMQ socket must stay with one thread: give each thread its own socket, or hand it over "
             "to a thread the owner starts, or over an inproc PAIR pipe, after its own last use (libzmq's rule). "
             "A socket shared under a lock needs that one lock held by every thread for every call on it; "
             "mode=serialize keeps a sharing program running; mode=warn reports and goes on.";
    case FindingKind::ConcurrentCall:
      return "two threads inside libzmq on one socket corrupt it (object.cpp:170, mailbox.cpp:99, hangs). Give "
             "each thread its own socket, or talk to the owner over an inproc pair; mode=serialize makes the "
             "calls take turns until the program is fixed.";
    case FindingKind::CloseWhileInUse:
      return "stop the other thread's call before closing: zmq_ctx_shutdown makes blocking calls return "
             "ETERM; join the thread, then close the socket.";
    case FindingKind::UseAfterClose:
      return "the handle is dead after zmq_close (libzmq may already have freed it or given it to a new "
             "socket). In mode=warn the guard returns -1 with errno ENOTSOCK instead of passing it to libzmq.";
    case FindingKind::UseAfterFork:
      return "in a forked child only close inherited sockets and terminate the inherited context; create a "
             "new context for the child's own sockets.";
    case FindingKind::CtxTermOpenSockets:
      return "zmq_ctx_term waits until every socket of the context is closed: close them (set ZMQ_LINGER "
             "to bound the wait for unsent messages), or call zmq_ctx_shutdown first to wake their threads.";
    case FindingKind::SharedSocket:
      return "mode=serialize is running these calls one at a time; fix the sharing (one socket per thread) "
             "and run without it.";
    case FindingKind::Leak:
      return "close every socket before terminating its context (zmq_ctx_term would block).";
    default:
      return "";
  }
}

// ` "name"`, as the program named the thread.
void quoted_name(Buf& b, const char* name) {
  b.puts(" \"");
  b.plain(name);
  b.puts("\"");
}

// `thread T3 "receiver" (tid 18396, running)`: the Python name when there
// is one (the OS name of a Python thread is just "python3"), else the OS name.
void thread_label(Buf& b, const ThreadInfo& t, bool state) {
  if (!t.known) {
    b.puts("an unknown thread");
    return;
  }
  b.printf("thread T%llu", (unsigned long long)t.serial);
  const char* name = t.py_name[0] ? t.py_name : t.name;
  if (name[0]) quoted_name(b, name);
  b.printf(" (tid %d", (int)t.tid);
  if (state && t.running == 1) b.puts(", running");
  else if (state && t.running == 0) b.puts(", exited");
  b.puts(")");
}

// Native frames; with a Python traceback beside them only the first few
// (interpreter internals tell a Python user nothing; the JSON has them all).
void text_stack(Buf& b, const Stack* s, int limit) { b.stack(s, "    ", limit); }

// threading.py's own frames start every thread's traceback; they are noise.
bool bootstrap_frame(const PyFrame& f) {
  const char* base = strrchr(f.file, '/');
  if (!base || strcmp(base, "/threading.py") != 0) return false;
  return !strcmp(f.function, "_bootstrap") || !strcmp(f.function, "_bootstrap_inner") || !strcmp(f.function, "run");
}

void text_py(Buf& b, const char* py, const char* title) {
  if (!py) return;
  b.printf("    %s (most recent call last):\n", title);
  py_frames(
      py,
      [](const PyFrame& f, void* ctx) {
        if (bootstrap_frame(f)) return;
        auto* out = static_cast<Buf*>(ctx);
        out->puts("      File \"");
        out->plain(f.file);
        out->printf("\", line %d, in ", f.line);
        out->plain(f.function);
        out->puts("\n");
      },
      &b);
}

// One thread's part of a report: Python first when there is Python.
void text_thread_stacks(Buf& b, const Stack* s, const char* py, const char* py_title, bool brief) {
  if (py) {
    text_py(b, py, py_title);
    b.puts("    native stack:\n");
    text_stack(b, s, 3);
  } else {
    text_stack(b, s, brief ? 3 : kMaxFrames);
  }
}

// Wraps the hint at about 100 columns.
void text_hint(Buf& b, const char* hint) {
  b.puts("HINT:");
  size_t col = 5;
  const char* p = hint;
  while (*p) {
    const char* sp = strchr(p, ' ');
    size_t len = sp ? size_t(sp - p) : strlen(p);
    if (col + 1 + len > 100 && col > 6) {
      b.puts("\n     ");
      col = 5;
    }
    b.puts(" ");
    b.add(p, len);
    col += 1 + len;
    p += len;
    while (*p == ' ') p++;
  }
  b.puts("\n");
}

// A frame of pyzmq's own Python code: the installed package, or its
// modules wherever the package sits (a wheel unpacked elsewhere), but not a
// program's own directory that happens to be named zmq.
bool pyzmq_frame(const char* file) {
  if (strstr(file, "-packages/zmq/")) return true;
  static const char* const kModules[] = {"/zmq/sugar/", "/zmq/_future.py", "/zmq/asyncio.py", "/zmq/green/",
                                         "/zmq/eventloop/", "/zmq/devices/", "/zmq/decorators.py",
                                         "/zmq/__init__.py"};
  for (const char* m : kModules)
    if (strstr(file, m)) return true;
  return false;
}

// A frame of the C runtime, the loader or the guard itself: never where a
// user looks (a thread's start_thread and clone, a process's
// __libc_start_main, libstdc++'s thread start, the guard's thread start).
bool system_frame(const Frame& fr) {
  const char* mod = strrchr(fr.module, '/');
  mod = mod ? mod + 1 : fr.module;
  static const char* const kModules[] = {"libc.so", "libc-", "libpthread", "ld-linux", "libgcc_s", "libstdc++",
                                         "libzmqguard"};
  for (const char* m : kModules)
    if (!strncmp(mod, m, strlen(m))) return true;
  static const char* const kFunctions[] = {"start_thread", "clone", "clone3", "__libc_start_main",
                                           "__libc_start_call", "_start"};
  for (const char* f : kFunctions)
    if (!strcmp(fr.function, f)) return true;
  return false;
}

// Where the offending thread is, in the user's terms: its innermost Python
// frame, else the first native frame with a name outside libzmq and the
// system's.
void culprit(Buf& b, const char* py_stack, const Stack* stack) {
  if (py_stack) {
    // pyzmq's own Python layer (the installed package's zmq/sugar, ...) is
    // not where the user looks; a program's own directory named zmq is.
    struct Last {
      PyFrame frame;
      bool have;
      PyFrame user;
      bool have_user;
    } last{};
    py_frames(
        py_stack,
        [](const PyFrame& fr, void* ctx) {
          auto* l = static_cast<Last*>(ctx);
          l->frame = fr;
          l->have = true;
          if (!pyzmq_frame(fr.file)) {
            l->user = fr;
            l->have_user = true;
          }
        },
        &last);
    if (last.have_user) last.frame = last.user;
    if (last.have) {
      const char* base = strrchr(last.frame.file, '/');
      b.puts(" in ");
      b.plain(last.frame.function);
      b.puts(" ");
      b.plain(base ? base + 1 : last.frame.file);
      b.printf(":%d", last.frame.line);
      return;
    }
  }
  if (!stack) return;
  // The user's frame, not the binding's: skip libzmq, czmq and cppzmq's
  // header (zmq::socket_t::recv is inlined into the caller's module).  A
  // stack with no frame of the user's names the innermost binding frame
  // (a czmq actor's function), never the C library's or the guard's
  // (start_thread, clone, __libc_start_main, the guard's thread start).
  int chosen = -1;
  Frame pick;
  for (int pass = 0; pass < 2 && chosen < 0; pass++) {
    for (int i = 0; i < stack->n; i++) {
      Frame fr;
      symbolize(stack->pc[i], true, &fr);
      if (!fr.function[0] || system_frame(fr)) continue;
      const char* mod = strrchr(fr.module, '/');
      mod = mod ? mod + 1 : fr.module;
      const char* file = strrchr(fr.file, '/');
      file = file ? file + 1 : fr.file;
      bool binding = !strncmp(mod, "libzmq", 6) || !strncmp(mod, "libczmq", 7) || !strncmp(fr.function, "zmq::", 5) ||
                     !strcmp(file, "zmq.hpp") || !strcmp(file, "zmq_addon.hpp");
      if (pass == 0 && binding) continue;
      chosen = i;
      pick = fr;
      break;
    }
  }
  if (chosen < 0) return;
  b.printf(" in %s", pick.function);
  if (pick.file[0]) {
    const char* base = strrchr(pick.file, '/');
    b.printf(" %s:%d", base ? base + 1 : pick.file, pick.line);
  }
}

void json_thread(Buf& b, const ThreadInfo& t) {
  if (!t.known) {
    b.puts("null");
    return;
  }
  b.printf("{\"serial\":%llu,\"tid\":%d,\"name\":", (unsigned long long)t.serial, (int)t.tid);
  b.json_str(t.name);
  b.puts(",\"python_name\":");
  b.json_str(t.py_name);
  b.printf(",\"running\":%s}", t.running == 1 ? "true" : t.running == 0 ? "false" : "null");
}

void json_stack(Buf& b, const Stack* s) {
  b.puts("[");
  for (int i = 0; s && i < s->n; i++) {
    Frame f;
    symbolize(s->pc[i], true, &f);
    if (i) b.puts(",");
    b.puts("{\"function\":");
    b.json_str(f.function);
    b.puts(",\"module\":");
    b.json_str(f.module);
    b.puts(",\"file\":");
    b.json_str(f.file);
    b.printf(",\"line\":%d,\"address\":\"%p\",\"offset\":\"0x%lx\"}", f.line, s->pc[i], (unsigned long)f.offset);
  }
  b.puts("]");
}

void json_py(Buf& b, const char* py) {
  if (!py) {
    b.puts("null");
    return;
  }
  struct Ctx {
    Buf* b;
    bool first;
  } ctx{&b, true};
  b.puts("[");
  py_frames(
      py,
      [](const PyFrame& f, void* p) {
        auto* c = static_cast<Ctx*>(p);
        if (!c->first) c->b->puts(",");
        c->first = false;
        c->b->puts("{\"file\":");
        c->b->json_str(f.file);
        c->b->printf(",\"line\":%d,\"function\":", f.line);
        c->b->json_str(f.function);
        c->b->puts("}");
      },
      &ctx);
  b.puts("]");
}

}  // namespace

const char* socket_type_name(int type) {
  static const char* const names[] = {"PAIR",   "PUB",     "SUB",     "REQ",    "REP",  "DEALER", "ROUTER",
                                      "PULL",   "PUSH",    "XPUB",    "XSUB",   "STREAM", "SERVER", "CLIENT",
                                      "RADIO",  "DISH",    "GATHER",  "SCATTER", "DGRAM", "PEER",   "CHANNEL"};
  if (type >= 0 && type < (int)(sizeof names / sizeof names[0])) return names[type];
  return "UNKNOWN";
}

char* report_format_text(const Finding& f) {
  Buf b;
  int pid = getpid();
  b.puts("=================================================================\n");
  b.printf("==%d==%s: zmq-guard: %s: %s\n", pid, f.severity, finding_name(f.kind), finding_title(f.kind));
  if (f.socket) {
    b.printf("  socket %p (%s, #%llu)", f.socket, socket_type_name(f.socket_type), (unsigned long long)f.socket_id);
    if (f.endpoints && f.endpoints[0]) {
      char joined[600];
      endpoints_join(f.endpoints, joined, sizeof joined);
      b.puts(", ");
      b.plain(joined);
    }
    b.puts("\n");
  }
  bool brief = f.kind == FindingKind::SharedSocket || f.kind == FindingKind::Leak;
  b.puts("\n  ");
  thread_label(b, f.thread, false);
  b.printf(" calls %s:\n", f.call);
  text_thread_stacks(b, f.stack, f.py_stack, "Python traceback of this thread", brief);
  bool inside = f.kind == FindingKind::ConcurrentCall || f.kind == FindingKind::CloseWhileInUse;
  bool is_owner = !strncmp(f.owner_role, "owner", 5);
  if (f.owner.known) {
    b.printf("\n  %s: ", is_owner ? "owner" : f.owner_role);
    thread_label(b, f.owner, !inside);  // it was inside a call when seen
    if (inside) b.puts(is_owner ? ", inside a call on this socket at the same time" : "");
    if (f.owner_stack && f.owner_stack->n) {
      b.printf("%s took the socket%s%s here:\n", inside ? "; it" : ", which", f.owner_call ? " with " : "",
               f.owner_call ? f.owner_call : "");
      text_thread_stacks(b, f.owner_stack, f.owner_py, "Python traceback where it took the socket", brief);
    } else {
      b.puts("\n");
    }
  }
  if (f.creator.known || (f.created_stack && f.created_stack->n)) {
    b.puts("\n  socket created by ");
    thread_label(b, f.creator, true);
    b.puts(" here:\n");
    text_thread_stacks(b, f.created_stack, f.created_py, "Python traceback where it was created", brief);
  }
  if (f.extra && f.extra[0]) {
    b.puts("\n");
    b.puts(f.extra);
    if (f.extra[strlen(f.extra) - 1] != '\n') b.puts("\n");
  }
  b.puts("\n");
  text_hint(b, f.hint ? f.hint : default_hint(f.kind));
  // One line with both sides in the user's terms.
  b.printf("SUMMARY: zmq-guard: %s %s", finding_name(f.kind), f.call);
  if (f.socket) b.printf(" on %s socket %p", socket_type_name(f.socket_type), f.socket);
  if (f.thread.known) {
    const char* name = f.thread.py_name[0] ? f.thread.py_name : f.thread.name;
    b.printf(" by T%llu", (unsigned long long)f.thread.serial);
    if (name[0]) quoted_name(b, name);
  }
  culprit(b, f.py_stack, f.stack);
  if (f.owner.known) {
    const char* name = f.owner.py_name[0] ? f.owner.py_name : f.owner.name;
    const char* who = is_owner ? "owner" : f.kind == FindingKind::SharedSocket ? "first used by" : "other thread";
    b.printf("; %s T%llu", who, (unsigned long long)f.owner.serial);
    if (name[0]) quoted_name(b, name);
    if (inside) b.puts(" was inside a call on it");
    if (f.owner_stack && f.owner_stack->n) {
      if (f.kind != FindingKind::SharedSocket) b.puts(inside ? ", took it" : " took it");
      culprit(b, f.owner_py, f.owner_stack);
    }
  }
  b.puts("\n=================================================================\n");
  return b.release();
}

char* report_format_json(const Finding& f) {
  Buf b;
  b.puts("{\"kind\":");
  b.json_str(finding_name(f.kind));
  b.puts(",\"severity\":");
  b.json_str(f.severity);
  b.puts(",\"call\":");
  b.json_str(f.call);
  char sock[32];
  snprintf(sock, sizeof sock, "%p", f.socket);
  b.puts(",\"socket\":");
  if (f.socket) b.json_str(sock);
  else b.puts("null");
  b.printf(",\"socket_id\":%llu,\"socket_type\":", (unsigned long long)f.socket_id);
  b.json_str(f.socket ? socket_type_name(f.socket_type) : "");
  b.puts(",\"endpoints\":[");
  for (const char* p = f.endpoints; p && *p; p = endpoints_next(p)) {
    if (p != f.endpoints) b.puts(",");
    b.json_str(p);
  }
  b.printf("],\"pid\":%d,\"mode\":", getpid());
  b.json_str(f.mode);
  b.puts(",\"policy\":");
  b.json_str(f.policy);
  b.puts(",\"thread\":");
  json_thread(b, f.thread);
  b.puts(",\"owner\":");
  json_thread(b, f.owner);
  b.puts(",\"owner_role\":");
  b.json_str(f.owner_role);
  b.puts(",\"creator\":");
  json_thread(b, f.creator);
  b.puts(",\"stack\":");
  json_stack(b, f.stack);
  b.puts(",\"owner_stack\":");
  json_stack(b, f.owner_stack);
  b.puts(",\"created_stack\":");
  json_stack(b, f.created_stack);
  b.puts(",\"python_stack\":");
  json_py(b, f.py_stack);
  b.puts(",\"owner_python_stack\":");
  json_py(b, f.owner_py);
  b.puts(",\"created_python_stack\":");
  json_py(b, f.created_py);
  b.puts(",\"detail\":");
  b.json_str(f.extra ? f.extra : "");
  b.puts("}\n");
  return b.release();
}

void endpoints_add(char* list, size_t size, const char* verb, const char* addr) {
  const char* end = list;
  while (*end) end = endpoints_next(end);
  // Room for the entry, its NUL and the empty entry after it; the last
  // byte of the buffer is never written, so the list always ends.
  size_t used = size_t(end - list);
  if (size < used + 3) return;
  snprintf(list + used, size - used - 1, "%s %s", verb, addr);
}

void endpoints_join(const char* list, char* out, size_t size) {
  size_t n = 0;
  out[0] = 0;
  for (const char* p = list; *p && n + 1 < size; p = endpoints_next(p))
    n += size_t(snprintf(out + n, size - n, "%s%s", p == list ? "" : "; ", p));
}

void report_emit(const Finding& f) {
  sink_lock();
  char* text = report_format_text(f);
  sink_write_text(text, strlen(text));
  free(text);
  if (sink_has_json()) {
    char* json = report_format_json(f);
    sink_write_json(json, strlen(json));
    free(json);
  }
  sink_unlock();
}

}  // namespace zg
