#include "report/python.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>

namespace zg {
namespace {

using is_init_fn = int (*)();
using this_tstate_fn = void* (*)();
using dump_fn = void (*)(int, void*);

struct Py {
  std::atomic<int> state{0};  // 0 unknown, 1 found, 2 absent
  is_init_fn is_initialized;
  this_tstate_fn this_tstate;
  dump_fn dump;
};
Py g_py;

bool lookup() {
  int s = g_py.state.load(std::memory_order_acquire);
  if (s == 1) return true;
  // Python may be loaded later (embedding); an absent result is rechecked
  // cheaply: dlsym on the global scope.
  auto init = reinterpret_cast<is_init_fn>(dlsym(RTLD_DEFAULT, "Py_IsInitialized"));
  auto ts = reinterpret_cast<this_tstate_fn>(dlsym(RTLD_DEFAULT, "PyGILState_GetThisThreadState"));
  auto dump = reinterpret_cast<dump_fn>(dlsym(RTLD_DEFAULT, "_Py_DumpTraceback"));
  if (!init || !ts || !dump) {
    g_py.state.store(2, std::memory_order_release);
    return false;
  }
  g_py.is_initialized = init;
  g_py.this_tstate = ts;
  g_py.dump = dump;
  g_py.state.store(1, std::memory_order_release);
  return true;
}

}  // namespace

bool py_running() { return lookup() && g_py.is_initialized(); }

char* py_traceback_current() {
  if (!py_running()) return nullptr;
  void* ts = g_py.this_tstate();
  if (!ts) return nullptr;
  int fd = memfd_create("zmq-guard-py", MFD_CLOEXEC);
  if (fd < 0) return nullptr;
  g_py.dump(fd, ts);
  off_t size = lseek(fd, 0, SEEK_END);
  char* text = nullptr;
  if (size > 0 && size < (1 << 20)) {
    text = static_cast<char*>(malloc(size + 1));
    if (text && pread(fd, text, size, 0) == size) {
      text[size] = 0;
    } else {
      free(text);
      text = nullptr;
    }
  }
  close(fd);
  if (text && !strstr(text, "File \"")) {
    free(text);
    text = nullptr;
  }
  return text;
}

int py_frames(const char* text, void (*fn)(const PyFrame& f, void* ctx), void* ctx) {
  if (!text) return 0;
  // Lines look like:   File "/path/x.py", line 12 in worker
  // and come most recent first; collect, then hand out oldest first.
  constexpr int kMax = 128;
  static thread_local PyFrame frames[kMax];
  int n = 0;
  for (const char* p = text; *p && n < kMax;) {
    const char* eol = strchr(p, '\n');
    size_t len = eol ? size_t(eol - p) : strlen(p);
    const char* f = static_cast<const char*>(memmem(p, len, "File \"", 6));
    if (f) {
      f += 6;
      const char* q = static_cast<const char*>(memchr(f, '"', len - (f - p)));
      if (q) {
        PyFrame& fr = frames[n];
        snprintf(fr.file, sizeof fr.file, "%.*s", int(q - f), f);
        fr.line = 0;
        fr.function[0] = 0;
        const char* l = static_cast<const char*>(memmem(q, len - (q - p), "line ", 5));
        if (l) fr.line = atoi(l + 5);
        const char* in = static_cast<const char*>(memmem(q, len - (q - p), " in ", 4));
        if (in) snprintf(fr.function, sizeof fr.function, "%.*s", int(len - (in + 4 - p)), in + 4);
        n++;
      }
    }
    p = eol ? eol + 1 : p + len;
  }
  for (int i = n - 1; i >= 0; i--) fn(frames[i], ctx);
  return n;
}

void py_thread_name(char* out, size_t len) {
  // Reading threading's names needs the GIL; see python_names.cpp (issue 3).
  if (len) out[0] = 0;
}

}  // namespace zg
