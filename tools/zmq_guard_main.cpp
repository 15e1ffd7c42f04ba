// zmq-guard: run a program with the guard preloaded.
//
//   zmq-guard [options] [--] PROGRAM [ARGS...]
//
// Flags map onto the option table the library itself parses (one source of
// truth): --mode=warn, --json-path=FILE, -o key=value for any option.  The
// library is found next to this binary (build tree) or in the library
// directory relative to it (installed), prepended to LD_PRELOAD, and the
// program is exec()ed, so its exit status and signals are the caller's.
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

#include "core/options.h"
#include "zmq_guard_config.h"

#ifndef ZMQ_GUARD_REL_LIBDIR
#define ZMQ_GUARD_REL_LIBDIR "../lib"
#endif

namespace {

const char* g_argv0 = "zmq-guard";

void usage(FILE* out) {
  fprintf(out,
          "usage: %s [options] [--] PROGRAM [ARGS...]\n"
          "       %s --dump PID\n"
          "Runs PROGRAM with libzmqguard.so preloaded: every ZeroMQ socket used by two threads is reported.\n"
          "\n"
          "  -m, --mode=MODE        abort (default), warn, serialize, off\n"
          "  -p, --policy=POLICY    handoff (default), strict, overlap\n"
          "      --log-path=FILE    text reports to FILE instead of stderr (%%p: pid)\n"
          "      --json-path=FILE   one JSON object per finding to FILE (%%p: pid)\n"
          "      --exitcode=N       exit status after findings in warn mode (default 66)\n"
          "      --KEY=VALUE        any option of the table below, dashes for underscores\n"
          "  -o, --option KEY=VALUE the same, as the library spells it\n"
          "      --dump PID         make a guarded process print its open sockets (needs dump_signal)\n"
          "      --help-options     list every option with its default\n"
          "  -h, --help             this text\n"
          "      --version          the version\n"
          "Options already in ZMQ_GUARD_OPTIONS are kept; flags override them.\n",
          g_argv0, g_argv0);
}

[[noreturn]] void bad(const char* msg) {
  fprintf(stderr, "%s: %s\n", g_argv0, msg);
  usage(stderr);
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

// A report file's directory must take a new file: the library would say so
// only at its first report, in the middle of the run.
void check_report_path(const std::string& key, const std::string& value) {
  if (key != "log_path" && key != "json_path") return;
  // A file that is there and writable needs nothing of its directory
  // (/dev/stderr, a log made ahead in a read-only directory).
  if (value.find("%p") == std::string::npos && access(value.c_str(), W_OK) == 0) return;
  size_t slash = value.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : value.substr(0, slash);
  if (access(dir.c_str(), W_OK | X_OK) != 0)
    bad(("cannot create " + key + " '" + value + "': directory '" + dir + "': " + strerror(errno)).c_str());
}

void add_option(std::string& opts, const std::string& key, const std::string& value) {
  char msg[1024];
  if (!zg::option_check(key.c_str(), value.c_str(), msg, sizeof msg)) {
    // The library goes on with the default; the wrapper refuses instead.
    if (char* tail = strstr(msg, "; using the default")) *tail = 0;
    bad(msg + strlen("zmq-guard: "));
  }
  // ZMQ_GUARD_OPTIONS separates its pairs with ':' and ',', and has no
  // way to quote one.
  if (value.find_first_of(":,") != std::string::npos)
    bad(("the value of " + key + " cannot contain ':' or ',': '" + value + "'").c_str());
  check_report_path(key, value);
  if (!opts.empty()) opts += ":";
  opts += key + "=" + value;
}

void help_line(const char* text, void*) { printf("%s\n", text); }

int dump(const char* pid_text);

}  // namespace

int main(int argc, char** argv) {
  if (argc > 0 && argv[0]) {
    const char* base = strrchr(argv[0], '/');
    g_argv0 = base ? base + 1 : argv[0];
  }
  std::string opts;
  int i = 1;
  for (; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--") {
      i++;
      break;
    }
    if (a.empty() || a[0] != '-') break;
    if (a == "-h" || a == "--help") {
      usage(stdout);
      return 0;
    }
    if (a == "--version") {
      printf("zmq-guard %s\n", ZMQ_GUARD_VERSION);
      return 0;
    }
    if (a == "--help-options") {
      zg::options_help(help_line, nullptr);
      return 0;
    }
    if (a == "--dump") {
      if (i + 1 >= argc) bad("--dump needs a PID");
      return dump(argv[i + 1]);
    }
    std::string key, value;
    bool has_value = false;
    if (a == "-m" || a == "-p" || a == "-o" || a == "--option") {
      if (i + 1 >= argc || strcmp(argv[i + 1], "--") == 0) bad(("option " + a + " needs a value").c_str());
      value = argv[++i];
      has_value = true;
      if (a == "-m") key = "mode";
      else if (a == "-p") key = "policy";
      else {
        size_t eq = value.find('=');
        if (eq == std::string::npos) bad(("-o needs KEY=VALUE, got '" + value + "'").c_str());
        key = value.substr(0, eq);
        value = value.substr(eq + 1);
      }
    } else if (a.rfind("--", 0) == 0) {
      size_t eq = a.find('=');
      key = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      if (eq != std::string::npos) {
        value = a.substr(eq + 1);
        has_value = true;
      }
      for (char& c : key)
        if (c == '-') c = '_';
      if (key == "json") key = "json_path";
      if (key == "log") key = "log_path";
      if (!has_value) {
        // --leaks, --verbose: booleans may stand alone; others take the next word.
        char msg[1024];
        if (zg::option_check(key.c_str(), "1", msg, sizeof msg) &&
            (key == "leaks" || key == "verbose" || key == "symbolize" || key == "python" || key == "help")) {
          value = "1";
        } else if (i + 1 < argc && strcmp(argv[i + 1], "--") != 0) {
          value = argv[++i];
        } else {
          bad(("option " + a + " needs a value").c_str());
        }
      }
    } else {
      bad(("unknown flag '" + a + "'").c_str());
    }
    add_option(opts, key, value);
  }
  if (i >= argc) bad("no program to run");

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
  execvp(argv[i], argv + i);
  fprintf(stderr, "%s: cannot run '%s': %s\n", g_argv0, argv[i], strerror(errno));
  return errno == ENOENT ? 127 : 126;
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

// --dump PID: the guarded process learns its dump signal from its own
// options, so read them where it did, from its initial environment.  The
// signal goes to the guard's thread: sent to the process, the kernel would
// give it to a thread of the program (the main thread first), and a call
// that thread is blocked in would fail with EINTR.
int dump(const char* pid_text) {
  char* end = nullptr;
  long pid = strtol(pid_text, &end, 10);
  if (!end || *end || pid <= 0) bad(("--dump needs a process id, got '" + std::string(pid_text) + "'").c_str());
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
