// SPDX-License-Identifier: MIT
/* One scenario of mode=serialize under load, run by test_serialize.py;
 * stress.h has what the scenarios share.
 *
 *   ser_poll THREADS MESSAGES
 *     zmq_poll on a shared socket, one poller waiting before the request is
 *     sent
 *   ser_poll_wide THREADS MESSAGES (this file, built with -DSER_POLL_WIDE)
 *     the same, each poll also holding 70 idle sockets of the polling thread
 */
#include "stress.h"

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

int main(int argc, char** argv) {
  stress_init(argc, argv);
#ifdef SER_POLL_WIDE
  g_poll_pad = POLL_PAD;
#endif
  return poll_shared();
}
