// SPDX-License-Identifier: MIT
/* Looking a symbol up in a loaded object's own dynamic symbol table, past
 * dlsym and whatever wraps it: the guard finds libc's dlsym this way
 * (interpose/dlsym.cpp), and the benchmarks' A/B finds libzmq's own
 * functions.  C and C++; no libc string function (the ASan runtime
 * intercepts those and calls dlsym before its own pointers to them are
 * set). */
#ifndef ZMQ_GUARD_ELF_SYMBOL_H
#define ZMQ_GUARD_ELF_SYMBOL_H

#include <elf.h>
#include <link.h>
#include <stdint.h>

// Runs before a sanitizer's runtime is set up (ASan looks its functions up
// with dlsym from its own initializer): no instrumentation, which would
// touch shadow memory that does not exist yet.
#ifndef ZG_NO_SANITIZE
#define ZG_NO_SANITIZE __attribute__((no_sanitize("address", "undefined", "thread")))
#endif
ZG_NO_SANITIZE static inline int zg_elf_same(const char* a, const char* b) {
  while (*a && *a == *b) a++, b++;
  return *a == *b;
}

/* The default version of `name` defined by the object of `map` (through its
 * GNU hash table), or NULL. */
ZG_NO_SANITIZE static inline void* zg_elf_lookup(const struct link_map* map, const char* name) {
  const ElfW(Sym)* symtab = 0;
  const char* strtab = 0;
  const uint32_t* gnuhash = 0;
  const ElfW(Half)* versym = 0;
  const ElfW(Dyn)* d;
  for (d = map->l_ld; d->d_tag != DT_NULL; d++) {
    /* ld.so relocates these entries in place (on x86-64; not the vDSO's). */
    ElfW(Addr) a = d->d_un.d_ptr < map->l_addr ? d->d_un.d_ptr + map->l_addr : d->d_un.d_ptr;
    if (d->d_tag == DT_SYMTAB) symtab = (const ElfW(Sym)*)a;
    else if (d->d_tag == DT_STRTAB) strtab = (const char*)a;
    else if (d->d_tag == DT_GNU_HASH) gnuhash = (const uint32_t*)a;
    else if (d->d_tag == DT_VERSYM) versym = (const ElfW(Half)*)a;
  }
  if (!symtab || !strtab || !gnuhash || gnuhash[0] == 0) return 0;
  const uint32_t nbuckets = gnuhash[0], symoffset = gnuhash[1], bloom_words = gnuhash[2];
  const uint32_t* buckets = gnuhash + 4 + bloom_words * (sizeof(ElfW(Addr)) / 4);
  const uint32_t* chain = buckets + nbuckets;
  uint32_t h = 5381;
  for (const char* s = name; *s; s++) h = h * 33 + (unsigned char)*s;
  void* found = 0;
  for (uint32_t i = buckets[h % nbuckets]; i != 0 && i >= symoffset; i++) {
    const uint32_t ch = chain[i - symoffset];
    const ElfW(Sym)* sym = &symtab[i];
    if ((ch | 1) == (h | 1) && sym->st_shndx != SHN_UNDEF && zg_elf_same(strtab + sym->st_name, name)) {
      found = (void*)(map->l_addr + sym->st_value);
      if (!versym || !(versym[i] & 0x8000)) return found; /* not hidden: the default version */
    }
    if (ch & 1) break;
  }
  return found;
}

#endif
