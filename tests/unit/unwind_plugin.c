// SPDX-License-Identifier: MIT
// An object test_unwind.cpp loads, walks through and unloads: frames whose
// rules belong to an object that goes away.
typedef void (*visit_fn)(void*);

__attribute__((noinline)) static int inner(visit_fn visit, void* arg, int n) {
  volatile char pad[24 + (n & 7)];
  pad[0] = (char)n;
  visit(arg);
  return pad[0];
}

int zg_plugin_call(visit_fn visit, void* arg) {
  int r = inner(visit, arg, 5);
  __asm__ volatile("" ::: "memory");
  return r + 1;
}
