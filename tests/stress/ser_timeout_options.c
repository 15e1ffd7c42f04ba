// SPDX-License-Identifier: MIT
/* One scenario of mode=serialize under load, run by test_serialize.py;
 * stress.h has what the scenarios share.
 *
 *   ser_timeout_options
 *     ZMQ_RCVTIMEO/ZMQ_SNDTIMEO refused as libzmq refuses them (a value
 *     below -1, a wrong length, ETERM), alone and shared; a refused value
 *     leaves the user's in force
 */
#include "stress.h"

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

int main(int argc, char** argv) {
  stress_init(argc, argv);
  return timeout_options();
}
