// SPDX-License-Identifier: MIT
// dlsym and dlvsym: FFI bindings (ctypes, cffi, Perl's ZMQ::FFI, Node,
// Julia) open libzmq with dlopen and take its functions with dlsym on that
// handle, past the preloaded wrappers.  Here a lookup of an interposed name
// that lands in a loaded libzmq answers the guard's wrapper for that copy;
// every other lookup must mean exactly what it meant without the guard.
//
// glibc's dlsym reads its own return address to decide what RTLD_NEXT and
// RTLD_DEFAULT mean (the objects after the caller's; the caller's scope).
// So the entry points are a few instructions of assembly that ask the hook
// whether to answer, and otherwise jump (not call) into libc's dlsym with
// the caller's return address still on the stack: the real function sees
// the real caller, another preload library's RTLD_NEXT included.  libc's
// functions are found in its own symbol table (dlsym cannot be used to find
// dlsym), with no lock, no malloc and no constructor needed, because the
// ASan runtime and others call dlsym before any constructor of ours ran.
#include <dlfcn.h>
#include <gnu/libc-version.h>
#include <link.h>

#include <atomic>

#include "core/api.h"
#include "core/threads.h"
#include "interpose/copies.h"
#include "interpose/elf_symbol.h"

#if defined(__x86_64__)

extern "C" {
// Read by the entry points' final jump; set by the hooks before they ask
// for a jump.  Hidden: internal to the library.
__attribute__((visibility("hidden"))) void* zg_real_dlsym = nullptr;
__attribute__((visibility("hidden"))) void* zg_real_dlvsym = nullptr;
__attribute__((visibility("hidden"))) int zg_dlsym_hook(void* handle, const char* name, const void* ra, void** out);
__attribute__((visibility("hidden"))) int zg_dlvsym_hook(void* handle, const char* name, const char* version,
                                                         const void* ra, void** out);
}

// Each entry point saves its arguments, calls its hook with the caller's
// return address and a slot for the answer; a zero return means "not
// ours": the arguments are restored and the real function is jumped to, so
// it returns straight to the caller.  endbr64 keeps them valid targets
// under indirect-branch tracking.
asm(R"(
  .text
  .globl dlsym
  .type dlsym, @function
  .p2align 4
dlsym:
  .cfi_startproc
  endbr64
  pushq %rdi
  .cfi_adjust_cfa_offset 8
  pushq %rsi
  .cfi_adjust_cfa_offset 8
  subq $24, %rsp
  .cfi_adjust_cfa_offset 24
  movq 40(%rsp), %rdx
  leaq 8(%rsp), %rcx
  call zg_dlsym_hook
  testl %eax, %eax
  jnz 1f
  addq $24, %rsp
  .cfi_adjust_cfa_offset -24
  popq %rsi
  .cfi_adjust_cfa_offset -8
  popq %rdi
  .cfi_adjust_cfa_offset -8
  jmp *zg_real_dlsym(%rip)
1:
  .cfi_adjust_cfa_offset 40
  movq 8(%rsp), %rax
  addq $40, %rsp
  .cfi_adjust_cfa_offset -40
  ret
  .cfi_endproc
  .size dlsym, .-dlsym

  .globl dlvsym
  .type dlvsym, @function
  .p2align 4
dlvsym:
  .cfi_startproc
  endbr64
  pushq %rdi
  .cfi_adjust_cfa_offset 8
  pushq %rsi
  .cfi_adjust_cfa_offset 8
  pushq %rdx
  .cfi_adjust_cfa_offset 8
  subq $16, %rsp
  .cfi_adjust_cfa_offset 16
  movq 40(%rsp), %rcx
  movq %rsp, %r8
  call zg_dlvsym_hook
  testl %eax, %eax
  jnz 1f
  addq $16, %rsp
  .cfi_adjust_cfa_offset -16
  popq %rdx
  .cfi_adjust_cfa_offset -8
  popq %rsi
  .cfi_adjust_cfa_offset -8
  popq %rdi
  .cfi_adjust_cfa_offset -8
  jmp *zg_real_dlvsym(%rip)
1:
  .cfi_adjust_cfa_offset 40
  movq (%rsp), %rax
  addq $40, %rsp
  .cfi_adjust_cfa_offset -40
  ret
  .cfi_endproc
  .size dlvsym, .-dlvsym
)");

namespace zg {
namespace {

using dlsym_fn = void* (*)(void*, const char*);
using dlvsym_fn = void* (*)(void*, const char*, const char*);

// The guard's own object: its lookups are its own business (resolve.cpp,
// libdw, Python's API) and must not come back here.
std::atomic<uintptr_t> g_self_lo{0}, g_self_hi{0};

ZG_NO_SANITIZE bool resolve_real() {
  if (__builtin_expect(zg_real_dlvsym != nullptr, 1)) return true;
  struct dl_find_object o;
  // An address inside libc that nothing interposes.
  if (_dl_find_object(reinterpret_cast<void*>(&gnu_get_libc_version), &o) != 0) return false;
  void* s = zg_elf_lookup(o.dlfo_link_map, "dlsym");
  void* v = zg_elf_lookup(o.dlfo_link_map, "dlvsym");
  if (!s || !v) return false;
  struct dl_find_object self;
  if (_dl_find_object(reinterpret_cast<void*>(&resolve_real), &self) == 0) {
    g_self_lo.store(reinterpret_cast<uintptr_t>(self.dlfo_map_start), std::memory_order_relaxed);
    g_self_hi.store(reinterpret_cast<uintptr_t>(self.dlfo_map_end), std::memory_order_relaxed);
  }
  __atomic_store_n(&zg_real_dlsym, s, __ATOMIC_RELEASE);
  __atomic_store_n(&zg_real_dlvsym, v, __ATOMIC_RELEASE);
  return true;
}

ZG_NO_SANITIZE int interposed_id(const char* name) {
  for (int i = 0; i < FN_COUNT; i++)
    if (zg_elf_same(kFnNames[i], name)) return i;
  return -1;
}

ZG_NO_SANITIZE bool is_draft(int id) {
  static constexpr bool kDraft[FN_COUNT] = {
#define ZG_SOCK(ret, name, params, args, sock, kind, draft) draft != 0,
#define ZG_CALL(ret, name, params, args, draft) draft != 0,
#include "interpose/api.def"
#undef ZG_SOCK
#undef ZG_CALL
  };
  return kDraft[id];
}

__thread int tls_in_hook ZG_TLS;
std::atomic<void*> g_last_handle{nullptr};

// What the real lookup `p` of interposed function `id` becomes.
ZG_NO_SANITIZE void* translate(void* p, int id) {
  if (!p) return nullptr;  // not there (a draft this libzmq lacks): so be it
  if (p == plain_wrappers()[id]) {
    // The guard's own wrapper, reached through the global scope (a handle
    // of the program, RTLD_DEFAULT): a draft no loaded libzmq has is absent.
    if (is_draft(id) && !resolve_any_copy_has(id)) {
      resolve_init();
      if (!resolve_any_copy_has(id)) return nullptr;
    }
    return p;
  }
  int k = resolve_copy_index(p);
  if (k < 0) {
    resolve_init();  // a copy dlopen'ed since the last look
    k = resolve_copy_index(p);
  }
  if (k < 0 || resolve_copy(k)->fn[id] != p) return p;  // some other object's zmq_ function
  return bound_wrappers(k)[id];
}

// Decides for both entry points: 0 to pass the lookup on untouched.
ZG_NO_SANITIZE int hook(void* handle, const char* name, const char* version, const void* ra, void** out) {
  if (!resolve_real()) {
    *out = nullptr;  // no libc dlsym to be found: nothing sensible to call
    return 1;
  }
  uintptr_t a = reinterpret_cast<uintptr_t>(ra);
  const bool own = a >= g_self_lo.load(std::memory_order_relaxed) && a < g_self_hi.load(std::memory_order_relaxed);
  // A handle other than the last one: perhaps a plugin just loaded, whose
  // entry point its loader takes now (deepbind.cpp).
  if (handle != RTLD_NEXT && handle != RTLD_DEFAULT && !own && !tls_in_hook &&
      handle != g_last_handle.load(std::memory_order_relaxed)) {
    g_last_handle.store(handle, std::memory_order_relaxed);
    tls_in_hook = 1;
    deepbind_check();
    tls_in_hook = 0;
  }
  // The cheap tests first: programs that call dlsym in loops pay two compares.
  if (!name || name[0] != 'z' || name[1] != 'm' || name[2] != 'q' || name[3] != '_') return 0;
  if (own || tls_in_hook) return 0;
  int id = interposed_id(name);
  if (id < 0) return 0;
  if (handle == RTLD_NEXT) return 0;  // the caller's meaning, which only libc knows
  if (handle == RTLD_DEFAULT && !is_draft(id)) return 0;
  tls_in_hook = 1;
  // A handle's lookup does not depend on its caller, so it can be made
  // from here; RTLD_DEFAULT from here means the global scope, where the
  // guard's wrapper is found first.
  void* p = version ? reinterpret_cast<dlvsym_fn>(zg_real_dlvsym)(handle, name, version)
                    : reinterpret_cast<dlsym_fn>(zg_real_dlsym)(handle, name);
  if (handle == RTLD_DEFAULT && p != plain_wrappers()[id]) {
    tls_in_hook = 0;
    return 0;  // the caller's scope may differ from the global one: ask libc
  }
  *out = translate(p, id);
  tls_in_hook = 0;
  return 1;
}

}  // namespace
}  // namespace zg

ZG_NO_SANITIZE int zg_dlsym_hook(void* handle, const char* name, const void* ra, void** out) {
  return zg::hook(handle, name, nullptr, ra, out);
}

ZG_NO_SANITIZE int zg_dlvsym_hook(void* handle, const char* name, const char* version, const void* ra, void** out) {
  return zg::hook(handle, name, version, ra, out);
}

#endif  // __x86_64__
