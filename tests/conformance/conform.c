// SPDX-License-Identifier: MIT
// The differential conformance driver: a table of cases, each a few calls of
// one interposed function (src/interpose/api.def) at an edge of libzmq's API,
// each recording what the calls gave back: return value, errno, message
// contents, and whether a call returned at once or waited about its timeout.
// compare.py runs it plainly and under the preloaded guard in every mode and
// compares the rows field by field: serialize mode (like the others) must
// change nothing a single-threaded program can see.
//
//   conform            every case, one child process each (a crash or a hang
//                      is the row's outcome, not the end of the run)
//   conform --list     "function case" per line (compare.py checks that
//                      every api.def function has a case)
//   conform CASE       one case (function/name), its row on stdout
//
// A row is "function/name: field=value field=value ...".  Only what plain
// libzmq gives the same way in every run is recorded (no fds, ports or
// addresses).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

extern char** environ;

// ---- the row ---------------------------------------------------------------

static char g_row[8192];
static size_t g_len;

static void put(const char* key, const char* fmt, ...) {
  if (g_len + 2 >= sizeof g_row) return;
  g_len += (size_t)snprintf(g_row + g_len, sizeof g_row - g_len, " %s=", key);
  if (g_len >= sizeof g_row) g_len = sizeof g_row - 1;
  va_list ap;
  va_start(ap, fmt);
  g_len += (size_t)vsnprintf(g_row + g_len, sizeof g_row - g_len, fmt, ap);
  va_end(ap);
  if (g_len >= sizeof g_row) g_len = sizeof g_row - 1;
}

static const char* ename(int e) {
  switch (e) {
#define E(x) \
  case x:    \
    return #x;
    E(EAGAIN) E(EINVAL) E(EFAULT) E(ENOTSOCK) E(ENOTSUP) E(EFSM) E(ETERM) E(EINTR) E(ENOENT) E(EADDRINUSE)
    E(EPROTONOSUPPORT) E(ENOCOMPATPROTO) E(EMTHREAD) E(EHOSTUNREACH) E(ECONNREFUSED) E(EBADF) E(EMSGSIZE)
    E(ENODEV) E(EADDRNOTAVAIL) E(ENOMEM) E(EMFILE) E(ENOBUFS) E(ENETDOWN) E(ENOTCONN)
#undef E
    case 0:
      return "0";
    default:
      return "other";
  }
}

// A return value, and errno when the call failed.
static void put_rc(const char* key, long rc, int e) {
  put(key, "%ld", rc);
  if (rc == -1) {
    char k[64];
    snprintf(k, sizeof k, "%s.errno", key);
    put(k, "%s", ename(e));
  }
}

// Message contents, printable as they are, anything else as \xNN.
static void put_data(const char* key, const void* data, size_t len) {
  char buf[512];
  size_t n = 0;
  const unsigned char* p = data;
  for (size_t i = 0; i < len && n + 5 < sizeof buf; i++) {
    if (p[i] > 32 && p[i] < 127 && p[i] != '\\') buf[n++] = (char)p[i];
    else n += (size_t)snprintf(buf + n, sizeof buf - n, "\\x%02x", p[i]);
  }
  buf[n] = 0;
  put(key, "'%s'", buf);
}

// ---- timing ----------------------------------------------------------------

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// The timeout every waiting case uses, and how a call's time is classed:
// "now" before half of it, "waited" from there to several seconds past it,
// "long" after that.  Generous on purpose: a loaded machine makes an
// immediate call slow by milliseconds, not by 50.
enum { kTimeoutMs = 100 };
static int64_t g_t0;
static void tstart(void) { g_t0 = now_ms(); }
static void tput(const char* key, int timeout_ms) {
  int64_t el = now_ms() - g_t0;
  int half = (timeout_ms > 0 ? timeout_ms : kTimeoutMs) / 2;
  char k[64];
  snprintf(k, sizeof k, "%s.time", key);
  put(k, "%s", el < half ? "now" : el < timeout_ms + 3000 ? "waited" : "long");
}

// A call recorded: its result and errno, and with W() its time class.
#define R(key, expr)                      \
  do {                                    \
    errno = 0;                            \
    long rc_ = (long)(expr);              \
    put_rc(key, rc_, errno);              \
  } while (0)
#define W(key, timeout_ms, expr)          \
  do {                                    \
    tstart();                             \
    errno = 0;                            \
    long rc_ = (long)(expr);              \
    int e_ = errno;                       \
    tput(key, timeout_ms);                \
    put_rc(key, rc_, e_);                 \
  } while (0)

// ---- set-up ----------------------------------------------------------------

static void* g_ctx;

static void die(const char* what) {
  fprintf(stderr, "conform: set-up failed: %s: %s\n", what, zmq_strerror(errno));
  exit(3);
}

// CONFORM_SHARED=1: a second thread, alive for the whole case, reads
// ZMQ_EVENTS of every socket sock() makes, once, before the case uses it
// (the case waits for it: the calls never overlap, so this is correct for
// libzmq).  Serialize mode then counts each socket shared and takes its
// locked path for every later call, instead of the sole user's: the
// variant compares that path with libzmq (test_conformance.py runs plain
// libzmq with the same variant, since the read takes in pending commands).
static pthread_mutex_t g_other_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_other_cv = PTHREAD_COND_INITIALIZER;
static pthread_t g_other;
static int g_other_started, g_other_quit;
static void* g_other_job;

static void* other_thread(void* arg) {
  (void)arg;
  pthread_mutex_lock(&g_other_mu);
  for (;;) {
    while (!g_other_job && !g_other_quit) pthread_cond_wait(&g_other_cv, &g_other_mu);
    if (!g_other_job) break;
    int events = 0;
    size_t len = sizeof events;
    zmq_getsockopt(g_other_job, ZMQ_EVENTS, &events, &len);
    g_other_job = NULL;
    pthread_cond_broadcast(&g_other_cv);
  }
  pthread_mutex_unlock(&g_other_mu);
  return NULL;
}

static void use_from_other_thread(void* s) {
  static int shared = -1;
  if (shared < 0) shared = getenv("CONFORM_SHARED") && !strcmp(getenv("CONFORM_SHARED"), "1");
  if (!shared) return;
  if (!g_other_started) {
    if (pthread_create(&g_other, NULL, other_thread, NULL) != 0) die("pthread_create");
    g_other_started = 1;
  }
  pthread_mutex_lock(&g_other_mu);
  g_other_job = s;
  pthread_cond_broadcast(&g_other_cv);
  while (g_other_job) pthread_cond_wait(&g_other_cv, &g_other_mu);
  pthread_mutex_unlock(&g_other_mu);
}

static void other_thread_stop(void) {
  if (!g_other_started) return;
  pthread_mutex_lock(&g_other_mu);
  g_other_quit = 1;
  pthread_cond_broadcast(&g_other_cv);
  pthread_mutex_unlock(&g_other_mu);
  pthread_join(g_other, NULL);
  g_other_started = 0;
}

static void* sock(int type) {
  void* s = zmq_socket(g_ctx, type);
  if (!s) die("zmq_socket");
  int zero = 0;
  if (zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero) != 0) die("ZMQ_LINGER");
  use_from_other_thread(s);
  return s;
}

static void set_int(void* s, int option, int value) {
  if (zmq_setsockopt(s, option, &value, sizeof value) != 0) die("zmq_setsockopt");
}

// a bound to a fresh inproc endpoint, b connected to it.
static void pair(int ta, int tb, void** a, void** b) {
  static int n;
  char ep[64];
  snprintf(ep, sizeof ep, "inproc://conform-%d", ++n);
  *a = sock(ta);
  *b = sock(tb);
  if (zmq_bind(*a, ep) != 0) die("zmq_bind");
  if (zmq_connect(*b, ep) != 0) die("zmq_connect");
}

static void send_str(void* s, const char* str, int flags) {
  if (zmq_send(s, str, strlen(str), flags) < 0) die("zmq_send");
}

// Receives one part (at most 255 bytes) and records it and its RCVMORE.
static void recv_put(const char* key, void* s, int flags) {
  char buf[256];
  errno = 0;
  int rc = zmq_recv(s, buf, sizeof buf, flags);
  put_rc(key, rc, errno);
  if (rc >= 0) {
    char k[64];
    snprintf(k, sizeof k, "%s.data", key);
    put_data(k, buf, rc < (int)sizeof buf ? (size_t)rc : sizeof buf);
    int more = 0;
    size_t len = sizeof more;
    zmq_getsockopt(s, ZMQ_RCVMORE, &more, &len);
    snprintf(k, sizeof k, "%s.more", key);
    put(k, "%d", more);
  }
}

// Every message waiting on s, part by part, with DONTWAIT.
static void drain_put(const char* key, void* s) {
  char k[64];
  for (int i = 0; i < 32; i++) {
    char buf[256];
    int rc = zmq_recv(s, buf, sizeof buf, ZMQ_DONTWAIT);
    if (rc < 0) {
      snprintf(k, sizeof k, "%s.n", key);
      put(k, "%d", i);
      return;
    }
    int more = 0;
    size_t len = sizeof more;
    zmq_getsockopt(s, ZMQ_RCVMORE, &more, &len);
    snprintf(k, sizeof k, "%s%d", key, i);
    if (rc == 8 && !strncmp(key, "stats", 5)) put(k, "%llu", (unsigned long long)*(uint64_t*)buf);
    else put_data(k, buf, rc < (int)sizeof buf ? (size_t)rc : sizeof buf);
    if (more) {
      snprintf(k, sizeof k, "%s%d.more", key, i);
      put(k, "1");
    }
  }
}

// ---- signals -------------------------------------------------------------------

// A signal for this thread (SIGUSR2, no SA_RESTART) after kTimeoutMs and
// then every 30 ms until disarmed: one that lands while the call is not
// asleep interrupts nothing (in libzmq as under the guard), the next does.
static timer_t g_timer;
static void on_usr2(int sig) { (void)sig; }
static void signals_arm(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr2;
  sigaction(SIGUSR2, &sa, NULL);
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = SIGUSR2;
#ifdef sigev_notify_thread_id
  sev.sigev_notify_thread_id = (pid_t)gettid();
#else
  sev._sigev_un._tid = (pid_t)gettid();
#endif
  if (timer_create(CLOCK_MONOTONIC, &sev, &g_timer) != 0) die("timer_create");
  struct itimerspec its = {{0, 30 * 1000000}, {0, kTimeoutMs * 1000000}};
  if (timer_settime(g_timer, 0, &its, NULL) != 0) die("timer_settime");
}
static void signals_disarm(void) { timer_delete(g_timer); }

// A call waiting for good, interrupted by a signal: -1 EINTR.
static void recv_eintr(void) {
  void* s = sock(ZMQ_PULL);
  char buf[8];
  signals_arm();
  W("rc", kTimeoutMs, zmq_recv(s, buf, sizeof buf, 0));
  signals_disarm();
  zmq_close(s);
}
static void send_eintr(void) {
  void* s = sock(ZMQ_PUSH);
  signals_arm();
  W("rc", kTimeoutMs, zmq_send(s, "a", 1, 0));
  signals_disarm();
  zmq_close(s);
}
static void poll_eintr(void) {
  void* s = sock(ZMQ_PULL);
  zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
  signals_arm();
  W("rc", kTimeoutMs, zmq_poll(&it, 1, -1));
  signals_disarm();
  zmq_close(s);
}

// ---- zmq_send and zmq_send_const ---------------------------------------------

static void send_null_socket(void) { R("rc", zmq_send(NULL, "a", 1, 0)); }
static void send_not_a_socket(void) {
  int fake[64] = {0};
  R("rc", zmq_send(fake, "a", 1, ZMQ_DONTWAIT));
}
static void send_dontwait_no_peer(void) {
  void* s = sock(ZMQ_PUSH);
  W("rc", 0, zmq_send(s, "a", 1, ZMQ_DONTWAIT));
  zmq_close(s);
}
static void send_timeout_no_peer(void) {
  void* s = sock(ZMQ_PUSH);
  set_int(s, ZMQ_SNDTIMEO, kTimeoutMs);
  W("rc", kTimeoutMs, zmq_send(s, "a", 1, 0));
  zmq_close(s);
}
static void send_timeout_zero(void) {
  void* s = sock(ZMQ_DEALER);
  set_int(s, ZMQ_SNDTIMEO, 0);
  W("rc", 0, zmq_send(s, "a", 1, 0));
  zmq_close(s);
}
static void send_hwm(void) {
  void *a, *b;
  a = sock(ZMQ_PUSH);
  b = sock(ZMQ_PULL);
  set_int(a, ZMQ_SNDHWM, 3);
  set_int(b, ZMQ_RCVHWM, 2);
  if (zmq_bind(b, "inproc://hwm") || zmq_connect(a, "inproc://hwm")) die("hwm");
  int n = 0;
  while (n < 100 && zmq_send(a, "m", 1, ZMQ_DONTWAIT) == 1) n++;
  put("sent", "%d", n);
  put("errno", "%s", ename(errno));
  set_int(a, ZMQ_SNDTIMEO, kTimeoutMs);
  W("full", kTimeoutMs, zmq_send(a, "x", 1, 0));
  recv_put("r0", b, ZMQ_DONTWAIT);
  W("after", kTimeoutMs, zmq_send(a, "y", 1, 0));
  zmq_close(a);
  zmq_close(b);
}
static void send_req_twice(void) {
  void *rep, *req;
  pair(ZMQ_REP, ZMQ_REQ, &rep, &req);
  R("first", zmq_send(req, "a", 1, 0));
  R("second", zmq_send(req, "b", 1, ZMQ_DONTWAIT));
  zmq_close(rep);
  zmq_close(req);
}
static void send_rep_first(void) {
  void* s = sock(ZMQ_REP);
  R("rc", zmq_send(s, "a", 1, ZMQ_DONTWAIT));
  zmq_close(s);
}
static void send_sub(void) {
  void* s = sock(ZMQ_SUB);
  R("rc", zmq_send(s, "a", 1, ZMQ_DONTWAIT));
  zmq_close(s);
}
static void send_multipart(void) {
  void *a, *b;
  pair(ZMQ_PAIR, ZMQ_PAIR, &a, &b);
  R("p0", zmq_send(a, "one", 3, ZMQ_SNDMORE));
  R("p1", zmq_send(a, "", 0, ZMQ_SNDMORE));
  R("p2", zmq_send(a, NULL, 0, 0));
  recv_put("r0", b, 0);
  recv_put("r1", b, 0);
  recv_put("r2", b, 0);
  recv_put("r3", b, ZMQ_DONTWAIT);
  zmq_close(a);
  zmq_close(b);
}
static void send_eterm(void) {
  void* s = sock(ZMQ_PUSH);
  zmq_ctx_shutdown(g_ctx);
  W("dontwait", 0, zmq_send(s, "a", 1, ZMQ_DONTWAIT));
  W("blocking", 0, zmq_send(s, "a", 1, 0));
  zmq_close(s);
}
static void send_const_roundtrip(void) {
  static const char text[] = "constant";
  void *a, *b;
  pair(ZMQ_PAIR, ZMQ_PAIR, &a, &b);
  R("more", zmq_send_const(a, text, 5, ZMQ_SNDMORE));
  R("last", zmq_send_const(a, text + 5, 3, 0));
  recv_put("r0", b, 0);
  recv_put("r1", b, 0);
  zmq_close(a);
  zmq_close(b);
}
static void send_const_dontwait(void) {
  void* s = sock(ZMQ_DEALER);
  W("rc", 0, zmq_send_const(s, "a", 1, ZMQ_DONTWAIT));
  R("not_socket", zmq_send_const(NULL, "a", 1, 0));
  zmq_close(s);
}

static void send_router_mandatory(void) {
  void *router, *dealer;
  pair(ZMQ_ROUTER, ZMQ_DEALER, &router, &dealer);
  R("dropped_more", zmq_send(router, "nobody", 6, ZMQ_SNDMORE));
  R("dropped", zmq_send(router, "x", 1, 0));
  set_int(router, ZMQ_ROUTER_MANDATORY, 1);
  W("unroutable", 0, zmq_send(router, "nobody", 6, ZMQ_SNDMORE | ZMQ_DONTWAIT));
  W("unroutable_blocking", 0, zmq_send(router, "nobody", 6, ZMQ_SNDMORE));
  zmq_close(router);
  zmq_close(dealer);
}
// Socket types 12 and 13 (SERVER, CLIENT) exist in Debian's libzmq without
// its draft API; libzmq makes them thread-safe itself, and so they are not
// serialized: zmq_poll of one goes through libzmq's poller.
static void send_thread_safe(void) {
  void *server, *client;
  pair(12, 13, &server, &client);
  R("sndmore", zmq_send(client, "a", 1, ZMQ_SNDMORE));
  R("send", zmq_send(client, "hi", 2, 0));
  zmq_pollitem_t it[2] = {{server, 0, ZMQ_POLLIN, 0}, {client, 0, ZMQ_POLLIN, 0}};
  W("poll", kTimeoutMs, zmq_poll(it, 2, 5000));
  put("poll.re", "%d,%d", it[0].revents, it[1].revents);
  char buf[8];
  R("recv", zmq_recv(server, buf, sizeof buf, 0));
  W("poll_idle", kTimeoutMs, zmq_poll(it, 2, kTimeoutMs));
  set_int(client, ZMQ_RCVTIMEO, kTimeoutMs);
  W("recv_timeout", kTimeoutMs, zmq_recv(client, buf, sizeof buf, 0));
  zmq_close(server);
  zmq_close(client);
}

// ---- zmq_recv ----------------------------------------------------------------

static void recv_dontwait_empty(void) {
  void* s = sock(ZMQ_PULL);
  char buf[8];
  W("rc", 0, zmq_recv(s, buf, sizeof buf, ZMQ_DONTWAIT));
  zmq_close(s);
}
static void recv_timeout(void) {
  void* s = sock(ZMQ_SUB);
  set_int(s, ZMQ_RCVTIMEO, kTimeoutMs);
  char buf[8];
  W("rc", kTimeoutMs, zmq_recv(s, buf, sizeof buf, 0));
  W("again", kTimeoutMs, zmq_recv(s, buf, sizeof buf, 0));
  zmq_close(s);
}
static void recv_truncated(void) {
  void *a, *b;
  pair(ZMQ_PAIR, ZMQ_PAIR, &a, &b);
  send_str(a, "0123456789", 0);
  char buf[16] = {0};
  R("rc", zmq_recv(b, buf, 4, 0));
  put_data("data", buf, 6);
  send_str(a, "xyz", 0);
  R("null_len0", zmq_recv(b, NULL, 0, 0));
  zmq_close(a);
  zmq_close(b);
}
static void recv_req_first(void) {
  void* s = sock(ZMQ_REQ);
  char buf[8];
  R("rc", zmq_recv(s, buf, sizeof buf, ZMQ_DONTWAIT));
  zmq_close(s);
}
static void recv_reqrep(void) {
  void *rep, *req;
  pair(ZMQ_REP, ZMQ_REQ, &rep, &req);
  R("req", zmq_send(req, "ping", 4, 0));
  recv_put("rep", rep, 0);
  R("rep_send", zmq_send(rep, "pong", 4, 0));
  R("rep_send_again", zmq_send(rep, "pong", 4, ZMQ_DONTWAIT));
  recv_put("req_recv", req, 0);
  char buf[8];
  R("req_recv_again", zmq_recv(req, buf, sizeof buf, ZMQ_DONTWAIT));
  zmq_close(rep);
  zmq_close(req);
}
static void recv_eterm(void) {
  void* s = sock(ZMQ_PULL);
  zmq_ctx_shutdown(g_ctx);
  char buf[8];
  W("blocking", 0, zmq_recv(s, buf, sizeof buf, 0));
  zmq_close(s);
}
static void recv_push(void) {
  void* s = sock(ZMQ_PUSH);
  char buf[8];
  R("rc", zmq_recv(s, buf, sizeof buf, ZMQ_DONTWAIT));
  zmq_close(s);
}
static void recv_null_socket(void) {
  char buf[8];
  R("rc", zmq_recv(NULL, buf, sizeof buf, 0));
}

// ---- zmq_msg_send / zmq_msg_recv / zmq_sendmsg / zmq_recvmsg -------------------

static void msg_send_roundtrip(void) {
  void *a, *b;
  pair(ZMQ_DEALER, ZMQ_DEALER, &a, &b);
  zmq_msg_t m;
  zmq_msg_init_size(&m, 5);
  memcpy(zmq_msg_data(&m), "hello", 5);
  R("more", zmq_msg_send(&m, a, ZMQ_SNDMORE));
  zmq_msg_init_size(&m, 2);
  memcpy(zmq_msg_data(&m), "yo", 2);
  R("last", zmq_msg_send(&m, a, 0));
  for (int i = 0; i < 3; i++) {
    char k[16];
    zmq_msg_t r;
    zmq_msg_init(&r);
    snprintf(k, sizeof k, "r%d", i);
    errno = 0;
    int rc = zmq_msg_recv(&r, b, ZMQ_DONTWAIT);
    put_rc(k, rc, errno);
    if (rc >= 0) {
      snprintf(k, sizeof k, "r%d.data", i);
      put_data(k, zmq_msg_data(&r), zmq_msg_size(&r));
      snprintf(k, sizeof k, "r%d.more", i);
      put(k, "%d", zmq_msg_more(&r));
    }
    zmq_msg_close(&r);
  }
  zmq_close(a);
  zmq_close(b);
}
// (A null or closed zmq_msg_t crashes libzmq itself: no case.)
static void msg_send_not_socket(void) {
  void* s = sock(ZMQ_DEALER);
  zmq_msg_t m;
  zmq_msg_init(&m);
  R("not_socket", zmq_msg_send(&m, NULL, 0));
  zmq_msg_close(&m);
  zmq_close(s);
}
static void msg_send_timeout(void) {
  void* s = sock(ZMQ_PUSH);
  set_int(s, ZMQ_SNDTIMEO, kTimeoutMs);
  zmq_msg_t m;
  zmq_msg_init_size(&m, 1);
  W("rc", kTimeoutMs, zmq_msg_send(&m, s, 0));
  put("size_after", "%zu", zmq_msg_size(&m));
  zmq_msg_close(&m);
  zmq_close(s);
}
static void msg_recv_timeout(void) {
  void* s = sock(ZMQ_PULL);
  set_int(s, ZMQ_RCVTIMEO, kTimeoutMs);
  zmq_msg_t m;
  zmq_msg_init(&m);
  W("rc", kTimeoutMs, zmq_msg_recv(&m, s, 0));
  W("dontwait", 0, zmq_msg_recv(&m, s, ZMQ_DONTWAIT));
  R("null_msg", zmq_msg_recv(NULL, s, ZMQ_DONTWAIT));
  zmq_msg_close(&m);
  zmq_close(s);
}
static void msg_recv_eterm(void) {
  void* s = sock(ZMQ_PULL);
  zmq_ctx_shutdown(g_ctx);
  zmq_msg_t m;
  zmq_msg_init(&m);
  W("rc", 0, zmq_msg_recv(&m, s, 0));
  zmq_msg_close(&m);
  zmq_close(s);
}
static void sendmsg_roundtrip(void) {
  void *a, *b;
  pair(ZMQ_PAIR, ZMQ_PAIR, &a, &b);
  zmq_msg_t m;
  zmq_msg_init_size(&m, 3);
  memcpy(zmq_msg_data(&m), "abc", 3);
  R("send", zmq_sendmsg(a, &m, 0));
  zmq_msg_t r;
  zmq_msg_init(&r);
  R("recv", zmq_recvmsg(b, &r, 0));
  put_data("data", zmq_msg_data(&r), zmq_msg_size(&r));
  W("again", 0, zmq_recvmsg(b, &r, ZMQ_DONTWAIT));
  zmq_msg_close(&r);
  zmq_close(a);
  zmq_close(b);
}
static void sendmsg_timeout(void) {
  void* s = sock(ZMQ_DEALER);
  set_int(s, ZMQ_SNDTIMEO, kTimeoutMs);
  zmq_msg_t m;
  zmq_msg_init_size(&m, 1);
  W("rc", kTimeoutMs, zmq_sendmsg(s, &m, 0));
  zmq_msg_close(&m);
  R("null", zmq_sendmsg(NULL, &m, 0));
  zmq_close(s);
}
static void recvmsg_timeout(void) {
  void* s = sock(ZMQ_DEALER);
  set_int(s, ZMQ_RCVTIMEO, kTimeoutMs);
  zmq_msg_t m;
  zmq_msg_init(&m);
  W("rc", kTimeoutMs, zmq_recvmsg(s, &m, 0));
  zmq_msg_close(&m);
  R("null", zmq_recvmsg(NULL, &m, 0));
  zmq_close(s);
}

// ---- iov -----------------------------------------------------------------------

static void sendiov_multipart(void) {
  void *a, *b;
  pair(ZMQ_PAIR, ZMQ_PAIR, &a, &b);
  struct iovec iov[3] = {{"ab", 2}, {"cde", 3}, {"f", 1}};
  R("whole", zmq_sendiov(a, iov, 3, ZMQ_SNDMORE));
  R("apart", zmq_sendiov(a, iov, 2, 0));
  drain_put("r", b);
  zmq_close(a);
  zmq_close(b);
}
static void sendiov_invalid(void) {
  void* s = sock(ZMQ_PAIR);
  struct iovec iov[1] = {{"ab", 2}};
  R("count0", zmq_sendiov(s, iov, 0, ZMQ_DONTWAIT));
  R("null_iov", zmq_sendiov(s, NULL, 1, ZMQ_DONTWAIT));
  W("dontwait", 0, zmq_sendiov(s, iov, 1, ZMQ_DONTWAIT));
  R("not_socket", zmq_sendiov(NULL, iov, 1, 0));
  zmq_close(s);
}
static void recviov_null_count(void) {
  void* s = sock(ZMQ_PAIR);
  char buf[4];
  struct iovec iov[1] = {{buf, sizeof buf}};
  R("rc", zmq_recviov(s, iov, NULL, 0));
  R("dontwait", zmq_recviov(s, iov, NULL, ZMQ_DONTWAIT));
  zmq_close(s);
}
static void recviov_invalid(void) {
  void* s = sock(ZMQ_PAIR);
  char buf[4];
  struct iovec iov[1] = {{buf, sizeof buf}};
  size_t count = 0;
  R("count0", zmq_recviov(s, iov, &count, 0));
  put("count0.after", "%zu", count);
  count = 1;
  R("null_iov", zmq_recviov(s, NULL, &count, 0));
  count = 1;
  W("dontwait", 0, zmq_recviov(s, iov, &count, ZMQ_DONTWAIT));
  put("dontwait.count", "%zu", count);
  count = 1;
  R("not_socket", zmq_recviov(NULL, iov, &count, 0));
  zmq_close(s);
}
static void recviov_parts(void) {
  void *a, *b;
  pair(ZMQ_PAIR, ZMQ_PAIR, &a, &b);
  send_str(a, "one", ZMQ_SNDMORE);
  send_str(a, "two", ZMQ_SNDMORE);
  send_str(a, "three", 0);
  send_str(a, "four", 0);
  struct iovec iov[2];
  size_t count = 2;
  R("first", zmq_recviov(b, iov, &count, 0));
  put("first.count", "%zu", count);
  for (size_t i = 0; i < count && i < 2; i++) {
    char k[16];
    snprintf(k, sizeof k, "first%zu", i);
    put_data(k, iov[i].iov_base, iov[i].iov_len);
    free(iov[i].iov_base);
  }
  int more = -1;
  size_t len = sizeof more;
  zmq_getsockopt(b, ZMQ_RCVMORE, &more, &len);
  put("rcvmore", "%d", more);
  count = 2;
  R("rest", zmq_recviov(b, iov, &count, 0));
  put("rest.count", "%zu", count);
  for (size_t i = 0; i < count && i < 2; i++) {
    char k[16];
    snprintf(k, sizeof k, "rest%zu", i);
    put_data(k, iov[i].iov_base, iov[i].iov_len);
    free(iov[i].iov_base);
  }
  zmq_close(a);
  zmq_close(b);
}
static void recviov_timeout(void) {
  void* s = sock(ZMQ_PULL);
  set_int(s, ZMQ_RCVTIMEO, kTimeoutMs);
  struct iovec iov[2];
  size_t count = 2;
  W("rc", kTimeoutMs, zmq_recviov(s, iov, &count, 0));
  put("count", "%zu", count);
  zmq_close(s);
}

// ---- options -------------------------------------------------------------------

static void setsockopt_invalid(void) {
  void* s = sock(ZMQ_DEALER);
  int v = 1;
  R("unknown", zmq_setsockopt(s, 9999, &v, sizeof v));
  R("short_len", zmq_setsockopt(s, ZMQ_SNDHWM, &v, 2));
  v = -2;
  R("bad_timeo", zmq_setsockopt(s, ZMQ_RCVTIMEO, &v, sizeof v));
  R("not_socket", zmq_setsockopt(NULL, ZMQ_SNDHWM, &v, sizeof v));
  R("subscribe_dealer", zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0));
  zmq_close(s);
}
static void setsockopt_timeouts(void) {
  // Serialize mode gives libzmq its own wake-up timeouts while one thread
  // uses a socket and answers the user's: what the user set is what it reads.
  void *a, *b;
  pair(ZMQ_PAIR, ZMQ_PAIR, &a, &b);
  int vals[] = {-1, 0, 5, kTimeoutMs, 100000};
  for (int i = 0; i < 5; i++) {
    char k[32];
    snprintf(k, sizeof k, "set%d", vals[i]);
    R(k, zmq_setsockopt(b, ZMQ_RCVTIMEO, &vals[i], sizeof vals[i]));
    int got = -7;
    size_t len = sizeof got;
    snprintf(k, sizeof k, "get%d", vals[i]);
    R(k, zmq_getsockopt(b, ZMQ_RCVTIMEO, &got, &len));
    snprintf(k, sizeof k, "val%d", vals[i]);
    put(k, "%d", got);
    snprintf(k, sizeof k, "setsnd%d", vals[i]);
    R(k, zmq_setsockopt(b, ZMQ_SNDTIMEO, &vals[i], sizeof vals[i]));
    got = -7;
    len = sizeof got;
    zmq_getsockopt(b, ZMQ_SNDTIMEO, &got, &len);
    snprintf(k, sizeof k, "snd%d", vals[i]);
    put(k, "%d", got);
  }
  int v = kTimeoutMs;
  zmq_setsockopt(b, ZMQ_RCVTIMEO, &v, sizeof v);
  char buf[4];
  W("recv", kTimeoutMs, zmq_recv(b, buf, sizeof buf, 0));
  zmq_close(a);
  zmq_close(b);
}
static void setsockopt_eterm(void) {
  void* s = sock(ZMQ_DEALER);
  zmq_ctx_shutdown(g_ctx);
  int v = 10;
  R("hwm", zmq_setsockopt(s, ZMQ_SNDHWM, &v, sizeof v));
  R("rcvtimeo", zmq_setsockopt(s, ZMQ_RCVTIMEO, &v, sizeof v));
  R("linger", zmq_setsockopt(s, ZMQ_LINGER, &v, sizeof v));
  zmq_close(s);
}
static void getsockopt_values(void) {
  void* s = sock(ZMQ_ROUTER);
  int v = -7;
  size_t len = sizeof v;
  R("type", zmq_getsockopt(s, ZMQ_TYPE, &v, &len));
  put("type.val", "%d", v);
  len = sizeof v;
  R("rcvmore", zmq_getsockopt(s, ZMQ_RCVMORE, &v, &len));
  put("rcvmore.val", "%d", v);
  len = sizeof v;
  R("events", zmq_getsockopt(s, ZMQ_EVENTS, &v, &len));
  put("events.val", "%d", v);
  len = sizeof v;
  R("rcvtimeo", zmq_getsockopt(s, ZMQ_RCVTIMEO, &v, &len));
  put("rcvtimeo.val", "%d", v);
  len = sizeof v;
  R("sndtimeo", zmq_getsockopt(s, ZMQ_SNDTIMEO, &v, &len));
  put("sndtimeo.val", "%d", v);
  char ep[256];
  len = sizeof ep;
  R("last_endpoint", zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &len));
  put("last_endpoint.len", "%zu", len);
  zmq_bind(s, "inproc://conform-last");
  len = sizeof ep;
  R("last_endpoint2", zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &len));
  put_data("last_endpoint2.val", ep, len);
  int fd = -1;
  len = sizeof fd;
  R("fd", zmq_getsockopt(s, ZMQ_FD, &fd, &len));
  put("fd.valid", "%d", fd >= 0);
  zmq_close(s);
}
static void getsockopt_invalid(void) {
  void* s = sock(ZMQ_DEALER);
  int v = -7;
  size_t len = sizeof v;
  R("unknown", zmq_getsockopt(s, 9999, &v, &len));
  len = 2;
  R("short_rcvtimeo", zmq_getsockopt(s, ZMQ_RCVTIMEO, &v, &len));
  len = 2;
  R("short_rcvmore", zmq_getsockopt(s, ZMQ_RCVMORE, &v, &len));
  len = 2;
  R("short_events", zmq_getsockopt(s, ZMQ_EVENTS, &v, &len));
  R("not_socket", zmq_getsockopt(NULL, ZMQ_TYPE, &v, &len));
  zmq_close(s);
}
static void getsockopt_rcvmore_multipart(void) {
  void *a, *b;
  pair(ZMQ_PAIR, ZMQ_PAIR, &a, &b);
  send_str(a, "x", ZMQ_SNDMORE);
  send_str(a, "y", 0);
  recv_put("r0", b, 0);
  recv_put("r1", b, 0);
  zmq_close(a);
  zmq_close(b);
}
static void getsockopt_eterm(void) {
  void* s = sock(ZMQ_DEALER);
  zmq_ctx_shutdown(g_ctx);
  int v = -7;
  size_t len = sizeof v;
  R("type", zmq_getsockopt(s, ZMQ_TYPE, &v, &len));
  len = sizeof v;
  R("events", zmq_getsockopt(s, ZMQ_EVENTS, &v, &len));
  len = sizeof v;
  R("rcvtimeo", zmq_getsockopt(s, ZMQ_RCVTIMEO, &v, &len));
  zmq_close(s);
}

// ---- endpoints -----------------------------------------------------------------

static void bind_errors(void) {
  void* s = sock(ZMQ_PAIR);
  void* t = sock(ZMQ_PAIR);
  R("garbage", zmq_bind(s, "not an endpoint"));
  R("protocol", zmq_bind(s, "nosuch://x"));
  R("tcp_bad", zmq_bind(s, "tcp://"));
  R("inproc", zmq_bind(s, "inproc://conform-bind"));
  R("inproc_again", zmq_bind(t, "inproc://conform-bind"));
  R("inproc_empty", zmq_bind(t, "inproc://"));
  R("not_socket", zmq_bind(NULL, "inproc://x"));
  zmq_close(s);
  zmq_close(t);
}
static void bind_eterm(void) {
  void* s = sock(ZMQ_PAIR);
  zmq_ctx_shutdown(g_ctx);
  R("rc", zmq_bind(s, "inproc://conform-eterm"));
  zmq_close(s);
}
static void connect_errors(void) {
  void* s = sock(ZMQ_PAIR);
  R("garbage", zmq_connect(s, "garbage"));
  R("protocol", zmq_connect(s, "nosuch://x"));
  R("inproc_unbound", zmq_connect(s, "inproc://conform-nobody"));
  R("not_socket", zmq_connect(NULL, "inproc://x"));
  zmq_close(s);
  void* t = sock(ZMQ_PAIR);
  zmq_ctx_shutdown(g_ctx);
  R("eterm", zmq_connect(t, "inproc://conform-nobody2"));
  zmq_close(t);
}
static void unbind_cases(void) {
  void* s = sock(ZMQ_PULL);
  R("not_bound", zmq_unbind(s, "inproc://conform-u"));
  R("bind", zmq_bind(s, "inproc://conform-u"));
  R("unbind", zmq_unbind(s, "inproc://conform-u"));
  R("again", zmq_unbind(s, "inproc://conform-u"));
  R("garbage", zmq_unbind(s, "garbage"));
  R("not_socket", zmq_unbind(NULL, "inproc://x"));
  zmq_close(s);
}
static void disconnect_cases(void) {
  void* b = sock(ZMQ_PULL);
  void* s = sock(ZMQ_PUSH);
  zmq_bind(b, "inproc://conform-d");
  R("not_connected", zmq_disconnect(s, "inproc://conform-d"));
  R("connect", zmq_connect(s, "inproc://conform-d"));
  R("disconnect", zmq_disconnect(s, "inproc://conform-d"));
  R("again", zmq_disconnect(s, "inproc://conform-d"));
  R("not_socket", zmq_disconnect(NULL, "inproc://x"));
  zmq_close(s);
  zmq_close(b);
}

// ---- monitors ------------------------------------------------------------------

static void monitor_events(void) {
  void* s = sock(ZMQ_DEALER);
  R("tcp_rejected", zmq_socket_monitor(s, "tcp://127.0.0.1:0", ZMQ_EVENT_ALL));
  R("start", zmq_socket_monitor(s, "inproc://conform-mon", ZMQ_EVENT_LISTENING | ZMQ_EVENT_CLOSED |
                                                              ZMQ_EVENT_MONITOR_STOPPED));
  void* m = sock(ZMQ_PAIR);
  R("mon_connect", zmq_connect(m, "inproc://conform-mon"));
  set_int(m, ZMQ_RCVTIMEO, 5000);
  R("bind", zmq_bind(s, "tcp://127.0.0.1:*"));
  zmq_msg_t ev;
  zmq_msg_init(&ev);
  R("event", zmq_msg_recv(&ev, m, 0));
  uint16_t id = 0;
  if (zmq_msg_size(&ev) >= 2) memcpy(&id, zmq_msg_data(&ev), 2);
  put("event.id", "%u", id);
  put("event.more", "%d", zmq_msg_more(&ev));
  R("address", zmq_msg_recv(&ev, m, 0));
  put("address.prefix", "%.6s", (const char*)zmq_msg_data(&ev));
  R("stop", zmq_socket_monitor(s, NULL, 0));
  R("stopped", zmq_msg_recv(&ev, m, 0));
  memcpy(&id, zmq_msg_data(&ev), 2);
  put("stopped.id", "%u", id);
  zmq_msg_close(&ev);
  R("not_socket", zmq_socket_monitor(NULL, "inproc://x", ZMQ_EVENT_ALL));
  zmq_close(s);
  zmq_close(m);
}

// ---- zmq_poll ------------------------------------------------------------------

static void poll_no_items(void) {
  W("now", 0, zmq_poll(NULL, 0, 0));
  W("timeout", kTimeoutMs, zmq_poll(NULL, 0, kTimeoutMs));
  zmq_pollitem_t it = {NULL, 0, ZMQ_POLLIN, 0};
  W("items_zero", 0, zmq_poll(&it, 0, 0));
  R("negative", zmq_poll(&it, -1, 0));
  R("null_items", zmq_poll(NULL, 1, 0));
}
static void poll_sockets(void) {
  void *a, *b;
  pair(ZMQ_PAIR, ZMQ_PAIR, &a, &b);
  zmq_pollitem_t it[2] = {{a, 0, ZMQ_POLLIN, 0}, {b, 0, ZMQ_POLLIN | ZMQ_POLLOUT, 0}};
  W("idle", 0, zmq_poll(it, 2, 0));
  put("idle.re", "%d,%d", it[0].revents, it[1].revents);
  it[1].events = ZMQ_POLLIN;
  W("timeout", kTimeoutMs, zmq_poll(it, 2, kTimeoutMs));
  put("timeout.re", "%d,%d", it[0].revents, it[1].revents);
  send_str(a, "x", 0);
  W("ready", kTimeoutMs, zmq_poll(it, 2, 5000));
  put("ready.re", "%d,%d", it[0].revents, it[1].revents);
  it[1].events = 0;
  W("no_events", 0, zmq_poll(it + 1, 1, 0));
  put("no_events.re", "%d", it[1].revents);
  zmq_close(a);
  zmq_close(b);
}
static void poll_pollout_full(void) {
  void* s = sock(ZMQ_PUSH);
  zmq_pollitem_t it = {s, 0, ZMQ_POLLOUT, 0};
  W("rc", kTimeoutMs, zmq_poll(&it, 1, kTimeoutMs));
  put("re", "%d", it.revents);
  zmq_close(s);
}
static void poll_raw_fds(void) {
  void *a, *b;
  pair(ZMQ_PAIR, ZMQ_PAIR, &a, &b);
  int p[2];
  if (pipe(p) != 0) die("pipe");
  zmq_pollitem_t it[3] = {{b, 0, ZMQ_POLLIN, 0}, {NULL, p[0], ZMQ_POLLIN, 0}, {NULL, p[1], ZMQ_POLLOUT, 0}};
  W("write_end", 0, zmq_poll(it, 3, 0));
  put("write_end.re", "%d,%d,%d", it[0].revents, it[1].revents, it[2].revents);
  W("timeout", kTimeoutMs, zmq_poll(it, 2, kTimeoutMs));
  put("timeout.re", "%d,%d", it[0].revents, it[1].revents);
  if (write(p[1], "x", 1) != 1) die("write");
  W("readable", kTimeoutMs, zmq_poll(it, 2, 5000));
  put("readable.re", "%d,%d", it[0].revents, it[1].revents);
  close(p[1]);
  char c;
  if (read(p[0], &c, 1) != 1) die("read");
  W("hup", kTimeoutMs, zmq_poll(it, 2, 5000));
  put("hup.re", "%d,%d", it[0].revents, it[1].revents);
  close(p[0]);
  zmq_close(a);
  zmq_close(b);
}
// A socket and its own ZMQ_FD as a raw item (czmq's zpoller allows it):
// libzmq polls every fd first and reads ZMQ_EVENTS afterwards, so the fd is
// seen readable while the socket has commands pending.
static void poll_own_fd(void) {
  void *a, *b;
  pair(ZMQ_PULL, ZMQ_PUSH, &a, &b);
  send_str(b, "x", 0);
  int fd = -1;
  size_t len = sizeof fd;
  zmq_getsockopt(a, ZMQ_FD, &fd, &len);
  zmq_pollitem_t it[2] = {{a, 0, ZMQ_POLLIN, 0}, {NULL, fd, ZMQ_POLLIN, 0}};
  W("both", kTimeoutMs, zmq_poll(it, 2, kTimeoutMs));
  put("both.re", "%d,%d", it[0].revents, it[1].revents);
  recv_put("r", a, ZMQ_DONTWAIT);
  // Nothing pending any more: the fd alone is not readable.
  W("fd_only", kTimeoutMs, zmq_poll(it + 1, 1, kTimeoutMs));
  put("fd_only.re", "%d", it[1].revents);
  send_str(b, "y", 0);
  W("fd_after_send", kTimeoutMs, zmq_poll(it + 1, 1, kTimeoutMs));
  put("fd_after_send.re", "%d", it[1].revents);
  W("socket_after", kTimeoutMs, zmq_poll(it, 2, kTimeoutMs));
  put("socket_after.re", "%d,%d", it[0].revents, it[1].revents);
  zmq_close(a);
  zmq_close(b);
}
static void poll_eterm(void) {
  void* s = sock(ZMQ_PULL);
  zmq_ctx_shutdown(g_ctx);
  zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
  W("rc", 0, zmq_poll(&it, 1, -1));
  zmq_close(s);
}
// An error at one item (its context shut down) leaves the items before it
// with this round's revents, its own 0, and the ones after it as the
// caller set them (libzmq's zmq_poll returns from the middle of its loop).
static void poll_eterm_middle(void) {
  void* other = zmq_ctx_new();
  void* a = sock(ZMQ_PULL);
  void* b = zmq_socket(other, ZMQ_PULL);
  void* c = sock(ZMQ_PULL);
  zmq_ctx_shutdown(other);
  zmq_pollitem_t it[3] = {{a, 0, ZMQ_POLLIN, 0x55}, {b, 0, ZMQ_POLLIN, 0x55}, {c, 0, ZMQ_POLLIN, 0x55}};
  R("rc", zmq_poll(it, 3, 0));
  put("re", "%d,%d,%d", it[0].revents, it[1].revents, it[2].revents);
  zmq_close(a);
  zmq_close(b);
  zmq_close(c);
  zmq_ctx_term(other);
}
static void poll_not_socket(void) {
  int fake[64] = {0};
  zmq_pollitem_t it = {fake, 0, ZMQ_POLLIN, 0};
  R("rc", zmq_poll(&it, 1, 0));
}

// ---- proxies -------------------------------------------------------------------

// The proxy's sockets: a frontend PULL fed by `in`, a backend PUSH read by
// `out` (or with no peer at all), a capture PUSH read by `cap`, a control
// PAIR fed by `ctl`.
struct proxy_set {
  void *front, *in, *back, *out, *cap_push, *cap, *control, *ctl;
};

static void proxy_open(struct proxy_set* p, int backend_peer, int capture, int control) {
  memset(p, 0, sizeof *p);
  pair(ZMQ_PULL, ZMQ_PUSH, &p->front, &p->in);
  if (backend_peer) {
    pair(ZMQ_PUSH, ZMQ_PULL, &p->back, &p->out);
  } else {
    p->back = sock(ZMQ_PUSH);
    zmq_bind(p->back, "inproc://conform-nobody-reads");
  }
  if (capture) pair(ZMQ_PUSH, ZMQ_PULL, &p->cap_push, &p->cap);
  if (control) pair(ZMQ_PAIR, ZMQ_PAIR, &p->control, &p->ctl);
}

static void proxy_close(struct proxy_set* p) {
  void** all = (void**)p;
  for (size_t i = 0; i < sizeof *p / sizeof(void*); i++)
    if (all[i]) zmq_close(all[i]);
}

static void proxy_null(void) {
  void* s = sock(ZMQ_PULL);
  R("null_front", zmq_proxy(NULL, s, NULL));
  R("null_back", zmq_proxy(s, NULL, NULL));
  zmq_close(s);
}
static void proxy_steerable_null(void) {
  void* s = sock(ZMQ_PULL);
  R("null_front", zmq_proxy_steerable(NULL, s, NULL, NULL));
  R("null_back", zmq_proxy_steerable(s, NULL, NULL, NULL));
  zmq_close(s);
}
// Sends each string of a NULL-ended list; one that starts with '+' is a part
// with more to follow (the '+' not sent).
static void send_list(void* s, const char* const* list) {
  for (; *list; list++) send_str(s, *list + (**list == '+'), **list == '+' ? ZMQ_SNDMORE : 0);
}

// Everything queued before the proxy starts, so that one thread sees the
// whole run: each control command is read in a round of its own, and
// messages move only while the proxy is active.  Records the proxy's result
// and what came out of every socket.  errno_too: 0 where libzmq's errno is
// only what its last internal call left (not an answer; not compared).
static void proxy_steerable_queued(int backend_peer, int capture, const char* const* in, const char* const* ctl,
                                   int errno_too) {
  struct proxy_set p;
  proxy_open(&p, backend_peer, capture, 1);
  send_list(p.in, in);
  send_list(p.ctl, ctl);
  tstart();
  errno = 0;
  int rc = zmq_proxy_steerable(p.front, p.back, p.cap_push, p.control);
  int e = errno;
  tput("rc", 0);
  if (errno_too) put_rc("rc", rc, e);
  else put("rc", "%d", rc);
  if (p.out) drain_put("out", p.out);
  drain_put("stats", p.ctl);
  if (p.cap) drain_put("cap", p.cap);
  drain_put("front", p.front);
  proxy_close(&p);
}

static const char* const kProxyIn[] = {"+multi", "part", "single", "third", NULL};
static const char* const kProxyCommands[] = {"PAUSE", "RESUME", "STATISTICS", "TERMINATE", NULL};
static void proxy_steerable_run(void) { proxy_steerable_queued(1, 0, kProxyIn, kProxyCommands, 1); }
static void proxy_steerable_capture(void) { proxy_steerable_queued(1, 1, kProxyIn, kProxyCommands, 1); }
// TERMINATE first: nothing moves.
static void proxy_steerable_terminate_first(void) {
  static const char* const ctl[] = {"TERMINATE", NULL};
  proxy_steerable_queued(1, 0, kProxyIn, ctl, 1);
}
// The backend cannot take a message (a PUSH nobody reads): libzmq 4.3.4's
// proxy reads the frontend only while the backend can accept, so the
// control socket is still served.
static void proxy_steerable_backend_full(void) {
  static const char* const ctl[] = {"STATISTICS", "PAUSE", "RESUME", "TERMINATE", NULL};
  proxy_steerable_queued(0, 1, kProxyIn, ctl, 1);
}
// A command in several parts ends the proxy with -1.
static void proxy_steerable_multipart_command(void) {
  static const char* const ctl[] = {"+PAUSE", "x", NULL};
  proxy_steerable_queued(1, 0, kProxyIn, ctl, 0);
}

// zmq_proxy and zmq_device end only with their context: a helper thread,
// which uses only sockets of its own in a second context, waits until the
// messages have come through and then shuts the proxy's context down.
struct drain_job {
  int parts;
  char got[16][32];
  int n;
  int capture;
};

static void* drain_then_shutdown(void* arg) {
  struct drain_job* j = arg;
  void* ctx2 = zmq_ctx_new();
  void* out = zmq_socket(ctx2, ZMQ_PULL);
  void* cap = zmq_socket(ctx2, ZMQ_PULL);
  int v = 5000, zero = 0;
  zmq_setsockopt(out, ZMQ_RCVTIMEO, &v, sizeof v);
  zmq_setsockopt(cap, ZMQ_RCVTIMEO, &v, sizeof v);
  zmq_setsockopt(out, ZMQ_LINGER, &zero, sizeof zero);
  zmq_setsockopt(cap, ZMQ_LINGER, &zero, sizeof zero);
  char ep[64];
  snprintf(ep, sizeof ep, "ipc:///tmp/zmq-guard-conform-%d-out", (int)getpid());
  zmq_bind(out, ep);
  snprintf(ep, sizeof ep, "ipc:///tmp/zmq-guard-conform-%d-cap", (int)getpid());
  zmq_bind(cap, ep);
  for (int i = 0; i < j->parts; i++) {
    int rc = zmq_recv(out, j->got[j->n], 31, 0);
    if (rc < 0) break;
    j->got[j->n++][rc < 31 ? rc : 31] = 0;
  }
  for (int i = 0; j->capture && i < j->parts; i++) {
    int rc = zmq_recv(cap, j->got[j->n], 31, 0);
    if (rc < 0) break;
    j->got[j->n++][rc < 31 ? rc : 31] = 0;
  }
  zmq_ctx_shutdown(g_ctx);
  zmq_close(out);
  zmq_close(cap);
  zmq_ctx_term(ctx2);
  return NULL;
}

static void proxy_until_eterm(int device, int capture) {
  void *front, *in;
  pair(ZMQ_PULL, ZMQ_PUSH, &front, &in);
  void* back = sock(ZMQ_PUSH);
  void* cap = capture ? sock(ZMQ_PUSH) : NULL;
  char ep[64];
  snprintf(ep, sizeof ep, "ipc:///tmp/zmq-guard-conform-%d-out", (int)getpid());
  zmq_connect(back, ep);
  if (cap) {
    snprintf(ep, sizeof ep, "ipc:///tmp/zmq-guard-conform-%d-cap", (int)getpid());
    zmq_connect(cap, ep);
  }
  send_str(in, "a", ZMQ_SNDMORE);
  send_str(in, "b", 0);
  send_str(in, "c", 0);
  struct drain_job j = {3, {{0}}, 0, capture};
  pthread_t t;
  pthread_create(&t, NULL, drain_then_shutdown, &j);
  if (device) R("rc", zmq_device(ZMQ_QUEUE, front, back));
  else R("rc", zmq_proxy(front, back, cap));
  pthread_join(t, NULL);
  put("got", "%d", j.n);
  for (int i = 0; i < j.n; i++) {
    char k[16];
    snprintf(k, sizeof k, "got%d", i);
    put(k, "%s", j.got[i]);
  }
  zmq_close(front);
  zmq_close(in);
  zmq_close(back);
  if (cap) zmq_close(cap);
}
static void proxy_eterm(void) { proxy_until_eterm(0, 0); }
static void proxy_capture_eterm(void) { proxy_until_eterm(0, 1); }
static void device_eterm(void) { proxy_until_eterm(1, 0); }

// ---- sockets and contexts --------------------------------------------------------

static void socket_cases(void) {
  void* s = zmq_socket(g_ctx, 9999);
  put_rc("bad_type", s ? 0 : -1, errno);
  s = zmq_socket(NULL, ZMQ_PAIR);
  put_rc("null_ctx", s ? 0 : -1, errno);
  s = zmq_socket(g_ctx, ZMQ_PAIR);
  put("ok", "%d", s != NULL);
  R("close", zmq_close(s));
  zmq_ctx_shutdown(g_ctx);
  errno = 0;
  s = zmq_socket(g_ctx, ZMQ_PAIR);
  put_rc("eterm", s ? 0 : -1, errno);
}
static void close_cases(void) {
  R("null", zmq_close(NULL));
  int fake[64] = {0};
  R("not_socket", zmq_close(fake));
  void* s = sock(ZMQ_PAIR);
  R("ok", zmq_close(s));
  s = sock(ZMQ_PAIR);
  zmq_ctx_shutdown(g_ctx);
  R("after_shutdown", zmq_close(s));
}
static void ctx_term_cases(void) {
  void* s = sock(ZMQ_PAIR);
  zmq_close(s);
  R("rc", zmq_ctx_term(g_ctx));
  g_ctx = NULL;
  R("null", zmq_ctx_term(NULL));
}
static void ctx_destroy_cases(void) {
  R("rc", zmq_ctx_destroy(g_ctx));
  g_ctx = NULL;
  R("null", zmq_ctx_destroy(NULL));
}
static void term_cases(void) {
  void* s = sock(ZMQ_PAIR);
  zmq_close(s);
  R("rc", zmq_term(g_ctx));
  g_ctx = NULL;
  R("null", zmq_term(NULL));
}
static void ctx_shutdown_cases(void) {
  void* s = sock(ZMQ_PAIR);
  R("first", zmq_ctx_shutdown(g_ctx));
  R("second", zmq_ctx_shutdown(g_ctx));
  R("null", zmq_ctx_shutdown(NULL));
  zmq_close(s);
}

// ---- zero-copy messages ----------------------------------------------------------

static int g_freed;
static void count_free(void* data, void* hint) {
  (void)data;
  g_freed += hint == &g_freed;
}
static void msg_init_data_cases(void) {
  void *a, *b;
  pair(ZMQ_PAIR, ZMQ_PAIR, &a, &b);
  static char payload[64] = "zero-copy payload that is longer than a VSM";
  zmq_msg_t m;
  R("init", zmq_msg_init_data(&m, payload, sizeof payload, count_free, &g_freed));
  R("send", zmq_msg_send(&m, a, 0));
  zmq_msg_t r;
  zmq_msg_init(&r);
  R("recv", zmq_msg_recv(&r, b, 0));
  put_data("data", zmq_msg_data(&r), 10);
  zmq_msg_close(&r);
  put("freed", "%d", g_freed);
  R("no_ffn", zmq_msg_init_data(&m, payload, 3, NULL, NULL));
  put("no_ffn.size", "%zu", zmq_msg_size(&m));
  zmq_msg_close(&m);
  zmq_close(a);
  zmq_close(b);
}

// ---- draft functions ---------------------------------------------------------------

// Debian's libzmq exports no draft function: a program built against it
// cannot call one.  Under the guard the wrapper exists and fails with
// ENOTSUP, as a libzmq without draft APIs would: both are "unavailable".
static void draft(const char* name) {
  void* fn = dlsym(RTLD_DEFAULT, name);
  if (!fn) {
    put("available", "no");
    return;
  }
  void* s = sock(ZMQ_DEALER);
  errno = 0;
  int rc;
  if (!strcmp(name, "zmq_socket_monitor_versioned"))
    rc = ((int (*)(void*, const char*, uint64_t, int, int))fn)(s, "inproc://x", 0, 2, ZMQ_PAIR);
  else if (!strcmp(name, "zmq_socket_monitor_pipes_stats") )
    rc = ((int (*)(void*))fn)(s);
  else if (!strcmp(name, "zmq_join") || !strcmp(name, "zmq_leave"))
    rc = ((int (*)(void*, const char*))fn)(s, "g");
  else if (!strcmp(name, "zmq_connect_peer"))
    rc = ((uint32_t (*)(void*, const char*))fn)(s, "inproc://x") == 0 ? -1 : 0;
  else if (!strcmp(name, "zmq_socket_get_peer_state"))
    rc = ((int (*)(void*, const void*, size_t))fn)(s, "id", 2);
  else if (!strcmp(name, "zmq_poller_add"))
    rc = ((int (*)(void*, void*, void*, short))fn)(NULL, s, NULL, ZMQ_POLLIN);
  else if (!strcmp(name, "zmq_poller_modify"))
    rc = ((int (*)(void*, void*, short))fn)(NULL, s, ZMQ_POLLIN);
  else
    rc = ((int (*)(void*, void*))fn)(NULL, s);
  if (rc == -1 && errno == ENOTSUP) put("available", "no");
  else put_rc("available", rc, errno);
  zmq_close(s);
}
#define DRAFT(fn) \
  static void draft_##fn(void) { draft(#fn); }
DRAFT(zmq_socket_monitor_versioned)
DRAFT(zmq_socket_monitor_pipes_stats)
DRAFT(zmq_join)
DRAFT(zmq_leave)
DRAFT(zmq_connect_peer)
DRAFT(zmq_socket_get_peer_state)
DRAFT(zmq_poller_add)
DRAFT(zmq_poller_modify)
DRAFT(zmq_poller_remove)

// ---- the table -------------------------------------------------------------------

struct conf_case {
  const char* fn;  // the api.def function it is about
  const char* name;
  void (*run)(void);
};

static const struct conf_case kCases[] = {
    {"zmq_send", "null_socket", send_null_socket},
    {"zmq_send", "not_a_socket", send_not_a_socket},
    {"zmq_send", "dontwait_no_peer", send_dontwait_no_peer},
    {"zmq_send", "timeout_no_peer", send_timeout_no_peer},
    {"zmq_send", "timeout_zero", send_timeout_zero},
    {"zmq_send", "hwm", send_hwm},
    {"zmq_send", "req_twice", send_req_twice},
    {"zmq_send", "rep_first", send_rep_first},
    {"zmq_send", "sub", send_sub},
    {"zmq_send", "multipart", send_multipart},
    {"zmq_send", "eterm", send_eterm},
    {"zmq_send", "router_mandatory", send_router_mandatory},
    {"zmq_send", "eintr", send_eintr},
    {"zmq_send", "thread_safe", send_thread_safe},
    {"zmq_send_const", "roundtrip", send_const_roundtrip},
    {"zmq_send_const", "dontwait", send_const_dontwait},
    {"zmq_recv", "dontwait_empty", recv_dontwait_empty},
    {"zmq_recv", "timeout", recv_timeout},
    {"zmq_recv", "truncated", recv_truncated},
    {"zmq_recv", "req_first", recv_req_first},
    {"zmq_recv", "reqrep", recv_reqrep},
    {"zmq_recv", "eterm", recv_eterm},
    {"zmq_recv", "eintr", recv_eintr},
    {"zmq_recv", "push", recv_push},
    {"zmq_recv", "null_socket", recv_null_socket},
    {"zmq_msg_send", "roundtrip", msg_send_roundtrip},
    {"zmq_msg_send", "not_socket", msg_send_not_socket},
    {"zmq_msg_send", "timeout", msg_send_timeout},
    {"zmq_msg_recv", "timeout", msg_recv_timeout},
    {"zmq_msg_recv", "eterm", msg_recv_eterm},
    {"zmq_sendmsg", "timeout", sendmsg_timeout},
    {"zmq_recvmsg", "roundtrip", sendmsg_roundtrip},
    {"zmq_recvmsg", "timeout", recvmsg_timeout},
    {"zmq_sendiov", "multipart", sendiov_multipart},
    {"zmq_sendiov", "invalid", sendiov_invalid},
    {"zmq_recviov", "null_count", recviov_null_count},
    {"zmq_recviov", "invalid", recviov_invalid},
    {"zmq_recviov", "parts", recviov_parts},
    {"zmq_recviov", "timeout", recviov_timeout},
    {"zmq_setsockopt", "invalid", setsockopt_invalid},
    {"zmq_setsockopt", "timeouts", setsockopt_timeouts},
    {"zmq_setsockopt", "eterm", setsockopt_eterm},
    {"zmq_getsockopt", "values", getsockopt_values},
    {"zmq_getsockopt", "invalid", getsockopt_invalid},
    {"zmq_getsockopt", "rcvmore_multipart", getsockopt_rcvmore_multipart},
    {"zmq_getsockopt", "eterm", getsockopt_eterm},
    {"zmq_bind", "errors", bind_errors},
    {"zmq_bind", "eterm", bind_eterm},
    {"zmq_connect", "errors", connect_errors},
    {"zmq_unbind", "cases", unbind_cases},
    {"zmq_disconnect", "cases", disconnect_cases},
    {"zmq_socket_monitor", "events", monitor_events},
    {"zmq_poll", "no_items", poll_no_items},
    {"zmq_poll", "sockets", poll_sockets},
    {"zmq_poll", "pollout_full", poll_pollout_full},
    {"zmq_poll", "raw_fds", poll_raw_fds},
    {"zmq_poll", "own_fd", poll_own_fd},
    {"zmq_poll", "eterm", poll_eterm},
    {"zmq_poll", "eterm_middle", poll_eterm_middle},
    {"zmq_poll", "eintr", poll_eintr},
    {"zmq_poll", "not_socket", poll_not_socket},
    {"zmq_proxy", "null", proxy_null},
    {"zmq_proxy", "eterm", proxy_eterm},
    {"zmq_proxy", "capture_eterm", proxy_capture_eterm},
    {"zmq_proxy_steerable", "null", proxy_steerable_null},
    {"zmq_proxy_steerable", "commands", proxy_steerable_run},
    {"zmq_proxy_steerable", "capture", proxy_steerable_capture},
    {"zmq_proxy_steerable", "terminate_first", proxy_steerable_terminate_first},
    {"zmq_proxy_steerable", "backend_full", proxy_steerable_backend_full},
    {"zmq_proxy_steerable", "multipart_command", proxy_steerable_multipart_command},
    {"zmq_device", "eterm", device_eterm},
    {"zmq_socket", "cases", socket_cases},
    {"zmq_close", "cases", close_cases},
    {"zmq_ctx_term", "cases", ctx_term_cases},
    {"zmq_ctx_destroy", "cases", ctx_destroy_cases},
    {"zmq_term", "cases", term_cases},
    {"zmq_ctx_shutdown", "cases", ctx_shutdown_cases},
    {"zmq_msg_init_data", "free", msg_init_data_cases},
    {"zmq_socket_monitor_versioned", "draft", draft_zmq_socket_monitor_versioned},
    {"zmq_socket_monitor_pipes_stats", "draft", draft_zmq_socket_monitor_pipes_stats},
    {"zmq_join", "draft", draft_zmq_join},
    {"zmq_leave", "draft", draft_zmq_leave},
    {"zmq_connect_peer", "draft", draft_zmq_connect_peer},
    {"zmq_socket_get_peer_state", "draft", draft_zmq_socket_get_peer_state},
    {"zmq_poller_add", "draft", draft_zmq_poller_add},
    {"zmq_poller_modify", "draft", draft_zmq_poller_modify},
    {"zmq_poller_remove", "draft", draft_zmq_poller_remove},
};
enum { kNumCases = sizeof kCases / sizeof kCases[0] };

// ---- running ---------------------------------------------------------------------

static int run_one(const struct conf_case* c) {
  g_ctx = zmq_ctx_new();
  if (!g_ctx) die("zmq_ctx_new");
  c->run();
  other_thread_stop();
  if (g_ctx) {
    errno = 0;
    int rc = zmq_ctx_term(g_ctx);
    put_rc("ctx_term", rc, errno);
  }
  printf("%s/%s:%s\n", c->fn, c->name, g_row);
  fflush(stdout);
  return 0;
}

// Each case in a child of its own (this program again), so that a crash or
// a hang is that case's outcome and the next case starts clean.
static int run_all(const char* self) {
  enum { kCaseLimitMs = 10000 };
  int failed = 0;
  for (int i = 0; i < kNumCases; i++) {
    char name[128];
    snprintf(name, sizeof name, "%s/%s", kCases[i].fn, kCases[i].name);
    char* argv[] = {(char*)self, name, NULL};
    pid_t pid;
    fflush(stdout);
    if (posix_spawn(&pid, self, NULL, NULL, argv, environ) != 0) {
      printf("%s: spawn-failed\n", name);
      failed++;
      continue;
    }
    int status = 0;
    int64_t end = now_ms() + kCaseLimitMs;
    pid_t w;
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 && now_ms() < end) {
      struct timespec ts = {0, 2000000};
      nanosleep(&ts, NULL);
    }
    if (w == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      printf("%s: outcome=hung\n", name);
      failed++;
    } else if (WIFSIGNALED(status)) {
      printf("%s: outcome=signal-%d\n", name, WTERMSIG(status));
      failed++;
    } else if (WEXITSTATUS(status) != 0) {
      printf("%s: outcome=exit-%d\n", name, WEXITSTATUS(status));
      failed++;
    }
  }
  return failed ? 1 : 0;
}

int main(int argc, char** argv) {
  if (argc == 2 && !strcmp(argv[1], "--list")) {
    for (int i = 0; i < kNumCases; i++) printf("%s %s\n", kCases[i].fn, kCases[i].name);
    return 0;
  }
  if (argc == 2) {
    for (int i = 0; i < kNumCases; i++) {
      size_t n = strlen(kCases[i].fn);
      if (!strncmp(argv[1], kCases[i].fn, n) && argv[1][n] == '/' && !strcmp(argv[1] + n + 1, kCases[i].name))
        return run_one(&kCases[i]);
    }
    fprintf(stderr, "conform: no case %s\n", argv[1]);
    return 2;
  }
  return run_all("/proc/self/exe");
}
