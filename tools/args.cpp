// SPDX-License-Identifier: MIT
#include "args.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "core/options.h"

namespace zgtool {
namespace {

// The first error ends the parse, as it ends the wrapper.
struct Parse {
  Args* out;
  bool fail(const std::string& msg) {
    out->what = Args::Bad;
    out->error = msg;
    return false;
  }
};

// A report file's directory must take a new file: the library would say so
// only at its first report, in the middle of the run.
bool check_report_path(Parse& p, const std::string& key, const std::string& value) {
  if (key != "log_path" && key != "json_path") return true;
  // A file that is there and writable needs nothing of its directory
  // (/dev/stderr, a log made ahead in a read-only directory).
  if (value.find("%p") == std::string::npos && access(value.c_str(), W_OK) == 0) return true;
  size_t slash = value.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : value.substr(0, slash);
  if (access(dir.c_str(), W_OK | X_OK) != 0)
    return p.fail("cannot create " + key + " '" + value + "': directory '" + dir + "': " + strerror(errno));
  return true;
}

bool add_option(Parse& p, const std::string& key, const std::string& value) {
  char msg[1024];
  if (!zg::option_check(key.c_str(), value.c_str(), msg, sizeof msg)) {
    // The library goes on with the default; the wrapper refuses instead.
    if (char* tail = strstr(msg, "; using the default")) *tail = 0;
    const char prefix[] = "zmq-guard: ";
    const char* text = strncmp(msg, prefix, strlen(prefix)) == 0 ? msg + strlen(prefix) : msg;
    return p.fail(text);
  }
  // ZMQ_GUARD_OPTIONS separates its pairs with ':' and ',', and has no
  // way to quote one.
  if (value.find_first_of(":,") != std::string::npos)
    return p.fail("the value of " + key + " cannot contain ':' or ',': '" + value + "'");
  if (!check_report_path(p, key, value)) return false;
  std::string& opts = p.out->opts;
  if (!opts.empty()) opts += ":";
  opts += key + "=" + value;
  return true;
}

// --junit=FILE / --sarif=FILE / --keep-session: the wrapper's own flags.
// 1 if a is one, 0 if not, -1 after an error.
int wrapper_flag(Parse& p, const std::string& a) {
  RunFlags* f = &p.out->flags;
  if (a.rfind("--junit=", 0) == 0) f->junit = a.substr(8);
  else if (a.rfind("--sarif=", 0) == 0) f->sarif = a.substr(8);
  else if (a == "--keep-session") f->keep_session = true;
  else return 0;
  if ((a[2] == 'j' && f->junit.empty()) || (a[2] == 's' && f->sarif.empty()))
    return p.fail("option " + a + " needs a file") ? 1 : -1;
  return 1;
}

// zmq-guard report [--junit=FILE] [--sarif=FILE] JSONFILE...
void parse_report(Parse& p, int argc, char* const* argv) {
  Args* out = p.out;
  out->what = Args::Report;
  bool options_done = false;
  for (int i = 0; i < argc; i++) {
    std::string a = argv[i];
    if (!options_done && a == "--") {
      options_done = true;
    } else if (!options_done && (a == "-h" || a == "--help")) {
      out->what = Args::Help;
      return;
    } else if (!options_done && a.size() > 1 && a[0] == '-') {
      int flag = wrapper_flag(p, a);
      if (flag < 0) return;
      if (flag == 0) {
        p.fail("report: unknown option " + a);
        return;
      }
    } else {
      out->files.push_back(a);
    }
  }
  if (out->files.empty()) p.fail("report needs at least one JSON findings file");
}

}  // namespace

Args parse_args(int argc, char* const* argv) {
  Args out;
  Parse p{&out};
  if (argc > 1 && strcmp(argv[1], "report") == 0) {
    parse_report(p, argc - 2, argv + 2);
    return out;
  }
  int i = 1;
  for (; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--") {
      i++;
      break;
    }
    if (a.empty() || a[0] != '-') break;
    if (a == "-h" || a == "--help") {
      out.what = Args::Help;
      return out;
    }
    if (a == "--version") {
      out.what = Args::Version;
      return out;
    }
    if (a == "--help-options") {
      out.what = Args::HelpOptions;
      return out;
    }
    if (a == "--dump") {
      if (i + 1 >= argc) {
        p.fail("--dump needs a PID");
        return out;
      }
      out.what = Args::Dump;
      out.dump_pid = argv[i + 1];
      return out;
    }
    int flag = wrapper_flag(p, a);
    if (flag < 0) return out;
    if (flag > 0) continue;
    std::string key, value;
    bool has_value = false;
    if (a == "-m" || a == "-p" || a == "-o" || a == "--option") {
      if (i + 1 >= argc || strcmp(argv[i + 1], "--") == 0) {
        p.fail("option " + a + " needs a value");
        return out;
      }
      value = argv[++i];
      has_value = true;
      if (a == "-m") {
        key = "mode";
      } else if (a == "-p") {
        key = "policy";
      } else {
        size_t eq = value.find('=');
        if (eq == std::string::npos) {
          p.fail("-o needs KEY=VALUE, got '" + value + "'");
          return out;
        }
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
      int known = zg::option_known(key.c_str());
      if (known < 0) {
        p.fail("unknown option " + a.substr(0, eq));
        return out;
      }
      if (!has_value) {
        // --leaks, --verbose: booleans may stand alone; others take the next word.
        if (known == 1) {
          value = "1";
        } else if (i + 1 < argc && strcmp(argv[i + 1], "--") != 0) {
          value = argv[++i];
        } else {
          p.fail("option " + a + " needs a value");
          return out;
        }
      }
    } else {
      p.fail("unknown option " + a);
      return out;
    }
    if (!add_option(p, key, value)) return out;
  }
  if (i >= argc) {
    p.fail("no program to run");
    return out;
  }
  out.program = i;
  return out;
}

}  // namespace zgtool
