// SPDX-License-Identifier: MIT
// Options: one table (options.def) gives the fields, defaults, parser and
// help text.  Parsed once, before the first socket is seen; read without
// locks afterwards.
#pragma once
#include <stddef.h>

#define ZG_MODES "abort", "warn", "serialize", "off"
#define ZG_POLICIES "handoff", "strict", "overlap"

namespace zg {

enum class Mode { Abort, Warn, Serialize, Off };
enum class Policy { Handoff, Strict, Overlap };

struct Options {
#define ZG_OPT_ENUM(name, def, help, ...) int name;
#define ZG_OPT_INT(name, def, lo, hi, help) long name;
#define ZG_OPT_BOOL(name, def, help) bool name;
#define ZG_OPT_STR(name, def, help) char name[512];
#include "core/options.def"
#undef ZG_OPT_ENUM
#undef ZG_OPT_INT
#undef ZG_OPT_BOOL
#undef ZG_OPT_STR
  Mode mode_value() const { return static_cast<Mode>(mode); }
  Policy policy_value() const { return static_cast<Policy>(policy); }
};

// The word options take for a mode or a policy ("serialize").
const char* mode_name(Mode m);
const char* policy_name(Policy p);

// The mode this copy of the guard runs in: options().mode, cached by
// guard_init (core/guard.h); Off before it, and when another copy of the
// library is the one the program calls.
extern Mode g_mode;

// Receives one line per problem (unknown key, bad value).  The line has no
// trailing newline.
using OptionErrorFn = void (*)(const char* line, void* ctx);

// Fills *out with the defaults.
void options_defaults(Options* out);

// Parses "key=value:key=value" (':' or ',' separate) over *out.  A bad entry
// keeps the default for its key and is reported through err.  Returns the
// number of bad entries.
int options_parse(const char* text, Options* out, OptionErrorFn err, void* ctx);

// -1 if key is no option, 1 if it is a boolean (a flag may stand alone),
// 0 otherwise.
int option_known(const char* key);

// In a secure-execution process (AT_SECURE: setuid, setgid, file
// capabilities) clears the path options (log_path, json_path, suppressions)
// and says so in one line through err.  Returns how many were cleared.
int options_secure_restrict(Options* o, bool secure, OptionErrorFn err, void* ctx);

// Checks a single key=value pair; writes a one-line message on failure.
bool option_check(const char* key, const char* value, char* msg, size_t msglen);

// Every option of the table, in order (the man page and the wrapper's
// usage are made from it).
enum class OptionType { Enum, Int, Bool, Str };
struct OptionInfo {
  const char* name;
  const char* def;
  const char* help;
  bool boolean;
  OptionType type;
  const char* const* words;  // Enum: the accepted words, null terminated
  char accepted[256];
};
void options_each(void (*fn)(const OptionInfo& o, void* ctx), void* ctx);
// The row of one option; false if there is none.
bool option_info(const char* name, OptionInfo* out);

// Writes the help table (one option a line, with default and accepted values).
void options_help(void (*line)(const char* text, void* ctx), void* ctx);

// Expands %p in a path option to the pid.
void expand_path(const char* pattern, int pid, char* out, size_t outlen);

// The process-wide options (parsed from ZMQ_GUARD_OPTIONS on first use).
const Options& options();
void options_init_from_env();  // idempotent; called from the constructor
// Writes the lines about bad options in ZMQ_GUARD_OPTIONS to stderr, once
// per process: at its first zmq_socket, so that a process that never uses
// ZeroMQ hears nothing from the guard.
void options_say_errors();
void options_set_for_test(const Options& o);

// The directory the zmq-guard wrapper collects this run's findings in
// (ZMQ_GUARD_SESSION, an absolute path, read with the options), "" when the
// process does not run under the wrapper.  Every finding, suppressed ones
// included, is appended there as one JSON line to <pid>.jsonl.
const char* options_session();

}  // namespace zg
