/* Programs that share one socket between threads, for mode=serialize.
 *
 *   ser_stress echo THREADS MESSAGES   threads share one DEALER talking to a
 *                                      ROUTER echo peer; every reply counted
 *   ser_stress multipart THREADS MESSAGES   3-part messages, each reply whole
 *   ser_stress msg_api THREADS MESSAGES     echo with zmq_sendmsg/zmq_recvmsg
 *   ser_stress recv_first              a thread blocks in recv before another
 *                                      thread sends the request
 *   ser_stress timeouts                RCVTIMEO, ZMQ_DONTWAIT, SNDTIMEO at HWM
 *   ser_stress eterm                   a thread blocked in recv on a shared
 *                                      socket wakes with ETERM on shutdown
 *   ser_stress poll THREADS MESSAGES   zmq_poll on a shared socket, one poller
 *                                      waiting before the request is sent
 *   ser_stress poll_wide THREADS MESSAGES   the same, each poll also holding
 *                                      70 idle sockets of the polling thread
 *   ser_stress proxy THREADS MESSAGES  zmq_proxy_steerable; another thread uses
 *                                      its backend meanwhile; STATISTICS, TERMINATE
 *   ser_stress push THREADS MESSAGES   THREADS senders share one PUSH, a PULL in
 *                                      its own thread counts every message
 *   ser_stress pull THREADS MESSAGES   THREADS receivers share one PULL fed by a
 *                                      PUSH in its own thread; every message
 *                                      received once
 *   ser_stress unshared MESSAGES       one thread per socket (prints nothing)
 *   ser_stress waits                   what a waiting call does, as libzmq does
 *                                      it: RCVTIMEO shorter and longer than the
 *                                      guard's wake-up period, a wait of many
 *                                      periods, the option read back, a signal
 *                                      interrupting a wait (EINTR), on a socket
 *                                      with one user and on a shared one
 *   ser_stress deadline                a thread waits alone in recv with a
 *                                      600 ms RCVTIMEO; 300 ms in, another
 *                                      thread asks the socket its type (the
 *                                      guard revokes the sole user's bias
 *                                      for the question, and gives it back):
 *                                      the wait still ends 600 ms after it
 *                                      began
 *   ser_stress questions THREADS MESSAGES   (guard only) a thread receives
 *                                      MESSAGES 2-part messages alone while
 *                                      main asks the socket ZMQ_TYPE,
 *                                      ZMQ_RCVTIMEO, ZMQ_RCVMORE and sets
 *                                      ZMQ_LINGER: no sharing, nothing lost,
 *                                      the user's timeout intact
 *   ser_stress join ROUNDS MESSAGES    per round a new DEALER: its creator uses
 *                                      it alone (the sole user's lock-free
 *                                      path), blocks in recv, and a second
 *                                      thread joins: sends the request that
 *                                      wakes it, then both keep going
 *   ser_stress sendiov                 zmq_sendiov with ZMQ_SNDMORE sends a
 *                                      whole message: another thread's send
 *                                      right after it goes through (the
 *                                      sender alone, then the socket shared)
 *   ser_stress sendiov_hwm             zmq_sendiov of 4 parts without
 *                                      ZMQ_SNDMORE (4 messages) at a
 *                                      high-water mark of 1: each part
 *                                      arrives once, in order (alone, shared)
 *   ser_stress first_multipart         a thread whose very first send (or
 *                                      receive) is a message's first part
 *                                      ends it alone; a second thread's
 *                                      send (receive) then goes at once
 *   ser_stress reserved                (guard only) a send waiting behind
 *                                      another thread's unfinished message
 *                                      sleeps while the socket has news,
 *                                      then goes; it fails with ETERM when
 *                                      the context ends
 *   ser_stress wake_tail               RCVTIMEO/SNDTIMEO a little above the
 *                                      guard's 20 ms wake-up period end on
 *                                      time (not at the next multiple of
 *                                      20 ms): alone, then shared
 *   ser_stress timeout_options         ZMQ_RCVTIMEO/ZMQ_SNDTIMEO refused as
 *                                      libzmq refuses them (a value below -1,
 *                                      a wrong length, ETERM), alone and
 *                                      shared; a refused value leaves the
 *                                      user's in force
 *   ser_stress cancel                  threads cancelled (pthread_cancel)
 *                                      while waiting in recv, in zmq_poll,
 *                                      and inside libzmq (its mailbox poll)
 *                                      with a cleanup handler that sends on
 *                                      the socket: the others go on; a
 *                                      socket's only user cancelled in recv
 *                                      sends from its cleanup handler while
 *                                      a second thread takes the socket
 *   ser_stress poll_cancel TRIALS      a thread polling 16 sockets again and
 *                                      again is cancelled at a random moment
 *                                      (mid-round too: libzmq's own poll is a
 *                                      cancellation point); the next thread
 *                                      reuses its stack; every socket still
 *                                      works, every trial
 *   ser_stress proxy_full              zmq_proxy_steerable in its own thread
 *                                      with a backend that cannot accept and
 *                                      messages waiting: PAUSE, RESUME,
 *                                      STATISTICS and TERMINATE, each sent
 *                                      while the proxy sleeps, are obeyed
 *   ser_stress proxy_capture MESSAGES  (guard only) zmq_proxy with a
 *                                      thread-safe capture socket (SCATTER)
 *                                      while another thread also sends on
 *                                      its backend: every message once
 *
 * ZG_STRESS_HWM=N sets the high-water marks of the shared socket and of its
 * peer to N: the threads then keep waiting for each other (back-pressure).
 *
 * Exit status 0 when every check holds; a message on stderr and 1 otherwise. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zmq.h>

#include "../lib/asleep_in_poll.h"

#define CHECK(cond)                                                                      \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      fprintf(stderr, "check failed: %s (%s:%d, errno %s)\n", #cond, __FILE__, __LINE__, \
              zmq_strerror(errno));                                                      \
      exit(1);                                                                           \
    }                                                                                    \
  } while (0)

static void* g_ctx;
static void* g_dealer;
static int g_threads, g_messages;
static int g_hwm = -1; /* ZG_STRESS_HWM */

static void set_hwm(void* s) {
  if (g_hwm < 0) return;
  CHECK(zmq_setsockopt(s, ZMQ_SNDHWM, &g_hwm, sizeof g_hwm) == 0);
  CHECK(zmq_setsockopt(s, ZMQ_RCVHWM, &g_hwm, sizeof g_hwm) == 0);
}
static unsigned char* g_seen; /* one byte per request id */
static pthread_mutex_t g_seen_mu = PTHREAD_MUTEX_INITIALIZER;

/* The peer: a ROUTER that sends every message straight back, all parts. */
static void* echo_server(void* arg) {
  void* router = arg;
  for (;;) {
    zmq_msg_t part;
    int more = 1, n = 0;
    zmq_msg_t parts[8];
    while (more) {
      zmq_msg_init(&part);
      if (zmq_msg_recv(&part, router, 0) < 0) {
        CHECK(errno == ETERM);
        zmq_msg_close(&part);
        for (int i = 0; i < n; i++) zmq_msg_close(&parts[i]);
        zmq_close(router);
        return NULL;
      }
      more = zmq_msg_more(&part);
      CHECK(n < 8);
      parts[n++] = part;
    }
    for (int i = 0; i < n; i++) CHECK(zmq_msg_send(&parts[i], router, i + 1 < n ? ZMQ_SNDMORE : 0) >= 0);
  }
}

static pthread_t start_echo(const char* endpoint) {
  void* router = zmq_socket(g_ctx, ZMQ_ROUTER);
  CHECK(router);
  int linger = 0;
  zmq_setsockopt(router, ZMQ_LINGER, &linger, sizeof linger);
  set_hwm(router);
  CHECK(zmq_bind(router, endpoint) == 0);
  pthread_t t;
  pthread_create(&t, NULL, echo_server, router);
  return t;
}

static void* shared_dealer(const char* endpoint) {
  void* d = zmq_socket(g_ctx, ZMQ_DEALER);
  CHECK(d);
  int linger = 0;
  zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
  set_hwm(d);
  CHECK(zmq_connect(d, endpoint) == 0);
  return d;
}

static void mark_seen(int id) {
  CHECK(id >= 0 && id < g_threads * g_messages);
  pthread_mutex_lock(&g_seen_mu);
  CHECK(g_seen[id] == 0); /* never duplicated */
  g_seen[id] = 1;
  pthread_mutex_unlock(&g_seen_mu);
}

/* The end of a fan-in or fan-out run: every message seen exactly once, both
 * sockets closed, the context terminated. */
static int all_seen_then_close(void* a, void* b) {
  for (int i = 0; i < g_threads * g_messages; i++) CHECK(g_seen[i] == 1); /* every message exactly once */
  CHECK(zmq_close(a) == 0);
  CHECK(zmq_close(b) == 0);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok %d messages\n", g_threads * g_messages);
  return 0;
}

static void* echo_worker(void* arg) {
  int me = (int)(long)arg;
  for (int i = 0; i < g_messages; i++) {
    int id = me * g_messages + i;
    CHECK(zmq_send(g_dealer, &id, sizeof id, 0) == sizeof id);
    int got = -1;
    CHECK(zmq_recv(g_dealer, &got, sizeof got, 0) == sizeof got);
    mark_seen(got); /* the reply may be another thread's: every one counts once */
  }
  return NULL;
}

/* The deprecated zmq_sendmsg/zmq_recvmsg (czmq's), which libzmq forwards
 * through its own exported zmq_msg_send/zmq_msg_recv. */
static void* msg_api_worker(void* arg) {
  int me = (int)(long)arg;
  for (int i = 0; i < g_messages; i++) {
    int id = me * g_messages + i;
    zmq_msg_t m;
    zmq_msg_init_size(&m, sizeof id);
    memcpy(zmq_msg_data(&m), &id, sizeof id);
    CHECK(zmq_sendmsg(g_dealer, &m, 0) == sizeof id);
    zmq_msg_init(&m);
    CHECK(zmq_recvmsg(g_dealer, &m, 0) == sizeof id);
    int got;
    memcpy(&got, zmq_msg_data(&m), sizeof got);
    zmq_msg_close(&m);
    mark_seen(got);
  }
  return NULL;
}

static void* multipart_worker(void* arg) {
  int me = (int)(long)arg;
  for (int i = 0; i < g_messages; i++) {
    int id = me * g_messages + i;
    char part[3][32];
    for (int k = 0; k < 3; k++) {
      int len = snprintf(part[k], sizeof part[k], "%d/%d", id, k);
      CHECK(zmq_send(g_dealer, part[k], len, k < 2 ? ZMQ_SNDMORE : 0) == len);
    }
    char got[3][32];
    int rid = -1;
    for (int k = 0; k < 3; k++) {
      int n = zmq_recv(g_dealer, got[k], sizeof got[k] - 1, 0);
      CHECK(n > 0);
      got[k][n] = 0;
      int more = 0;
      size_t len = sizeof more;
      CHECK(zmq_getsockopt(g_dealer, ZMQ_RCVMORE, &more, &len) == 0);
      if (more != (k < 2)) fprintf(stderr, "k=%d more=%d got=%s\n", k, more, got[k]);
      CHECK(more == (k < 2)); /* exactly three parts */
      int pid = -1, pk = -1;
      CHECK(sscanf(got[k], "%d/%d", &pid, &pk) == 2);
      CHECK(pk == k); /* parts in order */
      if (k == 0) rid = pid;
      CHECK(pid == rid); /* all parts from one message */
    }
    mark_seen(rid);
  }
  return NULL;
}

static int run_shared(void* (*worker)(void*), const char* endpoint) {
  pthread_t server = start_echo(endpoint);
  g_dealer = shared_dealer(endpoint);
  g_seen = calloc((size_t)g_threads * g_messages, 1);
  pthread_t* t = calloc(g_threads, sizeof *t);
  for (int i = 0; i < g_threads; i++) pthread_create(&t[i], NULL, worker, (void*)(long)i);
  for (int i = 0; i < g_threads; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < g_threads * g_messages; i++) CHECK(g_seen[i] == 1); /* every reply accounted for */
  CHECK(zmq_close(g_dealer) == 0);
  zmq_ctx_shutdown(g_ctx);
  pthread_join(server, NULL);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok %d replies\n", g_threads * g_messages);
  return 0;
}

static void* blocked_receiver(void* arg) {
  (void)arg;
  int got = -1;
  CHECK(zmq_recv(g_dealer, &got, sizeof got, 0) == sizeof got);
  CHECK(got == 42);
  return NULL;
}

static void* late_sender(void* arg) {
  (void)arg;
  int id = 42;
  CHECK(zmq_send(g_dealer, &id, sizeof id, 0) == sizeof id);
  return NULL;
}

static int recv_first(void) {
  pthread_t server = start_echo("inproc://recv_first");
  g_dealer = shared_dealer("inproc://recv_first");
  pthread_t r, s;
  pthread_create(&r, NULL, blocked_receiver, NULL);
  usleep(200 * 1000); /* let the receiver block first (ordering, not timing, is checked) */
  pthread_create(&s, NULL, late_sender, NULL);
  pthread_join(s, NULL);
  pthread_join(r, NULL);
  CHECK(zmq_close(g_dealer) == 0);
  zmq_ctx_shutdown(g_ctx);
  pthread_join(server, NULL);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok recv_first\n");
  return 0;
}

static void* timeout_thread(void* arg) {
  void* s = arg;
  char buf[8];
  /* Nothing will come: ZMQ_DONTWAIT fails at once, RCVTIMEO after it. */
  CHECK(zmq_recv(s, buf, sizeof buf, ZMQ_DONTWAIT) == -1 && errno == EAGAIN);
  CHECK(zmq_recv(s, buf, sizeof buf, 0) == -1 && errno == EAGAIN);
  return NULL;
}

static int timeouts(void) {
  /* A PUSH with no peer cannot send; a PULL with no peer never receives. */
  void* pull = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(zmq_bind(pull, "inproc://timeouts") == 0);
  int ms = 100;
  CHECK(zmq_setsockopt(pull, ZMQ_RCVTIMEO, &ms, sizeof ms) == 0);
  pthread_t a, b;
  pthread_create(&a, NULL, timeout_thread, pull);
  pthread_create(&b, NULL, timeout_thread, pull);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  ms = 0;
  CHECK(zmq_setsockopt(pull, ZMQ_RCVTIMEO, &ms, sizeof ms) == 0);
  char buf[8];
  CHECK(zmq_recv(pull, buf, sizeof buf, 0) == -1 && errno == EAGAIN);

  void* push = zmq_socket(g_ctx, ZMQ_PUSH);
  ms = 100;
  CHECK(zmq_setsockopt(push, ZMQ_SNDTIMEO, &ms, sizeof ms) == 0);
  int one = 1; /* no pipe before a connection, which never comes */
  CHECK(zmq_setsockopt(push, ZMQ_IMMEDIATE, &one, sizeof one) == 0);
  CHECK(zmq_connect(push, "tcp://127.0.0.1:9") == 0);
  CHECK(zmq_send(push, "x", 1, 0) == -1 && errno == EAGAIN);
  CHECK(zmq_send(push, "x", 1, ZMQ_DONTWAIT) == -1 && errno == EAGAIN);
  int linger = 0;
  zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof linger);
  zmq_close(push);
  zmq_close(pull);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok timeouts\n");
  return 0;
}

static void* eterm_receiver(void* arg) {
  void* s = arg;
  char buf[8];
  CHECK(zmq_recv(s, buf, sizeof buf, 0) == -1 && errno == ETERM);
  return NULL;
}

static int eterm(void) {
  void* pull = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(zmq_bind(pull, "inproc://eterm") == 0);
  pthread_t a, b;
  pthread_create(&a, NULL, eterm_receiver, pull);
  pthread_create(&b, NULL, eterm_receiver, pull);
  usleep(100 * 1000);
  CHECK(zmq_ctx_shutdown(g_ctx) == 0);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  CHECK(zmq_close(pull) == 0);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok eterm\n");
  return 0;
}

static int g_pipe[2];

/* zmq_poll on the shared socket (plus a plain fd that never gets data),
 * then a non-blocking receive; another thread may have taken the reply. */
#define POLL_PAD 70 /* poll_wide: more items than serialize mode keeps on the stack */
static int g_poll_pad;

static void* poll_worker(void* arg) {
  int me = (int)(long)arg;
  zmq_pollitem_t items[2 + POLL_PAD];
  memset(items, 0, sizeof items);
  for (int k = 0; k < g_poll_pad; k++) { /* this thread's own idle sockets */
    items[2 + k].socket = zmq_socket(g_ctx, ZMQ_PULL);
    CHECK(items[2 + k].socket);
    items[2 + k].events = ZMQ_POLLIN;
  }
  for (int i = 0; i < g_messages; i++) {
    int id = me * g_messages + i;
    CHECK(zmq_send(g_dealer, &id, sizeof id, 0) == sizeof id);
    for (;;) {
      items[0] = (zmq_pollitem_t){g_dealer, 0, ZMQ_POLLIN, 0};
      items[1] = (zmq_pollitem_t){NULL, g_pipe[0], ZMQ_POLLIN, 0};
      int rc = zmq_poll(items, 2 + g_poll_pad, 20);
      CHECK(rc >= 0);
      CHECK(items[1].revents == 0);
      for (int k = 0; k < g_poll_pad; k++) CHECK(items[2 + k].revents == 0);
      if (rc == 0) continue;
      CHECK(items[0].revents == ZMQ_POLLIN);
      int got = -1;
      int n = zmq_recv(g_dealer, &got, sizeof got, ZMQ_DONTWAIT);
      if (n < 0) {
        CHECK(errno == EAGAIN); /* another thread took it first */
        continue;
      }
      mark_seen(got);
      break;
    }
  }
  for (int k = 0; k < g_poll_pad; k++) CHECK(zmq_close(items[2 + k].socket) == 0);
  return NULL;
}

static pid_t g_poller_tid; /* __atomic: blocked_poller's, once it runs */

static void* blocked_poller(void* arg) {
  (void)arg;
  __atomic_store_n(&g_poller_tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
  zmq_pollitem_t item = {g_dealer, 0, ZMQ_POLLIN, 0};
  CHECK(zmq_poll(&item, 1, -1) == 1);
  int got = -1;
  CHECK(zmq_recv(g_dealer, &got, sizeof got, ZMQ_DONTWAIT) == sizeof got);
  CHECK(got == 42);
  return NULL;
}

static int poll_shared(void) {
  CHECK(pipe(g_pipe) == 0);
  pthread_t server = start_echo("inproc://poll");
  g_dealer = shared_dealer("inproc://poll");
  /* A poller that waits first, then a thread sends the request. */
  pthread_t p, s;
  pthread_create(&p, NULL, blocked_poller, NULL);
  pid_t tid;
  while (!(tid = __atomic_load_n(&g_poller_tid, __ATOMIC_ACQUIRE))) usleep(1000);
  wait_asleep_in_poll(tid, 5000); /* the poller took the socket: late_sender's send is the one reported */
  pthread_create(&s, NULL, late_sender, NULL);
  pthread_join(s, NULL);
  pthread_join(p, NULL);
  /* Then many threads polling and receiving. */
  g_seen = calloc((size_t)g_threads * g_messages, 1);
  pthread_t* t = calloc(g_threads, sizeof *t);
  for (int i = 0; i < g_threads; i++) pthread_create(&t[i], NULL, poll_worker, (void*)(long)i);
  for (int i = 0; i < g_threads; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < g_threads * g_messages; i++) CHECK(g_seen[i] == 1);
  /* A timeout with nothing to receive returns 0. */
  zmq_pollitem_t item = {g_dealer, 0, ZMQ_POLLIN, 0};
  CHECK(zmq_poll(&item, 1, 50) == 0 && item.revents == 0);
  CHECK(zmq_close(g_dealer) == 0);
  zmq_ctx_shutdown(g_ctx);
  pthread_join(server, NULL);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok poll %d replies\n", g_threads * g_messages);
  return 0;
}

static void* g_front;
static void* g_back;
static void* g_control_end;

static void* proxy_thread(void* arg) {
  (void)arg;
  CHECK(zmq_proxy_steerable(g_front, g_back, NULL, g_control_end) == 0); /* TERMINATE */
  return NULL;
}

static void* rep_worker(void* arg) {
  void* rep = arg;
  for (;;) {
    char buf[32];
    int n = zmq_recv(rep, buf, sizeof buf, 0);
    if (n < 0) {
      CHECK(errno == ETERM);
      zmq_close(rep);
      return NULL;
    }
    CHECK(zmq_send(rep, buf, n, 0) == n);
  }
}

static void* req_client(void* arg) {
  int me = (int)(long)arg;
  void* req = zmq_socket(g_ctx, ZMQ_REQ);
  CHECK(zmq_connect(req, "inproc://front") == 0);
  for (int i = 0; i < g_messages; i++) {
    int id = me * g_messages + i, got = -1;
    CHECK(zmq_send(req, &id, sizeof id, 0) == sizeof id);
    CHECK(zmq_recv(req, &got, sizeof got, 0) == sizeof got);
    CHECK(got == id);
  }
  zmq_close(req);
  return NULL;
}

/* Another thread uses the proxy's backend while the proxy waits on it. */
static void* backend_user(void* arg) {
  (void)arg;
  for (int i = 0; i < 200; i++) {
    int events = 0;
    size_t len = sizeof events;
    CHECK(zmq_getsockopt(g_back, ZMQ_EVENTS, &events, &len) == 0);
    usleep(1000);
  }
  return NULL;
}

static int proxy(void) {
  g_front = zmq_socket(g_ctx, ZMQ_ROUTER);
  CHECK(zmq_bind(g_front, "inproc://front") == 0);
  g_back = zmq_socket(g_ctx, ZMQ_DEALER);
  CHECK(zmq_bind(g_back, "inproc://back") == 0);
  g_control_end = zmq_socket(g_ctx, ZMQ_PAIR);
  CHECK(zmq_bind(g_control_end, "inproc://control") == 0);
  void* control = zmq_socket(g_ctx, ZMQ_PAIR);
  CHECK(zmq_connect(control, "inproc://control") == 0);
  void* rep = zmq_socket(g_ctx, ZMQ_REP);
  CHECK(zmq_connect(rep, "inproc://back") == 0);
  pthread_t p, w, u;
  pthread_create(&p, NULL, proxy_thread, NULL);
  pthread_create(&w, NULL, rep_worker, rep);
  pthread_create(&u, NULL, backend_user, NULL);
  pthread_t* t = calloc(g_threads, sizeof *t);
  for (int i = 0; i < g_threads; i++) pthread_create(&t[i], NULL, req_client, (void*)(long)i);
  for (int i = 0; i < g_threads; i++) pthread_join(t[i], NULL);
  pthread_join(u, NULL);
  CHECK(zmq_send(control, "STATISTICS", 10, 0) == 10);
  unsigned long long stats[8];
  for (int i = 0; i < 8; i++) {
    CHECK(zmq_recv(control, &stats[i], sizeof stats[i], 0) == sizeof stats[i]);
    int more = 0;
    size_t len = sizeof more;
    zmq_getsockopt(control, ZMQ_RCVMORE, &more, &len);
    CHECK(more == (i < 7));
  }
  CHECK(stats[0] == (unsigned long long)g_threads * g_messages); /* frontend messages in */
  CHECK(stats[6] == (unsigned long long)g_threads * g_messages); /* backend messages out */
  CHECK(zmq_send(control, "TERMINATE", 9, 0) == 9);
  pthread_join(p, NULL);
  zmq_close(control);
  zmq_close(g_control_end);
  zmq_close(g_front);
  zmq_close(g_back);
  zmq_ctx_shutdown(g_ctx);
  pthread_join(w, NULL);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok proxy %d requests\n", g_threads * g_messages);
  return 0;
}

static void* unshared_peer(void* arg) {
  void* pull = arg;
  for (int i = 0; i < g_messages; i++) {
    int v = -1;
    CHECK(zmq_recv(pull, &v, sizeof v, 0) == sizeof v);
    CHECK(v == i);
  }
  zmq_close(pull);
  return NULL;
}

/* push: fan-in on one shared PUSH; the receiver owns its PULL alone. */
static void* g_push;

static void* push_sender(void* arg) {
  int me = (int)(long)arg;
  for (int i = 0; i < g_messages; i++) {
    int id = me * g_messages + i;
    CHECK(zmq_send(g_push, &id, sizeof id, 0) == sizeof id);
  }
  return NULL;
}

static void* push_receiver(void* arg) {
  void* pull = arg;
  for (int i = 0; i < g_threads * g_messages; i++) {
    int got = -1;
    CHECK(zmq_recv(pull, &got, sizeof got, 0) == sizeof got);
    mark_seen(got);
  }
  return NULL;
}

static int push(void) {
  void* pull = zmq_socket(g_ctx, ZMQ_PULL);
  set_hwm(pull);
  CHECK(zmq_bind(pull, "inproc://push") == 0);
  g_push = zmq_socket(g_ctx, ZMQ_PUSH);
  set_hwm(g_push);
  CHECK(zmq_connect(g_push, "inproc://push") == 0);
  g_seen = calloc((size_t)g_threads * g_messages, 1);
  pthread_t r;
  pthread_create(&r, NULL, push_receiver, pull); /* handed over before its first use */
  pthread_t* t = calloc(g_threads, sizeof *t);
  for (int i = 0; i < g_threads; i++) pthread_create(&t[i], NULL, push_sender, (void*)(long)i);
  for (int i = 0; i < g_threads; i++) pthread_join(t[i], NULL);
  pthread_join(r, NULL);
  return all_seen_then_close(g_push, pull);
}

/* pull: fan-out from one PUSH (its own thread) to receivers sharing a PULL;
 * one stop mark (-1) per receiver after the messages. */
static void* g_pull;

static void* pull_sender(void* arg) {
  void* push = arg;
  for (int i = 0; i < g_threads * g_messages; i++) CHECK(zmq_send(push, &i, sizeof i, 0) == sizeof i);
  int stop = -1;
  for (int k = 0; k < g_threads; k++) CHECK(zmq_send(push, &stop, sizeof stop, 0) == sizeof stop);
  return NULL;
}

static void* pull_receiver(void* arg) {
  (void)arg;
  for (;;) {
    int got = -2;
    CHECK(zmq_recv(g_pull, &got, sizeof got, 0) == sizeof got);
    if (got == -1) return NULL;
    mark_seen(got);
  }
}

static int pull(void) {
  g_pull = zmq_socket(g_ctx, ZMQ_PULL);
  set_hwm(g_pull);
  CHECK(zmq_bind(g_pull, "inproc://pull") == 0);
  void* push = zmq_socket(g_ctx, ZMQ_PUSH);
  set_hwm(push);
  CHECK(zmq_connect(push, "inproc://pull") == 0);
  g_seen = calloc((size_t)g_threads * g_messages, 1);
  pthread_t* t = calloc(g_threads, sizeof *t);
  for (int i = 0; i < g_threads; i++) pthread_create(&t[i], NULL, pull_receiver, NULL);
  pthread_t snd;
  pthread_create(&snd, NULL, pull_sender, push); /* handed over before its first use */
  pthread_join(snd, NULL);
  for (int i = 0; i < g_threads; i++) pthread_join(t[i], NULL);
  return all_seen_then_close(push, g_pull);
}

static int unshared(void) {
  void* pull = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(zmq_bind(pull, "inproc://unshared") == 0);
  void* push = zmq_socket(g_ctx, ZMQ_PUSH);
  CHECK(zmq_connect(push, "inproc://unshared") == 0);
  pthread_t t;
  pthread_create(&t, NULL, unshared_peer, pull); /* handed over before its first use */
  for (int i = 0; i < g_messages; i++) CHECK(zmq_send(push, &i, sizeof i, 0) == sizeof i);
  pthread_join(t, NULL);
  zmq_close(push);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok unshared %d\n", g_messages);
  return 0;
}

/* waits: each check runs the same under the guard and without it. */
static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void on_usr1(int sig) { (void)sig; }

/* Receives on s with RCVTIMEO = ms, nothing ever coming: EAGAIN after ms,
 * not at the guard's own wake-up period (20 ms). */
static void recv_times_out(void* s, int ms) {
  CHECK(zmq_setsockopt(s, ZMQ_RCVTIMEO, &ms, sizeof ms) == 0);
  int back = -2;
  size_t len = sizeof back;
  CHECK(zmq_getsockopt(s, ZMQ_RCVTIMEO, &back, &len) == 0 && back == ms);
  char buf[8];
  double t0 = now_ms();
  CHECK(zmq_recv(s, buf, sizeof buf, 0) == -1 && errno == EAGAIN);
  double took = now_ms() - t0;
  /* libzmq's own clock counts whole milliseconds: it may end a wait one
   * early.  What matters here is that 150 ms does not become 20. */
  if (took < ms - 2) fprintf(stderr, "RCVTIMEO %d ms took %.1f ms\n", ms, took);
  CHECK(took >= ms - 2);
}

static void* g_waits_pull;
static pid_t g_waits_tid;
static volatile int g_waits_state; /* 1: about to wait for the late message, 2: about to be interrupted, 3: was */

static void* late_push(void* arg) {
  (void)arg;
  void* push = zmq_socket(g_ctx, ZMQ_PUSH);
  CHECK(zmq_connect(push, "inproc://waits") == 0);
  while (g_waits_state != 1) usleep(1000);
  usleep(150 * 1000); /* several wake-up periods */
  CHECK(zmq_send(push, "late", 4, 0) == 4);
  zmq_close(push);
  return NULL;
}

static void interrupt_when_waiting(void) {
  /* Signals the waiting thread once it sleeps in poll(2) inside libzmq, and
   * again every 100 ms until its call returns: a signal that lands while the
   * thread is not asleep runs its handler without interrupting anything, in
   * libzmq as under the guard (whose sole user wakes every 20 ms). */
  wait_asleep_in_poll(g_waits_tid, 5000);
  for (int i = 0; i < 300 && g_waits_state != 3; i++) {
    CHECK(syscall(SYS_tgkill, getpid(), g_waits_tid, SIGUSR1) == 0);
    for (int k = 0; k < 100 && g_waits_state != 3; k++) usleep(1000);
  }
}

static void* waits_user(void* arg) {
  int shared = arg != NULL;
  void* s = g_waits_pull;
  g_waits_tid = (pid_t)syscall(SYS_gettid);
  recv_times_out(s, 5);   /* shorter than the wake-up period */
  recv_times_out(s, 150); /* several periods */
  int forever = -1;
  CHECK(zmq_setsockopt(s, ZMQ_RCVTIMEO, &forever, sizeof forever) == 0);
  if (!shared) {
    /* A wait of many periods ends with the message, not EAGAIN. */
    char buf[8];
    g_waits_state = 1;
    CHECK(zmq_recv(s, buf, sizeof buf, 0) == 4 && memcmp(buf, "late", 4) == 0);
  }
  /* A signal interrupts the wait: EINTR, as libzmq returns it. */
  char buf[8];
  g_waits_state = 2;
  int rc = zmq_recv(s, buf, sizeof buf, 0);
  int e = errno;
  g_waits_state = 3;
  errno = e;
  CHECK(rc == -1 && errno == EINTR);
  return NULL;
}

static int waits(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1; /* no SA_RESTART: libzmq's poll would not restart anyway */
  CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
  g_waits_pull = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(zmq_bind(g_waits_pull, "inproc://waits") == 0);
  for (int shared = 0; shared < 2; shared++) {
    g_waits_state = 0;
    pthread_t pusher, user;
    if (!shared) pthread_create(&pusher, NULL, late_push, NULL);
    pthread_create(&user, NULL, waits_user, shared ? g_waits_pull : NULL);
    while (g_waits_state != 2) usleep(1000);
    interrupt_when_waiting();
    pthread_join(user, NULL);
    if (!shared) pthread_join(pusher, NULL);
    /* From here on main uses the socket too: the second round is shared.
     * (A receive: the option read back is a question, which is no use.) */
    int back = -2;
    size_t len = sizeof back;
    CHECK(zmq_getsockopt(g_waits_pull, ZMQ_RCVTIMEO, &back, &len) == 0 && back == -1);
    char buf[8];
    CHECK(zmq_recv(g_waits_pull, buf, sizeof buf, ZMQ_DONTWAIT) == -1 && errno == EAGAIN);
  }
  zmq_close(g_waits_pull);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok waits\n");
  return 0;
}

/* deadline: the sole user's wait is taken over by the locked protocol when
 * a second thread comes (under the guard); its timeout counts from the
 * call's start all the same.  The second thread only reads ZMQ_TYPE, which
 * libzmq answers without touching the socket's state, so the program is
 * correct without the guard too; the guard serializes the question all the
 * same (it revokes the bias), but a question is no use: the socket stays
 * its user's alone, and nothing is reported. */
static void* g_deadline_sock;
static volatile int g_deadline_waiting;

static void* deadline_asker(void* arg) {
  (void)arg;
  while (!g_deadline_waiting) usleep(1000);
  usleep(300 * 1000);
  int type = 0;
  size_t len = sizeof type;
  CHECK(zmq_getsockopt(g_deadline_sock, ZMQ_TYPE, &type, &len) == 0 && type == ZMQ_PULL);
  return NULL;
}

static void* deadline_user(void* arg) {
  (void)arg;
  void* s = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(s && zmq_bind(s, "inproc://deadline") == 0);
  int ms = 600;
  CHECK(zmq_setsockopt(s, ZMQ_RCVTIMEO, &ms, sizeof ms) == 0);
  char buf[8];
  CHECK(zmq_recv(s, buf, sizeof buf, ZMQ_DONTWAIT) == -1 && errno == EAGAIN); /* its first use: the sole user */
  g_deadline_sock = s;
  double t0 = now_ms();
  g_deadline_waiting = 1;
  CHECK(zmq_recv(s, buf, sizeof buf, 0) == -1 && errno == EAGAIN);
  double took = now_ms() - t0;
  /* Restarted in full at the second thread's arrival it would take 900 ms. */
  if (took < ms - 2 || took > ms + 200) fprintf(stderr, "RCVTIMEO %d ms took %.1f ms\n", ms, took);
  CHECK(took >= ms - 2 && took <= ms + 200);
  zmq_close(s);
  return NULL;
}

static int deadline(void) {
  pthread_t user, asker;
  pthread_create(&user, NULL, deadline_user, NULL);
  pthread_create(&asker, NULL, deadline_asker, NULL);
  pthread_join(asker, NULL);
  pthread_join(user, NULL);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok deadline\n");
  return 0;
}

/* questions: a thread receives on a socket alone (the sole user's path)
 * while main keeps asking the socket questions (ZMQ_TYPE, ZMQ_RCVTIMEO,
 * ZMQ_RCVMORE) and setting ZMQ_LINGER, as pyzmq's close(linger=N) does
 * before its close.  Under the guard each revokes the sole user's bias and
 * runs under the turn, never beside the user's call inside libzmq, and none
 * makes the socket shared (nothing is reported): the user gets its bias
 * back at its next call, every message arrives whole and in order, libzmq
 * answers the user's own timeout, and the last wait still ends after it.
 * (Guard only: without it the linger set would race the receive.) */
static void* g_q_pull;
static volatile int g_q_ready, g_q_done;
enum { Q_TIMEO = 300 };

static void* q_sender(void* arg) {
  (void)arg;
  void* push = zmq_socket(g_ctx, ZMQ_PUSH);
  CHECK(push && zmq_connect(push, "inproc://questions") == 0);
  for (int i = 0; i < g_messages; i++) {
    char a[16], b[16];
    int na = snprintf(a, sizeof a, "a%d", i), nb = snprintf(b, sizeof b, "b%d", i);
    CHECK(zmq_send(push, a, (size_t)na, ZMQ_SNDMORE) == na);
    CHECK(zmq_send(push, b, (size_t)nb, 0) == nb);
    if (i % 16 == 15) usleep(2000); /* the receiver waits inside libzmq now and then */
  }
  zmq_close(push);
  return NULL;
}

static void q_expect(const char* prefix, int i, int want_more) {
  char buf[16], want[16];
  int n = zmq_recv(g_q_pull, buf, sizeof buf - 1, 0);
  CHECK(n > 0);
  buf[n] = 0;
  snprintf(want, sizeof want, "%s%d", prefix, i);
  if (strcmp(buf, want) != 0) fprintf(stderr, "got '%s', want '%s'\n", buf, want);
  CHECK(strcmp(buf, want) == 0);
  int more = -1;
  size_t len = sizeof more;
  int rc = zmq_getsockopt(g_q_pull, ZMQ_RCVMORE, &more, &len);
  if (rc != 0 || more != want_more) fprintf(stderr, "after '%s': ZMQ_RCVMORE rc %d, %d, want %d\n", buf, rc, more, want_more);
  CHECK(rc == 0 && more == want_more);
}

static void* q_user(void* arg) {
  (void)arg;
  int ms = Q_TIMEO;
  CHECK(zmq_setsockopt(g_q_pull, ZMQ_RCVTIMEO, &ms, sizeof ms) == 0);
  char buf[16];
  CHECK(zmq_recv(g_q_pull, buf, sizeof buf, ZMQ_DONTWAIT) == -1 && errno == EAGAIN); /* takes it */
  g_q_ready = 1;
  for (int i = 0; i < g_messages; i++) {
    q_expect("a", i, 1);
    q_expect("b", i, 0);
  }
  /* Nothing more comes: the wait ends after the user's timeout. */
  double t0 = now_ms();
  CHECK(zmq_recv(g_q_pull, buf, sizeof buf, 0) == -1 && errno == EAGAIN);
  double took = now_ms() - t0;
  if (took < Q_TIMEO - 2 || took > Q_TIMEO + 200) fprintf(stderr, "RCVTIMEO %d ms took %.1f ms\n", Q_TIMEO, took);
  CHECK(took >= Q_TIMEO - 2 && took <= Q_TIMEO + 200);
  g_q_done = 1;
  return NULL;
}

static int questions(void) {
  g_q_pull = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(g_q_pull && zmq_bind(g_q_pull, "inproc://questions") == 0);
  pthread_t user, sender;
  pthread_create(&user, NULL, q_user, NULL);
  while (!g_q_ready) usleep(1000);
  pthread_create(&sender, NULL, q_sender, NULL);
  long asked = 0;
  while (!g_q_done) {
    int v = 0;
    size_t len = sizeof v;
    CHECK(zmq_getsockopt(g_q_pull, ZMQ_TYPE, &v, &len) == 0 && v == ZMQ_PULL);
    len = sizeof v;
    CHECK(zmq_getsockopt(g_q_pull, ZMQ_RCVTIMEO, &v, &len) == 0);
    if (v != Q_TIMEO) fprintf(stderr, "ZMQ_RCVTIMEO read %d, set %d\n", v, Q_TIMEO);
    CHECK(v == Q_TIMEO);
    len = sizeof v;
    CHECK(zmq_getsockopt(g_q_pull, ZMQ_RCVMORE, &v, &len) == 0);
    int zero = 0;
    CHECK(zmq_setsockopt(g_q_pull, ZMQ_LINGER, &zero, sizeof zero) == 0);
    if (++asked % 4 == 0) usleep(500); /* the user gets its bias back meanwhile */
  }
  pthread_join(sender, NULL);
  pthread_join(user, NULL);
  CHECK(asked >= 10);
  zmq_close(g_q_pull); /* by main: the user's hand-off */
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok questions %d\n", g_messages);
  return 0;
}

/* join: the first thread holds the socket alone, long enough to run on the
 * sole user's path; halfway it blocks in recv with nothing outstanding, and
 * the second thread's arrival (taking the socket from it) must wake it. */
static sem_t g_join_sem;
static int g_join_next, g_join_trips;

static void join_trip(void) {
  int id = __atomic_fetch_add(&g_join_next, 1, __ATOMIC_RELAXED);
  CHECK(zmq_send(g_dealer, &id, sizeof id, 0) == sizeof id);
  int got = -1;
  CHECK(zmq_recv(g_dealer, &got, sizeof got, 0) == sizeof got);
  mark_seen(got);
}

static void* join_first(void* arg) {
  (void)arg;
  for (int i = 0; i < g_join_trips; i++) {
    if (i == g_join_trips / 2) {
      sem_post(&g_join_sem);
      int got = -1; /* the reply to one of the second thread's requests */
      CHECK(zmq_recv(g_dealer, &got, sizeof got, 0) == sizeof got);
      mark_seen(got);
    }
    join_trip();
  }
  return NULL;
}

static void* join_second(void* arg) {
  (void)arg;
  sem_wait(&g_join_sem);
  usleep(500); /* usually the first thread is asleep in recv by now; either order is correct */
  for (int k = 0; k < 2; k++) {
    int id = __atomic_fetch_add(&g_join_next, 1, __ATOMIC_RELAXED);
    CHECK(zmq_send(g_dealer, &id, sizeof id, 0) == sizeof id);
  }
  int got = -1;
  CHECK(zmq_recv(g_dealer, &got, sizeof got, 0) == sizeof got);
  mark_seen(got);
  for (int i = 0; i < g_join_trips / 2; i++) join_trip();
  return NULL;
}

static int join(int rounds) {
  pthread_t server = start_echo("inproc://join");
  g_join_trips = g_messages;
  int per_round = g_join_trips + 2 + g_join_trips / 2;
  g_threads = 1; /* mark_seen's bound: per_round ids per round */
  g_messages = per_round;
  g_seen = calloc((size_t)per_round, 1);
  for (int r = 0; r < rounds; r++) {
    memset(g_seen, 0, (size_t)per_round);
    g_join_next = 0;
    CHECK(sem_init(&g_join_sem, 0, 0) == 0);
    g_dealer = shared_dealer("inproc://join");
    pthread_t a, b;
    pthread_create(&a, NULL, join_first, NULL);
    pthread_create(&b, NULL, join_second, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    for (int i = 0; i < per_round; i++) CHECK(g_seen[i] == 1); /* every reply exactly once */
    CHECK(zmq_close(g_dealer) == 0);
    sem_destroy(&g_join_sem);
  }
  zmq_ctx_shutdown(g_ctx);
  pthread_join(server, NULL);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok join %d rounds\n", rounds);
  return 0;
}

/* sendiov: libzmq sends zmq_sendiov's vector in one go and clears
 * ZMQ_SNDMORE on its last part (with the flag the parts are one message,
 * without it each part is one): no message is left open, and another
 * thread's send right after it goes through. */
static void* g_iov_push;

static void* iov_other(void* arg) {
  const char* what = arg;
  CHECK(zmq_send(g_iov_push, what, strlen(what), 0) == (int)strlen(what));
  return NULL;
}

/* The next parts on pull: each one's text and ZMQ_RCVMORE ('+': more). */
static void iov_expect(void* pull, const char* const* parts) {
  for (int i = 0; parts[i]; i++) {
    char buf[16];
    int n = zmq_recv(pull, buf, sizeof buf - 1, 0);
    CHECK(n >= 0);
    buf[n] = 0;
    int more = -1;
    size_t len = sizeof more;
    CHECK(zmq_getsockopt(pull, ZMQ_RCVMORE, &more, &len) == 0);
    const char* want = parts[i];
    const int want_more = want[0] == '+';
    if (strcmp(buf, want + want_more) != 0 || more != want_more)
      fprintf(stderr, "part %d: got '%s' more=%d, want '%s'\n", i, buf, more, want);
    CHECK(strcmp(buf, want + want_more) == 0 && more == want_more);
  }
}

static void iov_then_other(int flags, const char* other) {
  struct iovec iov[2] = {{(void*)"A1", 2}, {(void*)"A2", 2}};
  CHECK(zmq_sendiov(g_iov_push, iov, 2, flags) == 2);
  pthread_t t;
  pthread_create(&t, NULL, iov_other, (void*)other);
  pthread_join(t, NULL);
}

static int sendiov(void) {
  void* pull = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(zmq_bind(pull, "inproc://sendiov") == 0);
  int ms = 5000; /* a send held up for good fails the check instead of hanging */
  CHECK(zmq_setsockopt(pull, ZMQ_RCVTIMEO, &ms, sizeof ms) == 0);
  g_iov_push = zmq_socket(g_ctx, ZMQ_PUSH);
  CHECK(zmq_setsockopt(g_iov_push, ZMQ_SNDTIMEO, &ms, sizeof ms) == 0);
  CHECK(zmq_connect(g_iov_push, "inproc://sendiov") == 0);
  /* main alone: its calls go straight into libzmq under the guard. */
  CHECK(zmq_send(g_iov_push, "0", 1, 0) == 1);
  iov_then_other(ZMQ_SNDMORE, "B");
  iov_expect(pull, (const char* const[]){"0", "+A1", "A2", "B", NULL});
  /* Shared from here on.  A vector that ends a message begun by zmq_send. */
  CHECK(zmq_send(g_iov_push, "P", 1, ZMQ_SNDMORE) == 1);
  iov_then_other(ZMQ_SNDMORE, "C");
  iov_expect(pull, (const char* const[]){"+P", "+A1", "A2", "C", NULL});
  iov_then_other(ZMQ_SNDMORE | ZMQ_DONTWAIT, "D");
  iov_then_other(0, "E");
  iov_expect(pull, (const char* const[]){"+A1", "A2", "D", "A1", "A2", "E", NULL});
  zmq_close(g_iov_push);
  zmq_close(pull);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok sendiov\n");
  return 0;
}

/* sendiov_hwm: zmq_sendiov without ZMQ_SNDMORE sends each part as a
 * message of its own; at a high-water mark of 1 with a slow reader the
 * parts after the first have to wait.  Each must arrive exactly once, in
 * order: the sender alone, then with the socket shared. */
static void* g_ih_pull;

static void* ih_reader(void* arg) {
  const char* const* want = arg;
  int ms = 5000;
  CHECK(zmq_setsockopt(g_ih_pull, ZMQ_RCVTIMEO, &ms, sizeof ms) == 0);
  for (int i = 0; want[i]; i++) {
    usleep(30 * 1000); /* longer than the guard's wake-up period */
    char buf[16];
    int n = zmq_recv(g_ih_pull, buf, sizeof buf - 1, 0);
    CHECK(n >= 0);
    buf[n] = 0;
    if (strcmp(buf, want[i]) != 0) fprintf(stderr, "message %d: got '%s', want '%s'\n", i, buf, want[i]);
    CHECK(strcmp(buf, want[i]) == 0);
  }
  char buf[16];
  ms = 300;
  CHECK(zmq_setsockopt(g_ih_pull, ZMQ_RCVTIMEO, &ms, sizeof ms) == 0);
  CHECK(zmq_recv(g_ih_pull, buf, sizeof buf, 0) == -1 && errno == EAGAIN); /* nothing more */
  return NULL;
}

static void* ih_other(void* arg) {
  CHECK(zmq_send(arg, "S", 1, 0) == 1);
  return NULL;
}

static int sendiov_hwm(void) {
  int one = 1;
  g_ih_pull = zmq_socket(g_ctx, ZMQ_PULL); /* used by one reader thread at a time */
  CHECK(zmq_setsockopt(g_ih_pull, ZMQ_RCVHWM, &one, sizeof one) == 0);
  CHECK(zmq_bind(g_ih_pull, "inproc://sendiov_hwm") == 0);
  void* push = zmq_socket(g_ctx, ZMQ_PUSH);
  CHECK(zmq_setsockopt(push, ZMQ_SNDHWM, &one, sizeof one) == 0);
  CHECK(zmq_connect(push, "inproc://sendiov_hwm") == 0);
  struct iovec iov[4] = {{(void*)"A1", 2}, {(void*)"A2", 2}, {(void*)"A3", 2}, {(void*)"A4", 2}};
  static const char* const alone[] = {"A1", "A2", "A3", "A4", NULL};
  static const char* const shared[] = {"S", "A1", "A2", "A3", "A4", NULL};
  for (int round = 0; round < 2; round++) {
    pthread_t t;
    if (round) {
      pthread_create(&t, NULL, ih_other, push); /* the socket is shared from here on */
      pthread_join(t, NULL);
    }
    pthread_create(&t, NULL, ih_reader, (void*)(round ? shared : alone));
    CHECK(zmq_sendiov(push, iov, 4, 0) == 2);
    pthread_join(t, NULL);
  }
  zmq_close(push);
  zmq_close(g_ih_pull);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok sendiov_hwm\n");
  return 0;
}

/* first_multipart: the call that makes a thread a socket's sole user runs
 * under the turn, the rest of that thread's calls do not.  When its first
 * call is the first part of a message and a later one (alone) its last,
 * the message is over: a second thread's call must not wait for its end. */
static void* g_fm_pull;
static void* g_fm_push;
static sem_t g_fm_done, g_fm_go;

static void* fm_first(void* arg) {
  int recv_side = arg != NULL;
  char buf[8];
  if (recv_side) {
    CHECK(zmq_recv(g_fm_pull, buf, sizeof buf, 0) == 1 && buf[0] == 'A');
    CHECK(zmq_recv(g_fm_pull, buf, sizeof buf, 0) == 1 && buf[0] == 'B');
  } else {
    CHECK(zmq_send(g_fm_push, "A", 1, ZMQ_SNDMORE) == 1);
    CHECK(zmq_send(g_fm_push, "B", 1, 0) == 1);
  }
  sem_post(&g_fm_done);
  sem_wait(&g_fm_go); /* alive while the second thread calls */
  return NULL;
}

static void* fm_second(void* arg) {
  int recv_side = arg != NULL;
  char buf[8];
  double t0 = now_ms();
  if (recv_side) CHECK(zmq_recv(g_fm_pull, buf, sizeof buf, 0) == 1 && buf[0] == 'C');
  else CHECK(zmq_send(g_fm_push, "C", 1, 0) == 1);
  double took = now_ms() - t0;
  if (took > 2000) fprintf(stderr, "the second thread's call took %.0f ms\n", took);
  CHECK(took <= 2000);
  return NULL;
}

static void fm_round(int recv_side) {
  CHECK(sem_init(&g_fm_done, 0, 0) == 0 && sem_init(&g_fm_go, 0, 0) == 0);
  pthread_t a, b;
  void* arg = recv_side ? (void*)1 : NULL;
  pthread_create(&a, NULL, fm_first, arg);
  sem_wait(&g_fm_done);
  pthread_create(&b, NULL, fm_second, arg);
  pthread_join(b, NULL);
  sem_post(&g_fm_go);
  pthread_join(a, NULL);
}

static int first_multipart(void) {
  int ms = 5000; /* held up for good, the second call fails instead of hanging */
  g_fm_pull = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(zmq_setsockopt(g_fm_pull, ZMQ_RCVTIMEO, &ms, sizeof ms) == 0);
  CHECK(zmq_bind(g_fm_pull, "inproc://first_multipart") == 0);
  g_fm_push = zmq_socket(g_ctx, ZMQ_PUSH);
  CHECK(zmq_setsockopt(g_fm_push, ZMQ_SNDTIMEO, &ms, sizeof ms) == 0);
  CHECK(zmq_connect(g_fm_push, "inproc://first_multipart") == 0);
  fm_round(0); /* two threads send on the PUSH */
  fm_round(1); /* two threads receive on the PULL: A+B, then C */
  zmq_close(g_fm_push);
  zmq_close(g_fm_pull);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok first_multipart\n");
  return 0;
}

/* reserved: main is in the middle of a message on a DEALER; another
 * thread's send waits for its end (without the guard it would slip into
 * it).  Meanwhile the socket's ZMQ_FD turns readable (a message arrives
 * for a receiver waiting for activation): the waiting send must sleep, not
 * spin.  Then, behind a second unfinished message, a send must fail with
 * ETERM when main terminates the context, as a send blocked in libzmq
 * does. */
static double thread_cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static volatile int g_res_waiting;

static void* reserved_sender(void* arg) {
  double* cpu = arg;
  g_res_waiting = 1;
  double c0 = thread_cpu_s();
  CHECK(zmq_send(g_dealer, "B", 1, 0) == 1);
  *cpu = thread_cpu_s() - c0;
  return NULL;
}

static void* reserved_eterm_sender(void* arg) {
  (void)arg;
  g_res_waiting = 1;
  CHECK(zmq_send(g_dealer, "C", 1, 0) == -1 && errno == ETERM);
  int linger = 0;
  zmq_setsockopt(g_dealer, ZMQ_LINGER, &linger, sizeof linger);
  CHECK(zmq_close(g_dealer) == 0);
  return NULL;
}

static void router_expect(void* router, const char* const* parts) {
  for (int i = 0; parts[i]; i++) {
    char buf[16];
    int n = zmq_recv(router, buf, sizeof buf - 1, 0);
    CHECK(n >= 0);
    buf[n] = 0;
    if (strcmp(buf, parts[i]) != 0) fprintf(stderr, "part %d: got '%s', want '%s'\n", i, buf, parts[i]);
    CHECK(strcmp(buf, parts[i]) == 0);
  }
}

static int reserved(void) {
  void* router = zmq_socket(g_ctx, ZMQ_ROUTER);
  CHECK(zmq_bind(router, "inproc://reserved") == 0);
  g_dealer = zmq_socket(g_ctx, ZMQ_DEALER);
  CHECK(zmq_setsockopt(g_dealer, ZMQ_ROUTING_ID, "D", 1) == 0);
  CHECK(zmq_connect(g_dealer, "inproc://reserved") == 0);
  CHECK(zmq_send(g_dealer, "hello", 5, 0) == 5); /* the router learns the peer */
  router_expect(router, (const char* const[]){"D", "hello", NULL});
  char buf[16];
  /* Nothing to receive: the pipe's reader now waits to be activated. */
  CHECK(zmq_recv(g_dealer, buf, sizeof buf, ZMQ_DONTWAIT) == -1 && errno == EAGAIN);
  CHECK(zmq_send(g_dealer, "A1", 2, ZMQ_SNDMORE) == 2);
  double cpu = -1;
  pthread_t t;
  pthread_create(&t, NULL, reserved_sender, &cpu);
  while (!g_res_waiting) usleep(1000);
  usleep(100 * 1000);
  /* The activation command makes the DEALER's ZMQ_FD readable. */
  CHECK(zmq_send(router, "D", 1, ZMQ_SNDMORE) == 1 && zmq_send(router, "ping", 4, 0) == 4);
  usleep(1500 * 1000);
  CHECK(zmq_send(g_dealer, "A2", 2, 0) == 2);
  pthread_join(t, NULL);
  /* Spinning, it would have burnt a good part of the 1.5 s even on a busy
   * machine; asleep, a few milliseconds. */
  if (cpu > 0.15) fprintf(stderr, "the waiting send used %.2f s of CPU\n", cpu);
  CHECK(cpu >= 0 && cpu <= 0.15);
  router_expect(router, (const char* const[]){"D", "A1", "A2", "D", "B", NULL});
  CHECK(zmq_recv(g_dealer, buf, sizeof buf, 0) == 4 && memcmp(buf, "ping", 4) == 0);

  CHECK(zmq_send(g_dealer, "A1", 2, ZMQ_SNDMORE) == 2);
  g_res_waiting = 0;
  pthread_create(&t, NULL, reserved_eterm_sender, NULL);
  while (!g_res_waiting) usleep(1000);
  usleep(100 * 1000);
  CHECK(zmq_close(router) == 0);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  pthread_join(t, NULL);
  printf("ok reserved\n");
  return 0;
}

/* wake_tail: a timeout just above the guard's wake-up period (20 ms) ends
 * when libzmq would end it.  The best of three tries counts: a busy
 * machine only ever makes a wait longer. */
static double best_of_three(void* s, int send, int ms) {
  CHECK(zmq_setsockopt(s, send ? ZMQ_SNDTIMEO : ZMQ_RCVTIMEO, &ms, sizeof ms) == 0);
  double best = 1e9;
  for (int i = 0; i < 3; i++) {
    char buf[8] = "x";
    double t0 = now_ms();
    int rc = send ? zmq_send(s, buf, 1, 0) : zmq_recv(s, buf, sizeof buf, 0);
    CHECK(rc == -1 && errno == EAGAIN);
    double took = now_ms() - t0;
    if (took < best) best = took;
  }
  return best;
}

static void ends_on_time(void* s, int send, int ms) {
  double took = best_of_three(s, send, ms);
  if (took < ms - 2 || took > ms + 10) fprintf(stderr, "%s %d ms took %.1f ms\n", send ? "SNDTIMEO" : "RCVTIMEO", ms, took);
  CHECK(took >= ms - 2 && took <= ms + 10);
}

static void* g_tail_pull;
static void* g_tail_push;

static void* tail_user(void* arg) {
  (void)arg;
  static const int ms[] = {21, 30, 45};
  for (int i = 0; i < 3; i++) ends_on_time(g_tail_pull, 0, ms[i]);
  for (int i = 0; i < 3; i++) ends_on_time(g_tail_push, 1, ms[i]);
  return NULL;
}

static int wake_tail(void) {
  g_tail_pull = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(zmq_bind(g_tail_pull, "inproc://wake_tail") == 0);
  g_tail_push = zmq_socket(g_ctx, ZMQ_PUSH); /* no peer ever: a send waits */
  int zero = 0;
  CHECK(zmq_setsockopt(g_tail_push, ZMQ_LINGER, &zero, sizeof zero) == 0);
  for (int shared = 0; shared < 2; shared++) {
    /* The first round's thread is each socket's only user; in the second
     * main has used them too (a receive and a send: the options read back
     * are questions, which are no use). */
    pthread_t t;
    pthread_create(&t, NULL, tail_user, NULL);
    pthread_join(t, NULL);
    int v = 0;
    size_t len = sizeof v;
    CHECK(zmq_getsockopt(g_tail_pull, ZMQ_RCVTIMEO, &v, &len) == 0 && v == 45);
    CHECK(zmq_getsockopt(g_tail_push, ZMQ_SNDTIMEO, &v, &len) == 0 && v == 45);
    char buf[8] = "x";
    CHECK(zmq_recv(g_tail_pull, buf, sizeof buf, ZMQ_DONTWAIT) == -1 && errno == EAGAIN);
    CHECK(zmq_send(g_tail_push, buf, 1, ZMQ_DONTWAIT) == -1 && errno == EAGAIN);
  }
  zmq_close(g_tail_push);
  zmq_close(g_tail_pull);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok wake_tail\n");
  return 0;
}

/* timeout_options: while a thread uses a socket alone the guard keeps its
 * timeouts (libzmq gets the wake-up ones); what libzmq refuses the guard
 * must refuse the same way, and a refused value must not become the user's
 * (nor, once the socket is shared, leave the wake-up timeout in libzmq). */
static void* g_opt_pull;
static sem_t g_opt_done, g_opt_go;

static void timeout_options_refused(void* s, int option, int want) {
  int bad = -5;
  CHECK(zmq_setsockopt(s, option, &bad, sizeof bad) == -1 && errno == EINVAL);
  long long wide = 100;
  CHECK(zmq_setsockopt(s, option, &wide, sizeof wide) == -1 && errno == EINVAL);
  short narrow = 100;
  CHECK(zmq_setsockopt(s, option, &narrow, sizeof narrow) == -1 && errno == EINVAL);
  long long big = 7;
  size_t len = sizeof big;
  CHECK(zmq_getsockopt(s, option, &big, &len) == -1 && errno == EINVAL && len == sizeof big && big == 7);
  short small = 7;
  len = sizeof small;
  CHECK(zmq_getsockopt(s, option, &small, &len) == -1 && errno == EINVAL && len == sizeof small && small == 7);
  int v = -2;
  len = sizeof v;
  CHECK(zmq_getsockopt(s, option, &v, &len) == 0 && len == sizeof v);
  if (v != want) fprintf(stderr, "option %d: %d, want %d\n", option, v, want);
  CHECK(v == want);
}

static void* opt_alone(void* arg) {
  (void)arg;
  char buf[8];
  CHECK(zmq_recv(g_opt_pull, buf, sizeof buf, ZMQ_DONTWAIT) == -1 && errno == EAGAIN); /* its first use */
  timeout_options_refused(g_opt_pull, ZMQ_RCVTIMEO, -1);
  timeout_options_refused(g_opt_pull, ZMQ_SNDTIMEO, -1);
  int ms = 150;
  CHECK(zmq_setsockopt(g_opt_pull, ZMQ_SNDTIMEO, &ms, sizeof ms) == 0);
  timeout_options_refused(g_opt_pull, ZMQ_SNDTIMEO, 150);
  CHECK(zmq_recv(g_opt_pull, buf, sizeof buf, ZMQ_DONTWAIT) == -1 && errno == EAGAIN);
  sem_post(&g_opt_done);
  sem_wait(&g_opt_go); /* alive while main uses the socket: it is shared */
  return NULL;
}

static void* opt_late_push(void* arg) {
  usleep(300 * 1000); /* many wake-up periods */
  CHECK(zmq_send(arg, "late", 4, 0) == 4);
  return NULL;
}

static void* opt_eterm(void* arg) {
  void* s = arg;
  char buf[8];
  CHECK(zmq_recv(s, buf, sizeof buf, ZMQ_DONTWAIT) == -1 && errno == EAGAIN); /* its first use */
  while (zmq_recv(s, buf, sizeof buf, ZMQ_DONTWAIT) == -1 && errno == EAGAIN) usleep(1000);
  CHECK(errno == ETERM);
  int ms = 100;
  CHECK(zmq_setsockopt(s, ZMQ_RCVTIMEO, &ms, sizeof ms) == -1 && errno == ETERM);
  int v = 0;
  size_t len = sizeof v;
  CHECK(zmq_getsockopt(s, ZMQ_RCVTIMEO, &v, &len) == -1 && errno == ETERM);
  zmq_close(s);
  return NULL;
}

static int timeout_options(void) {
  g_opt_pull = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(zmq_bind(g_opt_pull, "inproc://timeout_options") == 0);
  void* push = zmq_socket(g_ctx, ZMQ_PUSH);
  CHECK(zmq_connect(push, "inproc://timeout_options") == 0);
  CHECK(sem_init(&g_opt_done, 0, 0) == 0 && sem_init(&g_opt_go, 0, 0) == 0);
  pthread_t alone, t;
  pthread_create(&alone, NULL, opt_alone, NULL);
  sem_wait(&g_opt_done);
  /* Shared from here on: main's receive waits for good (RCVTIMEO -1, the
   * refused -5 notwithstanding), not a wake-up period. */
  pthread_create(&t, NULL, opt_late_push, push);
  char buf[8];
  CHECK(zmq_recv(g_opt_pull, buf, sizeof buf, 0) == 4 && memcmp(buf, "late", 4) == 0);
  pthread_join(t, NULL);
  timeout_options_refused(g_opt_pull, ZMQ_RCVTIMEO, -1);
  timeout_options_refused(g_opt_pull, ZMQ_SNDTIMEO, 150);
  sem_post(&g_opt_go);
  pthread_join(alone, NULL);
  /* A terminated context: ETERM for the options too, as from libzmq. */
  void* lone = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(zmq_bind(lone, "inproc://timeout_options_eterm") == 0);
  pthread_create(&t, NULL, opt_eterm, lone);
  usleep(100 * 1000);
  CHECK(zmq_ctx_shutdown(g_ctx) == 0);
  pthread_join(t, NULL);
  zmq_close(push);
  zmq_close(g_opt_pull);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok timeout_options\n");
  return 0;
}

/* cancel: a thread cancelled in the middle of a call on a shared socket
 * (libzmq's blocking waits and its mailbox poll are cancellation points).
 * Without the guard the socket simply goes on; under it, the cancelled
 * thread's wait records (on its stack, reused by the next thread) must be
 * gone from the socket's lists, and a turn it held inside libzmq must be
 * given up, to its own cleanup handler first. */
static sem_t g_cx_ready, g_cx_go;

static void* cx_recv(void* arg) {
  (void)arg;
  char buf[16];
  sem_post(&g_cx_ready);
  zmq_recv(g_dealer, buf, sizeof buf, 0); /* cancelled in here */
  return NULL;
}

static void* cx_poll(void* arg) {
  (void)arg;
  zmq_pollitem_t it = {g_dealer, 0, ZMQ_POLLIN, 0};
  sem_post(&g_cx_ready);
  zmq_poll(&it, 1, -1); /* cancelled in here */
  return NULL;
}

static void cx_bye(void* arg) {
  if (arg) CHECK(zmq_send(g_dealer, "bye", 3, ZMQ_DONTWAIT) == 3);
}

/* arg: whether its cleanup handler sends on the socket. */
static void* cx_inside(void* arg) {
  char buf[16];
  CHECK(zmq_recv(g_dealer, buf, sizeof buf, ZMQ_DONTWAIT) == -1 && errno == EAGAIN);
  CHECK(pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL) == 0);
  sem_post(&g_cx_ready);
  sem_wait(&g_cx_go); /* cancelled meanwhile: the cancellation waits */
  pthread_cleanup_push(cx_bye, arg);
  CHECK(pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL) == 0);
  /* Nothing to receive: libzmq polls its mailbox, the first cancellation
   * point since the cancellation was enabled. */
  zmq_recv(g_dealer, buf, sizeof buf, ZMQ_DONTWAIT);
  pthread_cleanup_pop(0);
  return NULL;
}

/* A socket's only user, cancelled in a blocking receive (straight into
 * libzmq under the guard), whose cleanup handler sends on it while a
 * second thread, come meanwhile, takes the socket from it. */
static void* g_cx_alone;
static sem_t g_cx_unwinding, g_cx_resume;

static void cx_alone_bye(void* arg) {
  (void)arg;
  sem_post(&g_cx_unwinding);
  sem_wait(&g_cx_resume);
  CHECK(zmq_send(g_cx_alone, "bye", 3, ZMQ_DONTWAIT) == 3);
}

static void* cx_alone(void* arg) {
  (void)arg;
  char buf[16];
  CHECK(zmq_recv(g_cx_alone, buf, sizeof buf, ZMQ_DONTWAIT) == -1 && errno == EAGAIN); /* its first use */
  pthread_cleanup_push(cx_alone_bye, NULL);
  sem_post(&g_cx_ready);
  zmq_recv(g_cx_alone, buf, sizeof buf, 0); /* cancelled in here */
  pthread_cleanup_pop(0);
  return NULL;
}

static void* cx_comer(void* arg) {
  (void)arg;
  CHECK(zmq_send(g_cx_alone, "r", 1, 0) == 1);
  return NULL;
}

static void* cx_scribble(void* arg) { /* runs on the cancelled thread's cached stack */
  (void)arg;
  volatile char junk[256 * 1024];
  memset((char*)junk, 0x41, sizeof junk);
  return NULL;
}

static void* cx_receiver(void* arg) {
  (void)arg;
  char buf[16];
  CHECK(zmq_recv(g_dealer, buf, sizeof buf, 0) == 4 && memcmp(buf, "ping", 4) == 0);
  return NULL;
}

static void cx_cancel(void* (*fn)(void*), int pending, void* arg) {
  pthread_t t;
  CHECK(sem_init(&g_cx_ready, 0, 0) == 0 && sem_init(&g_cx_go, 0, 0) == 0);
  pthread_create(&t, NULL, fn, arg);
  sem_wait(&g_cx_ready);
  if (!pending) usleep(200 * 1000); /* asleep in its wait by now */
  CHECK(pthread_cancel(t) == 0);
  sem_post(&g_cx_go);
  void* res = NULL;
  pthread_join(t, &res);
  CHECK(res == PTHREAD_CANCELED);
  pthread_create(&t, NULL, cx_scribble, NULL);
  pthread_join(t, NULL);
}

/* Receivers wait on the socket and each gets a ping: wake-ups walk the
 * socket's waiters. */
static void cx_pings(void* router) {
  for (int i = 0; i < 3; i++) {
    pthread_t t;
    pthread_create(&t, NULL, cx_receiver, NULL);
    usleep(50 * 1000);
    CHECK(zmq_send(router, "D", 1, ZMQ_SNDMORE) == 1 && zmq_send(router, "ping", 4, 0) == 4);
    pthread_join(t, NULL);
  }
}

/* poll_cancel: a poller's round registers its waiter records (on its
 * stack) socket by socket, reading each one's ZMQ_EVENTS from libzmq in
 * between; a cancellation landing there must not leave the earlier records
 * on the sockets' lists, where the next thread to reuse that stack would
 * find them (it spun forever in the wake pass, or crashed). */
#define PC_N 16
static void *g_pc_pull[PC_N], *g_pc_push[PC_N];

static void pc_items(zmq_pollitem_t* it) {
  for (int i = 0; i < PC_N; i++) it[i] = (zmq_pollitem_t){g_pc_pull[i], 0, ZMQ_POLLIN, 0};
}

static void* pc_poller(void* arg) {
  (void)arg;
  zmq_pollitem_t it[PC_N];
  pc_items(it);
  for (;;) zmq_poll(it, PC_N, 1);
  return NULL;
}

static void* pc_poll_once(void* arg) {
  (void)arg;
  zmq_pollitem_t it[PC_N];
  pc_items(it);
  CHECK(zmq_poll(it, PC_N, 0) == 0);
  return NULL;
}

static void* pc_scribble(void* arg) {
  (void)arg;
  volatile char big[256 * 1024]; /* over the dead poller's stack */
  memset((char*)big, 0xAB, sizeof big);
  return NULL;
}

static int poll_cancel(int trials) {
  for (int i = 0; i < PC_N; i++) {
    char ep[32];
    snprintf(ep, sizeof ep, "inproc://poll_cancel%d", i);
    CHECK((g_pc_pull[i] = zmq_socket(g_ctx, ZMQ_PULL)) != NULL);
    CHECK(zmq_bind(g_pc_pull[i], ep) == 0);
    CHECK((g_pc_push[i] = zmq_socket(g_ctx, ZMQ_PUSH)) != NULL);
    CHECK(zmq_connect(g_pc_push[i], ep) == 0);
  }
  /* Main and a second thread poll: every PULL is shared from here on. */
  pc_poll_once(NULL);
  pthread_t t;
  pthread_create(&t, NULL, pc_poll_once, NULL);
  pthread_join(t, NULL);
  unsigned seed = 1;
  for (int k = 0; k < trials; k++) {
    pthread_create(&t, NULL, pc_poller, NULL);
    usleep(1000 + rand_r(&seed) % 3000);
    pthread_cancel(t);
    pthread_join(t, NULL);
    pthread_create(&t, NULL, pc_scribble, NULL);
    pthread_join(t, NULL);
    for (int i = 0; i < PC_N; i++) {
      char b[4];
      CHECK(zmq_send(g_pc_push[i], "m", 1, 0) == 1);
      CHECK(zmq_recv(g_pc_pull[i], b, sizeof b, 0) == 1);
    }
  }
  int linger = 0;
  for (int i = 0; i < PC_N; i++) {
    zmq_setsockopt(g_pc_push[i], ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(g_pc_push[i]);
    zmq_close(g_pc_pull[i]);
  }
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok poll_cancel\n");
  return 0;
}

static int cancel(void) {
  void* router = zmq_socket(g_ctx, ZMQ_ROUTER);
  CHECK(zmq_bind(router, "inproc://cancel") == 0);
  int ms = 5000; /* the router's receives: a stuck run fails instead of hanging */
  CHECK(zmq_setsockopt(router, ZMQ_RCVTIMEO, &ms, sizeof ms) == 0);
  g_dealer = zmq_socket(g_ctx, ZMQ_DEALER);
  CHECK(zmq_setsockopt(g_dealer, ZMQ_ROUTING_ID, "D", 1) == 0);
  CHECK(zmq_connect(g_dealer, "inproc://cancel") == 0);
  CHECK(zmq_send(g_dealer, "hello", 5, 0) == 5);
  router_expect(router, (const char* const[]){"D", "hello", NULL});
  cx_cancel(cx_recv, 0, NULL);
  cx_cancel(cx_poll, 0, NULL);
  cx_pings(router);
  cx_cancel(cx_inside, 1, "bye");
  router_expect(router, (const char* const[]){"D", "bye", NULL});
  CHECK(zmq_send(g_dealer, "after", 5, 0) == 5);
  router_expect(router, (const char* const[]){"D", "after", NULL});
  cx_cancel(cx_inside, 1, NULL);
  CHECK(zmq_send(g_dealer, "last", 4, 0) == 4);
  router_expect(router, (const char* const[]){"D", "last", NULL});
  cx_pings(router);

  g_cx_alone = zmq_socket(g_ctx, ZMQ_DEALER);
  CHECK(zmq_setsockopt(g_cx_alone, ZMQ_ROUTING_ID, "E", 1) == 0);
  CHECK(zmq_connect(g_cx_alone, "inproc://cancel") == 0);
  CHECK(sem_init(&g_cx_ready, 0, 0) == 0 && sem_init(&g_cx_unwinding, 0, 0) == 0 &&
        sem_init(&g_cx_resume, 0, 0) == 0);
  pthread_t alone, comer;
  pthread_create(&alone, NULL, cx_alone, NULL);
  sem_wait(&g_cx_ready);
  usleep(200 * 1000);
  CHECK(pthread_cancel(alone) == 0);
  sem_wait(&g_cx_unwinding);
  pthread_create(&comer, NULL, cx_comer, NULL);
  usleep(200 * 1000); /* the second thread waits for the first one's call by now */
  sem_post(&g_cx_resume);
  void* res = NULL;
  pthread_join(alone, &res);
  CHECK(res == PTHREAD_CANCELED);
  pthread_join(comer, NULL);
  router_expect(router, (const char* const[]){"E", "r", "E", "bye", NULL});
  zmq_close(g_cx_alone);
  zmq_close(g_dealer);
  zmq_close(router);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok cancel\n");
  return 0;
}

/* proxy_full: libzmq 4.3.4's proxy reads its frontend only while the
 * backend can take a message, so a backend nobody reads (a PUSH without a
 * peer) never keeps the control socket from being served. */
static void* g_pf_front;
static void* g_pf_back;
static void* g_pf_control_end;
static volatile pid_t g_pf_tid;

static void* pf_proxy(void* arg) {
  (void)arg;
  g_pf_tid = (pid_t)syscall(SYS_gettid);
  CHECK(zmq_proxy_steerable(g_pf_front, g_pf_back, NULL, g_pf_control_end) == 0); /* TERMINATE */
  return NULL;
}

// Each command goes while the proxy sleeps in its wait, where the guard's
// proxy sleeps at once.  libzmq's own is seldom seen asleep here: with the
// backend full its thread stays busy (a run waiting up to 5 s per command
// took 20 s of CPU in 23 s), so the plain run waits 300 ms at most; the
// commands are obeyed either way.
static void pf_wait_asleep(void) {
  while (!g_pf_tid) usleep(100);
  wait_asleep_in_poll(g_pf_tid, 300);
}

static int proxy_full(void) {
  g_pf_front = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(zmq_bind(g_pf_front, "inproc://pf_front") == 0);
  void* in = zmq_socket(g_ctx, ZMQ_PUSH);
  CHECK(zmq_connect(in, "inproc://pf_front") == 0);
  for (int i = 0; i < 3; i++) CHECK(zmq_send(in, "waits", 5, 0) == 5);
  g_pf_back = zmq_socket(g_ctx, ZMQ_PUSH);
  CHECK(zmq_bind(g_pf_back, "inproc://pf_back") == 0);
  g_pf_control_end = zmq_socket(g_ctx, ZMQ_PAIR);
  CHECK(zmq_bind(g_pf_control_end, "inproc://pf_control") == 0);
  void* control = zmq_socket(g_ctx, ZMQ_PAIR);
  CHECK(zmq_connect(control, "inproc://pf_control") == 0);
  pthread_t p;
  pthread_create(&p, NULL, pf_proxy, NULL);
  const char* const commands[] = {"PAUSE", "RESUME", "STATISTICS"};
  for (int c = 0; c < 3; c++) {
    pf_wait_asleep();
    CHECK(zmq_send(control, commands[c], strlen(commands[c]), 0) == (int)strlen(commands[c]));
  }
  for (int i = 0; i < 8; i++) {
    unsigned long long v = 1;
    CHECK(zmq_recv(control, &v, sizeof v, 0) == sizeof v);
    CHECK(v == 0); /* nothing moved */
  }
  pf_wait_asleep();
  CHECK(zmq_send(control, "TERMINATE", 9, 0) == 9);
  pthread_join(p, NULL);
  int linger = 0;
  for (int i = 0; i < 3; i++) {
    char buf[8];
    CHECK(zmq_recv(g_pf_front, buf, sizeof buf, ZMQ_DONTWAIT) == 5);
  }
  void* all[] = {in, g_pf_front, g_pf_back, g_pf_control_end, control};
  for (int i = 0; i < 5; i++) {
    zmq_setsockopt(all[i], ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(all[i]);
  }
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok proxy_full\n");
  return 0;
}

/* proxy_capture: zmq_proxy(PULL, PUSH, SCATTER) forwards MESSAGES from a
 * pusher while another thread sends as many on the proxy's PUSH backend
 * itself.  The capture socket is of a thread-safe type: the guard's proxy
 * must still move the messages through the backend's turns (libzmq's own
 * proxy would use the backend behind them). */
#define ZMQ_SCATTER_TYPE 17
#define ZMQ_GATHER_TYPE 18
static void* g_pc_front;
static void* g_pc_back;
static void* g_pc_capture;
static volatile int g_pc_captured;

static void* pc_proxy(void* arg) {
  (void)arg;
  CHECK(zmq_proxy(g_pc_front, g_pc_back, g_pc_capture) == -1 && errno == ETERM);
  return NULL;
}

static void* pc_pusher(void* arg) {
  (void)arg;
  void* push = zmq_socket(g_ctx, ZMQ_PUSH);
  CHECK(zmq_connect(push, "inproc://pc_front") == 0);
  for (int i = 0; i < g_messages; i++) CHECK(zmq_send(push, "p", 1, 0) == 1);
  zmq_close(push);
  return NULL;
}

static volatile int g_pc_forwarding;

static void* pc_backend_user(void* arg) {
  (void)arg;
  // Only once the proxy has sent on the backend: then the two threads
  // surely overlap on it (the proxy's thread lives until the end), which a
  // thread scheduled late could otherwise miss, sending all its messages
  // and exiting before the proxy's first call (a hand-off, no sharing).
  while (!__atomic_load_n(&g_pc_forwarding, __ATOMIC_ACQUIRE)) usleep(100);
  for (int i = 0; i < g_messages; i++) CHECK(zmq_send(g_pc_back, "b", 1, 0) == 1);
  return NULL;
}

static void* pc_gather(void* arg) {
  void* gather = arg;
  char buf[8];
  while (zmq_recv(gather, buf, sizeof buf, 0) == 1) {
    CHECK(buf[0] == 'p');
    __atomic_add_fetch(&g_pc_captured, 1, __ATOMIC_RELAXED);
  }
  CHECK(errno == ETERM);
  zmq_close(gather);
  return NULL;
}

static int proxy_capture(void) {
  g_pc_front = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(zmq_bind(g_pc_front, "inproc://pc_front") == 0);
  g_pc_back = zmq_socket(g_ctx, ZMQ_PUSH);
  CHECK(zmq_bind(g_pc_back, "inproc://pc_back") == 0);
  g_pc_capture = zmq_socket(g_ctx, ZMQ_SCATTER_TYPE);
  CHECK(g_pc_capture && zmq_bind(g_pc_capture, "inproc://pc_capture") == 0);
  void* gather = zmq_socket(g_ctx, ZMQ_GATHER_TYPE);
  CHECK(gather && zmq_connect(gather, "inproc://pc_capture") == 0);
  void* sink = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(zmq_connect(sink, "inproc://pc_back") == 0);
  pthread_t proxy, pusher, user, gatherer;
  pthread_create(&gatherer, NULL, pc_gather, gather);
  pthread_create(&proxy, NULL, pc_proxy, NULL);
  pthread_create(&pusher, NULL, pc_pusher, NULL);
  pthread_create(&user, NULL, pc_backend_user, NULL);
  int got[2] = {0, 0};
  for (int i = 0; i < 2 * g_messages; i++) {
    char buf[8];
    CHECK(zmq_recv(sink, buf, sizeof buf, 0) == 1 && (buf[0] == 'p' || buf[0] == 'b'));
    got[buf[0] == 'b']++;
    __atomic_store_n(&g_pc_forwarding, 1, __ATOMIC_RELEASE);
  }
  CHECK(got[0] == g_messages && got[1] == g_messages);
  pthread_join(pusher, NULL);
  pthread_join(user, NULL);
  for (int i = 0; i < 10000 && g_pc_captured < g_messages; i++) usleep(1000);
  CHECK(g_pc_captured == g_messages);
  zmq_close(sink);
  zmq_ctx_shutdown(g_ctx);
  pthread_join(proxy, NULL);
  pthread_join(gatherer, NULL);
  zmq_close(g_pc_front);
  zmq_close(g_pc_back);
  zmq_close(g_pc_capture);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok proxy_capture %d\n", g_messages);
  return 0;
}

int main(int argc, char** argv) {
  CHECK(argc >= 2);
  if (getenv("ZG_STRESS_HWM")) g_hwm = atoi(getenv("ZG_STRESS_HWM"));
  g_ctx = zmq_ctx_new();
  const char* what = argv[1];
  g_threads = argc > 2 ? atoi(argv[2]) : 4;
  g_messages = argc > 3 ? atoi(argv[3]) : 1000;
  if (!strcmp(what, "echo")) return run_shared(echo_worker, argc > 4 ? argv[4] : "inproc://echo");
  if (!strcmp(what, "multipart")) return run_shared(multipart_worker, "inproc://multipart");
  if (!strcmp(what, "msg_api")) return run_shared(msg_api_worker, "inproc://msg_api");
  if (!strcmp(what, "recv_first")) return recv_first();
  if (!strcmp(what, "poll")) return poll_shared();
  if (!strcmp(what, "poll_wide")) {
    g_poll_pad = POLL_PAD;
    return poll_shared();
  }
  if (!strcmp(what, "proxy")) return proxy();
  if (!strcmp(what, "timeouts")) return timeouts();
  if (!strcmp(what, "eterm")) return eterm();
  if (!strcmp(what, "join")) return join(g_threads);
  if (!strcmp(what, "waits")) return waits();
  if (!strcmp(what, "deadline")) return deadline();
  if (!strcmp(what, "questions")) return questions();
  if (!strcmp(what, "push")) return push();
  if (!strcmp(what, "pull")) return pull();
  if (!strcmp(what, "sendiov")) return sendiov();
  if (!strcmp(what, "reserved")) return reserved();
  if (!strcmp(what, "first_multipart")) return first_multipart();
  if (!strcmp(what, "sendiov_hwm")) return sendiov_hwm();
  if (!strcmp(what, "wake_tail")) return wake_tail();
  if (!strcmp(what, "timeout_options")) return timeout_options();
  if (!strcmp(what, "cancel")) return cancel();
  if (!strcmp(what, "poll_cancel")) return poll_cancel(argc > 2 ? atoi(argv[2]) : 300);
  if (!strcmp(what, "proxy_full")) return proxy_full();
  if (!strcmp(what, "proxy_capture")) {
    g_messages = argc > 2 ? atoi(argv[2]) : 1000;
    return proxy_capture();
  }
  if (!strcmp(what, "unshared")) {
    g_messages = argc > 2 ? atoi(argv[2]) : 1000;
    return unshared();
  }
  fprintf(stderr, "unknown scenario %s\n", what);
  return 2;
}
