// SPDX-License-Identifier: MIT
/* Hostile processes (doc/reliability.md): programs that do to the guard what
 * real programs do to a preloaded library.  Each prints "ok SCENARIO ..." when
 * everything it checks itself held.
 *
 *   hostile_proc signals SOCKETS   reports written while signals rain: 4
 *                                  threads each misuse SOCKETS/4 of main's
 *                                  sockets (a report each, with policy=strict)
 *                                  while a fifth sends them SIGUSR1 (its
 *                                  handler calls libzmq on the thread's own
 *                                  socket) and SIGTERM (counted), and an
 *                                  interval timer raises SIGALRM (its handler
 *                                  calls libzmq too); no SA_RESTART, so the
 *                                  guard's writes see EINTR; stderr is a pipe
 *                                  of one page that a relay thread drains
 *                                  slowly, so the writes block and are cut
 *   hostile_proc signal_exit SOCKETS  the same, stderr left as it is, and the
 *                                  first SIGTERM's handler calls exit(5)
 *                                  while the other threads are reporting
 *   hostile_proc fork_storm FORKS  4 threads each own a PUSH/PULL pair and
 *                                  fork FORKS/4 times between rounds of
 *                                  messages while 2 more threads keep sending
 *                                  and receiving on theirs; the children
 *                                  _exit at once, exit at once, close every
 *                                  inherited socket and work on a context of
 *                                  their own (then _exit or exit), or exec
 *                                  `hostile_proc leaf`
 *   hostile_proc exec_chain DEPTH  3 threads use their sockets while one of
 *                                  them (not main) execs this program with
 *                                  DEPTH-1, down to 0
 *   hostile_proc exec_fan N        3 threads each fork and exec `leaf` N times;
 *                                  the last leaf is `leaf misuse`
 *   hostile_proc spawn N           while 2 threads use their sockets, main
 *                                  starts children N times each way: vfork +
 *                                  exec of `leaf`, vfork + _exit, posix_spawn
 *                                  of `leaf`; its own pair works after each;
 *                                  the last is `leaf misuse`
 *   hostile_proc leaf [misuse]     a context, a pair, a message; with misuse a
 *                                  second thread uses main's socket
 *   hostile_proc cancel ROUNDS     threads blocked in zmq_recv, zmq_poll and
 *                                  zmq_msg_recv on their own sockets are
 *                                  cancelled at random moments (ROUNDS each);
 *                                  main closes each socket after the join,
 *                                  a bystander thread keeps working, the
 *                                  context terminates; a socket of a second
 *                                  context is left open (a leak report at
 *                                  exit with leaks=1 shows the report lock
 *                                  free)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#define CHECK(cond)                                                                                     \
  do {                                                                                                  \
    if (!(cond)) {                                                                                      \
      fprintf(stderr, "check failed: %s (%s:%d, errno %s)\n", #cond, __FILE__, __LINE__, strerror(errno)); \
      fflush(stderr);                                                                                   \
      _exit(1);                                                                                         \
    }                                                                                                   \
  } while (0)

extern char** environ;
static const char* g_self;
static void* g_ctx;

/* A connected inproc PUSH/PULL pair of ctx. */
static void make_pair(void* ctx, const char* name, int n, void** push, void** pull) {
  char ep[64];
  snprintf(ep, sizeof ep, "inproc://%s-%d", name, n);
  *pull = zmq_socket(ctx, ZMQ_PULL);
  CHECK(*pull && zmq_bind(*pull, ep) == 0);
  *push = zmq_socket(ctx, ZMQ_PUSH);
  CHECK(*push && zmq_connect(*push, ep) == 0);
}

/* A message through the pair; EINTR (a signal) is tried again. */
static void round_trip(void* push, void* pull) {
  char buf[8];
  int rc;
  while ((rc = zmq_send(push, "m", 1, 0)) < 0 && errno == EINTR) {
  }
  CHECK(rc == 1);
  while ((rc = zmq_recv(pull, buf, sizeof buf, 0)) < 0 && errno == EINTR) {
  }
  CHECK(rc == 1);
}

static pid_t gettid_(void) { return (pid_t)syscall(SYS_gettid); }

/* ------------------------------------------------------------ signals */

static __thread void* t_sig_sock;  /* the thread's own, used by its handlers only */
static atomic_int g_usr1, g_alrm, g_term, g_exiting;
static int g_exit_on_term;

static void on_usr1(int sig) {
  (void)sig;
  int saved = errno;
  if (t_sig_sock) {
    zmq_send(t_sig_sock, "s", 1, ZMQ_DONTWAIT); /* no peer: EAGAIN */
    int ev = 0;
    size_t len = sizeof ev;
    zmq_getsockopt(t_sig_sock, ZMQ_EVENTS, &ev, &len);
  }
  atomic_fetch_add(&g_usr1, 1);
  errno = saved;
}

static void on_alrm(int sig) {
  (void)sig;
  int saved = errno;
  int a, b, c;
  zmq_version(&a, &b, &c);
  if (t_sig_sock) {
    int type = 0;
    size_t len = sizeof type;
    zmq_getsockopt(t_sig_sock, ZMQ_TYPE, &type, &len);
  }
  atomic_fetch_add(&g_alrm, 1);
  errno = saved;
}

static void on_term(int sig) {
  (void)sig;
  atomic_fetch_add(&g_term, 1);
  if (g_exit_on_term && atomic_exchange(&g_exiting, 1) == 0) exit(5);
}

static void handle(int sig, void (*fn)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = fn;
  sa.sa_flags = 0; /* no SA_RESTART: interrupted writes and polls see EINTR */
  sigfillset(&sa.sa_mask); /* one handler at a time on a thread */
  CHECK(sigaction(sig, &sa, NULL) == 0);
}

static void block_all(sigset_t* old) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, old);
}

/* The thread's own socket for its handlers, taken with signals blocked. */
static void own_sig_socket(void) {
  sigset_t old;
  block_all(&old);
  void* s = zmq_socket(g_ctx, ZMQ_PUSH);
  CHECK(s);
  zmq_send(s, "s", 1, ZMQ_DONTWAIT);
  t_sig_sock = s;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void drop_sig_socket(void) {
  sigset_t old;
  block_all(&old);
  void* s = t_sig_sock;
  t_sig_sock = NULL;
  CHECK(zmq_close(s) == 0);
}

static void** g_sig_socks;
static int g_nsig_socks;
static atomic_int g_reporters_done;
static pid_t g_reporter_tids[4];
static pthread_barrier_t g_sig_start;

static void* reporter(void* arg) {
  int r = (int)(long)arg;
  own_sig_socket();
  g_reporter_tids[r] = gettid_();
  pthread_barrier_wait(&g_sig_start);
  for (int i = r; i < g_nsig_socks; i += 4) {
    char buf[8];
    /* main owns it (policy=strict): a report, written from this thread */
    zmq_recv(g_sig_socks[i], buf, sizeof buf, ZMQ_DONTWAIT);
  }
  atomic_fetch_add(&g_reporters_done, 1);
  drop_sig_socket();
  return NULL;
}

static void* signaller(void* arg) {
  (void)arg;
  sigset_t old;
  block_all(&old);
  pthread_barrier_wait(&g_sig_start);
  unsigned n = 0;
  pid_t pid = getpid();
  while (atomic_load(&g_reporters_done) < 4) {
    for (int r = 0; r < 4; r++) {
      syscall(SYS_tgkill, pid, g_reporter_tids[r], SIGUSR1);
      if (++n % 5 == 0) syscall(SYS_tgkill, pid, g_reporter_tids[r], SIGTERM);
    }
    sched_yield();
  }
  return NULL;
}

/* Copies the pipe that is the program's stderr to the real one, a little
 * at a time, so that the guard's writes into it block and get cut. */
static int g_relay_in, g_relay_out;
static void* relay(void* arg) {
  (void)arg;
  sigset_t old;
  block_all(&old);
  char buf[256];
  ssize_t n;
  while ((n = read(g_relay_in, buf, sizeof buf)) != 0) {
    if (n < 0 && errno == EINTR) continue;
    CHECK(n > 0);
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(g_relay_out, buf + off, (size_t)(n - off));
      CHECK(w > 0);
      off += w;
    }
    sched_yield();
  }
  return NULL;
}

static int signals(int nsocks, int exit_on_term) {
  g_exit_on_term = exit_on_term;
  pthread_t relay_t;
  int pipe_fds[2] = {-1, -1};
  if (!exit_on_term) {
    CHECK(pipe(pipe_fds) == 0);
    CHECK(fcntl(pipe_fds[1], F_SETPIPE_SZ, 4096) >= 0);
    g_relay_in = pipe_fds[0];
    g_relay_out = dup(2);
    CHECK(g_relay_out >= 0 && dup2(pipe_fds[1], 2) == 2);
    close(pipe_fds[1]);
    CHECK(pthread_create(&relay_t, NULL, relay, NULL) == 0);
  }
  g_nsig_socks = nsocks;
  g_sig_socks = calloc((size_t)nsocks, sizeof(void*));
  for (int i = 0; i < nsocks; i++) {
    g_sig_socks[i] = zmq_socket(g_ctx, ZMQ_PULL);
    CHECK(g_sig_socks[i]);
  }
  own_sig_socket();
  handle(SIGUSR1, on_usr1);
  handle(SIGALRM, on_alrm);
  handle(SIGTERM, on_term);
  pthread_barrier_init(&g_sig_start, NULL, 6);
  pthread_t t[5];
  for (long r = 0; r < 4; r++) CHECK(pthread_create(&t[r], NULL, reporter, (void*)r) == 0);
  CHECK(pthread_create(&t[4], NULL, signaller, NULL) == 0);
  struct itimerval every_ms = {{0, 1000}, {0, 1000}};
  CHECK(setitimer(ITIMER_REAL, &every_ms, NULL) == 0);
  pthread_barrier_wait(&g_sig_start);
  for (int i = 0; i < 5; i++) pthread_join(t[i], NULL);
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  sigset_t old;
  block_all(&old); /* a SIGALRM still pending must not cut the term below */
  for (int i = 0; i < nsocks; i++) CHECK(zmq_close(g_sig_socks[i]) == 0);
  free(g_sig_socks);
  drop_sig_socket();
  int rc;
  while ((rc = zmq_ctx_term(g_ctx)) != 0 && errno == EINTR) {
  }
  CHECK(rc == 0);
  printf("ok %s usr1=%d alrm=%d term=%d\n", exit_on_term ? "signal_exit" : "signals", atomic_load(&g_usr1),
         atomic_load(&g_alrm), atomic_load(&g_term));
  fflush(stdout);
  if (!exit_on_term) {
    close(2);
    pthread_join(relay_t, NULL);
  }
  return 0;
}

/* ------------------------------------------------------------ fork and exec */

#define FORKERS 4
#define WORKERS 2
static void* g_push[FORKERS + WORKERS];
static void* g_pull[FORKERS + WORKERS];
static atomic_int g_stop;
static int g_forks_each;
static pthread_barrier_t g_fork_ready;

static int wait_child(pid_t pid) {
  int status = 0;
  pid_t w;
  while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
  }
  CHECK(w == pid);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

/* The child's ways out; libzmq's rule: no inherited socket is used, only
 * closed, and the child works on a context of its own. */
static void child_life(int how) {
  if (how == 0) _exit(0);
  if (how == 1) exit(0);
  if (how == 4) {
    execl(g_self, g_self, "leaf", (char*)NULL);
    _exit(127);
  }
  for (int i = 0; i < FORKERS + WORKERS; i++) {
    CHECK(zmq_close(g_push[i]) == 0);
    CHECK(zmq_close(g_pull[i]) == 0);
  }
  void* ctx = zmq_ctx_new();
  void *push, *pull;
  make_pair(ctx, "child", 0, &push, &pull);
  round_trip(push, pull);
  zmq_close(push);
  zmq_close(pull);
  CHECK(zmq_ctx_term(ctx) == 0);
  if (how == 2) _exit(0);
  exit(0);
}

static void* forker(void* arg) {
  int k = (int)(long)arg;
  pthread_barrier_wait(&g_fork_ready);
  for (int i = 0; i < g_forks_each; i++) {
    for (int m = 0; m < 5; m++) round_trip(g_push[k], g_pull[k]);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) child_life((i + k) % 5);
    int rc = wait_child(pid);
    if (rc != 0) {
      fprintf(stderr, "child %d of forker %d (way %d) ended with %d\n", i, k, (i + k) % 5, rc);
      _exit(1);
    }
  }
  return NULL;
}

static void* worker(void* arg) {
  int k = (int)(long)arg;
  pthread_barrier_wait(&g_fork_ready);
  long n = 0;
  while (!atomic_load(&g_stop)) {
    round_trip(g_push[k], g_pull[k]);
    n++;
  }
  return (void*)n;
}

static int fork_storm(int forks) {
  g_forks_each = forks / FORKERS;
  for (int i = 0; i < FORKERS + WORKERS; i++) make_pair(g_ctx, "storm", i, &g_push[i], &g_pull[i]);
  pthread_barrier_init(&g_fork_ready, NULL, FORKERS + WORKERS);
  pthread_t t[FORKERS + WORKERS];
  for (long i = 0; i < FORKERS; i++) CHECK(pthread_create(&t[i], NULL, forker, (void*)i) == 0);
  for (long i = FORKERS; i < FORKERS + WORKERS; i++) CHECK(pthread_create(&t[i], NULL, worker, (void*)i) == 0);
  for (int i = 0; i < FORKERS; i++) pthread_join(t[i], NULL);
  atomic_store(&g_stop, 1);
  long rounds = 0;
  for (int i = FORKERS; i < FORKERS + WORKERS; i++) {
    void* n;
    pthread_join(t[i], &n);
    rounds += (long)n;
  }
  for (int i = 0; i < FORKERS + WORKERS; i++) {
    round_trip(g_push[i], g_pull[i]); /* still working, now from main */
    CHECK(zmq_close(g_push[i]) == 0 && zmq_close(g_pull[i]) == 0);
  }
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok fork_storm forks=%d worker_rounds=%s\n", g_forks_each * FORKERS, rounds > 0 ? "some" : "none");
  return 0;
}

static pthread_barrier_t g_exec_ready;
static int g_depth;

static void* exec_user(void* arg) {
  int k = (int)(long)arg;
  pthread_barrier_wait(&g_exec_ready);
  if (k == 1) {
    for (int m = 0; m < 20; m++) round_trip(g_push[k], g_pull[k]);
    char next[16];
    snprintf(next, sizeof next, "%d", g_depth - 1);
    fflush(stdout);
    execl(g_self, g_self, "exec_chain", next, (char*)NULL); /* the others are in their calls */
    CHECK(!"exec failed");
  }
  for (;;) round_trip(g_push[k], g_pull[k]);
  return NULL;
}

static int exec_chain(int depth) {
  printf("depth %d pid %d\n", depth, (int)getpid());
  if (depth <= 0) {
    void *push, *pull;
    make_pair(g_ctx, "last", 0, &push, &pull);
    round_trip(push, pull);
    zmq_close(push);
    zmq_close(pull);
    CHECK(zmq_ctx_term(g_ctx) == 0);
    printf("ok exec_chain\n");
    return 0;
  }
  g_depth = depth;
  for (int i = 0; i < 3; i++) make_pair(g_ctx, "chain", i, &g_push[i], &g_pull[i]);
  pthread_barrier_init(&g_exec_ready, NULL, 3);
  pthread_t t[3];
  for (long i = 0; i < 3; i++) CHECK(pthread_create(&t[i], NULL, exec_user, (void*)i) == 0);
  for (;;) pause(); /* the exec ends this image */
}

static int g_fan_each;
static atomic_int g_fan_left;

static void* fanner(void* arg) {
  int k = (int)(long)arg;
  pthread_barrier_wait(&g_fork_ready);
  for (int i = 0; i < g_fan_each; i++) {
    round_trip(g_push[k], g_pull[k]);
    int last = atomic_fetch_sub(&g_fan_left, 1) == 1;
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
      execl(g_self, g_self, "leaf", last ? "misuse" : "", (char*)NULL);
      _exit(127);
    }
    int rc = wait_child(pid);
    CHECK(rc == 0 || (last && rc == 66));
  }
  return NULL;
}

static int exec_fan(int n) {
  g_fan_each = n;
  atomic_store(&g_fan_left, 3 * n);
  for (int i = 0; i < 3; i++) make_pair(g_ctx, "fan", i, &g_push[i], &g_pull[i]);
  pthread_barrier_init(&g_fork_ready, NULL, 3);
  pthread_t t[3];
  for (long i = 0; i < 3; i++) CHECK(pthread_create(&t[i], NULL, fanner, (void*)i) == 0);
  for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < 3; i++) {
    round_trip(g_push[i], g_pull[i]);
    CHECK(zmq_close(g_push[i]) == 0 && zmq_close(g_pull[i]) == 0);
  }
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok exec_fan %d\n", 3 * n);
  return 0;
}

static int spawn(int n) {
  for (int i = 0; i < WORKERS + 1; i++) make_pair(g_ctx, "spawn", i, &g_push[i], &g_pull[i]);
  pthread_barrier_init(&g_fork_ready, NULL, WORKERS + 1);
  pthread_t t[WORKERS];
  for (long i = 0; i < WORKERS; i++) CHECK(pthread_create(&t[i], NULL, worker, (void*)i) == 0);
  pthread_barrier_wait(&g_fork_ready);
  void* mine_push = g_push[WORKERS];
  void* mine_pull = g_pull[WORKERS];
  for (int i = 0; i < n; i++) {
    int last = i == n - 1;
    char* leaf_argv[] = {(char*)g_self, "leaf", last ? "misuse" : "", NULL};
    pid_t pid = vfork();
    CHECK(pid >= 0);
    if (pid == 0) {
      execv(g_self, leaf_argv);
      _exit(127);
    }
    CHECK(wait_child(pid) == (last ? 66 : 0));
    round_trip(mine_push, mine_pull);
    pid = vfork();
    CHECK(pid >= 0);
    if (pid == 0) _exit(7);
    CHECK(wait_child(pid) == 7);
    round_trip(mine_push, mine_pull);
    leaf_argv[2] = "";
    CHECK(posix_spawn(&pid, g_self, NULL, NULL, leaf_argv, environ) == 0);
    CHECK(wait_child(pid) == 0);
    round_trip(mine_push, mine_pull);
  }
  atomic_store(&g_stop, 1);
  for (int i = 0; i < WORKERS; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < WORKERS + 1; i++) {
    round_trip(g_push[i], g_pull[i]);
    CHECK(zmq_close(g_push[i]) == 0 && zmq_close(g_pull[i]) == 0);
  }
  CHECK(zmq_ctx_term(g_ctx) == 0);
  printf("ok spawn %d\n", n);
  return 0;
}

static void* g_leaf_sock;
static void* leaf_misuser(void* arg) {
  int fd = (int)(long)arg;
  char c;
  CHECK(read(fd, &c, 1) == 1); /* after main's use, unseen by the guard */
  char buf[8];
  zmq_recv(g_leaf_sock, buf, sizeof buf, ZMQ_DONTWAIT);
  return NULL;
}

static int leaf(int misuse) {
  void *push, *pull;
  make_pair(g_ctx, "leaf", 0, &push, &pull);
  if (misuse) {
    int go[2];
    CHECK(pipe(go) == 0);
    g_leaf_sock = pull;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, leaf_misuser, (void*)(long)go[0]) == 0);
    char buf[8];
    zmq_recv(pull, buf, sizeof buf, ZMQ_DONTWAIT);
    CHECK(write(go[1], "g", 1) == 1);
    pthread_join(t, NULL);
  }
  round_trip(push, pull);
  zmq_close(push);
  zmq_close(pull);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  return 0;
}

/* ------------------------------------------------------------ cancellation */

enum { CX_RECV, CX_POLL, CX_MSG_RECV };
static const char* const cx_names[] = {"zmq_recv", "zmq_poll", "zmq_msg_recv"};

struct cx {
  int how;
  void* pull;
  atomic_int calls;
};

static void close_msg(void* m) { zmq_msg_close(m); }

static void* cancelled(void* arg) {
  struct cx* c = arg;
  char buf[8];
  for (;;) {
    atomic_fetch_add(&c->calls, 1);
    if (c->how == CX_RECV) {
      zmq_recv(c->pull, buf, sizeof buf, 0);
    } else if (c->how == CX_POLL) {
      zmq_pollitem_t it = {c->pull, 0, ZMQ_POLLIN, 0};
      if (zmq_poll(&it, 1, -1) == 1) zmq_recv(c->pull, buf, sizeof buf, ZMQ_DONTWAIT);
    } else {
      zmq_msg_t m;
      zmq_msg_init(&m);
      pthread_cleanup_push(close_msg, &m);
      zmq_msg_recv(&m, c->pull, 0);
      pthread_cleanup_pop(1);
    }
  }
  return NULL;
}

static void* bystander(void* arg) {
  (void)arg;
  void *push, *pull;
  make_pair(g_ctx, "bystander", 0, &push, &pull);
  long n = 0;
  while (!atomic_load(&g_stop)) {
    round_trip(push, pull);
    n++;
  }
  CHECK(zmq_close(push) == 0 && zmq_close(pull) == 0);
  return (void*)n;
}

static unsigned g_seed = 12345;
static unsigned rnd(unsigned n) {
  g_seed = g_seed * 1103515245u + 12345u;
  return (g_seed >> 16) % n;
}

static int cancel(int rounds) {
  pthread_t by;
  CHECK(pthread_create(&by, NULL, bystander, NULL) == 0);
  int total = 0;
  for (int how = CX_RECV; how <= CX_MSG_RECV; how++) {
    for (int r = 0; r < rounds; r++) {
      void *push, *pull;
      make_pair(g_ctx, cx_names[how], r, &push, &pull);
      struct cx c = {how, pull, 0};
      pthread_t t;
      CHECK(pthread_create(&t, NULL, cancelled, &c) == 0);
      /* Some messages, so the thread goes through its calls, not only
       * into the first; then the cancel, after 0 to 3 more calls began and
       * a random number of yields: at any point of a call. */
      unsigned msgs = rnd(4);
      for (unsigned m = 0; m < msgs; m++) CHECK(zmq_send(push, "c", 1, 0) == 1);
      int until = (int)msgs + (int)rnd(2);
      while (atomic_load(&c.calls) < until) sched_yield();
      for (unsigned y = rnd(64); y > 0; y--) sched_yield();
      CHECK(pthread_cancel(t) == 0);
      void* res;
      CHECK(pthread_join(t, &res) == 0 && res == PTHREAD_CANCELED);
      /* The owner is gone: main closes what it left, and its peer. */
      CHECK(zmq_close(pull) == 0);
      CHECK(zmq_close(push) == 0);
      total++;
    }
  }
  atomic_store(&g_stop, 1);
  void* n;
  pthread_join(by, &n);
  CHECK((long)n > 0);
  CHECK(zmq_ctx_term(g_ctx) == 0);
  void* other = zmq_ctx_new();
  void* left = zmq_socket(other, ZMQ_PUB); /* reported as a leak at exit */
  CHECK(left);
  printf("ok cancel %d\n", total);
  fflush(stdout);
  return 0;
}

int main(int argc, char** argv) {
  CHECK(argc >= 2);
  g_self = argv[0];
  g_ctx = zmq_ctx_new();
  const char* what = argv[1];
  int n = argc > 2 ? atoi(argv[2]) : 0;
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (!strcmp(what, "signals")) return signals(n, 0);
  if (!strcmp(what, "signal_exit")) return signals(n, 1);
  if (!strcmp(what, "fork_storm")) return fork_storm(n);
  if (!strcmp(what, "exec_chain")) return exec_chain(n);
  if (!strcmp(what, "exec_fan")) return exec_fan(n);
  if (!strcmp(what, "spawn")) return spawn(n);
  if (!strcmp(what, "leaf")) return leaf(argc > 2 && !strcmp(argv[2], "misuse"));
  if (!strcmp(what, "cancel")) return cancel(n);
  fprintf(stderr, "unknown scenario %s\n", what);
  return 2;
}
