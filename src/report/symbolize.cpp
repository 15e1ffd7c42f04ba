// SPDX-License-Identifier: MIT
#include "report/symbolize.h"

#include <ctype.h>
#include <cxxabi.h>
#include <dlfcn.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/options.h"

namespace zg {
namespace {

// libdw entry points, looked up at run time (libdw stays out of NEEDED).
struct Dw {
  bool tried = false;
  bool ok = false;
  decltype(&dwfl_begin) begin;
  decltype(&dwfl_end) end;
  decltype(&dwfl_linux_proc_report) proc_report;
  decltype(&dwfl_report_begin) report_begin;
  decltype(&dwfl_report_end) report_end;
  decltype(&dwfl_addrmodule) addrmodule;
  decltype(&dwfl_module_addrname) addrname;
  decltype(&dwfl_module_getsrc) getsrc;
  decltype(&dwfl_lineinfo) lineinfo;
  decltype(&dwfl_line_comp_dir) comp_dir;  // optional
  decltype(&dwfl_linux_proc_find_elf) find_elf;
  decltype(&dwfl_build_id_find_debuginfo) buildid_debuginfo;
};

Dw g_dw;
Dwfl* g_dwfl = nullptr;
pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

// Separate debug info only from the local disk, and never through
// libdebuginfod: libdw's standard lookup loads it for any module without
// local debug info, DEBUGINFOD_URLS set or not, and loading it initializes
// libcurl and OpenSSL inside the host process, from the reporting thread.
// A report made while the program exits then met OpenSSL's own clean-up
// in exit() and crashed the program.  So: the build-id tree
// (/usr/lib/debug/.build-id, where Debian's -dbgsym packages put their
// files), then the file named by .gnu_debuglink beside the module, in its
// .debug directory, and under /usr/lib/debug.
int local_debuginfo(Dwfl_Module* mod, void** userdata, const char* modname, Dwarf_Addr base,
                    const char* file_name, const char* debuglink_file, GElf_Word debuglink_crc,
                    char** debuginfo_file_name) {
  int fd = g_dw.buildid_debuginfo(mod, userdata, modname, base, file_name, debuglink_file, debuglink_crc,
                                  debuginfo_file_name);
  if (fd >= 0 || !debuglink_file || !debuglink_file[0] || !file_name) return fd;
  const char* slash = strrchr(file_name, '/');
  if (!slash) return -1;
  const int dirlen = static_cast<int>(slash - file_name);
  static const char* const kPlaces[] = {"%.*s/%s", "%.*s/.debug/%s", "/usr/lib/debug%.*s/%s"};
  for (const char* fmt : kPlaces) {
    char path[4096];
    int n = snprintf(path, sizeof path, fmt, dirlen, file_name, debuglink_file);
    if (n <= 0 || n >= static_cast<int>(sizeof path) || strcmp(path, file_name) == 0) continue;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      *debuginfo_file_name = strdup(path);
      return fd;
    }
  }
  return -1;
}

Dwfl_Callbacks g_callbacks;

template <typename T>
bool load(void* h, T* out, const char* name) {
  *out = reinterpret_cast<T>(dlsym(h, name));
  return *out != nullptr;
}

void dw_load() {
  if (g_dw.tried) return;
  g_dw.tried = true;
  void* h = dlopen("libdw.so.1", RTLD_LAZY | RTLD_LOCAL);
  if (!h) return;
  bool ok = load(h, &g_dw.begin, "dwfl_begin") && load(h, &g_dw.end, "dwfl_end") &&
            load(h, &g_dw.proc_report, "dwfl_linux_proc_report") &&
            load(h, &g_dw.report_begin, "dwfl_report_begin") && load(h, &g_dw.report_end, "dwfl_report_end") &&
            load(h, &g_dw.addrmodule, "dwfl_addrmodule") && load(h, &g_dw.addrname, "dwfl_module_addrname") &&
            load(h, &g_dw.getsrc, "dwfl_module_getsrc") && load(h, &g_dw.lineinfo, "dwfl_lineinfo") &&
            load(h, &g_dw.find_elf, "dwfl_linux_proc_find_elf") &&
            load(h, &g_dw.buildid_debuginfo, "dwfl_build_id_find_debuginfo");
  if (!ok) return;
  g_dw.comp_dir = reinterpret_cast<decltype(&dwfl_line_comp_dir)>(dlsym(h, "dwfl_line_comp_dir"));
  g_callbacks.find_elf = g_dw.find_elf;
  g_callbacks.find_debuginfo = local_debuginfo;
  g_callbacks.debuginfo_path = nullptr;
  g_dw.ok = true;
}

Dwfl* session() {
  dw_load();
  if (!g_dw.ok) return nullptr;
  if (!g_dwfl) {
    g_dwfl = g_dw.begin(&g_callbacks);
    if (!g_dwfl) return nullptr;
    g_dw.report_begin(g_dwfl);
    if (g_dw.proc_report(g_dwfl, getpid()) != 0) {
      g_dw.end(g_dwfl);
      g_dwfl = nullptr;
      return nullptr;
    }
    g_dw.report_end(g_dwfl, nullptr, nullptr);
  }
  return g_dwfl;
}

// Modules whose frames are never the program's own code: the C and C++
// runtimes (start_thread, clone3, __libc_start_call_main, ...) and the
// Python interpreter (its frames' places are in the Python traceback).
// Their functions are named, but their source lines are not looked up:
// that needs their separate debug files (libc6-dbg comes with valgrind),
// and the first look decompresses all of one (libc's is 4 MB compressed):
// tens of milliseconds on the reporting thread, in warn and serialize mode
// in the middle of the program's run, for lines nobody reads.
bool runtime_module(const char* path) {
  static const char* const kPrefixes[] = {"libc.so.",   "ld-linux",     "libpthread.so.", "libm.so.",
                                          "libdl.so.",  "libstdc++.so.", "libgcc_s.so.",  "libpython3"};
  const char* base = strrchr(path, '/');
  base = base ? base + 1 : path;
  for (const char* p : kPrefixes)
    if (strncmp(base, p, strlen(p)) == 0) return true;
  return false;
}

void copy_demangled(const char* name, char* out, size_t len) {
  int status = -1;
  char* dem = (name[0] == '_' && name[1] == 'Z') ? abi::__cxa_demangle(name, nullptr, nullptr, &status) : nullptr;
  snprintf(out, len, "%s", (dem && status == 0) ? dem : name);
  free(dem);
  rust_legacy_clean(out);
}

}  // namespace

// Rust's legacy mangling: the last path element is a hash ("::h" and 16 hex
// digits), punctuation is escaped ($LT$, $u20$, ...) and ".." is "::".
void rust_legacy_clean(char* s) {
  size_t n = strlen(s);
  if (n < 19 || strncmp(s + n - 19, "::h", 3) != 0) return;
  for (size_t i = n - 16; i < n; i++)
    if (!isxdigit(static_cast<unsigned char>(s[i]))) return;
  s[n - 19] = 0;
  static const struct {
    const char* code;
    char c;
  } kEscapes[] = {{"$SP$", '@'}, {"$BP$", '*'}, {"$RF$", '&'}, {"$LT$", '<'},
                  {"$GT$", '>'}, {"$LP$", '('}, {"$RP$", ')'}, {"$C$", ','}};
  size_t w = 0;
  for (size_t r = 0; s[r];) {
    bool elem_start = r == 0 || (r >= 2 && s[r - 1] == ':' && s[r - 2] == ':');
    if (elem_start && s[r] == '_' && s[r + 1] == '$') {
      r++;
      continue;
    }
    if (s[r] == '.' && s[r + 1] == '.') {
      s[w++] = ':';
      s[w++] = ':';
      r += 2;
      continue;
    }
    bool done = false;
    if (s[r] == '$') {
      for (const auto& e : kEscapes) {
        size_t k = strlen(e.code);
        if (!strncmp(s + r, e.code, k)) {
          s[w++] = e.c;
          r += k;
          done = true;
          break;
        }
      }
      unsigned v = 0;
      int used = 0;
      if (!done && s[r + 1] == 'u' && sscanf(s + r + 2, "%2x$%n", &v, &used) == 1 && used == 3 && v >= 0x20 &&
          v < 0x7F) {
        s[w++] = static_cast<char>(v);
        r += 5;
        done = true;
      }
    }
    if (!done) s[w++] = s[r++];
  }
  s[w] = 0;
}

void symbolize_after_fork_child() {
  // A parent thread may have been symbolizing at the fork: the lock and the
  // libdw session are not ours to trust.  Start over (the old session is
  // left behind rather than freed half-way through someone else's use).
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  g_mu = fresh;
  g_dwfl = nullptr;
}

void symbolize_reset() {
  pthread_mutex_lock(&g_mu);
  if (g_dwfl) g_dw.end(g_dwfl);
  g_dwfl = nullptr;
  pthread_mutex_unlock(&g_mu);
}

void symbolize(void* pc, bool is_return_address, Frame* out) {
  *out = Frame();
  out->pc = pc;
  uintptr_t addr = reinterpret_cast<uintptr_t>(pc);
  uintptr_t lookup = is_return_address && addr > 0 ? addr - 1 : addr;

  Dl_info info;
  const bool mapped = dladdr(reinterpret_cast<void*>(lookup), &info) != 0;
  if (mapped) {
    if (info.dli_fname) snprintf(out->module, sizeof out->module, "%s", info.dli_fname);
    out->offset = addr - reinterpret_cast<uintptr_t>(info.dli_fbase);
    if (info.dli_sname) copy_demangled(info.dli_sname, out->function, sizeof out->function);
  }
  if (!options().symbolize) return;

  pthread_mutex_lock(&g_mu);
  Dwfl* d = session();
  Dwfl_Module* m = d ? g_dw.addrmodule(d, lookup) : nullptr;
  if (d && !m) {
    // An object loaded since the list was made: refresh once.
    g_dw.end(g_dwfl);
    g_dwfl = nullptr;
    d = session();
    m = d ? g_dw.addrmodule(d, lookup) : nullptr;
  }
  if (m) {
    if (const char* name = g_dw.addrname(m, lookup)) copy_demangled(name, out->function, sizeof out->function);
    if (Dwfl_Line* line = runtime_module(out->module) ? nullptr : g_dw.getsrc(m, lookup)) {
      Dwarf_Addr a;
      int lineno = 0;
      const char* file = g_dw.lineinfo(line, &a, &lineno, nullptr, nullptr, nullptr);
      if (file) {
        snprintf(out->file, sizeof out->file, "%s", file);
        out->line = lineno;
        const char* dir = file[0] != '/' && g_dw.comp_dir ? g_dw.comp_dir(line) : nullptr;
        if (dir) snprintf(out->dir, sizeof out->dir, "%s", dir);
      }
    }
  }
  pthread_mutex_unlock(&g_mu);
  if (!out->module[0] && mapped) {
    // The main executable: dladdr gives its name only through the link map.
    // (Code in no object at all, a JIT's, keeps no module: it is not the
    // executable's.)
    char exe[256];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
      exe[n] = 0;
      snprintf(out->module, sizeof out->module, "%s", exe);
    }
  }
}

}  // namespace zg
