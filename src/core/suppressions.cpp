// SPDX-License-Identifier: MIT
#include "core/suppressions.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include <atomic>

#include "core/options.h"
#include "report/python.h"
#include "report/script.h"
#include "report/sink.h"
#include "report/symbolize.h"

namespace zg {

namespace {

// The built-in rules: what widely used libraries still do on purpose that
// the policy would report, each with why it is safe.  Empty: the patterns
// that needed one (czmq's zmonitor and zgossip actors, ipykernel's IOPub
// pipe, pyzmq's closed probe) are legal by the rule itself (core/order.h,
// Decision::refuse), and the suppression that would have hidden them would
// also hide a real misuse in the same library.  A survey of czmq's
// selftests, pyzmq's helpers and a real ipykernel found nothing else legal
// that is reported (doc/policy.md, Suppressions, lists what was run; the
// one finding left, ipykernel's Control start-up race, is real).  An entry
// is {kind, pattern, why}; print_suppressions=1 lists them, or says the
// list is empty.
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

bool rule_matches(const Rule& rule, const Stack* stack, const char* py, const char* rb) {
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
  script_frames(
      rb,
      [](const ScriptFrame& f, void* p) {
        auto* c = static_cast<Ctx*>(p);
        if (match_frame(c->pattern, f.function) || match_frame(c->pattern, f.file)) c->hit = true;
      },
      &ctx);
  return ctx.hit;
}

// A suppressions file is input like any other: the path may name /dev/zero,
// a FIFO nobody writes, a directory or a log of gigabytes, and the guard
// would read it in every preloaded process (the shell and `timeout` of a
// guarded test suite included) but for reading it at the first socket.  So: regular files only,
// opened without waiting for a writer, at most kSuppMaxBytes read, lines
// parsed from memory, and at most kSuppMaxNotices lines said about them.
constexpr size_t kSuppMaxBytes = 1 << 20;
constexpr size_t kSuppMaxLine = 511;
constexpr int kSuppMaxNotices = 10;

const char* file_type_name(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

void supp_refused(const char* path, const char* why) {
  sink_notice("zmq-guard: cannot read suppressions file '%s': %s; running without suppressions", path, why);
}

// Reads the whole of a regular file of at most kSuppMaxBytes into a
// malloc()ed, NUL-ended buffer; nullptr (and one line said) otherwise.
char* supp_read(const char* path, size_t* len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    supp_refused(path, strerror(errno));
    return nullptr;
  }
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    char why[80];
    snprintf(why, sizeof why, "it is %s, not a regular file", file_type_name(sb.st_mode));
    close(fd);
    supp_refused(path, why);
    return nullptr;
  }
  // One byte more than allowed tells a file that is too long, also one
  // whose st_size says 0 (/proc) or that grows while read.
  char* buf = static_cast<char*>(malloc(kSuppMaxBytes + 2));
  size_t n = 0;
  const char* err = nullptr;
  while (buf && n <= kSuppMaxBytes) {
    ssize_t r = read(fd, buf + n, kSuppMaxBytes + 1 - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) err = strerror(errno);
    if (r <= 0) break;
    n += static_cast<size_t>(r);
  }
  close(fd);
  if (!buf) err = "out of memory";
  else if (!err && n > kSuppMaxBytes) err = "it is larger than 1 MiB";
  if (err) {
    free(buf);
    supp_refused(path, err);
    return nullptr;
  }
  buf[n] = 0;
  *len = n;
  return buf;
}

// A line as a notice may quote it: at most 80 bytes, control bytes as '?'.
void supp_quote(const char* p, size_t n, char* out, size_t outlen) {
  size_t k = 0;
  for (size_t i = 0; i < n && k + 4 < outlen; i++) {
    unsigned char c = static_cast<unsigned char>(p[i]);
    out[k++] = c < 0x20 || c == 0x7f ? '?' : p[i];
  }
  if (k < n && k + 4 <= outlen) {
    memcpy(out + k, "...", 3);
    k += 3;
  }
  out[k] = 0;
}

// Parses one line (NUL-ended, without its newline) into a rule; the
// reason it is not one otherwise.
const char* supp_parse_line(char* line, size_t n, bool* blank, const char* path, int lineno) {
  *blank = false;
  if (memchr(line, 0, n)) return "a NUL byte";
  if (n > kSuppMaxLine) return "longer than 511 bytes";
  while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t')) line[--n] = 0;
  char* p = line;
  while (*p == ' ' || *p == '\t') p++;
  if (!*p || *p == '#') {
    *blank = true;
    return nullptr;
  }
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
    if (FindingKind k = finding_named(p); k != FindingKind::None) kind = static_cast<int>(k);
    *kind_end = saved;
    pattern = colon + 1;
    while (*pattern == ' ' || *pattern == '\t') pattern++;
  }
  if (!colon || kind == -2 || !*pattern)
    return "expected 'kind:pattern' with kind * or one of:"
#define ZG_FINDING(kind, name, severity, other, title, hint) " " #name
#include "core/findings.def"
#undef ZG_FINDING
        ;
  if (strlen(pattern) >= sizeof g_rules[0].pattern) return "a pattern longer than 255 bytes";
  if (!add_rule(kind, pattern, path, lineno, nullptr)) return "more than 256 rules";
  return nullptr;
}

}  // namespace

int suppressions_load(const char* path) {
  size_t len = 0;
  char* text = supp_read(path, &len);
  if (!text) return -1;
  int loaded = suppressions_parse(path, text, len);
  free(text);
  return loaded;
}

int suppressions_parse(const char* path, char* text, size_t len) {
  int lineno = 0, loaded = 0, bad = 0;
  for (size_t at = 0; at < len;) {
    char* line = text + at;
    char* nl = static_cast<char*>(memchr(line, '\n', len - at));
    size_t n = nl ? static_cast<size_t>(nl - line) : len - at;
    at += n + 1;
    line[n] = 0;
    lineno++;
    char quoted[100];
    supp_quote(line, n, quoted, sizeof quoted);
    bool blank;
    const char* why = supp_parse_line(line, n, &blank, path, lineno);
    if (!why) {
      loaded += !blank;
      continue;
    }
    if (++bad <= kSuppMaxNotices)
      sink_notice("zmq-guard: suppressions %s:%d: %s; got '%s'; line ignored", path, lineno, why, quoted);
  }
  if (bad > kSuppMaxNotices)
    sink_notice("zmq-guard: suppressions %s: %d more lines ignored, not shown", path, bad - kSuppMaxNotices);
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

bool suppressions_match(FindingKind kind, const Stack* const* stacks, const char* const* pys, int n,
                        const char* const* rbs) {
  const int nrules = g_nrules.load(std::memory_order_acquire);
  for (int r = 0; r < nrules; r++) {
    Rule& rule = g_rules[r];
    if (rule.kind != -1 && rule.kind != static_cast<int>(kind)) continue;
    for (int i = 0; i < n; i++) {
      if (rule_matches(rule, stacks[i], pys[i], rbs ? rbs[i] : nullptr)) {
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
  // Said outright, so that an empty list is not taken for rules left out.
  if (builtin == 0)
    sink_notice(options().builtin_suppressions
                    ? "zmq-guard: the built-in list is empty: czmq's, pyzmq's and ipykernel's patterns need none "
                      "(doc/policy.md, Suppressions)"
                    : "zmq-guard: built-in rules off (builtin_suppressions=0)");
  for (int r = 0; r < nrules; r++) {
    const Rule& rule = g_rules[r];
    sink_notice("zmq-guard: %8llu %s:%s (%s)%s%s", (unsigned long long)rule.hits.load(std::memory_order_relaxed),
                rule.kind == -1 ? "*" : finding_name(static_cast<FindingKind>(rule.kind)), rule.pattern, rule.source,
                rule.why ? ": " : "", rule.why ? rule.why : "");
  }
}

}  // namespace zg
