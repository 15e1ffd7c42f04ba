// SPDX-License-Identifier: MIT
// Reports: stable, sanitizer-like text that tests and people can read, and
// one JSON object per finding.  The report layer formats and writes; it
// never decides what is a finding or what happens next.
#pragma once
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "core/findings.h"
#include "report/ruby_names.h"
#include "report/stack.h"

namespace zg {

struct ThreadInfo {
  bool known = false;
  uint64_t serial = 0;
  pid_t tid = 0;
  char name[16] = {};
  char py_name[64] = {};
  char rb_name[kRbNameLen] = {};  // Thread#name, whole (report/ruby_names.h)
  int running = -1;  // 1 running, 0 exited, -1 unknown
  unsigned long ident = 0;  // pthread_self() while running (Python's threading.get_ident())
};

struct Finding {
  FindingKind kind = FindingKind::None;
  const char* severity = "ERROR";  // ERROR, WARNING or INFO
  const char* call = "";
  void* socket = nullptr;
  uint64_t socket_id = 0;
  int socket_type = -1;
  const char* endpoints = "";  // a list as endpoints_add keeps it ("": none)
  const char* mode = "";
  const char* policy = "";

  ThreadInfo thread;  // the offending (calling) thread
  const Stack* stack = nullptr;
  const char* py_stack = nullptr;
  const char* script_stack = nullptr;  // Ruby, Perl, ... frames as text (report/script.h)

  ThreadInfo owner;  // the owner, or the other thread inside a call
  const char* owner_role = "owner";
  const Stack* owner_stack = nullptr;
  const char* owner_py = nullptr;
  const char* owner_script = nullptr;
  const char* owner_call = nullptr;

  ThreadInfo creator;
  const Stack* created_stack = nullptr;
  const char* created_py = nullptr;
  const char* created_script = nullptr;

  const char* extra = nullptr;  // further lines (e.g. the sockets left open)
  const char* hint = nullptr;   // overrides the default hint of the kind
};

const char* socket_type_name(int type);

// A socket's endpoints as the guard keeps them (SocketState::endpoints,
// Finding::endpoints): entries "verb address", each ending in a NUL, then
// an empty entry.  An address may hold any byte but NUL ("; " and newlines
// included), so the list is never split on a separator.  The list lives in
// a zeroed buffer of `size` bytes; an entry that does not fit is cut.
void endpoints_add(char* list, size_t size, const char* verb, const char* addr);
inline const char* endpoints_next(const char* entry) { return entry + strlen(entry) + 1; }
// The list joined with "; " into out, for text (cut to fit).
void endpoints_join(const char* list, char* out, size_t size);

// Formats and writes one report (text and, if configured, JSON) under the
// sink lock.
void report_emit(const Finding& f);

// A finding a suppression matched: one JSON line ({"kind", "suppressed":
// true, "call", "pid", "test", "cmdline"}) to the wrapper's session only,
// so that the run's summary counts it; no text, nothing in json_path.
void report_suppressed(FindingKind kind, const char* call);

// The formatted text of a report (malloc'd), for unit tests.
char* report_format_text(const Finding& f);
char* report_format_json(const Finding& f);
char* report_format_suppressed_json(FindingKind kind, const char* call);

}  // namespace zg
