// SPDX-License-Identifier: MIT
// For test programs (C): the file name of the loaded object holding an
// address, as dladdr sees it ("(null)" for no address), so a program can
// print where a dlsym lookup led.
#ifndef ZG_TESTS_OBJECT_NAME_H
#define ZG_TESTS_OBJECT_NAME_H

#include <dlfcn.h>
#include <string.h>

static inline const char* object_name(void* p) {
  Dl_info info;
  if (!p) return "(null)";
  if (!dladdr(p, &info) || !info.dli_fname) return "?";
  const char* slash = strrchr(info.dli_fname, '/');
  return slash ? slash + 1 : info.dli_fname;
}

#endif
