// SPDX-License-Identifier: MIT
// Throughput: one PULL socket in the main thread receives --count messages
// of --size bytes from PUSH senders.
//
//   unshared (default): one sender thread that creates, uses and closes its
//       own PUSH socket: the guard's owner path on both sides.
//   --shared=N: N sender threads share one PUSH socket created by main.
//       Plain libzmq breaks on this (the bug the guard catches); run it with
//       --lock (a mutex around each send: the naive fix) or under
//       ZMQ_GUARD_OPTIONS=mode=serialize.
//
// --api=send uses zmq_send/zmq_recv, --api=msg zmq_msg_send/zmq_msg_recv.
// --hwm=N sets the high-water marks of the PULL and of a shared PUSH (the
// senders then wait for the receiver: back-pressure).
// Prints one line: "thr msgs_per_s=... mb_per_s=... secs=...".
// --ab=BLOCK: the in-process A/B of bench_common.h, timed by the receiver;
// one sender keeps the default high-water marks (1000 each way) so that it
// is never more than about 2000 messages ahead of the receiver: blocks of
// tens of thousands then line up on both ends.  Adds an "ab ..." line.  With
// --shared=N it compares the naive fix with mode=serialize: the A blocks
// call libzmq's own functions under the mutex, the B blocks the linked ones
// (the guard's) without it, and all threads start each block together (a
// barrier), so the two kinds never overlap.
#include <pthread.h>

#include "bench_common.h"

static void* g_ctx;
static char g_ep[256];
static long g_size, g_count;
static int g_msg_api, g_lock;
static void* g_shared;
static int g_nshared;
// On a cache line of its own: the globals above are read on every send, and
// a lock sharing their line would make --lock look slower than it is.
static _Alignas(64) union {
  pthread_mutex_t mu;
  char line[64];
} g_mu_line = {PTHREAD_MUTEX_INITIALIZER};
#define g_mu (g_mu_line.mu)

static pthread_barrier_t g_blocks;  // --shared with --ab: every block starts together

static void send_one(void* s, char* buf, const bench_api_t* api, int lock) {
  // --lock holds the mutex around the socket call only (the message is
  // built outside it), as a program fixed by hand would.
  int rc;
  if (g_msg_api) {
    zmq_msg_t m;
    zmq_msg_init_size(&m, (size_t)g_size);
    memcpy(zmq_msg_data(&m), buf, (size_t)g_size);
    if (lock) pthread_mutex_lock(&g_mu);
    do rc = api->msg_send(&m, s, 0);
    while (bench_again(api, rc));
    if (lock) pthread_mutex_unlock(&g_mu);
    if (rc < 0) zmq_msg_close(&m);
  } else {
    if (lock) pthread_mutex_lock(&g_mu);
    do rc = api->send(s, buf, (size_t)g_size, 0);
    while (bench_again(api, rc));
    if (lock) pthread_mutex_unlock(&g_mu);
  }
  if (rc < 0) bench_die("send");
}

static void* sender(void* arg) {
  long n = (long)(intptr_t)arg;
  char* buf = calloc(1, (size_t)g_size + 1);
  void* s = g_shared;
  if (!s) {
    s = zmq_socket(g_ctx, ZMQ_PUSH);
    if (!s || zmq_connect(s, g_ep) != 0) bench_die("sender connect");
  }
  if (g_shared && bench_ab_block) {
    long per_block = bench_ab_block / g_nshared;
    for (long b = 0; b < bench_ab_blocks; b++) {
      pthread_barrier_wait(&g_blocks);
      int own = bench_ab_own(b);
      for (long i = 0; i < per_block; i++) send_one(s, buf, &bench_api[own ? 0 : 1], own);
    }
  } else {
    for (long i = 0; i < n; i++) send_one(s, buf, bench_api_for(i), g_lock);
  }
  if (!g_shared) zmq_close(s);
  free(buf);
  return NULL;
}

int main(int argc, char** argv) {
  const char* transport = bench_arg(argc, argv, "transport", "inproc");
  g_size = bench_arg_long(argc, argv, "size", 8);
  g_count = bench_arg_long(argc, argv, "count", 1000000);
  g_msg_api = strcmp(bench_arg(argc, argv, "api", "msg"), "msg") == 0;
  g_nshared = (int)bench_arg_long(argc, argv, "shared", 0);
  g_lock = bench_arg(argc, argv, "lock", NULL) != NULL;
  bench_ab_init(argc, argv, g_count);
  if (g_nshared > 0 && bench_ab_block) {
    if (g_nshared > 64 || bench_ab_block % g_nshared != 0) {
      fprintf(stderr, "bench: --ab with --shared=N needs BLOCK a multiple of N (N at most 64)\n");
      return 2;
    }
    g_count = bench_ab_block * bench_ab_blocks;
    pthread_barrier_init(&g_blocks, NULL, (unsigned)g_nshared + 1);
  }

  g_ctx = zmq_ctx_new();
  void* pull = zmq_socket(g_ctx, ZMQ_PULL);
  if (!pull) bench_die("zmq_socket");
  long hwm_arg = bench_arg_long(argc, argv, "hwm", -1);
  if (hwm_arg >= 0) {
    int hwm = (int)hwm_arg;  // --hwm=N: both ends, to put the senders under back-pressure
    zmq_setsockopt(pull, ZMQ_RCVHWM, &hwm, sizeof hwm);
  } else if (!bench_ab_block || g_nshared > 0) {
    // Unbounded queues, as in libzmq's perf tools at high rates (the shared
    // A/B lines its blocks up with a barrier instead).
    int hwm = 0;
    zmq_setsockopt(pull, ZMQ_RCVHWM, &hwm, sizeof hwm);
  }
  bench_bind(pull, transport, "thr", g_ep, sizeof g_ep);

  int nthreads = g_nshared > 0 ? g_nshared : 1;
  if (g_nshared > 0) {
    g_shared = zmq_socket(g_ctx, ZMQ_PUSH);
    if (hwm_arg >= 0) {
      int hwm = (int)hwm_arg;
      zmq_setsockopt(g_shared, ZMQ_SNDHWM, &hwm, sizeof hwm);
    }
    if (!g_shared || zmq_connect(g_shared, g_ep) != 0) bench_die("shared connect");
  }
  pthread_t th[64];
  if (nthreads > 64) nthreads = 64;
  long per = g_count / nthreads;
  g_count = per * nthreads;
  for (int i = 0; i < nthreads; i++) pthread_create(&th[i], NULL, sender, (void*)(intptr_t)per);

  char* buf = malloc((size_t)g_size + 1);
  double start = 0;
  zmq_msg_t m;
  zmq_msg_init(&m);
  for (long i = 0; i < g_count; i++) {
    if (g_shared && bench_ab_block && i % bench_ab_block == 0) {
      pthread_barrier_wait(&g_blocks);  // the senders start the next block now
      bench_ab_last = bench_now();
    }
    const bench_api_t* api = bench_api_for(i);
    int rc;
    do rc = g_msg_api ? api->msg_recv(&m, pull, 0) : api->recv(pull, buf, (size_t)g_size, 0);
    while (bench_again(api, rc));
    if (rc != (int)g_size) bench_die("recv");
    if (i == 0) start = bench_now();  // as local_thr: from the first message on
    bench_ab_tick(i);
  }
  double secs = bench_now() - start;
  zmq_msg_close(&m);
  for (int i = 0; i < nthreads; i++) pthread_join(th[i], NULL);
  if (g_shared) zmq_close(g_shared);
  zmq_close(pull);
  zmq_ctx_term(g_ctx);
  free(buf);
  double rate = (double)(g_count - 1) / secs;
  printf("thr msgs_per_s=%.0f mb_per_s=%.2f secs=%.4f\n", rate, rate * (double)g_size / 1e6, secs);
  bench_ab_report();
  return 0;
}
