// SPDX-License-Identifier: MIT
// errno after every interposed call, successes included: each call is made
// with errno set to a sentinel, and "name errno" printed after it.  The
// test runs this without the guard and under it in every mode and expects
// the same lines: the guard leaves errno as libzmq left it.  With "cross",
// a second thread also uses main's sockets (a finding in warn mode, the
// waits of serialize mode).
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zmq.h>

#define SENTINEL 4242
// Prints whether the call failed (-1, or NULL for zmq_socket) and errno.
// libzmq's send and recv look at their command mailbox (which leaves
// EAGAIN in errno) only when about 1 ms has passed since they last did
// (max_command_delay, counted in TSC ticks): the pause before each call
// makes that so in every run, guarded or not, however slow the machine,
// so errno does not depend on how fast the previous call was.
#define PROBE_(name, call, failed)                                  \
  do {                                                              \
    usleep(5000);                                                   \
    errno = SENTINEL;                                               \
    intptr_t r_ = (intptr_t)(call);                                 \
    int e_ = errno;                                                 \
    printf("%s %s %d\n", name, (failed) ? "failed" : "ok", e_);     \
  } while (0)
#define PROBE(name, call) PROBE_(name, call, r_ == -1)
#define PROBE_PTR(name, call) PROBE_(name, call, r_ == 0)
#define CHECK(x)                                                   \
  do {                                                             \
    if (!(x)) {                                                    \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x); \
      exit(3);                                                     \
    }                                                              \
  } while (0)

static void* ctx;
static void *push, *pull;

static void free_fn(void* data, void* hint) {
  (void)data;
  (void)hint;
}

static void data_calls(const char* who) {
  char buf[64];
  char name[64];
#define P(n, call)                                    \
  do {                                                \
    snprintf(name, sizeof name, "%s:%s", who, n);    \
    PROBE(name, call);                                \
  } while (0)
  P("zmq_send", zmq_send(push, "a", 1, 0));
  P("zmq_recv", zmq_recv(pull, buf, sizeof buf, 0));
  P("zmq_send_const", zmq_send_const(push, "b", 1, 0));
  P("zmq_recv", zmq_recv(pull, buf, sizeof buf, 0));
  P("zmq_recv/EAGAIN", zmq_recv(pull, buf, sizeof buf, ZMQ_DONTWAIT));
  zmq_msg_t m;
  zmq_msg_init_size(&m, 3);
  P("zmq_msg_send", zmq_msg_send(&m, push, 0));
  zmq_msg_init(&m);
  P("zmq_msg_recv", zmq_msg_recv(&m, pull, 0));
  zmq_msg_close(&m);
  zmq_msg_init_size(&m, 3);
  P("zmq_sendmsg", zmq_sendmsg(push, &m, 0));
  zmq_msg_init(&m);
  P("zmq_recvmsg", zmq_recvmsg(pull, &m, 0));
  zmq_msg_close(&m);
  static char data[] = "zero-copy";
  P("zmq_msg_init_data", zmq_msg_init_data(&m, data, sizeof data, free_fn, NULL));
  P("zmq_msg_send/data", zmq_msg_send(&m, push, 0));
  P("zmq_recv", zmq_recv(pull, buf, sizeof buf, 0));
  struct iovec iov[2] = {{(void*)"x", 1}, {(void*)"y", 1}};
  P("zmq_sendiov", zmq_sendiov(push, iov, 2, 0));
  char r1[8], r2[8];
  struct iovec riov[2] = {{r1, sizeof r1}, {r2, sizeof r2}};
  size_t count = 2;
  P("zmq_recviov", zmq_recviov(pull, riov, &count, 0));
  for (size_t i = 0; i < count; i++) free(riov[i].iov_base);
  int hwm = 500;
  P("zmq_setsockopt", zmq_setsockopt(push, ZMQ_SNDHWM, &hwm, sizeof hwm));
  P("zmq_setsockopt/EINVAL", zmq_setsockopt(push, 9999, &hwm, sizeof hwm));
  int opts[] = {ZMQ_EVENTS, ZMQ_RCVMORE, ZMQ_FD, ZMQ_TYPE, ZMQ_SNDHWM};
  for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
    int v[2];
    size_t len = sizeof(int);
    char n[32];
    snprintf(n, sizeof n, "zmq_getsockopt(%d)", opts[i]);
    P(n, zmq_getsockopt(pull, opts[i], v, &len));
  }
  zmq_pollitem_t items[2] = {{pull, 0, ZMQ_POLLIN, 0}, {push, 0, ZMQ_POLLOUT, 0}};
  P("zmq_poll", zmq_poll(items, 2, 0));
  P("zmq_send", zmq_send(push, "c", 1, 0));
  P("zmq_poll/in", zmq_poll(items, 1, -1));
  P("zmq_recv", zmq_recv(pull, buf, sizeof buf, 0));
}

// Started before main's first data call and let go by a plain flag: no
// hand-off the guard sees (a thread started after main's last call would
// be one), so its calls are cross-thread uses.
static atomic_int g_go;

static void* cross(void* arg) {
  (void)arg;
  while (!atomic_load(&g_go)) sched_yield();
  data_calls("cross");
  return NULL;
}

// zmq_proxy ends only with its context (ETERM): on a thread of its own,
// with sockets of its own, its result printed by main after the join so
// that the lines keep their order.
static int g_proxy_rc, g_proxy_errno;
static int g_proxy_ready;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;

static void* proxy_thread(void* arg) {
  (void)arg;
  void* fe = zmq_socket(ctx, ZMQ_PULL);
  void* be = zmq_socket(ctx, ZMQ_PUSH);
  CHECK(zmq_bind(fe, "inproc://pfe") == 0 && zmq_bind(be, "inproc://pbe") == 0);
  pthread_mutex_lock(&g_mu);
  g_proxy_ready = 1;
  pthread_cond_signal(&g_cv);
  pthread_mutex_unlock(&g_mu);
  errno = SENTINEL;
  g_proxy_rc = zmq_proxy(fe, be, NULL);
  g_proxy_errno = errno;
  zmq_close(fe);
  zmq_close(be);
  return NULL;
}

int main(int argc, char** argv) {
  int with_cross = argc > 1 && strcmp(argv[1], "cross") == 0;
  setvbuf(stdout, NULL, _IOLBF, 0);
  ctx = zmq_ctx_new();
  PROBE_PTR("zmq_socket", push = zmq_socket(ctx, ZMQ_PUSH));
  PROBE_PTR("zmq_socket", pull = zmq_socket(ctx, ZMQ_PULL));
  CHECK(push && pull);
  PROBE("zmq_bind", zmq_bind(pull, "inproc://errno"));
  PROBE("zmq_bind/EINVAL", zmq_bind(pull, "nonsense://x"));
  PROBE("zmq_connect", zmq_connect(push, "inproc://errno"));
  PROBE("zmq_bind/tcp", zmq_bind(pull, "tcp://127.0.0.1:*"));
  char ep[256];
  size_t eplen = sizeof ep;
  CHECK(zmq_getsockopt(pull, ZMQ_LAST_ENDPOINT, ep, &eplen) == 0);
  PROBE("zmq_unbind", zmq_unbind(pull, ep));
  PROBE("zmq_unbind/ENOENT", zmq_unbind(pull, ep));
  PROBE("zmq_connect/tcp", zmq_connect(push, "tcp://127.0.0.1:1"));
  PROBE("zmq_disconnect", zmq_disconnect(push, "tcp://127.0.0.1:1"));
  PROBE("zmq_socket_monitor", zmq_socket_monitor(push, "inproc://mon", ZMQ_EVENT_ALL));
  // Stopping sends an event on the monitor's PAIR: it needs its reader.
  void* mon = zmq_socket(ctx, ZMQ_PAIR);
  CHECK(zmq_connect(mon, "inproc://mon") == 0);
  PROBE("zmq_socket_monitor/off", zmq_socket_monitor(push, NULL, 0));
  zmq_close(mon);
  pthread_t t;
  if (with_cross) CHECK(pthread_create(&t, NULL, cross, NULL) == 0);
  data_calls("main");
  if (with_cross) {
    atomic_store(&g_go, 1);
    pthread_join(t, NULL);
  }

  // A steerable proxy that ends with TERMINATE returns 0.
  void* fe = zmq_socket(ctx, ZMQ_PULL);
  void* be = zmq_socket(ctx, ZMQ_PUSH);
  void* ctl = zmq_socket(ctx, ZMQ_PAIR);
  void* ctl_peer = zmq_socket(ctx, ZMQ_PAIR);
  CHECK(zmq_bind(fe, "inproc://fe") == 0 && zmq_bind(be, "inproc://be") == 0);
  CHECK(zmq_bind(ctl, "inproc://ctl") == 0 && zmq_connect(ctl_peer, "inproc://ctl") == 0);
  CHECK(zmq_send(ctl_peer, "TERMINATE", 9, 0) == 9);
  PROBE("zmq_proxy_steerable", zmq_proxy_steerable(fe, be, NULL, ctl));
  PROBE("zmq_close", zmq_close(ctl_peer));
  PROBE("zmq_close", zmq_close(ctl));

  pthread_t pt;
  CHECK(pthread_create(&pt, NULL, proxy_thread, NULL) == 0);
  pthread_mutex_lock(&g_mu);
  while (!g_proxy_ready) pthread_cond_wait(&g_cv, &g_mu);
  pthread_mutex_unlock(&g_mu);
  PROBE("zmq_close", zmq_close(fe));
  PROBE("zmq_close", zmq_close(be));

  // Draft functions, called only when this libzmq has them (Debian's does not).
  void* lib = dlopen("libzmq.so.5", RTLD_NOW | RTLD_NOLOAD);
  const char* drafts[] = {"zmq_join",       "zmq_leave",        "zmq_connect_peer", "zmq_socket_get_peer_state",
                          "zmq_poller_add", "zmq_poller_modify", "zmq_poller_remove", "zmq_socket_monitor_versioned",
                          "zmq_socket_monitor_pipes_stats"};
  for (size_t i = 0; i < sizeof drafts / sizeof drafts[0]; i++)
    printf("%s %s\n", drafts[i], lib && dlsym(lib, drafts[i]) ? "present" : "absent");

  PROBE("zmq_close", zmq_close(push));
  PROBE("zmq_close", zmq_close(pull));
  PROBE("zmq_ctx_shutdown", zmq_ctx_shutdown(ctx));
  pthread_join(pt, NULL);
  printf("zmq_proxy %s %d\n", g_proxy_rc == -1 ? "failed" : "ok", g_proxy_errno);
  PROBE("zmq_ctx_term", zmq_ctx_term(ctx));
  void* c2 = zmq_ctx_new();
  PROBE("zmq_ctx_destroy", zmq_ctx_destroy(c2));
  void* c3 = zmq_ctx_new();
  PROBE("zmq_term", zmq_term(c3));
  void* c4 = zmq_ctx_new();
  void* s4 = zmq_socket(c4, ZMQ_PAIR);
  CHECK(zmq_bind(s4, "inproc://dev") == 0);
  void* s5 = zmq_socket(c4, ZMQ_PAIR);
  CHECK(zmq_connect(s5, "inproc://dev") == 0);
  zmq_ctx_shutdown(c4);
  PROBE("zmq_device/ETERM", zmq_device(ZMQ_QUEUE, s4, s5));
  zmq_close(s4);
  zmq_close(s5);
  zmq_ctx_term(c4);
  puts("done");
  return 0;
}
