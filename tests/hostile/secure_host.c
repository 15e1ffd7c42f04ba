// SPDX-License-Identifier: MIT
// A program that may run set-user-ID: the dynamic loader ignores
// LD_PRELOAD paths in such a process, so it loads the guard itself
// (dlopen, the library's path in argv[1]) and calls the guard's wrappers
// through dlsym.  It then makes one cross-thread use: main sends on a
// DEALER, a second thread sends on it too.  It prints whether the process
// runs in secure-execution mode (AT_SECURE).
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <zmq.h>

// Under tests/run.sh --sanitize=address,undefined: LeakSanitizer cannot
// stop the threads of a process running as another user, and ASan reads
// no ASAN_OPTIONS in a set-user-ID process, so the default is compiled in.
// Without ASan nothing calls it.
const char* __asan_default_options(void);
const char* __asan_default_options(void) { return "detect_leaks=0"; }

static void* (*g_socket)(void*, int);
static int (*g_send)(void*, const void*, size_t, int);
static int (*g_connect)(void*, const char*);
static int (*g_close)(void*);

static void* intruder(void* s) {
  g_send(s, "x", 1, ZMQ_DONTWAIT);
  return NULL;
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  printf("secure %lu\n", getauxval(AT_SECURE));
  fflush(stdout);
  void* h = dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL);
  if (!h) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 2;
  }
  g_socket = (void* (*)(void*, int))dlsym(h, "zmq_socket");
  g_send = (int (*)(void*, const void*, size_t, int))dlsym(h, "zmq_send");
  g_connect = (int (*)(void*, const char*))dlsym(h, "zmq_connect");
  g_close = (int (*)(void*))dlsym(h, "zmq_close");
  if (!g_socket || !g_send || !g_connect || !g_close) return 2;
  void* ctx = zmq_ctx_new();
  void* s = g_socket(ctx, ZMQ_DEALER);
  if (!s || g_connect(s, "inproc://nobody") != 0) return 2;
  g_send(s, "x", 1, ZMQ_DONTWAIT);
  pthread_t t;
  pthread_create(&t, NULL, intruder, s);
  pthread_join(t, NULL);
  g_close(s);
  zmq_ctx_term(ctx);
  puts("done");
  return 0;
}
