// SPDX-License-Identifier: MIT
/* A library whose constructor, run by dlopen (the loader's lock held),
 * waits for another thread to make a socket: ctor_wait.c's hook, found in
 * the program (this thread holds the loader's lock already). */
#include <dlfcn.h>

__attribute__((constructor)) static void waits_for_a_socket(void) {
  void (*hook)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "ctor_wait_hook");
  if (hook) hook();
}
