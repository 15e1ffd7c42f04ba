#include "core/lifecycle.h"

#include <errno.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/guard.h"
#include "core/serialize.h"
#include "core/options.h"
#include "core/threads.h"
#include "report/python.h"
#include "report/sink.h"
#include "report/symbolize.h"

namespace zg {
namespace {

struct Rule {
  int kind;  // FindingKind, or -1 for any
  char pattern[256];
};
constexpr int kMaxRules = 256;
Rule g_rules[kMaxRules];
int g_nrules = 0;

void fork_prepare() {
  registry_fork_prepare();
  threads_fork_prepare();
}
void fork_parent() {
  threads_fork_parent();
  registry_fork_parent();
}
void fork_child() {
  g_fork_gen++;
  threads_after_fork_child();
  registry_fork_child();
  sink_after_fork_child();
  symbolize_reset();
}

bool match_frame(const char* pattern, const char* text) {
  if (!text || !text[0]) return false;
  if (fnmatch(pattern, text, 0) == 0) return true;
  const char* base = strrchr(text, '/');
  return base && fnmatch(pattern, base + 1, 0) == 0;
}

}  // namespace

int suppressions_load(const char* path) {
  FILE* f = fopen(path, "re");
  if (!f) {
    sink_notice("zmq-guard: cannot read suppressions file '%s': %s; running without suppressions", path,
                strerror(errno));
    return -1;
  }
  char line[512];
  int lineno = 0, loaded = 0;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ')) line[--n] = 0;
    char* p = line;
    while (*p == ' ' || *p == '\t') p++;
    if (!*p || *p == '#') continue;
    char* colon = strchr(p, ':');
    int kind = -2;
    if (colon) {
      *colon = 0;
      if (!strcmp(p, "*")) kind = -1;
      for (int k = 1; k < static_cast<int>(FindingKind::Count); k++)
        if (!strcmp(p, finding_name(static_cast<FindingKind>(k)))) kind = k;
    }
    if (!colon || kind == -2 || !colon[1]) {
      if (colon) *colon = ':';
      sink_notice(
          "zmq-guard: suppressions %s:%d: expected 'kind:pattern' with kind one of cross_thread, concurrent_call, "
          "close_while_in_use, use_after_close, use_after_fork, ctx_term_open_sockets, leak or *; got '%s'; line "
          "ignored",
          path, lineno, p);
      continue;
    }
    if (g_nrules < kMaxRules) {
      g_rules[g_nrules].kind = kind;
      snprintf(g_rules[g_nrules].pattern, sizeof g_rules[g_nrules].pattern, "%s", colon + 1);
      g_nrules++;
      loaded++;
    }
  }
  if (ferror(f)) {
    // fopen() accepts a directory; the read fails (EISDIR).
    int e = errno;
    fclose(f);
    g_nrules -= loaded;
    sink_notice("zmq-guard: cannot read suppressions file '%s': %s; running without suppressions", path,
                strerror(e));
    return -1;
  }
  fclose(f);
  return loaded;
}

void suppressions_clear() { g_nrules = 0; }

bool lifecycle_suppressed(FindingKind kind, const Stack* stack, const char* py_stack) {
  if (g_nrules == 0) return false;
  for (int r = 0; r < g_nrules; r++) {
    const Rule& rule = g_rules[r];
    if (rule.kind != -1 && rule.kind != static_cast<int>(kind)) continue;
    for (int i = 0; stack && i < stack->n; i++) {
      Frame f;
      symbolize(stack->pc[i], true, &f);
      if (match_frame(rule.pattern, f.function) || match_frame(rule.pattern, f.module)) return true;
    }
    struct Ctx {
      const char* pattern;
      bool hit;
    } ctx{rule.pattern, false};
    py_frames(
        py_stack,
        [](const PyFrame& f, void* p) {
          auto* c = static_cast<Ctx*>(p);
          if (match_frame(c->pattern, f.function) || match_frame(c->pattern, f.file)) c->hit = true;
        },
        &ctx);
    if (ctx.hit) return true;
  }
  return false;
}

void lifecycle_init() {
  pthread_atfork(fork_prepare, fork_parent, fork_child);
  const Options& o = options();
  if (o.suppressions[0]) suppressions_load(o.suppressions);
}

void lifecycle_socket_created(SocketState*, void*) {}
void lifecycle_socket_closed(SocketState*) {}

void lifecycle_fini() {
  if (g_mode == Mode::Off) return;
  if (options().leaks) {
    // Collected first, reported after: guard_report takes locks that must
    // not nest inside the registry's.
    struct List {
      SocketState* s[4096];
      int n;
    };
    List* list = static_cast<List*>(calloc(1, sizeof(List)));
    if (list) {
      registry_for_each_open(
          [](SocketState* st, void* p) {
            auto* l = static_cast<List*>(p);
            if (!st->internal && l->n < 4096) l->s[l->n++] = st;
          },
          list);
      for (int i = 0; i < list->n; i++) guard_report(FindingKind::Leak, list->s[i], "exit", 0, nullptr);
      free(list);
    }
  }
  if (g_mode == Mode::Warn && guard_finding_count() > 0) {
    // The findings decide the exit status, so a test suite run under the
    // guard fails.  stdio is flushed first: _exit skips it.
    fflush(nullptr);
    _exit(static_cast<int>(options().exitcode));
  }
}

}  // namespace zg
