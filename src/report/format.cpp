#include "report/format.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "core/options.h"
#include "report/frames.h"
#include "report/python.h"
#include "report/ruby.h"
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

// threading.py's own frames start every thread's traceback; they are noise.
bool bootstrap_frame(const PyFrame& f) {
  const char* base = strrchr(f.file, '/');
  if (!base || strcmp(base, "/threading.py") != 0) return false;
  return !strcmp(f.function, "_bootstrap") || !strcmp(f.function, "_bootstrap_inner") || !strcmp(f.function, "run");
}

bool all_frames() { return options().frames == 1; }

// The distinct names a fold line lists: at most three, then "...".
struct FoldNames {
  char names[3][96] = {};
  int n = 0;
  bool more = false;
  void add(const char* name) {
    for (int i = 0; i < n; i++)
      if (!strcmp(names[i], name)) return;
    if (n == 3) {
      more = true;
      return;
    }
    size_t k = strnlen(name, sizeof names[0] - 1);
    memcpy(names[n], name, k);
    names[n++][k] = 0;
  }
};

// "... 34 frames in _pytest, pluggy, <frozen runpy> (frames=all shows them)"
void fold_line(Buf& b, const char* indent, int count, const FoldNames& names, bool dots = true) {
  b.printf("%s%s%d frame%s in ", indent, dots ? "... " : "", count, count == 1 ? "" : "s");
  for (int i = 0; i < names.n; i++) {
    if (i) b.puts(", ");
    b.plain(names.names[i]);
  }
  if (names.more) b.puts(", ...");
  b.puts(" (frames=all shows them)\n");
}

struct PyList {
  static constexpr int kMax = 128;
  PyFrame frames[kMax];
  FrameClass cls[kMax];
  int n = 0;
};

// A Python traceback, oldest call first.  With frames=user it starts at the
// outermost frame of the program's own code (the test function under
// pytest, a script's <module>), and what the program's last frame called
// (pyzmq's layer) is one counted line; a traceback with no frame of the
// program's own is shown whole.
void text_py(Buf& b, const char* py, const char* title) {
  if (!py) return;
  auto* list = static_cast<PyList*>(calloc(1, sizeof(PyList)));
  if (!list) return;
  py_frames(
      py,
      [](const PyFrame& f, void* ctx) {
        auto* l = static_cast<PyList*>(ctx);
        if (bootstrap_frame(f) || l->n >= PyList::kMax) return;
        l->cls[l->n] = classify_python(f);
        l->frames[l->n++] = f;
      },
      list);
  int first = 0, last = list->n - 1;
  if (!all_frames()) {
    int fu = -1, lu = -1;
    for (int i = 0; i < list->n; i++)
      if (list->cls[i] == FrameClass::User) {
        if (fu < 0) fu = i;
        lu = i;
      }
    if (fu >= 0) first = fu, last = lu;
  }
  b.printf("    %s (most recent call last):\n", title);
  auto fold = [&](int from, int to) {  // [from, to)
    if (to <= from) return;
    FoldNames names;
    for (int i = from; i < to; i++) {
      char shortname[512];
      python_short_name(list->frames[i].file, shortname, sizeof shortname);
      // Outer frames by package (pytest's are dozens of files), inner ones
      // by file (the one or two of pyzmq's that the call went through).
      if (to == first) {
        char* slash = strchr(shortname, '/');
        if (slash && shortname[0] != '<') *slash = 0;
        else if (char* dot = strstr(shortname, ".py")) *dot = 0;
      }
      names.add(shortname);
    }
    fold_line(b, "      ", to - from, names);
  };
  fold(0, first);
  for (int i = first; i <= last && i < list->n; i++) {
    const PyFrame& f = list->frames[i];
    b.puts("      File \"");
    b.plain(f.file);
    b.printf("\", line %d, in ", f.line);
    b.plain(f.function);
    b.puts("\n");
  }
  fold(last + 1, list->n);
  free(list);
}

// Native frames.  With frames=user: beside a Python traceback only the
// program's own (a C extension of its own) are shown; without one, all but
// the runtime's.  Each run of hidden frames is one counted line; a stack
// with nothing to show beside its Python traceback is one line.  A frame
// of the program's own without a name says how to get names.
void text_native(Buf& b, const Stack* s, bool has_py, bool brief) {
  if (!s || s->n == 0) {
    if (has_py) b.puts("    native stack:\n");
    b.puts("    <no stack>\n");
    return;
  }
  if (all_frames()) {
    if (has_py) b.puts("    native stack:\n");
    b.stack(s, "    ");
    return;
  }
  // On the heap: a report runs on the program's threads, whose stacks
  // may be small.
  auto* frames = static_cast<Frame*>(calloc(kMaxFrames, sizeof(Frame)));
  if (!frames) {
    b.stack(s, "    ");
    return;
  }
  bool show[kMaxFrames];
  int shown = 0;
  for (int i = 0; i < s->n; i++) {
    symbolize(s->pc[i], true, &frames[i]);
    FrameClass c = classify_native(frames[i]);
    show[i] = has_py ? c == FrameClass::User : c != FrameClass::Runtime;
    // A brief report (a notice) shows the first few only.
    if (show[i] && brief && shown >= 3) show[i] = false;
    if (show[i]) shown++;
  }
  if (has_py && shown == 0) {
    FoldNames names;
    for (int i = 0; i < s->n; i++) names.add(frames[i].module[0] ? module_base(frames[i].module) : "?");
    fold_line(b, "    native stack: ", s->n, names, false);
    free(frames);
    return;
  }
  if (has_py) b.puts("    native stack:\n");
  char stripped[256] = {};
  for (int i = 0; i < s->n;) {
    if (show[i]) {
      b.frame_line(i, s->pc[i], frames[i], "    ");
      if (!frames[i].function[0] && !stripped[0] && classify_native(frames[i]) == FrameClass::User)
        snprintf(stripped, sizeof stripped, "%s", frames[i].module);
      i++;
      continue;
    }
    FoldNames names;
    int j = i;
    for (; j < s->n && !show[j]; j++) names.add(frames[j].module[0] ? module_base(frames[j].module) : "?");
    fold_line(b, "    ", j - i, names);
    i = j;
  }
  if (stripped[0]) {
    char id[96];
    b.puts("    (");
    b.plain(module_base(stripped));
    b.puts(" has no symbols: install its debug symbols (its -dbgsym or -dbg package) or build it with -g");
    if (module_build_id(stripped, id, sizeof id)) b.printf("; build-id %s", id);
    b.puts(")\n");
  }
  free(frames);
}

// One thread's part of a report: Python first when there is Python.
void text_thread_stacks(Buf& b, const Stack* s, const char* py, const char* py_title, bool brief,
                        const char* rb = nullptr) {
  if (py) text_py(b, py, py_title);
  if (rb) ruby_text(b, rb, py_title);
  if (rb && (!s || s->n == 0)) return;  // a Ruby creation keeps no native frames (guard.cpp)
  text_native(b, s, py != nullptr, brief);
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

// The frame a user recognizes as where a thread was, in the user's terms:
// its innermost Python frame outside pyzmq's own layer, else the first
// named native frame outside libzmq and the bindings.
struct UserFrame {
  bool have = false;
  bool python = false;
  bool ruby = false;
  char function[256] = {};
  char file[512] = {};
  char module[256] = {};
  uintptr_t offset = 0;
  int line = 0;
};

void copy_field(char* out, size_t size, const char* in) {
  snprintf(out, size, "%s", in ? in : "");
}

// "/a/b/../c/./d" becomes "/a/c/d", in place (no file system access: the
// file may exist only on the machine that built the program).
void normalize_path(char* path) {
  char* parts[128];
  int n = 0;
  char copy[512];
  copy_field(copy, sizeof copy, path);
  for (char* save = nullptr, *t = strtok_r(copy, "/", &save); t; t = strtok_r(nullptr, "/", &save)) {
    if (!strcmp(t, ".")) continue;
    if (!strcmp(t, "..")) {
      if (n > 0 && strcmp(parts[n - 1], "..")) n--;
      continue;
    }
    if (n < 128) parts[n++] = t;
  }
  size_t len = 0, size = 512;
  path[0] = 0;
  for (int i = 0; i < n && len + 1 < size; i++) len += size_t(snprintf(path + len, size - len, "/%s", parts[i]));
}

// How well a frame names where a thread was, for SUMMARY: the program's
// own code first, then a library, then the binding (pyzmq's layer, libzmq,
// czmq, cppzmq); never the runtime (libc's start_thread, the interpreter).
int rank_python(const PyFrame& f) {
  switch (classify_python(f)) {
    case FrameClass::User: return pyzmq_file(f.file) ? 1 : 3;  // a checkout of pyzmq is still pyzmq
    case FrameClass::Library: return pyzmq_file(f.file) ? 1 : 2;
    case FrameClass::Runtime: return 0;
  }
  return 0;
}

int rank_native(const Frame& f) {
  switch (classify_native(f)) {
    case FrameClass::User: return native_binding(f) ? 1 : 3;
    case FrameClass::Library: return native_binding(f) ? 1 : 2;
    case FrameClass::Runtime: return 0;
  }
  return 0;
}

UserFrame user_frame(const char* py_stack, const Stack* stack, const char* rb_stack) {
  UserFrame u;
  // The innermost frame of the best rank, Python before native at equal
  // rank (a Python program's own line says more than its interpreter's C).
  struct Best {
    PyFrame frame;
    int rank;
  } py{};
  if (py_stack)
    py_frames(
        py_stack,
        [](const PyFrame& fr, void* ctx) {
          auto* b = static_cast<Best*>(ctx);
          int r = rank_python(fr);
          if (r > 0 && r >= b->rank) {
            b->frame = fr;
            b->rank = r;
          }
        },
        &py);
  Frame native;
  int native_rank = 0;
  for (int i = 0; stack && i < stack->n; i++) {
    Frame fr;
    symbolize(stack->pc[i], true, &fr);
    int r = rank_native(fr);
    // A frame with neither a name nor a file names nothing, unless it is
    // the program's own (a stripped executable: module+offset).
    if (!fr.function[0] && r != 3) continue;
    if (r > native_rank) {
      native = fr;
      native_rank = r;
    }
  }
  RbFrame rb;
  const int rb_rank = rb_stack ? ruby_best_frame(rb_stack, &rb) : 0;
  if (rb_rank > 0 && rb_rank >= native_rank && rb_rank >= py.rank) {  // as a Python frame, for Ruby
    u.have = u.ruby = true;
    copy_field(u.function, sizeof u.function, rb.label);
    copy_field(u.file, sizeof u.file, rb.file);
    u.line = rb.line;
    return u;
  }
  if (py.rank > 0 && py.rank >= native_rank) {
    u.have = u.python = true;
    copy_field(u.function, sizeof u.function, py.frame.function);
    copy_field(u.file, sizeof u.file, py.frame.file);
    u.line = py.frame.line;
    return u;
  }
  if (native_rank == 0) return u;
  u.have = true;
  copy_field(u.function, sizeof u.function, native.function);
  if (native.file[0] && native.file[0] != '/' && native.dir[0] == '/') {
    // A CI annotation needs the file itself, not a path relative to
    // wherever the compiler ran.
    snprintf(u.file, sizeof u.file, "%s/%s", native.dir, native.file);
    normalize_path(u.file);
  } else {
    copy_field(u.file, sizeof u.file, native.file);
  }
  copy_field(u.module, sizeof u.module, native.module);
  u.offset = native.offset;
  u.line = native.line;
  return u;
}

// " in send_requests client.py:27": where a thread was, for SUMMARY.
void culprit(Buf& b, const UserFrame& u) {
  if (!u.have) return;
  b.puts(" in ");
  if (!u.function[0]) {  // a stripped module of the program's own
    b.plain(module_base(u.module));
    b.printf("+0x%lx", (unsigned long)u.offset);
    return;
  }
  b.plain(u.function);
  if (u.file[0]) {
    b.puts(" ");
    b.plain(module_base(u.file));
    b.printf(":%d", u.line);
  }
}

void json_user_frame(Buf& b, const UserFrame& u) {
  if (!u.have) {
    b.puts("null");
    return;
  }
  b.puts("{\"function\":");
  b.json_str(u.function);
  b.puts(",\"file\":");
  b.json_str(u.file);
  b.printf(",\"line\":%d,\"module\":", u.line);
  b.json_str(u.module);
  b.printf(",\"offset\":\"0x%lx\"", (unsigned long)u.offset);
  b.printf(",\"python\":%s,\"ruby\":%s}", u.python ? "true" : "false", u.ruby ? "true" : "false");
}

// The test the process was running at the moment of the finding: pytest's
// PYTEST_CURRENT_TEST ("path::test (call)") without its phase, else "".
void current_test(char* out, size_t size) {
  out[0] = 0;
  const char* t = getenv("PYTEST_CURRENT_TEST");
  if (!t) return;
  copy_field(out, size, t);
  size_t n = strlen(out);
  if (n && out[n - 1] == ')') {
    char* open = strrchr(out, '(');
    if (open && open > out && open[-1] == ' ') open[-1] = 0;
  }
}

// The process's command line, its arguments joined with spaces (cut to fit).
void command_line(char* out, size_t size) {
  out[0] = 0;
  int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read(fd, out, size - 1);
  close(fd);
  if (n <= 0) return;
  out[n] = 0;
  while (n > 0 && out[n - 1] == 0) n--;
  for (ssize_t i = 0; i < n; i++)
    if (out[i] == 0) out[i] = ' ';
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
    b.printf(",\"line\":%d,\"address\":\"%p\",\"offset\":\"0x%lx\",\"class\":\"%s\"}", f.line, s->pc[i],
             (unsigned long)f.offset, frame_class_name(classify_native(f)));
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
        c->b->printf(",\"class\":\"%s\"}", frame_class_name(classify_python(f)));
      },
      &ctx);
  b.puts("]");
}

// What the merged summary of a run needs of the process: its test and
// command line.
void json_process(Buf& b) {
  char test[256], cmd[512];
  current_test(test, sizeof test);
  command_line(cmd, sizeof cmd);
  b.puts(",\"test\":");
  b.json_str(test);
  b.puts(",\"cmdline\":");
  b.json_str(cmd);
}

}  // namespace

const char* finding_hint(FindingKind k) { return default_hint(k); }

const char* socket_type_name(int type) {
  static const char* const names[] = {"PAIR",   "PUB",     "SUB",     "REQ",    "REP",  "DEALER", "ROUTER",
                                      "PULL",   "PUSH",    "XPUB",    "XSUB",   "STREAM", "SERVER", "CLIENT",
                                      "RADIO",  "DISH",    "GATHER",  "SCATTER", "DGRAM", "PEER",   "CHANNEL"};
  if (type >= 0 && type < (int)(sizeof names / sizeof names[0])) return names[type];
  return "UNKNOWN";
}

namespace {

// "SUMMARY: zmq-guard: ...": one line with both sides in the user's terms.
void summary_line(Buf& b, const Finding& f, const UserFrame& me, const UserFrame& other) {
  const bool inside = f.kind == FindingKind::ConcurrentCall || f.kind == FindingKind::CloseWhileInUse;
  const bool is_owner = !strncmp(f.owner_role, "owner", 5);
  b.printf("SUMMARY: zmq-guard: %s %s", finding_name(f.kind), f.call);
  if (f.socket) b.printf(" on %s socket %p", socket_type_name(f.socket_type), f.socket);
  if (f.thread.known) {
    const char* name = f.thread.py_name[0] ? f.thread.py_name : f.thread.name;
    b.printf(" by T%llu", (unsigned long long)f.thread.serial);
    if (name[0]) quoted_name(b, name);
  }
  culprit(b, me);
  if (f.owner.known) {
    const char* name = f.owner.py_name[0] ? f.owner.py_name : f.owner.name;
    const char* who = is_owner ? "owner" : f.kind == FindingKind::SharedSocket ? "first used by" : "other thread";
    b.printf("; %s T%llu", who, (unsigned long long)f.owner.serial);
    if (name[0]) quoted_name(b, name);
    if (inside) b.puts(" was inside a call on it");
    if (f.owner_stack && f.owner_stack->n) {
      if (f.kind != FindingKind::SharedSocket) b.puts(inside ? ", took it" : " took it");
      culprit(b, other);
    }
  }
}

}  // namespace

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
  char test[256];
  current_test(test, sizeof test);
  if (test[0]) {
    b.puts("  in test ");
    b.plain(test);
    b.puts("\n");
  }
  bool brief = f.kind == FindingKind::SharedSocket || f.kind == FindingKind::Leak;
  b.puts("\n  ");
  thread_label(b, f.thread, false);
  b.printf(" calls %s:\n", f.call);
  text_thread_stacks(b, f.stack, f.py_stack, "Python traceback of this thread", brief, f.rb_stack);
  bool inside = f.kind == FindingKind::ConcurrentCall || f.kind == FindingKind::CloseWhileInUse;
  bool is_owner = !strncmp(f.owner_role, "owner", 5);
  if (f.owner.known) {
    b.printf("\n  %s: ", is_owner ? "owner" : f.owner_role);
    thread_label(b, f.owner, !inside);  // it was inside a call when seen
    if (inside) b.puts(is_owner ? ", inside a call on this socket at the same time" : "");
    if (f.owner_stack && f.owner_stack->n) {
      b.printf("%s took the socket%s%s here:\n", inside ? "; it" : ", which", f.owner_call ? " with " : "",
               f.owner_call ? f.owner_call : "");
      text_thread_stacks(b, f.owner_stack, f.owner_py, "Python traceback where it took the socket", brief,
                         f.owner_rb);
    } else {
      b.puts("\n");
    }
  }
  if (f.creator.known || (f.created_stack && f.created_stack->n)) {
    b.puts("\n  socket created by ");
    thread_label(b, f.creator, true);
    b.puts(" here:\n");
    text_thread_stacks(b, f.created_stack, f.created_py, "Python traceback where it was created", brief,
                       f.created_rb);
  }
  if (f.extra && f.extra[0]) {
    b.puts("\n");
    b.puts(f.extra);
    if (f.extra[strlen(f.extra) - 1] != '\n') b.puts("\n");
  }
  b.puts("\n");
  text_hint(b, f.hint ? f.hint : default_hint(f.kind));
  summary_line(b, f, user_frame(f.py_stack, f.stack, f.rb_stack), user_frame(f.owner_py, f.owner_stack, f.owner_rb));
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
  b.puts(",\"ruby_stack\":");
  ruby_json(b, f.rb_stack);
  b.puts(",\"owner_ruby_stack\":");
  ruby_json(b, f.owner_rb);
  b.puts(",\"created_ruby_stack\":");
  ruby_json(b, f.created_rb);
  b.puts(",\"detail\":");
  b.json_str(f.extra ? f.extra : "");
  UserFrame me = user_frame(f.py_stack, f.stack, f.rb_stack), other = user_frame(f.owner_py, f.owner_stack, f.owner_rb);
  b.puts(",\"user_frame\":");
  json_user_frame(b, me);
  b.puts(",\"owner_user_frame\":");
  json_user_frame(b, f.owner_stack && f.owner_stack->n ? other : UserFrame());
  Buf line;
  summary_line(line, f, me, other);
  b.puts(",\"summary\":");
  b.json_str(line.p ? line.p : "");
  json_process(b);
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

char* report_format_suppressed_json(FindingKind kind, const char* call) {
  Buf b;
  b.puts("{\"kind\":");
  b.json_str(finding_name(kind));
  b.puts(",\"suppressed\":true,\"call\":");
  b.json_str(call);
  b.printf(",\"pid\":%d", getpid());
  json_process(b);
  b.puts("}\n");
  return b.release();
}

void report_suppressed(FindingKind kind, const char* call) {
  if (!options_session()[0]) return;
  sink_lock();
  char* json = report_format_suppressed_json(kind, call);
  sink_write_session(json, strlen(json));
  free(json);
  sink_unlock();
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
