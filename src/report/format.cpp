// SPDX-License-Identifier: MIT
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
#include "report/script.h"
#include "report/sink.h"
#include "report/stack_text.h"
#include "report/symbolize.h"
#include "report/text.h"
#include "report/user_frame.h"

namespace zg {
namespace {

using Buf = TextBuf;

// ` "name"`, as the program named the thread.
void quoted_name(Buf& b, const char* name) {
  b.puts(" \"");
  b.plain(name);
  b.puts("\"");
}

// The name a report shows: the Python name when there is one (the OS name
// of a Python thread is just "python3"), the Ruby name (the OS keeps 15
// bytes of it), else the OS name.
const char* shown_name(const ThreadInfo& t) { return t.py_name[0] ? t.py_name : t.rb_name[0] ? t.rb_name : t.name; }

// `thread T3 "receiver" (tid 18396, running)`.
void thread_label(Buf& b, const ThreadInfo& t, bool state) {
  if (!t.known) {
    b.puts("an unknown thread");
    return;
  }
  b.printf("thread T%llu", (unsigned long long)t.serial);
  const char* name = shown_name(t);
  if (name[0]) quoted_name(b, name);
  b.printf(" (tid %d", (int)t.tid);
  if (state && t.running == 1) b.puts(", running");
  else if (state && t.running == 0) b.puts(", exited");
  b.puts(")");
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

// The test the process was running at the moment of the finding: pytest's
// PYTEST_CURRENT_TEST ("path::test (call)") without its phase, else "".
void current_test(char* out, size_t size) {
  out[0] = 0;
  const char* t = getenv("PYTEST_CURRENT_TEST");
  if (!t) return;
  snprintf(out, size, "%s", t);
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
  b.puts(",\"ruby_name\":");
  b.json_str(t.rb_name);
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
  const bool inside = finding_inside(f.kind);
  const bool first_user = finding_info(f.kind).other == OtherThread::FirstUser;
  const bool is_owner = !strncmp(f.owner_role, "owner", 5);
  b.printf("SUMMARY: zmq-guard: %s %s", finding_name(f.kind), f.call);
  if (f.socket) b.printf(" on %s socket %p", socket_type_name(f.socket_type), f.socket);
  if (f.thread.known) {
    const char* name = shown_name(f.thread);
    b.printf(" by T%llu", (unsigned long long)f.thread.serial);
    if (name[0]) quoted_name(b, name);
  }
  culprit(b, me);
  if (f.owner.known) {
    const char* name = shown_name(f.owner);
    const char* who = is_owner ? "owner" : first_user ? "first used by" : "other thread";
    b.printf("; %s T%llu", who, (unsigned long long)f.owner.serial);
    if (name[0]) quoted_name(b, name);
    if (inside) b.puts(" was inside a call on it");
    if (f.owner_stack && f.owner_stack->n) {
      if (!first_user) b.puts(inside ? ", took it" : " took it");
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
  bool brief = finding_is_info(f.kind);
  b.puts("\n  ");
  thread_label(b, f.thread, false);
  b.printf(" calls %s:\n", f.call);
  text_thread_stacks(b, f.stack, f.py_stack, "Python traceback of this thread", brief, f.script_stack);
  bool inside = finding_inside(f.kind);
  bool is_owner = !strncmp(f.owner_role, "owner", 5);
  if (f.owner.known) {
    b.printf("\n  %s: ", is_owner ? "owner" : f.owner_role);
    thread_label(b, f.owner, !inside);  // it was inside a call when seen
    if (inside) b.puts(is_owner ? ", inside a call on this socket at the same time" : "");
    if (f.owner_stack && f.owner_stack->n) {
      b.printf("%s took the socket%s%s here:\n", inside ? "; it" : ", which", f.owner_call ? " with " : "",
               f.owner_call ? f.owner_call : "");
      text_thread_stacks(b, f.owner_stack, f.owner_py, "Python traceback where it took the socket", brief,
                         f.owner_script);
    } else {
      b.puts("\n");
    }
  }
  if (f.creator.known || (f.created_stack && f.created_stack->n)) {
    b.puts("\n  socket created by ");
    thread_label(b, f.creator, true);
    b.puts(" here:\n");
    text_thread_stacks(b, f.created_stack, f.created_py, "Python traceback where it was created", brief,
                       f.created_script);
  }
  if (f.extra && f.extra[0]) {
    b.puts("\n");
    b.puts(f.extra);
    if (f.extra[strlen(f.extra) - 1] != '\n') b.puts("\n");
  }
  b.puts("\n");
  text_hint(b, f.hint ? f.hint : finding_hint(f.kind));
  summary_line(b, f, user_frame(f.py_stack, f.stack, f.script_stack), user_frame(f.owner_py, f.owner_stack, f.owner_script));
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
  script_json_fields(b, "", f.script_stack);
  script_json_fields(b, "owner_", f.owner_script);
  script_json_fields(b, "created_", f.created_script);
  b.puts(",\"detail\":");
  b.json_str(f.extra ? f.extra : "");
  UserFrame me = user_frame(f.py_stack, f.stack, f.script_stack), other = user_frame(f.owner_py, f.owner_stack, f.owner_script);
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
