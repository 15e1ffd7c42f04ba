// SPDX-License-Identifier: MIT
// zmq-guard: run a program with the guard preloaded.
//
//   zmq-guard [options] [--] PROGRAM [ARGS...]
//
//   zmq-guard report [--junit=FILE] [--sarif=FILE] JSONFILE...
//
// Flags map onto the option table the library itself parses (one source of
// truth): --mode=warn, --json-path=FILE, -o key=value for any option.  The
// library is found next to this binary (build tree) or in the library
// directory relative to it (installed) and prepended to LD_PRELOAD.  The
// program runs as the wrapper's child, and every guarded process of its
// tree appends its findings to a private session directory
// (ZMQ_GUARD_SESSION), so that the wrapper can say the run's verdict at the
// end, on its own stderr, whatever the processes did with theirs (a test
// runner's capture, a kernel's pipe, /dev/null).
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "core/options.h"
#include "args.h"
#include "findings.h"
#include "supervise.h"
#include "zmq_guard_config.h"

#ifndef ZMQ_GUARD_REL_LIBDIR
#define ZMQ_GUARD_REL_LIBDIR "../lib"
#endif

namespace {

const char* g_argv0 = "zmq-guard";

// The words of an enum option, its default marked: "abort (default), warn".
std::string enum_words(const char* name) {
  zg::OptionInfo o;
  std::string text;
  if (!zg::option_info(name, &o) || !o.words) return text;
  for (int i = 0; o.words[i]; i++)
    text += std::string(i ? ", " : "") + o.words[i] + (strcmp(o.words[i], o.def) ? "" : " (default)");
  return text;
}

// Every option of the table as the flag that sets it, wrapped: "--leaks"
// (a 0/1 option alone means 1), "--frames=user|all", "--exitcode=N",
// "--log-path=FILE".
std::string option_flags() {
  struct Text {
    std::string done, line = "     ";
  } text;
  zg::options_each(
      [](const zg::OptionInfo& o, void* p) {
        auto* t = static_cast<Text*>(p);
        if (!strcmp(o.name, "help")) return;  // --help is the wrapper's own: this text
        std::string flag = "--" + std::string(o.name);
        for (char& c : flag)
          if (c == '_') c = '-';
        switch (o.type) {
          case zg::OptionType::Bool: break;
          case zg::OptionType::Int: flag += "=N"; break;
          case zg::OptionType::Str: flag += "=FILE"; break;
          case zg::OptionType::Enum:
            for (int i = 0; o.words[i]; i++) flag += (i ? "|" : "=") + std::string(o.words[i]);
            break;
        }
        if (t->line.size() + 1 + flag.size() > 100) {
          t->done += t->line + "\n";
          t->line = "     ";
        }
        t->line += " " + flag;
      },
      &text);
  return text.done + text.line + "\n";
}

void usage(FILE* out) {
  fprintf(out,
          "usage: %s [options] [--] PROGRAM [ARGS...]\n"
          "       %s report [--junit=FILE] [--sarif=FILE] JSONFILE...\n"
          "       %s --dump PID\n"
          "Runs PROGRAM with libzmqguard.so preloaded: every ZeroMQ socket used by two threads is reported.\n"
          "At the end, every distinct finding of every process of the run is summed up on stderr.\n"
          "\n",
          g_argv0, g_argv0, g_argv0);
  fprintf(out, "  -m, --mode=MODE        %s\n", enum_words("mode").c_str());
  fprintf(out, "  -p, --policy=POLICY    %s\n", enum_words("policy").c_str());
  fputs("      --junit=FILE       the run's findings as JUnit XML (one failing testcase each)\n"
        "      --sarif=FILE       the run's findings as SARIF 2.1.0 (code scanning)\n"
        "      --keep-session     keep the directory of the run's JSON findings, and say where\n"
        "  -o, --option KEY=VALUE any option of the library, as it spells it\n"
        "      --dump PID         make a guarded process print its open sockets (needs dump_signal)\n"
        "      --help-options     every option: what it does, its default and the values it takes\n"
        "  -h, --help             this text\n"
        "      --version          the version\n"
        "Every option of the library is a flag too, dashes for underscores (a 0/1 option alone means 1):\n",
        out);
  fputs(option_flags().c_str(), out);
  fputs("Options already in ZMQ_GUARD_OPTIONS are kept; flags override them.\n"
        "The exit status is the program's own; findings anywhere in the run turn a 0 into exitcode.\n"
        "report: sums up JSON findings files (json_path=...) as a run does; exit 1 if they hold a finding.\n",
        out);
}

// One line per error; the usage only when asked for.
[[noreturn]] void bad(const std::string& msg) {
  fprintf(stderr, "%s: %s (see %s --help)\n", g_argv0, msg.c_str(), g_argv0);
  exit(2);
}

bool exists(const std::string& p) { return access(p.c_str(), R_OK) == 0; }

std::string find_library() {
  if (const char* env = getenv("ZMQ_GUARD_LIBRARY"))
    if (env[0]) {
      // ld.so would only warn and run the program unguarded.
      if (!exists(env)) {
        fprintf(stderr, "%s: cannot read ZMQ_GUARD_LIBRARY '%s': %s\n", g_argv0, env, strerror(errno));
        exit(2);
      }
      return env;
    }
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return "";
  self[n] = 0;
  std::string dir(self);
  dir = dir.substr(0, dir.rfind('/'));
  const std::string candidates[] = {dir + "/libzmqguard.so", dir + "/" ZMQ_GUARD_REL_LIBDIR "/libzmqguard.so"};
  for (const std::string& c : candidates)
    if (exists(c)) {
      char real[PATH_MAX];
      return realpath(c.c_str(), real) ? std::string(real) : c;
    }
  return "";
}

void help_line(const char* text, void*) { printf("%s\n", text); }

int dump(const char* pid_text);

}  // namespace

namespace {

const char kPrefix[] = "==zmq-guard== ";

using zgtool::RunFlags;

// The merged files a run or `report` was asked for; false if one failed.
bool write_outputs(const RunFlags& f, const zgtool::Merge& m) {
  bool ok = true;
  std::string err;
  if (!f.junit.empty() && !zgtool::write_junit(f.junit, m, &err)) {
    fprintf(stderr, "%s: %s\n", g_argv0, err.c_str());
    ok = false;
  }
  if (!f.sarif.empty() && !zgtool::write_sarif(f.sarif, m, &err)) {
    fprintf(stderr, "%s: %s\n", g_argv0, err.c_str());
    ok = false;
  }
  return ok;
}

// zmq-guard report [--junit=FILE] [--sarif=FILE] JSONFILE...
int report_main(const zgtool::Args& args) {
  const RunFlags& flags = args.flags;
  const std::vector<std::string>& files = args.files;
  zgtool::Merge m;
  for (const std::string& f : files) zgtool::merge_file(f, &m);
  zgtool::print_summary(stdout, m, kPrefix);
  if (m.findings.empty() && m.suppressed == 0 && m.problems.empty())
    printf("%sno findings in %zu file%s\n", kPrefix, files.size(), files.size() == 1 ? "" : "s");
  bool ok = write_outputs(flags, m);
  fflush(stdout);
  if (!m.findings.empty()) return 1;
  return ok && m.problems.empty() ? 0 : 2;
}

void say_started(long pid, void* ctx) {
  fprintf(stderr, "zmq-guard: started pid %ld: %s\n", pid, static_cast<const char*>(ctx));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 0 && argv[0]) {
    const char* base = strrchr(argv[0], '/');
    g_argv0 = base ? base + 1 : argv[0];
  }
  zgtool::Args args = zgtool::parse_args(argc, argv);
  switch (args.what) {
    case zgtool::Args::Bad:
      bad(args.error);
    case zgtool::Args::Help:
      usage(stdout);
      return 0;
    case zgtool::Args::Version:
      printf("zmq-guard %s\n", ZMQ_GUARD_VERSION);
      return 0;
    case zgtool::Args::HelpOptions:
      zg::options_help(help_line, nullptr);
      return 0;
    case zgtool::Args::Dump:
      return dump(args.dump_pid.c_str());
    case zgtool::Args::Report:
      return report_main(args);
    case zgtool::Args::Run:
      break;
  }
  const std::string& opts = args.opts;
  const RunFlags& flags = args.flags;
  const int i = args.program;

  std::string lib = find_library();
  if (lib.empty()) {
    fprintf(stderr, "%s: cannot find libzmqguard.so next to %s or in %s (set ZMQ_GUARD_LIBRARY)\n", g_argv0,
            g_argv0, ZMQ_GUARD_REL_LIBDIR);
    return 2;
  }
  std::string preload = lib;
  if (const char* old = getenv("LD_PRELOAD")) {
    std::string o = old;
    if (o.find(lib) == std::string::npos) {
      if (!o.empty()) preload += ":" + o;
    } else {
      preload = o;
    }
  }
  setenv("LD_PRELOAD", preload.c_str(), 1);
  if (!opts.empty()) {
    std::string all;
    if (const char* old = getenv("ZMQ_GUARD_OPTIONS")) all = old;
    if (!all.empty()) all += ":";
    all += opts;
    setenv("ZMQ_GUARD_OPTIONS", all.c_str(), 1);
  }
  // The options as every process of the run reads them (exitcode, verbose).
  zg::Options o;
  zg::options_defaults(&o);
  if (const char* env = getenv("ZMQ_GUARD_OPTIONS")) zg::options_parse(env, &o, nullptr, nullptr);

  const char* outer_env = getenv("ZMQ_GUARD_SESSION");
  std::string outer = outer_env ? outer_env : "";
  std::string err;
  std::string session = zgtool::make_session(&err);
  if (session.empty()) {
    fprintf(stderr, "%s: %s; the run's findings are not summed up at the end\n", g_argv0, err.c_str());
    unsetenv("ZMQ_GUARD_SESSION");
  } else {
    setenv("ZMQ_GUARD_SESSION", session.c_str(), 1);
  }
  zgtool::ChildEnd end = zgtool::run_child(argv + i, o.verbose ? say_started : nullptr, argv[i]);
  if (!end.started) {
    fprintf(stderr, "%s: cannot start '%s': %s\n", g_argv0, argv[i], strerror(end.code));
    if (!session.empty()) zgtool::remove_session(session);
    return 126;
  }
  zgtool::Merge m;
  if (!session.empty()) zgtool::merge_session(session, &m);
  zgtool::print_summary(stderr, m, kPrefix);
  write_outputs(flags, m);
  if (!session.empty()) {
    if (!outer.empty()) zgtool::pass_session_up(session, outer);
    if (flags.keep_session) {
      zgtool::keep_session(session);
      fprintf(stderr, "%ssession kept in %s\n", kPrefix, session.c_str());
    } else {
      zgtool::remove_session(session);
    }
  }
  // The program's own status, except that a finding anywhere in the run
  // turns a success into exitcode: a test suite whose runner exits 0 while
  // a child reported (warn mode), or aborted with its report unseen
  // (abort mode), still fails.
  bool override_status = !end.signaled && end.code == 0 && m.any_sets_status();
  zgtool::exit_like(end, override_status ? static_cast<int>(o.exitcode) : -1);
}

namespace {

// A whole file into *text; false (errno set) if it cannot be opened.
bool read_file(const std::string& path, std::string* text) {
  text->clear();
  FILE* f = fopen(path.c_str(), "re");
  if (!f) return false;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) text->append(buf, n);
  fclose(f);
  return true;
}

std::string read_text(const std::string& path) {
  std::string text;
  read_file(path, &text);
  return text;
}

// Does the task's /proc status say it blocks sig (its SigBlk mask)?
bool blocks(const std::string& task, int sig) {
  std::string status = read_text(task + "/status");
  size_t at = status.find("\nSigBlk:");
  if (at == std::string::npos) return false;
  unsigned long long mask = strtoull(status.c_str() + at + strlen("\nSigBlk:"), nullptr, 16);
  return sig <= 64 && (mask >> (sig - 1) & 1);
}

// The guard's own thread in process pid (named "zmq-guard", never the main
// thread), 0 if it has none: one that does not block sig first, as the
// program may have named a thread of its own so.
pid_t guard_thread(long pid, int sig) {
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = opendir(dir.c_str());
  if (!d) return 0;
  pid_t found = 0;
  while (struct dirent* e = readdir(d)) {
    char* end = nullptr;
    long tid = strtol(e->d_name, &end, 10);
    if (tid <= 0 || *end || tid == pid) continue;
    std::string task = dir + "/" + e->d_name;
    if (read_text(task + "/comm") != "zmq-guard\n") continue;
    if (!blocks(task, sig)) {
      found = static_cast<pid_t>(tid);
      break;
    }
    if (!found) found = static_cast<pid_t>(tid);
  }
  closedir(d);
  return found;
}

// The pid a user knows may be the wrapper's (the shell's $!): the program
// is its child.
long program_of_wrapper(long pid) {
  char exe[PATH_MAX];
  std::string link = "/proc/" + std::to_string(pid) + "/exe";
  ssize_t n = readlink(link.c_str(), exe, sizeof exe - 1);
  if (n <= 0) return pid;
  exe[n] = 0;
  const char* base = strrchr(exe, '/');
  if (strcmp(base ? base + 1 : exe, "zmq-guard") != 0) return pid;
  std::string children = read_text("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  char* end = nullptr;
  long child = strtol(children.c_str(), &end, 10);
  if (child <= 0) return pid;
  fprintf(stderr, "%s: process %ld is the zmq-guard wrapper; its program is process %ld\n", g_argv0, pid, child);
  return child;
}

// --dump PID: the guarded process learns its dump signal from its own
// options, so read them where it did, from its initial environment.  The
// signal goes to the guard's thread: sent to the process, the kernel would
// give it to a thread of the program (the main thread first), and a call
// that thread is blocked in would fail with EINTR.
int dump(const char* pid_text) {
  char* end = nullptr;
  long pid = strtol(pid_text, &end, 10);
  if (!end || *end || pid <= 0) bad(("--dump needs a process id, got '" + std::string(pid_text) + "'").c_str());
  pid = program_of_wrapper(pid);
  std::string path = "/proc/" + std::to_string(pid) + "/environ";
  std::string env;
  if (!read_file(path, &env)) {
    fprintf(stderr, "%s: cannot read the environment of process %ld (%s): %s\n", g_argv0, pid, path.c_str(),
            strerror(errno));
    return 1;
  }
  std::string options_text, preload;
  bool has_options = false;
  for (size_t at = 0; at < env.size();) {
    size_t z = env.find('\0', at);
    if (z == std::string::npos) z = env.size();
    std::string var = env.substr(at, z - at);
    if (var.rfind("ZMQ_GUARD_OPTIONS=", 0) == 0) {
      options_text = var.substr(strlen("ZMQ_GUARD_OPTIONS="));
      has_options = true;
    } else if (var.rfind("LD_PRELOAD=", 0) == 0) {
      preload = var.substr(strlen("LD_PRELOAD="));
    }
    at = z + 1;
  }
  if (preload.find("libzmqguard") == std::string::npos) {
    fprintf(stderr, "%s: process %ld does not run under zmq-guard (no libzmqguard.so in its LD_PRELOAD)\n", g_argv0,
            pid);
    return 1;
  }
  zg::Options o;
  zg::options_defaults(&o);
  if (has_options) zg::options_parse(options_text.c_str(), &o, nullptr, nullptr);
  if (o.dump_signal <= 0) {
    fprintf(stderr,
            "%s: process %ld has no dump signal configured; start it with one, e.g.\n"
            "  %s --dump-signal=10 -- PROGRAM ...   (or ZMQ_GUARD_OPTIONS=dump_signal=10)\n",
            g_argv0, pid, g_argv0);
    return 1;
  }
  if (o.mode_value() == zg::Mode::Off) {
    fprintf(stderr, "%s: process %ld runs with mode=off: the guard is not watching it\n", g_argv0, pid);
    return 1;
  }
  int sig = static_cast<int>(o.dump_signal);
  pid_t tid = guard_thread(pid, sig);
  if (tid > 0 && syscall(SYS_tgkill, static_cast<pid_t>(pid), tid, sig) != 0) {
    if (errno != ESRCH) {
      fprintf(stderr, "%s: cannot signal thread %d of process %ld: %s\n", g_argv0, (int)tid, pid, strerror(errno));
      return 1;
    }
    tid = 0;  // it ended in between (the process is exiting)
  }
  if (tid <= 0) {
    fprintf(stderr,
            "%s: process %ld has no zmq-guard thread yet (the guard starts it at the first zmq_socket, and it "
            "prints the dump then): the signal goes to the process, where a thread of the program takes it, and "
            "a call that thread is blocked in may fail with EINTR\n",
            g_argv0, pid);
    if (kill(static_cast<pid_t>(pid), sig) != 0) {
      fprintf(stderr, "%s: cannot signal process %ld: %s\n", g_argv0, pid, strerror(errno));
      return 1;
    }
  }
  char where[600];
  if (o.log_path[0]) {
    zg::expand_path(o.log_path, static_cast<int>(pid), where, sizeof where);
  } else {
    snprintf(where, sizeof where, "its stderr");
  }
  if (tid > 0)
    printf("%s: sent signal %d to process %ld (its zmq-guard thread, tid %d); it prints its open sockets to %s\n",
           g_argv0, sig, pid, (int)tid, where);
  else
    printf("%s: sent signal %d to process %ld; it prints its open sockets to %s\n", g_argv0, sig, pid, where);
  return 0;
}

}  // namespace
