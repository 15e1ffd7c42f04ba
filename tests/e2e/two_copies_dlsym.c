// SPDX-License-Identifier: MIT
// Two copies of libzmq in one process: A linked (Debian's libzmq.so.5), B a
// renamed copy of the same file (argv[1]) opened with dlopen(RTLD_LOCAL), its
// functions taken with dlsym, as an FFI binding beside a linked program does.
// The guard must send every call to the copy that made the socket (or, for
// a call without one, to the copy whose handle the function came from).
// Identical code would mostly work on the other copy's objects, so each
// copy's interposed functions are made to trap while the other one runs a
// full cycle: a call routed to the wrong copy dies.
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <zmq.h>

#include "interpose/elf_symbol.h"
#include "scenario.h"

// One copy's functions, as dlsym hands them out.
struct Api {
  void* (*ctx_new)(void);
  int (*ctx_term)(void*);
  void* (*socket)(void*, int);
  int (*bind)(void*, const char*);
  int (*connect)(void*, const char*);
  int (*send)(void*, const void*, size_t, int);
  int (*recv)(void*, void*, size_t, int);
  int (*setsockopt)(void*, int, const void*, size_t);
  int (*poll)(zmq_pollitem_t*, int, long);
  int (*close)(void*);
};

static void* take(void* h, const char* name) {
  void* p = dlsym(h, name);
  if (!p) fprintf(stderr, "dlsym %s: %s\n", name, dlerror());
  CHECK(p);
  return p;
}

static void load_api(void* h, struct Api* a) {
  *(void**)&a->ctx_new = take(h, "zmq_ctx_new");
  *(void**)&a->ctx_term = take(h, "zmq_ctx_term");
  *(void**)&a->socket = take(h, "zmq_socket");
  *(void**)&a->bind = take(h, "zmq_bind");
  *(void**)&a->connect = take(h, "zmq_connect");
  *(void**)&a->send = take(h, "zmq_send");
  *(void**)&a->recv = take(h, "zmq_recv");
  *(void**)&a->setsockopt = take(h, "zmq_setsockopt");
  *(void**)&a->poll = take(h, "zmq_poll");
  *(void**)&a->close = take(h, "zmq_close");
}

// The API as the program's own PLT reaches it: the guard's wrappers, which
// libzmq's calls would reach too.
static const struct Api linked = {zmq_ctx_new, zmq_ctx_term, zmq_socket, zmq_bind, zmq_connect, zmq_send,
                                  zmq_recv,    zmq_setsockopt, zmq_poll, zmq_close};

static const char* object_of(const void* p) {
  Dl_info info;
  return dladdr(p, &info) && info.dli_fname ? info.dli_fname : "?";
}

// The functions the guard interposes that the cycle below reaches, directly
// or through libzmq's own calls (zmq_poll calls zmq_getsockopt).
static const char* const kTrapped[] = {"zmq_socket",  "zmq_close",      "zmq_bind",       "zmq_connect",
                                       "zmq_send",    "zmq_recv",       "zmq_msg_send",   "zmq_msg_recv",
                                       "zmq_sendmsg", "zmq_recvmsg",    "zmq_setsockopt", "zmq_getsockopt",
                                       "zmq_poll",    "zmq_ctx_term",   "zmq_disconnect", "zmq_unbind"};
#define NTRAPPED (sizeof kTrapped / sizeof kTrapped[0])

// Copies share nothing but their code's bytes, and identical code would
// mostly work on the other copy's objects: so while one copy runs, the
// other's interposed functions start with ud2, and a call that reaches one
// dies of SIGILL.  (libzmq's other exported functions, zmq_msg_size and
// such, are still shared between the copies through the global scope, as
// without the guard: the guard does not interpose them.)
struct Traps {
  unsigned char* at[NTRAPPED];
  unsigned char saved[NTRAPPED][2];
};

static void patch(unsigned char* p, const unsigned char* bytes) {
  uintptr_t page = (uintptr_t)p & ~(uintptr_t)4095;
  CHECK(mprotect((void*)page, 8192, PROT_READ | PROT_WRITE | PROT_EXEC) == 0);
  p[0] = bytes[0];
  p[1] = bytes[1];
  CHECK(mprotect((void*)page, 8192, PROT_READ | PROT_EXEC) == 0);
}

static void traps_set(void* handle, struct Traps* t) {
  struct link_map* lm = NULL;
  CHECK(dlinfo(handle, RTLD_DI_LINKMAP, &lm) == 0 && lm);
  static const unsigned char ud2[2] = {0x0F, 0x0B};
  for (size_t i = 0; i < NTRAPPED; i++) {
    t->at[i] = zg_elf_lookup(lm, kTrapped[i]);  // the copy's own function
    CHECK(t->at[i]);
    memcpy(t->saved[i], t->at[i], 2);
    patch(t->at[i], ud2);
  }
}

static void traps_clear(struct Traps* t) {
  for (size_t i = 0; i < NTRAPPED; i++) patch(t->at[i], t->saved[i]);
}

// A full cycle on one copy: context and sockets made through `maker`
// (that copy's functions), then used through `user` (the same, or the
// linked API, which must lead to the socket's copy).
static void cycle(const struct Api* maker, const struct Api* user, const char* endpoint) {
  void* ctx = maker->ctx_new();
  CHECK(ctx);
  void* a = maker->socket(ctx, ZMQ_PAIR);
  void* b = maker->socket(ctx, ZMQ_PAIR);
  CHECK(a && b);
  int linger = 0;
  CHECK(user->setsockopt(a, ZMQ_LINGER, &linger, sizeof linger) == 0);
  CHECK(user->bind(a, endpoint) == 0);
  CHECK(user->connect(b, endpoint) == 0);
  for (int i = 0; i < 3; i++) {
    CHECK(user->send(a, "job", 3, 0) == 3);
    zmq_pollitem_t item = {b, 0, ZMQ_POLLIN, 0};
    CHECK(user->poll(&item, 1, 5000) == 1);
    char buf[8];
    CHECK(user->recv(b, buf, sizeof buf, 0) == 3 && memcmp(buf, "job", 3) == 0);
  }
  CHECK(user->close(a) == 0);
  CHECK(user->close(b) == 0);
  CHECK(maker->ctx_term(ctx) == 0);
}

int main(int argc, char** argv) {
  CHECK(argc == 2);
  setvbuf(stdout, NULL, _IONBF, 0);
  void* hb = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  void* ha = dlopen("libzmq.so.5", RTLD_NOW | RTLD_NOLOAD);
  CHECK(ha && hb && ha != hb);
  struct Api a, b;
  load_api(ha, &a);
  load_api(hb, &b);
  if (getenv("ZMQ_GUARD_OPTIONS")) {
    // Each interposed function handed out is the guard's; those of the
    // calls without a socket are bound to their copy, so the copies' differ.
    CHECK(strstr(object_of((void*)b.send), "libzmqguard") && strstr(object_of((void*)b.socket), "libzmqguard"));
    CHECK(strstr(object_of((void*)a.socket), "libzmqguard"));
    CHECK((void*)a.socket != (void*)b.socket && (void*)a.ctx_term != (void*)b.ctx_term);
    CHECK((void*)a.send == (void*)b.send);  // the socket decides
  }

  // Both copies at once: B's sockets through B's functions and through the
  // linked ones, A's through A's.
  void* ctx_a = zmq_ctx_new();
  void* ctx_b = b.ctx_new();
  void* pa = zmq_socket(ctx_a, ZMQ_PAIR);
  void* pb = b.socket(ctx_b, ZMQ_PAIR);
  CHECK(pa && pb);
  CHECK(zmq_bind(pa, "inproc://both") == 0 && b.bind(pb, "inproc://both") == 0);
  void* qa = a.socket(ctx_a, ZMQ_PAIR);
  void* qb = b.socket(ctx_b, ZMQ_PAIR);
  CHECK(qa && qb);
  CHECK(a.connect(qa, "inproc://both") == 0 && zmq_connect(qb, "inproc://both") == 0);
  CHECK(zmq_send(pb, "B", 1, 0) == 1 && b.send(pa, "A", 1, 0) == 1);
  char buf[4];
  CHECK(b.recv(qb, buf, sizeof buf, 0) == 1 && buf[0] == 'B');
  CHECK(zmq_recv(qa, buf, sizeof buf, 0) == 1 && buf[0] == 'A');
  CHECK(zmq_close(pb) == 0 && b.close(qb) == 0 && a.close(pa) == 0 && zmq_close(qa) == 0);
  CHECK(zmq_ctx_term(ctx_a) == 0 && b.ctx_term(ctx_b) == 0);

  // One copy at a time, the other's interposed functions trapped.
  struct Traps traps;
  traps_set(ha, &traps);
  cycle(&b, &b, "inproc://b");
  cycle(&b, &linked, "inproc://b-linked");
  traps_clear(&traps);
  traps_set(hb, &traps);
  cycle(&linked, &linked, "inproc://a");
  cycle(&a, &a, "inproc://a-dlsym");
  cycle(&a, &linked, "inproc://a-mixed");
  traps_clear(&traps);
  puts("two copies ok");
  return 0;
}
