// SPDX-License-Identifier: MIT
// Call shapes for test_unwind.cpp, built with -O2 -fomit-frame-pointer (its
// own library in meson.build): frames whose CFA is rsp-based and moves
// inside the function, and alloca frames, which keep an rbp-based CFA even
// so.
#include "unwind_shapes.h"

#include <alloca.h>
#include <string.h>

namespace shapes {

__attribute__((noinline)) int omit_leaf(Visit visit, void* arg, int n) {
  volatile char pad[40 + (n & 7)];
  pad[0] = static_cast<char>(n);
  visit(arg);
  return pad[0];
}

__attribute__((noinline)) int omit_recurse(Visit visit, void* arg, int depth) {
  if (depth == 0) return omit_leaf(visit, arg, depth);
  int r = omit_recurse(visit, arg, depth - 1);
  asm volatile("" ::: "memory");
  return r + 1;
}

__attribute__((noinline)) int alloca_frame(Visit visit, void* arg, int size) {
  char* buf = static_cast<char*>(alloca(static_cast<size_t>(size)));
  memset(buf, 1, static_cast<size_t>(size));
  visit(arg);
  asm volatile("" : : "r"(buf) : "memory");
  return buf[size - 1];
}

__attribute__((noinline)) int vla_frame(Visit visit, void* arg, int n) {
  char buf[n];
  memset(buf, 2, sizeof buf);
  int r = alloca_frame(visit, arg, n * 3 + 1);
  asm volatile("" : : "r"(buf) : "memory");
  return r + buf[n - 1];
}

}  // namespace shapes
