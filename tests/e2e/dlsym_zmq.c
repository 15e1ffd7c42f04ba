// SPDX-License-Identifier: MIT
// libzmq reached the way FFI bindings reach it (ctypes, cffi, Perl's
// ZMQ::FFI, Node, Julia): not linked, dlopen'ed, each function taken with
// dlsym on its handle.
//   ok      a PAIR made in main, used by one worker thread, closed after it
//   shared  "owner" sends on the PAIR and stays alive; main then sends too
//   drafts  prints whether draft functions are found (Debian's libzmq has
//           none), on the handle and through RTLD_DEFAULT, then runs `ok`
// A second argument names the libzmq to open (default libzmq.so.5): a
// renamed private copy, as FFI bindings' wheels ship.
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>  // constants only

#include "../lib/object_name.h"

#define CHECK(x)                                                         \
  do {                                                                   \
    if (!(x)) {                                                          \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x); \
      exit(2);                                                           \
    }                                                                    \
  } while (0)

static struct {
  void* (*ctx_new)(void);
  void* (*socket)(void*, int);
  int (*bind)(void*, const char*);
  int (*connect)(void*, const char*);
  int (*send)(void*, const void*, size_t, int);
  int (*recv)(void*, void*, size_t, int);
  int (*close)(void*);
  int (*ctx_term)(void*);
} z;

static void* pair_a;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int sent, done;

static void* take(void* h, const char* name) {
  void* p = dlsym(h, name);
  if (!p) fprintf(stderr, "dlsym %s: %s\n", name, dlerror());
  CHECK(p);
  return p;
}

static void send_job(void) { CHECK(z.send(pair_a, "job", 3, 0) == 3); }

static void* owner(void* arg) {
  (void)arg;
  send_job();
  pthread_mutex_lock(&mu);
  sent = 1;
  pthread_cond_broadcast(&cv);
  while (!done) pthread_cond_wait(&cv, &mu);  // alive, still the owner
  pthread_mutex_unlock(&mu);
  return NULL;
}

static void* worker(void* arg) {
  (void)arg;
  send_job();
  return NULL;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "ok";
  void* h = dlopen(argc > 2 ? argv[2] : "libzmq.so.5", RTLD_NOW | RTLD_LOCAL);
  CHECK(h);
  *(void**)&z.ctx_new = take(h, "zmq_ctx_new");
  *(void**)&z.socket = take(h, "zmq_socket");
  *(void**)&z.bind = take(h, "zmq_bind");
  *(void**)&z.connect = take(h, "zmq_connect");
  *(void**)&z.send = take(h, "zmq_send");
  *(void**)&z.recv = take(h, "zmq_recv");
  *(void**)&z.close = take(h, "zmq_close");
  *(void**)&z.ctx_term = take(h, "zmq_ctx_term");
  if (strcmp(mode, "drafts") == 0) {
    const char* drafts[] = {"zmq_join", "zmq_poller_add", "zmq_socket_get_peer_state", "zmq_connect_peer"};
    for (size_t i = 0; i < sizeof drafts / sizeof drafts[0]; i++)
      printf("%s: handle %s, default %s\n", drafts[i], dlsym(h, drafts[i]) ? "found" : "absent",
             dlsym(RTLD_DEFAULT, drafts[i]) ? "found" : "absent");
    // dlvsym with libzmq's (absent) version names: the same answer.
    printf("zmq_join: dlvsym %s\n", dlvsym(h, "zmq_join", "ZMQ_5") ? "found" : "absent");
    printf("zmq_send from %s\n", object_name((void*)z.send));
  }
  void* ctx = z.ctx_new();
  pair_a = z.socket(ctx, ZMQ_PAIR);
  void* pair_b = z.socket(ctx, ZMQ_PAIR);
  CHECK(pair_a && pair_b);
  CHECK(z.bind(pair_a, "inproc://dlsym") == 0);
  CHECK(z.connect(pair_b, "inproc://dlsym") == 0);
  char buf[16];
  pthread_t t;
  if (strcmp(mode, "shared") == 0) {
    CHECK(pthread_create(&t, NULL, owner, NULL) == 0);
    pthread_setname_np(t, "owner");
    pthread_mutex_lock(&mu);
    while (!sent) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    send_job();  // the second thread on the socket
    CHECK(z.recv(pair_b, buf, sizeof buf, 0) == 3);
    CHECK(z.recv(pair_b, buf, sizeof buf, 0) == 3);
    pthread_mutex_lock(&mu);
    done = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
  } else {
    CHECK(pthread_create(&t, NULL, worker, NULL) == 0);
    pthread_setname_np(t, "worker");
    CHECK(z.recv(pair_b, buf, sizeof buf, 0) == 3);
  }
  pthread_join(t, NULL);
  z.close(pair_a);
  z.close(pair_b);
  z.ctx_term(ctx);
  puts("done");
  return 0;
}
