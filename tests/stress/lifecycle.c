// SPDX-License-Identifier: MIT
/* Scenarios for the guard's lifecycle diagnostics.
 *
 *   lifecycle term_blocked      zmq_ctx_term while two sockets are open; a
 *                               helper closes them much later
 *   lifecycle term_clean        a thread blocked in recv gets ETERM from
 *                               zmq_ctx_term and closes its socket (legal)
 *   lifecycle leaks             exits with two sockets never closed
 *   lifecycle fork_clean        the child closes what it inherited and
 *                               terminates the inherited context (legal)
 *   lifecycle fork_send         the child sends on an inherited socket
 *   lifecycle fork_socket       the child opens a socket on the inherited context
 *   lifecycle fork_after_finding  a second thread uses main's socket (a
 *                               finding), then the child exits without a
 *                               zmq call
 *   lifecycle hang [serialize]  prints "ready PID", then threads block in recv
 *                               until killed (for the live dump)
 *   lifecycle dump_recv         prints "ready PID", then main blocks in recv
 *                               until a line on stdin makes a helper send
 *   lifecycle dump_term         prints "ready PID", then main blocks in
 *                               zmq_ctx_term until a line on stdin makes a
 *                               helper close its socket
 *   lifecycle dump_names        like hang, but the socket's ipc path and its
 *                               owner thread's name hold a newline
 *   lifecycle named             prints how many threads of the process are
 *                               named "zmq-guard" right after its first
 *                               zmq_socket returns
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#define CHECK(cond)                                                                      \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      fprintf(stderr, "check failed: %s (%s:%d, errno %s)\n", #cond, __FILE__, __LINE__, \
              zmq_strerror(errno));                                                      \
      exit(1);                                                                           \
    }                                                                                    \
  } while (0)

static void* g_ctx;
static void* g_a;
static void* g_b;

__attribute__((noinline)) static void* make_forgotten_dealer(void) {
  void* s = zmq_socket(g_ctx, ZMQ_DEALER);
  CHECK(s);
  CHECK(zmq_connect(s, "inproc://nowhere") == 0);
  return s;
}

static void* publisher(void* arg) {
  (void)arg;
  CHECK(zmq_send(g_b, "x", 1, 0) == 1); /* this thread becomes the owner */
  return NULL;
}

static void* late_closer(void* arg) {
  (void)arg;
  sleep(2); /* long after term_timeout_ms (the test sets 200) */
  zmq_close(g_a);
  zmq_close(g_b);
  return NULL;
}

__attribute__((noinline)) static int terminate_context(void) { return zmq_ctx_term(g_ctx); }

static int term_blocked(void) {
  g_a = make_forgotten_dealer();
  g_b = zmq_socket(g_ctx, ZMQ_PUB);
  CHECK(zmq_bind(g_b, "inproc://pub") == 0);
  pthread_t t, c;
  pthread_create(&t, NULL, publisher, NULL);
  pthread_join(t, NULL);
  pthread_create(&c, NULL, late_closer, NULL);
  CHECK(terminate_context() == 0);
  pthread_join(c, NULL);
  printf("ok term_blocked\n");
  return 0;
}

static void* blocked_in_recv(void* arg) {
  void* s = arg;
  char buf[8];
  CHECK(zmq_recv(s, buf, sizeof buf, 0) == -1 && errno == ETERM);
  CHECK(zmq_close(s) == 0);
  return NULL;
}

static int term_clean(void) {
  void* s = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(zmq_bind(s, "inproc://clean") == 0);
  pthread_t t;
  pthread_create(&t, NULL, blocked_in_recv, s);
  usleep(100 * 1000);
  CHECK(terminate_context() == 0);
  pthread_join(t, NULL);
  printf("ok term_clean\n");
  return 0;
}

static int leaks(void) {
  g_a = make_forgotten_dealer();
  g_b = zmq_socket(g_ctx, ZMQ_PUB);
  void* closed = zmq_socket(g_ctx, ZMQ_SUB);
  CHECK(zmq_close(closed) == 0);
  printf("ok leaks\n");
  fflush(stdout);
  exit(0); /* without closing g_a, g_b or terminating the context */
}

__attribute__((noinline)) static void child_sends(void* s) {
  int rc = zmq_send(s, "x", 1, ZMQ_DONTWAIT);
  if (rc < 0 && errno != EAGAIN) printf("child send: %s\n", zmq_strerror(errno));
}

__attribute__((noinline)) static void child_opens(void) {
  void* s = zmq_socket(g_ctx, ZMQ_PUSH);
  if (s) zmq_close(s);
}

static int forked(const char* what) {
  void* push = zmq_socket(g_ctx, ZMQ_PUSH);
  CHECK(zmq_bind(push, "inproc://fork") == 0);
  void* pull = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(zmq_connect(pull, "inproc://fork") == 0);
  CHECK(zmq_send(push, "before", 6, 0) == 6);
  char buf[16];
  CHECK(zmq_recv(pull, buf, sizeof buf, 0) == 6);
  fflush(stdout);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    if (!strcmp(what, "fork_send")) child_sends(push);
    if (!strcmp(what, "fork_socket")) child_opens();
    /* libzmq's advice: close what was inherited, terminate the context,
     * make a new context for the child's own work. */
    zmq_close(push);
    zmq_close(pull);
    zmq_ctx_term(g_ctx);
    void* ctx = zmq_ctx_new();
    void* s = zmq_socket(ctx, ZMQ_PAIR);
    CHECK(zmq_bind(s, "inproc://child") == 0);
    zmq_close(s);
    zmq_ctx_term(ctx);
    printf("child done\n");
    exit(0);
  }
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  if (WIFEXITED(status)) printf("child exit %d\n", WEXITSTATUS(status));
  else if (WIFSIGNALED(status)) printf("child signal %d\n", WTERMSIG(status));
  CHECK(zmq_send(push, "after", 5, 0) == 5); /* the parent's sockets still work */
  CHECK(zmq_recv(pull, buf, sizeof buf, 0) == 5);
  zmq_close(push);
  zmq_close(pull);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok %s\n", what);
  return 0;
}

static void* g_second_socket;
static int g_go[2];

/* Started before main's use and let go by a pipe the guard does not see:
   its call is not ordered after main's (a thread started after main's last
   call would be, src/core/order.h). */
static void* second_user(void* arg) {
  (void)arg;
  char buf[8];
  CHECK(read(g_go[0], buf, 1) == 1);
  zmq_recv(g_second_socket, buf, sizeof buf, ZMQ_DONTWAIT); /* cross_thread: main took it */
  return NULL;
}

static int fork_after_finding(void) {
  void* s = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(zmq_bind(s, "inproc://finding") == 0);
  g_second_socket = s;
  CHECK(pipe(g_go) == 0);
  pthread_t t;
  pthread_create(&t, NULL, second_user, NULL);
  char buf[8];
  zmq_recv(s, buf, sizeof buf, ZMQ_DONTWAIT);
  CHECK(write(g_go[1], "g", 1) == 1);
  pthread_join(t, NULL);
  fflush(stdout);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    printf("child done\n");
    exit(0); /* reported nothing itself */
  }
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  if (WIFEXITED(status)) printf("child exit %d\n", WEXITSTATUS(status));
  else if (WIFSIGNALED(status)) printf("child signal %d\n", WTERMSIG(status));
  zmq_close(s);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok fork_after_finding\n");
  return 0;
}

static void* hung_receiver(void* arg) {
  char buf[8];
  zmq_recv(arg, buf, sizeof buf, 0); /* nothing will ever come */
  return NULL;
}

static void* odd_owner(void* arg) {
  pthread_setname_np(pthread_self(), "odd\n==forged");
  char path[128];
  snprintf(path, sizeof path, "ipc:///tmp/zg-lifecycle-%d-a\n==forged line", (int)getpid());
  CHECK(zmq_bind(arg, path) == 0);
  char buf[8];
  zmq_recv(arg, buf, sizeof buf, 0); /* nothing will ever come */
  return NULL;
}

/* The program's text in the live dump: a newline in an endpoint or a
 * thread name must not start a line of its own. */
static int dump_names(void) {
  void* s = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(s);
  pthread_t t;
  pthread_create(&t, NULL, odd_owner, s);
  usleep(100 * 1000);
  printf("ready %d\n", (int)getpid());
  fflush(stdout);
  for (;;) pause();
}

static int hang(int shared) {
  void* s = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(zmq_bind(s, "inproc://hang") == 0);
  pthread_t a, b;
  pthread_create(&a, NULL, hung_receiver, s);
  if (shared) pthread_create(&b, NULL, hung_receiver, s);
  usleep(100 * 1000);
  printf("ready %d\n", (int)getpid());
  fflush(stdout);
  for (;;) pause();
}

/* The helper of dump_recv and dump_term: its own socket, which it sends on
 * (recv) or closes (term) when stdin has a line. */
static pthread_barrier_t g_helper_ready;

static void* stdin_helper(void* arg) {
  int term = arg != NULL;
  void* s = zmq_socket(g_ctx, ZMQ_PUSH);
  CHECK(s && zmq_connect(s, "inproc://dumped") == 0);
  pthread_barrier_wait(&g_helper_ready);
  char line[16];
  CHECK(fgets(line, sizeof line, stdin) != NULL);
  if (!term) CHECK(zmq_send(s, "x", 1, 0) == 1);
  CHECK(zmq_close(s) == 0);
  return NULL;
}

/* A correct program blocked in a call while the live dump is asked for:
 * the call must not see the dump's signal. */
static int dumped_while_blocked(int term) {
  void* pull = zmq_socket(g_ctx, ZMQ_PULL);
  CHECK(zmq_bind(pull, "inproc://dumped") == 0);
  pthread_barrier_init(&g_helper_ready, NULL, 2);
  pthread_t t;
  pthread_create(&t, NULL, stdin_helper, term ? (void*)1 : NULL);
  pthread_barrier_wait(&g_helper_ready);
  if (term) CHECK(zmq_close(pull) == 0); /* only the helper's socket is left */
  printf("ready %d\n", (int)getpid());
  fflush(stdout);
  if (term) {
    int rc = zmq_ctx_term(g_ctx);
    printf("term rc=%d%s%s\n", rc, rc ? " " : "", rc ? zmq_strerror(errno) : "");
  } else {
    char buf[8];
    int rc = zmq_recv(pull, buf, sizeof buf, 0);
    printf("recv rc=%d%s%s\n", rc, rc < 0 ? " " : "", rc < 0 ? zmq_strerror(errno) : "");
  }
  fflush(stdout);
  pthread_join(t, NULL);
  if (!term) {
    zmq_close(pull);
    CHECK(zmq_ctx_term(g_ctx) == 0);
  }
  return 0;
}

static int named(void) {
  /* On one CPU the new thread runs only when this one lets it, so that
   * the check below does not depend on how busy the machine is. */
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(sched_getcpu(), &one);
  CHECK(sched_setaffinity(0, sizeof one, &one) == 0);
  void* s = zmq_socket(g_ctx, ZMQ_PUSH);
  CHECK(s);
  /* At once: `zmq-guard --dump` may look for the thread by name from now on. */
  int n = 0;
  DIR* d = opendir("/proc/self/task");
  CHECK(d);
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    char path[300], comm[32] = {0};
    snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
    FILE* f = fopen(path, "r");
    if (!f) continue;
    if (fgets(comm, sizeof comm, f) && !strcmp(comm, "zmq-guard\n")) n++;
    fclose(f);
  }
  closedir(d);
  printf("named %d\n", n);
  zmq_close(s);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  return 0;
}

int main(int argc, char** argv) {
  CHECK(argc >= 2);
  g_ctx = zmq_ctx_new();
  const char* what = argv[1];
  if (!strcmp(what, "term_blocked")) return term_blocked();
  if (!strcmp(what, "term_clean")) return term_clean();
  if (!strcmp(what, "leaks")) return leaks();
  if (!strcmp(what, "fork_after_finding")) return fork_after_finding();
  if (!strncmp(what, "fork_", 5)) return forked(what);
  if (!strcmp(what, "hang")) return hang(argc > 2 && !strcmp(argv[2], "serialize"));
  if (!strcmp(what, "dump_recv")) return dumped_while_blocked(0);
  if (!strcmp(what, "dump_term")) return dumped_while_blocked(1);
  if (!strcmp(what, "named")) return named();
  if (!strcmp(what, "dump_names")) return dump_names();
  fprintf(stderr, "unknown scenario %s\n", what);
  return 2;
}
