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
// and a scan only when objects were loaded since the last.  Objects bound
// lazily are left alone: their entries still lead to their PLT, and the
// first call would bind past the guard (PHP binds at load: BIND_NOW); at
// exit such an object is named (deepbind_exit_notice), so a clean run is
// not mistaken for a checked one.
#include <elf.h>
#include <errno.h>
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

struct ScanCtx {
  Scan what;
  int reported;
};

// One GOT entry: if it holds copy k's own function `id`, it leads past the
// guard.  Redirect: it gets the wrapper for copy k (RELRO pages are made
// writable for the store).  True if it led past the guard.
bool redirect(const struct dl_phdr_info* info, void** slot, int id, Scan what) {
  void* v = __atomic_load_n(slot, __ATOMIC_RELAXED);
  int k = resolve_copy_index(v);
  if (k < 0 || resolve_copy(k)->fn[id] != v) return false;
  if (what == Scan::Report) return true;
  void* want = bound_wrappers(k)[id];
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
  if (relro && mprotect(base, page, PROT_READ | PROT_WRITE) != 0) return true;
  __atomic_store_n(slot, want, __ATOMIC_RELEASE);
  if (relro) mprotect(base, page, PROT_READ);
  return true;
}

// The first interposed function an entry of which led past the guard, or
// null.
const char* redirect_relocs(const struct dl_phdr_info* info, const ElfW(Rela)* r, size_t bytes,
                            const ElfW(Sym)* symtab, const char* strtab, Scan what) {
  const char* past = nullptr;
  for (size_t i = 0; r && i < bytes / sizeof(ElfW(Rela)); i++) {
    unsigned type = ELF64_R_TYPE(r[i].r_info);
    if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT) continue;
    const char* name = strtab + symtab[ELF64_R_SYM(r[i].r_info)].st_name;
    if (name[0] != 'z' || !starts(name, "zmq_")) continue;
    for (int id = 0; id < FN_COUNT; id++)
      if (zg_elf_same(kFnNames[id], name)) {
        if (redirect(info, reinterpret_cast<void**>(info->dlpi_addr + r[i].r_offset), id, what) && !past)
          past = kFnNames[id];
        break;
      }
  }
  return past;
}

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
  const char* past = redirect_relocs(info, jmprel, jmprel_bytes, symtab, strtab, ctx->what);
  if (!past) past = redirect_relocs(info, rela, rela_bytes, symtab, strtab, ctx->what);
  if (past && ctx->what == Scan::Report && ctx->reported++ < 4)
    sink_notice(
        "zmq-guard: %s calls libzmq (%s) directly, past the guard (loaded with RTLD_DEEPBIND and bound lazily?): "
        "its sockets are not checked",
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
    ScanCtx ctx{Scan::Redirect, 0};
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
  ScanCtx ctx{Scan::Report, 0};
  dl_iterate_phdr(scan_cb, &ctx);
  pthread_mutex_unlock(&g_scan_mu);
}

}  // namespace zg

#else

namespace zg {
void deepbind_check() {}
void deepbind_after_fork_child() {
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  g_scan_mu = fresh;
}

void deepbind_exit_notice() {}
void deepbind_after_fork_child() {}
}  // namespace zg

#endif  // __x86_64__
