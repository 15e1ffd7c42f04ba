// SPDX-License-Identifier: MIT
// Finding the real libzmq functions.
//
// RTLD_NEXT finds libzmq when it is in the global scope (a program linked
// with -lzmq).  Python extensions are loaded RTLD_LOCAL, so there libzmq is
// only reachable through its own handle: dlopen(RTLD_NOLOAD) by soname, or
// by path for a renamed private copy (pip wheels ship libzmq-<hash>.so.5),
// found by scanning the loaded objects.  Each copy gets its own table; a
// socket remembers the copy that created it, and calls without a socket go
// to the copy their caller was linked against.
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>

#include "core/api.h"
#include "core/options.h"
#include "core/threads.h"
#include "interpose/copies.h"
#include "report/sink.h"

namespace zg {
namespace {

constexpr int kMaxCopies = kMaxLibzmqCopies;

struct Copy {
  RealTable table;
  void* handle;
  uintptr_t lo[4], hi[4];  // executable segments
  int nseg;
};


pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
Copy g_copies[kMaxCopies];
std::atomic<int> g_ncopies{0};
}  // namespace

// The functions of the only libzmq copy loaded, while there is one: where
// calls go that need not know their socket's copy (mode=off, pass-through
// regions).  Null before the first scan and once a second copy is found.
std::atomic<void* const*> g_sole_copy{nullptr};

namespace {
RealTable g_next;  // what RTLD_NEXT gives (global scope)
std::atomic<bool> g_next_ok{false};
unsigned long long g_seen_adds = 0;
std::atomic<bool> g_socket_call{false};  // a zmq_socket call reached the guard

// Cache: caller object -> table, for processes with several copies.
struct CallerEntry {
  std::atomic<const void*> map;
  RealTable* table;
};
CallerEntry g_callers[64];
std::atomic<int> g_ncallers{0};

bool is_self(void* p) {
  Dl_info info;
  static Dl_info self;
  static bool have_self = dladdr(reinterpret_cast<void*>(&is_self), &self) != 0;
  if (!p || !have_self) return false;
  if (!dladdr(p, &info)) return false;
  return info.dli_fbase == self.dli_fbase;
}

struct Found {
  char paths[kMaxCopies][256];
  int n;
};

bool looks_like_libzmq(const char* path) {
  const char* base = strrchr(path, '/');
  base = base ? base + 1 : path;
  return strncmp(base, "libzmq", 6) == 0 && strstr(base, ".so") != nullptr &&
         strncmp(base, "libzmqguard", 11) != 0;
}

int collect(struct dl_phdr_info* info, size_t, void* data) {
  auto* f = static_cast<Found*>(data);
  if (info->dlpi_name && looks_like_libzmq(info->dlpi_name) && f->n < kMaxCopies)
    snprintf(f->paths[f->n++], 256, "%s", info->dlpi_name);
  return 0;
}

int adds_cb(struct dl_phdr_info* info, size_t size, void* data) {
  if (size >= offsetof(struct dl_phdr_info, dlpi_subs))
    *static_cast<unsigned long long*>(data) = info->dlpi_adds;
  return 1;
}

int segments(struct dl_phdr_info* info, size_t, void* data) {
  auto* c = static_cast<Copy*>(data);
  if (!info->dlpi_name || strcmp(info->dlpi_name, c->table.path) != 0) return 0;
  c->nseg = 0;
  for (int i = 0; i < info->dlpi_phnum && c->nseg < 4; i++) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X)) {
      c->lo[c->nseg] = info->dlpi_addr + ph.p_vaddr;
      c->hi[c->nseg] = c->lo[c->nseg] + ph.p_memsz;
      c->nseg++;
    }
  }
  return 1;
}

void fill(RealTable* t, void* handle) {
  for (int i = 0; i < FN_COUNT; i++) {
    void* p = dlsym(handle, kFnNames[i]);
    t->fn[i] = is_self(p) ? nullptr : p;
  }
}

// Adds every libzmq copy not yet known.  Called with g_mu held.
void scan_locked() {
  unsigned long long adds = 0;
  dl_iterate_phdr(adds_cb, &adds);
  if (adds != 0 && adds == g_seen_adds && g_ncopies.load() > 0) return;
  g_seen_adds = adds;
  Found f{};
  dl_iterate_phdr(collect, &f);  // dlopen must not run inside the callback
  for (int i = 0; i < f.n; i++) {
    bool known = false;
    for (int k = 0; k < g_ncopies.load(); k++)
      if (strcmp(g_copies[k].table.path, f.paths[i]) == 0) known = true;
    if (known || g_ncopies.load() >= kMaxCopies) continue;
    void* h = dlopen(f.paths[i], RTLD_LAZY | RTLD_NOLOAD);
    if (!h) continue;
    Copy& c = g_copies[g_ncopies.load()];
    c.handle = h;
    snprintf(c.table.path, sizeof c.table.path, "%s", f.paths[i]);
    fill(&c.table, h);
    if (!c.table.fn[FN_zmq_socket]) continue;  // not a libzmq after all
    dl_iterate_phdr(segments, &c);
    g_ncopies.store(g_ncopies.load() + 1, std::memory_order_release);
    g_sole_copy.store(g_ncopies.load() == 1 ? g_copies[0].table.fn : nullptr, std::memory_order_release);
    if (options().verbose) sink_notice("zmq-guard: guarding %s", c.table.path);
  }
}

RealTable* table_containing(const void* p) {
  uintptr_t a = reinterpret_cast<uintptr_t>(p);
  int n = g_ncopies.load(std::memory_order_acquire);
  for (int k = 0; k < n; k++)
    for (int s = 0; s < g_copies[k].nseg; s++)
      if (a >= g_copies[k].lo[s] && a < g_copies[k].hi[s]) return &g_copies[k].table;
  return nullptr;
}

}  // namespace

// A parent thread may have been scanning at the fork; the child's lock is
// made fresh (registered once, from the first resolve_init).
void resolve_after_fork_child() {
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  g_mu = fresh;
  deepbind_after_fork_child();
}

void resolve_init() {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, [] { pthread_atfork(nullptr, nullptr, resolve_after_fork_child); });
  pthread_mutex_lock(&g_mu);
  if (!g_next_ok.load()) {
    for (int i = 0; i < FN_COUNT; i++) {
      void* p = dlsym(RTLD_NEXT, kFnNames[i]);
      g_next.fn[i] = is_self(p) ? nullptr : p;
    }
    snprintf(g_next.path, sizeof g_next.path, "(global scope)");
    g_next_ok.store(true, std::memory_order_release);
  }
  scan_locked();
  pthread_mutex_unlock(&g_mu);
}

bool pc_in_libzmq(const void* pc) { return table_containing(pc) != nullptr; }

RealTable* real_for_caller(const void* ra) {
  int n = g_ncopies.load(std::memory_order_acquire);
  if (__builtin_expect(n == 1, 1)) return &g_copies[0].table;
  if (n == 0) {
    resolve_init();
    n = g_ncopies.load(std::memory_order_acquire);
    if (n == 0) return g_next.fn[FN_zmq_socket] ? &g_next : &g_copies[0].table;
    if (n == 1) return &g_copies[0].table;
  }
  // A wrapper handed out by dlsym for one copy (interpose/dlsym.cpp).
  if (RealTable* bound = tls_bound_copy) return bound;
  // Several copies: the one the calling object was linked against.
  struct dl_find_object dlfo;
  if (!ra || _dl_find_object(const_cast<void*>(ra), &dlfo) != 0) return &g_copies[0].table;
  const void* map = dlfo.dlfo_link_map;
  int nc = g_ncallers.load(std::memory_order_acquire);
  for (int i = 0; i < nc; i++)
    if (g_callers[i].map.load(std::memory_order_relaxed) == map) return g_callers[i].table;
  RealTable* found = nullptr;
  if (RealTable* t = table_containing(ra)) {
    found = t;  // libzmq calling itself
  } else {
    const char* name = dlfo.dlfo_link_map->l_name;
    void* h = (name && name[0]) ? dlopen(name, RTLD_LAZY | RTLD_NOLOAD) : dlopen(nullptr, RTLD_LAZY);
    if (h) {
      // The caller's own dependency tree decides which libzmq it reaches.
      void* p = dlsym(h, "zmq_socket");
      found = table_containing(p);
      dlclose(h);
    }
  }
  if (!found) found = &g_copies[0].table;
  pthread_mutex_lock(&g_mu);
  int i = g_ncallers.load();
  if (i < 64) {
    g_callers[i].table = found;
    g_callers[i].map.store(map, std::memory_order_relaxed);
    g_ncallers.store(i + 1, std::memory_order_release);
  }
  pthread_mutex_unlock(&g_mu);
  return found;
}

__thread RealTable* tls_bound_copy ZG_TLS = nullptr;

int resolve_copy_index(const void* p) {
  uintptr_t a = reinterpret_cast<uintptr_t>(p);
  int n = g_ncopies.load(std::memory_order_acquire);
  for (int k = 0; k < n; k++)
    for (int s = 0; s < g_copies[k].nseg; s++)
      if (a >= g_copies[k].lo[s] && a < g_copies[k].hi[s]) return k;
  return -1;
}

RealTable* resolve_copy(int k) { return &g_copies[k].table; }

bool resolve_any_copy_has(int id) {
  int n = g_ncopies.load(std::memory_order_acquire);
  for (int k = 0; k < n; k++)
    if (g_copies[k].table.fn[id]) return true;
  return false;
}

// Called on slow paths that can afford it (socket creation): picks up a
// libzmq copy loaded after start-up.
void resolve_rescan() {
  g_socket_call.store(true, std::memory_order_relaxed);  // only zmq_socket rescans
  pthread_mutex_lock(&g_mu);
  scan_locked();
  pthread_mutex_unlock(&g_mu);
}

namespace {

// Does any loaded object list `soname` in its DT_NEEDED?  Then libzmq came
// in as a link-time dependency, and calls to it go through the PLT, where
// the guard sits.
struct NeededQuery {
  const char* soname;
  bool found;
};

int needed_cb(struct dl_phdr_info* info, size_t, void* data) {
  auto* q = static_cast<NeededQuery*>(data);
  const ElfW(Dyn)* dyn = nullptr;
  for (int i = 0; i < info->dlpi_phnum; i++)
    if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
      dyn = reinterpret_cast<const ElfW(Dyn)*>(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
  if (!dyn) return 0;
  uintptr_t strtab = 0;
  for (const ElfW(Dyn)* d = dyn; d->d_tag != DT_NULL; d++)
    if (d->d_tag == DT_STRTAB) strtab = d->d_un.d_ptr;
  if (!strtab) return 0;
  // ld.so relocates these entries in place on x86-64; the vDSO's are not.
  if (strtab < info->dlpi_addr) strtab += info->dlpi_addr;
  for (const ElfW(Dyn)* d = dyn; d->d_tag != DT_NULL; d++) {
    if (d->d_tag != DT_NEEDED) continue;
    const char* name = reinterpret_cast<const char*>(strtab + d->d_un.d_val);
    if (strcmp(name, q->soname) == 0) {
      q->found = true;
      return 1;
    }
  }
  return 0;
}

// The soname of a loaded libzmq, read from its dynamic section (a renamed
// wheel copy has its own).
void soname_of(const char* path, char* out, size_t len) {
  const char* base = strrchr(path, '/');
  snprintf(out, len, "%s", base ? base + 1 : path);
  void* h = dlopen(path, RTLD_LAZY | RTLD_NOLOAD);
  if (!h) return;
  struct link_map* lm = nullptr;
  if (dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm && lm->l_ld) {
    uintptr_t strtab = 0;
    long soname = -1;
    for (const ElfW(Dyn)* d = lm->l_ld; d->d_tag != DT_NULL; d++) {
      if (d->d_tag == DT_STRTAB) strtab = d->d_un.d_ptr;
      if (d->d_tag == DT_SONAME) soname = static_cast<long>(d->d_un.d_val);
    }
    if (strtab && soname >= 0) {
      if (strtab < lm->l_addr) strtab += lm->l_addr;
      snprintf(out, len, "%s", reinterpret_cast<const char*>(strtab + soname));
    }
  }
  dlclose(h);
}

// True if the ELF file at `path` defines `name` in .symtab (or .dynsym): a
// statically linked libzmq leaves its functions there.
bool elf_defines(const char* path, const char* name) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat sb;
  bool found = false;
  if (fstat(fd, &sb) == 0 && sb.st_size > (off_t)sizeof(ElfW(Ehdr))) {
    void* map = mmap(nullptr, sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map != MAP_FAILED) {
      const auto* base = static_cast<const unsigned char*>(map);
      const auto* eh = reinterpret_cast<const ElfW(Ehdr)*>(base);
      size_t size = sb.st_size;
      if (memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 && eh->e_ident[EI_CLASS] == ELFCLASS64 &&
          eh->e_shoff && eh->e_shoff + size_t(eh->e_shnum) * sizeof(ElfW(Shdr)) <= size) {
        const auto* sh = reinterpret_cast<const ElfW(Shdr)*>(base + eh->e_shoff);
        for (int i = 0; i < eh->e_shnum && !found; i++) {
          if (sh[i].sh_type != SHT_SYMTAB && sh[i].sh_type != SHT_DYNSYM) continue;
          if (sh[i].sh_link >= eh->e_shnum) continue;
          const ElfW(Shdr)& strsh = sh[sh[i].sh_link];
          if (sh[i].sh_offset + sh[i].sh_size > size || strsh.sh_offset + strsh.sh_size > size) continue;
          const auto* syms = reinterpret_cast<const ElfW(Sym)*>(base + sh[i].sh_offset);
          size_t nsyms = sh[i].sh_size / sizeof(ElfW(Sym));
          const char* strs = reinterpret_cast<const char*>(base + strsh.sh_offset);
          for (size_t k = 0; k < nsyms; k++) {
            if (syms[k].st_shndx == SHN_UNDEF || syms[k].st_name >= strsh.sh_size) continue;
            if (ELF64_ST_TYPE(syms[k].st_info) != STT_FUNC) continue;
            if (strcmp(strs + syms[k].st_name, name) == 0) {
              found = true;
              break;
            }
          }
        }
      }
      munmap(map, sb.st_size);
    }
  }
  close(fd);
  return found;
}

}  // namespace

// At exit: say once when libzmq was used where the guard cannot see it, so a
// clean run is not mistaken for a checked one.  A libzmq that no object
// links against was dlopen'ed (ctypes, cffi), and dlsym on its handle hands
// out libzmq's own functions; a libzmq linked into the executable is called
// directly.  Neither goes through the preload.
void resolve_exit_notice() {
  deepbind_exit_notice();
  if (g_socket_call.load(std::memory_order_relaxed)) return;
  Found f{};
  dl_iterate_phdr(collect, &f);
  if (f.n > 0) {
    for (int i = 0; i < f.n; i++) {
      char soname[256];
      soname_of(f.paths[i], soname, sizeof soname);
      NeededQuery q{soname, false};
      dl_iterate_phdr(needed_cb, &q);
      if (q.found) return;  // linked in the ordinary way: simply unused
    }
    sink_notice(
        "zmq-guard: libzmq (%s) was loaded with dlopen and used without going through the guard (ctypes, "
        "cffi?): its sockets are not checked",
        f.paths[0]);
    return;
  }
  char exe[512];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return;
  exe[n] = 0;
  if (elf_defines(exe, "zmq_socket"))
    sink_notice("zmq-guard: libzmq is linked statically into %s and cannot be interposed: its sockets are not checked",
                exe);
}

}  // namespace zg
