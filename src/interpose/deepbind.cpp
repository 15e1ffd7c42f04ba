// SPDX-License-Identifier: MIT
// Objects that bind libzmq past the guard.  An object loaded with
// RTLD_DEEPBIND looks its symbols up in its own dependencies before the
// global scope, so its calls to libzmq skip the preloaded wrappers: PHP
// (8.2, Debian 12) loads every extension so, php-zmq's zmq.so included,
// and would run unchecked.  Such an object's GOT entries for the
// interposed functions are pointed at the guard's wrappers, bound to the
// copy of libzmq they pointed at: its calls then go exactly where they
// went, through the guard.
//
// When: a loader that dlopens a plugin takes its entry point with dlsym
// at once (PHP's get_module, as every plugin system's), so dlsym's hook
// (dlsym.cpp) calls deepbind_check() when it sees a handle other than the
// last one, which costs a look at the loader's count of loaded objects,
// and a scan only when objects were loaded since the last.
//
// Objects bound lazily (RTLD_LAZY): an entry not yet bound still leads to
// the object's PLT, and its first call would bind past the guard.  Where
// that call would go is the first definition in the object's lookup
// scope, which only ld.so knows: its private struct link_map holds the
// scopes (l_scope), and an object opened RTLD_DEEPBIND has its loader's
// dependency list (l_searchlist) first, the global scope second.  That
// layout is read for the glibc it was measured on, checked on the main
// program's map before it is trusted; the entry then gets the wrapper for
// the copy that the list's first definition belongs to.  Where the layout
// is unknown, the entry is left to the lazy resolver, and at exit an
// object that went past the guard is named (deepbind_exit_notice), so a
// clean run is not mistaken for a checked one.
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <gnu/libc-version.h>
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>

#include "core/api.h"
#include "interpose/copies.h"
#include "interpose/elf_symbol.h"
#include "report/sink.h"

#if defined(__x86_64__)

namespace zg {
namespace {

std::atomic<unsigned long long> g_scanned_adds{0};
// One scan at a time: two threads making one page writable and read-only
// again in turn would leave one store to fault.
pthread_mutex_t g_scan_mu = PTHREAD_MUTEX_INITIALIZER;

int adds_cb(struct dl_phdr_info* info, size_t size, void* data) {
  if (size >= offsetof(struct dl_phdr_info, dlpi_subs))
    *static_cast<unsigned long long*>(data) = info->dlpi_adds;
  return 1;
}

ElfW(Addr) dyn_addr(const struct dl_phdr_info* info, ElfW(Addr) p) {
  return p < info->dlpi_addr ? p + info->dlpi_addr : p;  // as elf_symbol.h
}

bool starts(const char* s, const char* prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

// What a scan does with an entry that leads past the guard.
enum class Scan { Redirect, Report };

// ld.so's private struct link_map: where an object's lookup scopes are.
// Offsets from Debian 12's libc6-dbg (gdb: ptype /o struct link_map).
struct MapLayout {
  const char* glibc;   // gnu_get_libc_version()
  size_t real;         // l_real: the map itself
  size_t searchlist;   // l_searchlist: {struct link_map** r_list; unsigned r_nlist}
  size_t scope_mem;    // l_scope_mem[4]: l_scope's array until it outgrows it
  size_t scope;        // l_scope: the scopes a lookup from the object walks, in order
  size_t local_scope;  // l_local_scope[0]: &l_searchlist
};
constexpr MapLayout kMapLayouts[] = {
    {"2.36", 40, 728, 904, 944, 952},
};

const char* at(const void* map, size_t off) { return static_cast<const char*>(map) + off; }

template <typename T>
T field(const void* map, size_t off) {
  T v;
  memcpy(&v, at(map, off), sizeof v);
  return v;
}

// This glibc's layout and its global scope (the main program's searchlist),
// if the layout is known and true of the main program's map: l_real is the
// map, its searchlist starts with itself, and its l_scope (the array in
// the map) and l_local_scope both name that searchlist.
struct Scopes {
  const MapLayout* layout;
  const void* global;
};

Scopes find_scopes() {
  const void* main_map = _r_debug.r_map;
  for (const MapLayout& l : kMapLayouts) {
    if (!main_map || strcmp(gnu_get_libc_version(), l.glibc) != 0) continue;
    const char* global = at(main_map, l.searchlist);
    auto list = field<void* const*>(main_map, l.searchlist);
    // Compares of values first: a pointer is followed only once they hold.
    if (field<const void*>(main_map, l.real) == main_map && field<const void*>(main_map, l.local_scope) == global &&
        field<const void*>(main_map, l.scope) == at(main_map, l.scope_mem) &&
        field<const void*>(main_map, l.scope_mem) == global && list && list[0] == main_map)
      return {&l, global};
  }
  return {nullptr, nullptr};
}

// The list a lookup from `map` walks before the global scope, when the
// object was opened RTLD_DEEPBIND: its scopes are then its loader's
// searchlist (the dlopen'ed object and its dependencies, breadth first),
// the global scope second.  Empty for an object that looks in the global
// scope first, and for one whose map is not as the layout says.
struct List {
  void* const* maps;
  unsigned n;
};

List deep_list(const Scopes& s, const void* map) {
  const MapLayout& l = *s.layout;
  if (field<const void*>(map, l.real) != map || field<const void*>(map, l.local_scope) != at(map, l.searchlist))
    return {nullptr, 0};
  // Only the array inside the map: one that outgrew it is replaced, and
  // the old one freed, when a later dlopen adds a scope.
  if (field<const void*>(map, l.scope) != at(map, l.scope_mem)) return {nullptr, 0};
  auto first = field<const char*>(map, l.scope_mem);
  auto second = field<const void*>(map, l.scope_mem + sizeof(void*));
  if (!first || first == s.global || second != s.global) return {nullptr, 0};
  const void* loader = first - l.searchlist;
  auto maps = field<void* const*>(loader, l.searchlist);
  auto n = field<unsigned>(loader, l.searchlist + sizeof(void*));
  if (field<const void*>(loader, l.real) != loader || field<const void*>(loader, l.local_scope) != first ||
      !maps || n == 0 || n > 4096 || maps[0] != loader)
    return {nullptr, 0};
  return {maps, n};
}

bool has_gnu_hash(const struct link_map* m) {
  for (const ElfW(Dyn)* d = m->l_ld; d && d->d_tag != DT_NULL; d++)
    if (d->d_tag == DT_GNU_HASH) return true;
  return false;
}

// The copy whose function `id` a lazy binding through `list` would take:
// the first object of the list that defines the name, if that is a copy
// of libzmq; else -1.
int first_definition(List list, int id) {
  for (unsigned i = 0; i < list.n; i++) {
    auto* m = static_cast<const struct link_map*>(list.maps[i]);
    if (!m || !m->l_ld || !has_gnu_hash(m)) return -1;  // cannot tell what it defines
    void* p = zg_elf_lookup(m, kFnNames[id]);
    if (!p) continue;
    int k = resolve_copy_index(p);
    return k >= 0 && resolve_copy(k)->fn[id] == p ? k : -1;
  }
  return -1;
}

// The object being scanned.
struct Object {
  const struct dl_phdr_info* info;
  Scan what;
  const Scopes* scopes;
  bool looked;  // `deep` was looked up
  List deep;
};

bool in_own_code(const struct dl_phdr_info* info, const void* v) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(v);
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    const uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X) && a >= lo && a < lo + ph.p_memsz) return true;
  }
  return false;
}

// Where a lazy binding of `slot` to function `id` would lead: the copy of
// the object's RTLD_DEEPBIND list, or -1 (the global scope, where the
// guard is, or unknown).
int lazy_copy(Object& o, void** slot, int id) {
  if (!o.looked) {
    o.looked = true;
    struct dl_find_object dlfo;
    if (o.scopes->layout && _dl_find_object(slot, &dlfo) == 0 && dlfo.dlfo_link_map &&
        dlfo.dlfo_link_map->l_addr == o.info->dlpi_addr)
      o.deep = deep_list(*o.scopes, dlfo.dlfo_link_map);
  }
  return o.deep.n ? first_definition(o.deep, id) : -1;
}

// Stores `want` into `slot` if it still holds `was` (RELRO pages are made
// writable for the store).  False if it held something else by then: the
// lazy resolver bound it meanwhile.
bool store(const struct dl_phdr_info* info, void** slot, void* was, void* want) {
  uintptr_t at = reinterpret_cast<uintptr_t>(slot);
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  // Read-only after relocation: the RELRO segment's whole pages, as ld.so
  // protects it (its end rounded down; a last partial page stays writable
  // and must stay so).
  bool relro = false;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    uintptr_t lo = (info->dlpi_addr + ph.p_vaddr) & ~(page - 1);
    uintptr_t hi = (info->dlpi_addr + ph.p_vaddr + ph.p_memsz) & ~(page - 1);
    if (ph.p_type == PT_GNU_RELRO && at >= lo && at < hi) relro = true;
  }
  void* base = reinterpret_cast<void*>(at & ~(page - 1));
  if (relro && mprotect(base, page, PROT_READ | PROT_WRITE) != 0) return true;  // give up on it
  bool stored = __atomic_compare_exchange_n(slot, &was, want, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
  if (relro) mprotect(base, page, PROT_READ);
  return stored;
}

// One GOT entry for function `id`.  If it holds copy k's own function, it
// leads past the guard: Redirect gives it the wrapper for copy k.  A
// JUMP_SLOT entry still at the object's own PLT is not bound yet: Redirect
// gives it the wrapper for the copy its first call would bind to, if that
// is past the guard.  True if the entry led past the guard.
bool redirect(Object& o, void** slot, int id, bool jump_slot) {
  for (int tries = 0; tries < 2; tries++) {
    void* v = __atomic_load_n(slot, __ATOMIC_RELAXED);
    int k = resolve_copy_index(v);
    if (k >= 0 && resolve_copy(k)->fn[id] == v) {
      if (o.what == Scan::Report) return true;
    } else if (jump_slot && o.what == Scan::Redirect && in_own_code(o.info, v)) {
      k = lazy_copy(o, slot, id);
      if (k < 0) return false;
    } else {
      return false;
    }
    if (store(o.info, slot, v, bound_wrappers(k)[id])) return true;
  }
  return true;
}

// The first interposed function an entry of which led past the guard, or
// null.
const char* redirect_relocs(Object& o, const ElfW(Rela)* r, size_t bytes, const ElfW(Sym)* symtab,
                            const char* strtab) {
  const char* past = nullptr;
  for (size_t i = 0; r && i < bytes / sizeof(ElfW(Rela)); i++) {
    unsigned type = ELF64_R_TYPE(r[i].r_info);
    if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT) continue;
    const char* name = strtab + symtab[ELF64_R_SYM(r[i].r_info)].st_name;
    if (name[0] != 'z' || !starts(name, "zmq_")) continue;
    for (int id = 0; id < FN_COUNT; id++)
      if (zg_elf_same(kFnNames[id], name)) {
        void** slot = reinterpret_cast<void**>(o.info->dlpi_addr + r[i].r_offset);
        if (redirect(o, slot, id, type == R_X86_64_JUMP_SLOT) && !past) past = kFnNames[id];
        break;
      }
  }
  return past;
}

struct ScanCtx {
  Scan what;
  int reported;
  Scopes scopes;
};

// Each object that needs a libzmq: its entries for the interposed functions.
int scan_cb(struct dl_phdr_info* info, size_t, void* data) {
  auto* ctx = static_cast<ScanCtx*>(data);
  const ElfW(Dyn)* dyn = nullptr;
  for (int i = 0; i < info->dlpi_phnum; i++)
    if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
      dyn = reinterpret_cast<const ElfW(Dyn)*>(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
  if (!dyn || !info->dlpi_name || !info->dlpi_name[0]) return 0;  // the executable binds globally
  const char* strtab = nullptr;
  const ElfW(Sym)* symtab = nullptr;
  const ElfW(Rela) *jmprel = nullptr, *rela = nullptr;
  size_t jmprel_bytes = 0, rela_bytes = 0;
  bool rela_plt = true;
  for (const ElfW(Dyn)* d = dyn; d->d_tag != DT_NULL; d++) {
    switch (d->d_tag) {
      case DT_STRTAB: strtab = reinterpret_cast<const char*>(dyn_addr(info, d->d_un.d_ptr)); break;
      case DT_SYMTAB: symtab = reinterpret_cast<const ElfW(Sym)*>(dyn_addr(info, d->d_un.d_ptr)); break;
      case DT_JMPREL: jmprel = reinterpret_cast<const ElfW(Rela)*>(dyn_addr(info, d->d_un.d_ptr)); break;
      case DT_PLTRELSZ: jmprel_bytes = d->d_un.d_val; break;
      case DT_PLTREL: rela_plt = d->d_un.d_val == DT_RELA; break;
      case DT_RELA: rela = reinterpret_cast<const ElfW(Rela)*>(dyn_addr(info, d->d_un.d_ptr)); break;
      case DT_RELASZ: rela_bytes = d->d_un.d_val; break;
      default: break;
    }
  }
  if (!strtab || !symtab || !rela_plt) return 0;
  bool needs = false;
  for (const ElfW(Dyn)* d = dyn; d->d_tag != DT_NULL && !needs; d++)
    if (d->d_tag == DT_NEEDED && starts(strtab + d->d_un.d_val, "libzmq") &&
        !starts(strtab + d->d_un.d_val, "libzmqguard"))
      needs = true;
  if (!needs) return 0;
  Object o{info, ctx->what, &ctx->scopes, false, {nullptr, 0}};
  const char* past = redirect_relocs(o, jmprel, jmprel_bytes, symtab, strtab);
  if (!past) past = redirect_relocs(o, rela, rela_bytes, symtab, strtab);
  if (past && ctx->what == Scan::Report && ctx->reported++ < 4)
    sink_notice(
        "zmq-guard: %s calls libzmq (%s) directly, past the guard (loaded with RTLD_DEEPBIND, and used before the guard "
        "could redirect it?): its sockets are not checked",
        info->dlpi_name, past);
  return 0;
}

}  // namespace

void deepbind_check() {
  unsigned long long adds = 0;
  dl_iterate_phdr(adds_cb, &adds);
  if (adds == g_scanned_adds.load(std::memory_order_relaxed)) return;
  const int saved = errno;  // the caller's dlsym must not see ours
  pthread_mutex_lock(&g_scan_mu);
  if (adds != g_scanned_adds.load(std::memory_order_relaxed)) {
    resolve_init();  // the copies loaded with the new objects
    ScanCtx ctx{Scan::Redirect, 0, find_scopes()};
    dl_iterate_phdr(scan_cb, &ctx);
    g_scanned_adds.store(adds, std::memory_order_relaxed);
  }
  pthread_mutex_unlock(&g_scan_mu);
  errno = saved;
}

void deepbind_after_fork_child() {
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  g_scan_mu = fresh;
}

void deepbind_exit_notice() {
  pthread_mutex_lock(&g_scan_mu);
  resolve_init();
  ScanCtx ctx{Scan::Report, 0, {nullptr, nullptr}};
  dl_iterate_phdr(scan_cb, &ctx);
  pthread_mutex_unlock(&g_scan_mu);
}

}  // namespace zg

#else

namespace zg {
void deepbind_check() {}
void deepbind_exit_notice() {}
void deepbind_after_fork_child() {}
}  // namespace zg

#endif  // __x86_64__
