// SPDX-License-Identifier: MIT
#include "report/frames.h"

#include <elf.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

namespace zg {
namespace {

bool starts(const char* s, const char* prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

// The system's library directories: what is there was installed, not
// written by the program's authors.
bool system_dir(const char* path) {
  static const char* const kDirs[] = {"/usr/lib/", "/lib/", "/usr/lib64/", "/lib64/", "/usr/lib32/", "/usr/libexec/"};
  for (const char* d : kDirs)
    if (starts(path, d)) return true;
  return false;
}

bool runtime_module(const char* base) {
  static const char* const kRuntime[] = {"libc.so",   "libc-",     "ld-linux", "ld-",        "libpthread",
                                         "libdl.",    "libdl-",    "librt.",   "libm.so",    "libgcc_s",
                                         "libzmq",    "libpython", "linux-vdso", "libffi",   "python",
                                         "php",       "libperl",   "perl",
                                         // the sanitizers' runtimes: their thread start wraps every thread's
                                         "libasan",   "libtsan",   "libubsan"};
  for (const char* r : kRuntime)
    if (starts(base, r)) return true;
  return false;
}

// The executable's file name (a module by that name is the executable).
const char* exe_base() {
  static char base[256];
  if (!base[0]) {
    char exe[512];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
      exe[n] = 0;
      snprintf(base, sizeof base, "%s", module_base(exe));
    }
  }
  return base;
}

}  // namespace

const char* frame_class_name(FrameClass c) {
  switch (c) {
    case FrameClass::User: return "user";
    case FrameClass::Library: return "library";
    case FrameClass::Runtime: return "runtime";
  }
  return "library";
}

const char* module_base(const char* module) {
  const char* slash = strrchr(module, '/');
  return slash ? slash + 1 : module;
}

bool native_binding(const Frame& f) {
  const char* mod = module_base(f.module);
  const char* file = module_base(f.file);
  // "zmq::" is cppzmq's namespace and the Rust crate's; the crate's trait
  // impls read "<T as zmq::Sendable>::send".
  return starts(mod, "libzmq") || starts(mod, "libczmq") || starts(f.function, "zmq::") ||
         strstr(f.function, " as zmq::") || !strcmp(file, "zmq.hpp") || !strcmp(file, "zmq_addon.hpp");
}

FrameClass classify_native(const Frame& f) {
  if (!f.module[0]) return FrameClass::Runtime;
  // The C runtime's start-up code linked into every executable.
  if (!strcmp(f.function, "_start")) return FrameClass::Runtime;
  const char* base = module_base(f.module);
  // The guard's own frames are cut off when a stack is captured; any left
  // (a copy under another name would be) are the runtime's.
  if (starts(base, "libzmqguard")) return FrameClass::Runtime;
  const char* file = module_base(f.file);
  // cppzmq's header is inlined into the program's own module.
  if (!strcmp(file, "zmq.hpp") || !strcmp(file, "zmq_addon.hpp")) return FrameClass::Library;
  if (runtime_module(base)) return FrameClass::Runtime;
  if (f.module[0] == '/' && system_dir(f.module)) return FrameClass::Library;
  // The executable, or a library of the program's own (a build tree, /opt,
  // /usr/local).  An executable named like an interpreter is the runtime
  // (caught above by its name).
  return FrameClass::User;
}

bool pyzmq_file(const char* file) {
  if (strstr(file, "-packages/zmq/")) return true;
  static const char* const kModules[] = {"/zmq/sugar/", "/zmq/_future.py", "/zmq/asyncio.py", "/zmq/green/",
                                         "/zmq/eventloop/", "/zmq/devices/", "/zmq/decorators.py",
                                         "/zmq/__init__.py"};
  for (const char* m : kModules)
    if (strstr(file, m)) return true;
  return false;
}

namespace {

// Where the standard library's path part ends: after "/lib/python3.11/"
// (or lib64), 0 if the file is not below one.
size_t stdlib_end(const char* file) {
  for (const char* p = file; (p = strstr(p, "/python")) != nullptr; p++) {
    bool after_lib = (p - file >= 4 && !strncmp(p - 4, "/lib", 4)) || (p - file >= 6 && !strncmp(p - 6, "/lib64", 6));
    if (!after_lib) continue;
    const char* q = p + 7;
    if (*q < '0' || *q > '9') continue;
    while ((*q >= '0' && *q <= '9') || *q == '.') q++;
    if (*q == '/') return size_t(q + 1 - file);
  }
  return 0;
}

}  // namespace

FrameClass classify_python(const PyFrame& f) {
  if (f.file[0] == '<') return FrameClass::Runtime;  // <frozen runpy>, <string>
  if (strstr(f.file, "-packages/") || stdlib_end(f.file)) return FrameClass::Library;
  return FrameClass::User;
}

void python_short_name(const char* file, char* out, size_t size) {
  const char* p = strstr(file, "-packages/");
  if (p) {
    snprintf(out, size, "%s", p + strlen("-packages/"));
    return;
  }
  size_t end = stdlib_end(file);
  snprintf(out, size, "%s", end ? file + end : module_base(file));
}

namespace {

struct BuildIdSearch {
  const char* module;
  bool exe;
  char* hex;
  size_t size;
  bool found;
};

int build_id_of(struct dl_phdr_info* info, size_t, void* data) {
  auto* s = static_cast<BuildIdSearch*>(data);
  const char* name = info->dlpi_name ? info->dlpi_name : "";
  bool match = s->exe ? !name[0] : name[0] && !strcmp(module_base(name), module_base(s->module));
  if (!match) return 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    const char* p = reinterpret_cast<const char*>(info->dlpi_addr + ph.p_vaddr);
    const char* end = p + ph.p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      const auto* nh = reinterpret_cast<const ElfW(Nhdr)*>(p);
      const char* name_at = p + sizeof(ElfW(Nhdr));
      const unsigned char* desc = reinterpret_cast<const unsigned char*>(name_at + ((nh->n_namesz + 3) & ~3u));
      if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && !memcmp(name_at, "GNU", 4) &&
          reinterpret_cast<const char*>(desc) + nh->n_descsz <= end) {
        size_t k = 0;
        for (unsigned j = 0; j < nh->n_descsz && k + 3 <= s->size; j++) k += size_t(snprintf(s->hex + k, 3, "%02x", desc[j]));
        s->found = k > 0;
        return 1;
      }
      p = reinterpret_cast<const char*>(desc) + ((nh->n_descsz + 3) & ~3u);
    }
  }
  return 1;
}

}  // namespace

bool module_build_id(const char* module, char* hex, size_t size) {
  if (!module[0] || size < 3) return false;
  hex[0] = 0;
  BuildIdSearch s{module, !strcmp(module_base(module), exe_base()), hex, size, false};
  dl_iterate_phdr(build_id_of, &s);
  return s.found;
}

}  // namespace zg
