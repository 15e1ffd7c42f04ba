// SPDX-License-Identifier: MIT
/* A library of exit_dtor's whose destructor prints, as a coverage runtime's
 * writes its data at exit. */
#include <stdio.h>
#include <unistd.h>

__attribute__((destructor)) static void exit_lib_fini(void) {
  static const char line[] = "exit_lib: destructor ran\n";
  ssize_t n = write(2, line, sizeof line - 1);
  (void)n;
}

void exit_lib_touch(void) {}
