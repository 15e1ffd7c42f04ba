// SPDX-License-Identifier: MIT
/* One scenario of mode=serialize under load, run by test_serialize.py;
 * stress.h has what the scenarios share.
 *
 *   ser_waits
 *     what a waiting call does, as libzmq does it: RCVTIMEO shorter and
 *     longer than the guard's wake-up period, a wait of many periods, the
 *     option read back, a signal interrupting a wait (EINTR), on a socket
 *     with one user and on a shared one
 */
#include "stress.h"

/* waits: each check runs the same under the guard and without it. */

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

int main(int argc, char** argv) {
  stress_init(argc, argv);
  return waits();
}
