// SPDX-License-Identifier: MIT
// A host program that does not link libzmq: it dlopen()s a plugin with
// RTLD_LOCAL, so libzmq (or a renamed private copy of it) is loaded only in
// the plugin's private namespace, out of the guard's RTLD_NEXT reach.
//
//   plugin_host PLUGIN.so share|ok
//
// With PLUGIN_DEEPBIND set, the plugin is opened RTLD_DEEPBIND as PHP
// opens its extensions: its own libzmq comes before the global scope.
// With PLUGIN_LAZY set, RTLD_LAZY: its functions are bound at first call.
// With PLUGIN_RUN_AT_LOAD set, the plugin runs from its constructor and the
// host takes no symbol of it.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int list_libzmq(struct dl_phdr_info* info, size_t size, void* data) {
  (void)size;
  (void)data;
  const char* base = strrchr(info->dlpi_name, '/');
  base = base ? base + 1 : info->dlpi_name;
  if (strncmp(base, "libzmq", 6) == 0 && strncmp(base, "libzmqguard", 11) != 0) printf("loaded: %s\n", base);
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: plugin_host PLUGIN.so share|ok\n");
    return 2;
  }
  int flags = (getenv("PLUGIN_LAZY") ? RTLD_LAZY : RTLD_NOW) | RTLD_LOCAL;
  void* h = dlopen(argv[1], flags | (getenv("PLUGIN_DEEPBIND") ? RTLD_DEEPBIND : 0));
  if (!h) {
    fprintf(stderr, "plugin_host: %s\n", dlerror());
    return 3;
  }
  dl_iterate_phdr(list_libzmq, NULL);
  fflush(stdout);
  if (getenv("PLUGIN_RUN_AT_LOAD")) return 0;
  int (*run)(const char*) = (int (*)(const char*))dlsym(h, "plugin_run");
  if (!run) {
    fprintf(stderr, "plugin_host: %s\n", dlerror());
    return 3;
  }
  int rc = run(argv[2]);
  printf("plugin returned %d\n", rc);
  return rc;
}
