// SPDX-License-Identifier: MIT
// The owner's calls after its first one take the guard's owner path, which
// leaves no mark saying when they return: whether the owner is inside one is
// asked of the kernel (src/core/probe.h).  Each mode puts the owner of a
// PULL socket in one state the guard must tell apart, on that path, and
// then main acts on the socket:
//
//   close-blocked  owner asleep in zmq_recv on it; main closes it   -> close_while_in_use
//   query-blocked  owner asleep in zmq_recv on it; main asks ZMQ_TYPE -> concurrent_call
//   use-blocked    owner asleep in zmq_recv on it; main receives    -> concurrent_call
//   linger-blocked owner asleep in zmq_recv on it; main sets ZMQ_LINGER -> concurrent_call
//   close-idle     owner waits in its own code (a condition variable); main closes: a hand-off
//   linger-idle    the same, and main sets ZMQ_LINGER before it closes (pyzmq's close(linger=N),
//                  Context.destroy(linger=N)): a hand-off
//   close-busy     owner computes in its own code; main closes: a hand-off
//   close-other    owner asleep in zmq_recv on another socket; main closes the first: a hand-off
//   close-loop     owner waits in its own poll(2) on the socket's ZMQ_FD (an event loop, as
//                  libzmq's docs describe), not in a libzmq call; main closes it: a hand-off
//
// The hand-offs run to the end and print "done".
#include <poll.h>
#include <stdatomic.h>
#include <time.h>

#include "scenario.h"

static void* pull;       // the socket main acts on
static void* pull_b;     // close-other: where the owner sleeps instead
static const char* mode;
static event_t took = EVENT_INIT;
static event_t release = EVENT_INIT;
static atomic_int stop_spinning;
static pid_t owner_tid;

static int is(const char* m) { return strcmp(mode, m) == 0; }

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void* owner(void* arg) {
  (void)arg;
  char buf[16];
  owner_tid = gettid();
  // The first receive takes the socket (the guard's slow path)...
  CHECK(zmq_recv(pull, buf, sizeof buf, 0) == 3);
  if (is("close-other")) {
    CHECK(zmq_recv(pull_b, buf, sizeof buf, 0) == 3);  // takes the other socket too
    event_set(&took);
    CHECK(zmq_recv(pull_b, buf, sizeof buf, 0) == 4);  // owner path, asleep until main wakes it
    zmq_close(pull_b);
  } else if (is("close-idle") || is("linger-idle")) {
    event_set(&took);
    event_wait(&release);
  } else if (is("close-loop")) {
    int fd = -1;
    size_t len = sizeof fd;
    CHECK(zmq_getsockopt(pull, ZMQ_FD, &fd, &len) == 0);
    event_set(&took);
    struct pollfd pfd = {fd, POLLIN, 0};
    while (!atomic_load(&stop_spinning)) poll(&pfd, 1, 100);  // the program's own loop
  } else if (is("close-busy")) {
    event_set(&took);
    volatile unsigned long x = 0;
    while (!atomic_load(&stop_spinning)) x = x + 1;
  } else {
    event_set(&took);
    zmq_recv(pull, buf, sizeof buf, 0);  // ...this one is the owner path; nothing is ever sent
  }
  return NULL;
}

int main(int argc, char** argv) {
  mode = argc > 1 ? argv[1] : "close-blocked";
  void* ctx = zmq_ctx_new();
  pull = zmq_socket(ctx, ZMQ_PULL);
  void* push = zmq_socket(ctx, ZMQ_PUSH);
  CHECK(pull && push);
  CHECK(zmq_bind(pull, "inproc://a") == 0);
  CHECK(zmq_connect(push, "inproc://a") == 0);
  void* push_b = NULL;
  if (is("close-other")) {
    pull_b = zmq_socket(ctx, ZMQ_PULL);
    push_b = zmq_socket(ctx, ZMQ_PUSH);
    CHECK(pull_b && push_b);
    CHECK(zmq_bind(pull_b, "inproc://b") == 0);
    CHECK(zmq_connect(push_b, "inproc://b") == 0);
    CHECK(zmq_send(push_b, "one", 3, 0) == 3);
  }
  CHECK(zmq_send(push, "one", 3, 0) == 3);
  pthread_t t = spawn(owner, NULL, "owner");
  event_wait(&took);
  if (strstr(mode, "blocked") || is("close-other") || is("close-loop")) wait_asleep_in_poll(owner_tid, 10000);

  if (is("query-blocked")) {
    int type = 0;
    size_t len = sizeof type;
    CHECK(zmq_getsockopt(pull, ZMQ_TYPE, &type, &len) == 0);
  } else if (is("use-blocked")) {
    char buf[16];
    zmq_recv(pull, buf, sizeof buf, ZMQ_DONTWAIT);
  } else if (is("linger-blocked")) {
    int linger = 0;
    CHECK(zmq_setsockopt(pull, ZMQ_LINGER, &linger, sizeof linger) == 0);
  } else {
    if (is("linger-idle")) {
      int linger = 0;
      CHECK(zmq_setsockopt(pull, ZMQ_LINGER, &linger, sizeof linger) == 0);
    }
    double t0 = now_ms();
    CHECK(zmq_close(pull) == 0);
    printf("closed in %.0f ms\n", now_ms() - t0);
  }
  fflush(stdout);
  if (strstr(mode, "blocked")) _exit(0);  // not reached in abort mode; the owner stays asleep

  if (is("close-idle") || is("linger-idle")) event_set(&release);
  if (is("close-busy") || is("close-loop")) atomic_store(&stop_spinning, 1);
  if (is("close-other")) CHECK(zmq_send(push_b, "wake", 4, 0) == 4);
  pthread_join(t, NULL);
  zmq_close(push);
  if (push_b) zmq_close(push_b);
  zmq_ctx_term(ctx);
  puts("done");
  return 0;
}
