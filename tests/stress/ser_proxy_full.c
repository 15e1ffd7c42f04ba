// SPDX-License-Identifier: MIT
/* One scenario of mode=serialize under load, run by test_serialize.py;
 * stress.h has what the scenarios share.
 *
 *   ser_proxy_full
 *     zmq_proxy_steerable in its own thread with a backend that cannot
 *     accept and messages waiting: PAUSE, RESUME, STATISTICS and TERMINATE,
 *     each sent while the proxy sleeps, are obeyed
 */
#include "stress.h"

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

int main(int argc, char** argv) {
  stress_init(argc, argv);
  return proxy_full();
}
