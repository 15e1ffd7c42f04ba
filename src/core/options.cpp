// SPDX-License-Identifier: MIT
#include "core/options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/auxv.h>
#include <unistd.h>

#include <atomic>

namespace zg {
namespace {

struct OptionSpec {
  const char* name;
  OptionType kind;
  const char* def;         // default, as text
  long lo, hi;             // Int range
  const char* const* words;  // Enum values, null terminated
  const char* help;
  size_t offset;
};

#define ZG_WORDS_(name, ...) static const char* const words_##name[] = {__VA_ARGS__, nullptr};
#define ZG_OPT_ENUM(name, def, help, ...) ZG_WORDS_(name, __VA_ARGS__)
#define ZG_OPT_INT(name, def, lo, hi, help)
#define ZG_OPT_BOOL(name, def, help)
#define ZG_OPT_STR(name, def, help)
#include "core/options.def"
#undef ZG_OPT_ENUM
#undef ZG_OPT_INT
#undef ZG_OPT_BOOL
#undef ZG_OPT_STR

#define ZG_STR_(x) #x
#define ZG_OPT_ENUM(name, def, help, ...) {#name, OptionType::Enum, def, 0, 0, words_##name, help, offsetof(Options, name)},
#define ZG_OPT_INT(name, def, lo, hi, help) {#name, OptionType::Int, ZG_STR_(def), lo, hi, nullptr, help, offsetof(Options, name)},
#define ZG_OPT_BOOL(name, def, help) {#name, OptionType::Bool, (def) ? "1" : "0", 0, 1, nullptr, help, offsetof(Options, name)},
#define ZG_OPT_STR(name, def, help) {#name, OptionType::Str, def, 0, 0, nullptr, help, offsetof(Options, name)},
const OptionSpec kSpecs[] = {
#include "core/options.def"
};
#undef ZG_OPT_ENUM
#undef ZG_OPT_INT
#undef ZG_OPT_BOOL
#undef ZG_OPT_STR

const OptionSpec* find_spec(const char* key, size_t keylen) {
  for (const OptionSpec& s : kSpecs)
    if (strlen(s.name) == keylen && strncmp(s.name, key, keylen) == 0) return &s;
  return nullptr;
}

// Parses one value into the field; false if it is not acceptable.
bool parse_value(const OptionSpec& s, const char* v, size_t vlen, Options* out) {
  char* field = reinterpret_cast<char*>(out) + s.offset;
  char buf[512];
  if (vlen >= sizeof buf) return false;
  memcpy(buf, v, vlen);
  buf[vlen] = 0;
  switch (s.kind) {
    case OptionType::Enum:
      for (int i = 0; s.words[i]; i++)
        if (strcmp(s.words[i], buf) == 0) {
          *reinterpret_cast<int*>(field) = i;
          return true;
        }
      return false;
    case OptionType::Int: {
      // Digits, after at most a minus: strtol alone would also take
      // blanks and a plus sign.
      const char* digits = buf[0] == '-' ? buf + 1 : buf;
      if (*digits < '0' || *digits > '9') return false;
      char* end = nullptr;
      long n = strtol(buf, &end, 10);
      if (*end || n < s.lo || n > s.hi) return false;
      *reinterpret_cast<long*>(field) = n;
      return true;
    }
    case OptionType::Bool:
      if (!strcmp(buf, "1") || !strcmp(buf, "true") || !strcmp(buf, "yes")) {
        *reinterpret_cast<bool*>(field) = true;
        return true;
      }
      if (!strcmp(buf, "0") || !strcmp(buf, "false") || !strcmp(buf, "no")) {
        *reinterpret_cast<bool*>(field) = false;
        return true;
      }
      return false;
    case OptionType::Str:
      memcpy(field, buf, vlen + 1);
      return true;
  }
  return false;
}

void accepted(const OptionSpec& s, char* out, size_t len) {
  switch (s.kind) {
    case OptionType::Enum: {
      size_t n = 0;
      out[0] = 0;
      for (int i = 0; s.words[i] && n < len; i++)
        n += snprintf(out + n, len - n, "%s%s", i ? ", " : "", s.words[i]);
      return;
    }
    case OptionType::Int: snprintf(out, len, "a whole number from %ld to %ld", s.lo, s.hi); return;
    case OptionType::Bool: snprintf(out, len, "0 or 1"); return;
    case OptionType::Str: snprintf(out, len, "a path of at most 511 bytes"); return;
  }
}

void known_keys(char* out, size_t len) {
  size_t n = 0;
  out[0] = 0;
  for (const OptionSpec& s : kSpecs) {
    if (n >= len) break;
    n += snprintf(out + n, len - n, "%s%s", n ? ", " : "", s.name);
  }
}

// How much of a key or value a line quotes: a value of 100 KB must not make
// a line of 100 KB (the rest is shown as "...").
constexpr size_t kQuoteMax = 64;
int quoted_len(size_t n) { return static_cast<int>(n > kQuoteMax ? kQuoteMax : n); }
const char* quoted_more(size_t n) { return n > kQuoteMax ? "..." : ""; }

// A line quotes what it was given: a control byte in it (a newline, an
// escape sequence) would start a line of its own or drive the terminal.
bool said(char* msg) {
  for (char* p = msg; *p; p++)
    if (static_cast<unsigned char>(*p) < 0x20 || *p == 0x7f) *p = '?';
  return false;
}

bool check_pair(const char* key, size_t keylen, const char* val, size_t vallen, Options* out,
                char* msg, size_t msglen) {
  const OptionSpec* s = find_spec(key, keylen);
  if (!s) {
    char known[512];
    known_keys(known, sizeof known);
    snprintf(msg, msglen, "zmq-guard: unknown option '%.*s%s' (known: %s)", quoted_len(keylen), key,
             quoted_more(keylen), known);
    return said(msg);
  }
  Options scratch;
  if (!out) out = &scratch;
  if (!parse_value(*s, val, vallen, out)) {
    // The key falls back to its default, even if an earlier entry set it.
    parse_value(*s, s->def, strlen(s->def), out);
    char acc[256];
    accepted(*s, acc, sizeof acc);
    snprintf(msg, msglen, "zmq-guard: option %s: bad value '%.*s%s' (accepted: %s); using the default %s",
             s->name, quoted_len(vallen), val, quoted_more(vallen), acc, s->def[0] ? s->def : "(empty)");
    return said(msg);
  }
  return true;
}

}  // namespace

int option_known(const char* key) {
  const OptionSpec* s = find_spec(key, strlen(key));
  return !s ? -1 : s->kind == OptionType::Bool ? 1 : 0;
}

namespace {

Options g_options;
std::atomic<bool> g_options_ready{false};

}  // namespace

void options_defaults(Options* out) {
  memset(out, 0, sizeof *out);
  for (const OptionSpec& s : kSpecs) parse_value(s, s.def, strlen(s.def), out);
}

int options_parse(const char* text, Options* out, OptionErrorFn err, void* ctx) {
  int bad = 0;
  if (!text) return 0;
  const char* p = text;
  while (*p) {
    const char* end = p + strcspn(p, ":,");
    if (end > p) {
      const char* eq = static_cast<const char*>(memchr(p, '=', end - p));
      char msg[1024];
      bool ok;
      if (!eq) {
        // A bare key is shorthand for key=1 (help, leaks, ...).
        ok = check_pair(p, end - p, "1", 1, out, msg, sizeof msg);
      } else {
        ok = check_pair(p, eq - p, eq + 1, end - eq - 1, out, msg, sizeof msg);
      }
      if (!ok) {
        bad++;
        if (err) err(msg, ctx);
      }
    }
    p = *end ? end + 1 : end;
  }
  return bad;
}

bool option_check(const char* key, const char* value, char* msg, size_t msglen) {
  return check_pair(key, strlen(key), value, strlen(value), nullptr, msg, msglen);
}

namespace {

void info_of(const OptionSpec& s, OptionInfo* o) {
  o->name = s.name;
  o->def = s.def;
  o->help = s.help;
  o->boolean = s.kind == OptionType::Bool;
  o->type = s.kind;
  o->words = s.words;
  accepted(s, o->accepted, sizeof o->accepted);
}

}  // namespace

void options_each(void (*fn)(const OptionInfo& o, void* ctx), void* ctx) {
  for (const OptionSpec& s : kSpecs) {
    OptionInfo o;
    info_of(s, &o);
    fn(o, ctx);
  }
}

bool option_info(const char* name, OptionInfo* out) {
  const OptionSpec* s = find_spec(name, strlen(name));
  if (s) info_of(*s, out);
  return s != nullptr;
}

void options_help(void (*line)(const char* text, void* ctx), void* ctx) {
  struct Ctx {
    void (*line)(const char*, void*);
    void* ctx;
  } c{line, ctx};
  line("zmq-guard options (ZMQ_GUARD_OPTIONS=\"key=value:key=value\"):", ctx);
  options_each(
      [](const OptionInfo& o, void* p) {
        auto* c = static_cast<Ctx*>(p);
        char buf[1024];
        snprintf(buf, sizeof buf, "  %-16s default %-9s %s [%s]", o.name, o.def[0] ? o.def : "\"\"", o.help,
                 o.accepted);
        c->line(buf, c->ctx);
      },
      &c);
}

void expand_path(const char* pattern, int pid, char* out, size_t outlen) {
  size_t n = 0;
  for (const char* p = pattern; *p && n + 1 < outlen; p++) {
    if (p[0] == '%' && p[1] == 'p') {
      n += snprintf(out + n, outlen - n, "%d", pid);
      if (n >= outlen) n = outlen - 1;
      p++;
    } else {
      out[n++] = *p;
    }
  }
  out[n] = 0;
}

Mode g_mode = Mode::Off;

const char* mode_name(Mode m) {
  static const char* const words[] = {ZG_MODES};
  static_assert(sizeof words / sizeof words[0] == static_cast<size_t>(Mode::Off) + 1, "a word per mode");
  return words[static_cast<size_t>(m)];
}

const char* policy_name(Policy p) {
  static const char* const words[] = {ZG_POLICIES};
  static_assert(sizeof words / sizeof words[0] == static_cast<size_t>(Policy::Overlap) + 1, "a word per policy");
  return words[static_cast<size_t>(p)];
}

const Options& options() {
  if (__builtin_expect(!g_options_ready.load(std::memory_order_acquire), 0)) options_init_from_env();
  return g_options;
}

static void stderr_line(const char* line, void*) {
  // write(2): usable before stdio is set up and from any thread.
  char buf[1100];
  int n = snprintf(buf, sizeof buf, "%s\n", line);
  if (n > (int)sizeof buf - 1) n = sizeof buf - 1;
  ssize_t rc = write(2, buf, n);
  (void)rc;
}

// Lines about bad options wait for the process's first socket
// (options_say_errors): a guarded test suite runs shells, compilers and
// tools that never touch ZeroMQ, and a line of ours in their stderr would
// land in whatever captures it.  Kept in a fixed buffer, as the parse runs
// in the constructor.
static char g_pending[4096];
static size_t g_pending_len = 0;
static std::atomic<bool> g_pending_said{false};

static int g_pending_dropped = 0;

static void pending_line(const char* line, void*) {
  size_t n = strlen(line);
  // Room is kept for the line that counts the ones left out.
  if (g_pending_len + n + 1 >= sizeof g_pending - 100) {
    g_pending_dropped++;
    return;
  }
  for (size_t i = 0; i < n; i++) {
    unsigned char c = static_cast<unsigned char>(line[i]);
    g_pending[g_pending_len++] = c < 0x20 || c == 0x7f ? '?' : line[i];
  }
  g_pending[g_pending_len++] = '\n';
}

void options_say_errors() {
  if (g_pending_len == 0 || g_pending_said.exchange(true)) return;
  int saved = errno;
  if (g_pending_dropped)
    g_pending_len += snprintf(g_pending + g_pending_len, sizeof g_pending - g_pending_len,
                              "zmq-guard: %d more problems with ZMQ_GUARD_OPTIONS not shown\n", g_pending_dropped);
  ssize_t rc = write(2, g_pending, g_pending_len);
  (void)rc;
  errno = saved;
}

// Calls made from an executable's .preinit_array run before libc has set
// `environ` (getenv answers NULL there), and the guard reads its
// environment once.  The kernel's copy of the start-up environment is the
// same text.
static const char* env_text(const char* name) {
  if (environ) return getenv(name);
  static char buf[16384];
  static size_t len = 0;
  if (len == 0) {
    int fd = open("/proc/self/environ", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return nullptr;
    ssize_t n;
    while (len < sizeof buf - 1 && (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0) len += static_cast<size_t>(n);
    close(fd);
    buf[len] = 0;
  }
  size_t k = strlen(name);
  for (size_t i = 0; i < len; i += strlen(buf + i) + 1)
    if (!strncmp(buf + i, name, k) && buf[i + k] == '=') return buf + i + k + 1;
  return nullptr;
}

static char g_session[512];

const char* options_session() { return g_session; }

int options_secure_restrict(Options* o, bool secure, OptionErrorFn err, void* ctx) {
  if (!secure) return 0;
  // As the sanitizers do: a setuid program's user chose the path, and the
  // guard would write or read it with the program's privileges.
  char names[64] = "";
  int n = 0;
  struct {
    char* field;
    const char* name;
  } paths[] = {{o->log_path, "log_path"}, {o->json_path, "json_path"}, {o->suppressions, "suppressions"}};
  for (auto& p : paths) {
    char* field = p.field;
    const char* name = p.name;
    if (!field[0]) continue;
    size_t len = strlen(names);
    snprintf(names + len, sizeof names - len, "%s%s", n ? ", " : "", name);
    field[0] = 0;
    n++;
  }
  if (n && err) {
    char line[200];
    snprintf(line, sizeof line,
             "zmq-guard: secure-execution process (setuid, setgid or capabilities): ignoring %s; reports go to "
             "stderr",
             names);
    err(line, ctx);
  }
  return n;
}

void options_init_from_env() {
  static std::atomic<int> state{0};  // 0 new, 1 parsing, 2 done
  int expected = 0;
  if (!state.compare_exchange_strong(expected, 1)) {
    while (state.load(std::memory_order_acquire) != 2) {
    }
    return;
  }
  Options o;
  options_defaults(&o);
  options_parse(env_text("ZMQ_GUARD_OPTIONS"), &o, pending_line, nullptr);
  const bool secure = getauxval(AT_SECURE) != 0;
  options_secure_restrict(&o, secure, pending_line, nullptr);
  // The wrapper's session: not an option a user sets, so not in the table.
  // A path that does not fit is no session (a cut path would write
  // elsewhere); a secure-execution process writes no file at all.
  const char* session = env_text("ZMQ_GUARD_SESSION");
  if (!secure && session && session[0] == '/' && strlen(session) < sizeof g_session) strcpy(g_session, session);
  if (o.help) options_help(stderr_line, nullptr);
  g_options = o;
  g_options_ready.store(true, std::memory_order_release);
  state.store(2, std::memory_order_release);
}

void options_set_for_test(const Options& o) {
  g_options = o;
  g_options_ready.store(true, std::memory_order_release);
}

}  // namespace zg
