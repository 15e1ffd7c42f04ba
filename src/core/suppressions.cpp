#include "core/suppressions.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include <atomic>

#include "core/options.h"
#include "report/python.h"
#include "report/sink.h"
#include "report/symbolize.h"

namespace zg {

namespace {

// The built-in rules: what widely used libraries still do on purpose that
// the policy would report, each with why it is safe.  Empty today: the
// patterns that needed one (czmq's zmonitor and zgossip actors, ipykernel's
// IOPub pipe, pyzmq's closed probe) are legal by the rule itself
// (core/order.h, Decision::refuse), and the suppression that would have
// hidden them would also hide a real misuse in the same library.  An entry
// is {kind, pattern, why}; print_suppressions=1 lists them.
struct Builtin {
  FindingKind kind;
  const char* pattern;
  const char* why;
};
constexpr Builtin kBuiltin[] = {
    {FindingKind::None, nullptr, nullptr},  // (the list's end; no entry yet)
};

struct Rule {
  int kind;  // FindingKind, or -1 for any
  char pattern[256];
  char source[200];  // "FILE:LINE", or "built-in"
  const char* why;   // built-in rules: why it is safe
  std::atomic<uint64_t> hits{0};
};
constexpr int kMaxRules = 256;
Rule g_rules[kMaxRules];
std::atomic<int> g_nrules{0};

bool add_rule(int kind, const char* pattern, const char* path, int line, const char* why) {
  int n = g_nrules.load(std::memory_order_relaxed);
  if (n >= kMaxRules) return false;
  Rule& r = g_rules[n];
  r.kind = kind;
  snprintf(r.pattern, sizeof r.pattern, "%s", pattern);
  if (path) snprintf(r.source, sizeof r.source, "%s:%d", path, line);
  else snprintf(r.source, sizeof r.source, "built-in");
  r.why = why;
  r.hits.store(0, std::memory_order_relaxed);
  g_nrules.store(n + 1, std::memory_order_release);
  return true;
}

bool match_frame(const char* pattern, const char* text) {
  if (!text || !text[0]) return false;
  if (fnmatch(pattern, text, 0) == 0) return true;
  const char* base = strrchr(text, '/');
  return base && fnmatch(pattern, base + 1, 0) == 0;
}

bool rule_matches(const Rule& rule, const Stack* stack, const char* py) {
  for (int i = 0; stack && i < stack->n; i++) {
    Frame f;
    symbolize(stack->pc[i], true, &f);
    if (match_frame(rule.pattern, f.function) || match_frame(rule.pattern, f.module) ||
        match_frame(rule.pattern, f.file))
      return true;
  }
  struct Ctx {
    const char* pattern;
    bool hit;
  } ctx{rule.pattern, false};
  py_frames(
      py,
      [](const PyFrame& f, void* p) {
        auto* c = static_cast<Ctx*>(p);
        if (match_frame(c->pattern, f.function) || match_frame(c->pattern, f.file)) c->hit = true;
      },
      &ctx);
  return ctx.hit;
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
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
      line[--n] = 0;
    char* p = line;
    while (*p == ' ' || *p == '\t') p++;
    if (!*p || *p == '#') continue;
    char* colon = strchr(p, ':');
    int kind = -2;
    char* pattern = nullptr;
    if (colon) {
      // Blanks around the kind and the pattern are layout, not part of them.
      char* kind_end = colon;
      while (kind_end > p && (kind_end[-1] == ' ' || kind_end[-1] == '\t')) kind_end--;
      char saved = *kind_end;
      *kind_end = 0;
      if (!strcmp(p, "*")) kind = -1;
      for (int k = 1; k < static_cast<int>(FindingKind::Count); k++)
        if (!strcmp(p, finding_name(static_cast<FindingKind>(k)))) kind = k;
      *kind_end = saved;
      pattern = colon + 1;
      while (*pattern == ' ' || *pattern == '\t') pattern++;
    }
    if (!colon || kind == -2 || !*pattern) {
      sink_notice(
          "zmq-guard: suppressions %s:%d: expected 'kind:pattern' with kind one of cross_thread, concurrent_call, "
          "close_while_in_use, use_after_close, use_after_fork, ctx_term_open_sockets, leak or *; got '%s'; line "
          "ignored",
          path, lineno, p);
      continue;
    }
    if (add_rule(kind, pattern, path, lineno, nullptr)) loaded++;
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

void suppressions_clear() { g_nrules.store(0, std::memory_order_release); }

void suppressions_add_builtin() {
  for (const Builtin& b : kBuiltin)
    if (b.pattern) add_rule(static_cast<int>(b.kind), b.pattern, nullptr, 0, b.why);
}

void suppressions_init() {
  const Options& o = options();
  if (o.builtin_suppressions) suppressions_add_builtin();
  if (o.suppressions[0]) suppressions_load(o.suppressions);
}

bool suppressions_match(FindingKind kind, const Stack* const* stacks, const char* const* pys, int n) {
  const int nrules = g_nrules.load(std::memory_order_acquire);
  for (int r = 0; r < nrules; r++) {
    Rule& rule = g_rules[r];
    if (rule.kind != -1 && rule.kind != static_cast<int>(kind)) continue;
    for (int i = 0; i < n; i++) {
      if (rule_matches(rule, stacks[i], pys[i])) {
        rule.hits.fetch_add(1, std::memory_order_relaxed);
        return true;
      }
    }
  }
  return false;
}

void suppressions_print_used() {
  const int nrules = g_nrules.load(std::memory_order_acquire);
  int builtin = 0;
  for (int r = 0; r < nrules; r++) builtin += !strcmp(g_rules[r].source, "built-in");
  sink_notice("zmq-guard: suppressions used (%d rules, %d built-in):", nrules, builtin);
  for (int r = 0; r < nrules; r++) {
    const Rule& rule = g_rules[r];
    sink_notice("zmq-guard: %8llu %s:%s (%s)%s%s", (unsigned long long)rule.hits.load(std::memory_order_relaxed),
                rule.kind == -1 ? "*" : finding_name(static_cast<FindingKind>(rule.kind)), rule.pattern, rule.source,
                rule.why ? ": " : "", rule.why ? rule.why : "");
  }
}

}  // namespace zg
