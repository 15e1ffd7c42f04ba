// SPDX-License-Identifier: MIT
// Latency: REQ in the main thread, REP in a second thread, --count round
// trips of --size bytes.  Prints "lat rtt_us=... secs=...".  --ab=BLOCK: the
// in-process A/B of bench_common.h over blocks of round trips, timed by
// the requester (both ends switch at the same round trip).
#include <pthread.h>

#include "bench_common.h"

static void* g_ctx;
static char g_ep[256];
static long g_size, g_count;
static int g_msg_api;
static void* g_rep;

static int xfer_recv(void* s, zmq_msg_t* m, char* buf, const bench_api_t* api) {
  int rc;
  do rc = g_msg_api ? api->msg_recv(m, s, 0) : api->recv(s, buf, (size_t)g_size, 0);
  while (bench_again(api, rc));
  return rc;
}

static int xfer_send(void* s, zmq_msg_t* m, char* buf, const bench_api_t* api) {
  int rc;
  if (g_msg_api) zmq_msg_init_size(m, (size_t)g_size);
  do rc = g_msg_api ? api->msg_send(m, s, 0) : api->send(s, buf, (size_t)g_size, 0);
  while (bench_again(api, rc));
  return rc;
}

static void* replier(void* arg) {
  (void)arg;
  char* buf = calloc(1, (size_t)g_size + 1);
  zmq_msg_t m;
  zmq_msg_init(&m);
  for (long i = 0; i < g_count; i++) {
    const bench_api_t* api = bench_api_for(i);
    if (xfer_recv(g_rep, &m, buf, api) != (int)g_size) bench_die("rep recv");
    if (xfer_send(g_rep, &m, buf, api) != (int)g_size) bench_die("rep send");
  }
  zmq_msg_close(&m);
  zmq_close(g_rep);
  free(buf);
  return NULL;
}

int main(int argc, char** argv) {
  const char* transport = bench_arg(argc, argv, "transport", "inproc");
  g_size = bench_arg_long(argc, argv, "size", 8);
  g_count = bench_arg_long(argc, argv, "count", 100000);
  g_msg_api = strcmp(bench_arg(argc, argv, "api", "msg"), "msg") == 0;
  bench_ab_init(argc, argv, g_count);

  g_ctx = zmq_ctx_new();
  // Created and bound here, then handed to the replier thread before any
  // other use: the hand-over libzmq's docs allow.
  g_rep = zmq_socket(g_ctx, ZMQ_REP);
  if (!g_rep) bench_die("zmq_socket");
  bench_bind(g_rep, transport, "lat", g_ep, sizeof g_ep);
  void* req = zmq_socket(g_ctx, ZMQ_REQ);
  if (!req || zmq_connect(req, g_ep) != 0) bench_die("connect");
  pthread_t th;
  pthread_create(&th, NULL, replier, NULL);

  char* buf = calloc(1, (size_t)g_size + 1);
  zmq_msg_t m;
  zmq_msg_init(&m);
  double start = bench_now();
  for (long i = 0; i < g_count; i++) {
    const bench_api_t* api = bench_api_for(i);
    if (xfer_send(req, &m, buf, api) != (int)g_size) bench_die("req send");
    if (xfer_recv(req, &m, buf, api) != (int)g_size) bench_die("req recv");
    bench_ab_tick(i);
  }
  double secs = bench_now() - start;
  zmq_msg_close(&m);
  pthread_join(th, NULL);
  zmq_close(req);
  zmq_ctx_term(g_ctx);
  free(buf);
  printf("lat rtt_us=%.3f secs=%.4f\n", secs * 1e6 / (double)g_count, secs);
  bench_ab_report();
  return 0;
}
