// SPDX-License-Identifier: MIT
// A forwarder: one thread receives from two sockets in turn and sends each
// message on to one of two others, so each function's calls alternate
// between two sockets (the guard's wrapper then hits its second hint).
//
//   (no argument)  correct: every message arrives, nothing is reported
//   intrude        then the output socket the forwarder sent on before its
//                  last send (its second hint's) is handed (declared, with
//                  zmq_guard_handoff) to another thread, which sleeps in
//                  zmq_msg_recv on it, and the
//                  forwarder sends on it again: a concurrent call, to be
//                  reported although that hint still holds the socket as
//                  the forwarder's
#include <zmq_guard.h>

#include "scenario.h"

#define MSGS 200  // even: the last message goes out on out[1], the one before on out[0]

static void *in[2], *out[2], *sink[2];
static event_t forwarded = EVENT_INIT, handed = EVENT_INIT, taker_started = EVENT_INIT;
static pid_t taker_tid;

static void forward_one(int i) {
  zmq_msg_t m;
  zmq_msg_init(&m);
  CHECK(zmq_msg_recv(&m, in[i % 2], 0) == 1);
  CHECK(zmq_msg_send(&m, out[i % 2], 0) == 1);
}

static void* forwarder(void* arg) {
  int intrude = *(int*)arg;
  for (int i = 0; i < MSGS; i++) forward_one(i);
  event_set(&forwarded);
  if (intrude) {
    zmq_guard_handoff(out[0]);
    event_set(&handed);
    event_wait(&taker_started);
    wait_asleep_in_poll(taker_tid, 10000);
    zmq_msg_t m;
    zmq_msg_init_size(&m, 1);
    zmq_msg_send(&m, out[0], 0);  // the taker is inside a call on it
  }
  return NULL;
}

static void* taker(void* arg) {
  (void)arg;
  taker_tid = gettid();
  event_set(&taker_started);
  zmq_msg_t m;
  zmq_msg_init(&m);
  zmq_msg_recv(&m, out[0], 0);  // nothing ever comes this way
  return NULL;
}

int main(int argc, char** argv) {
  int intrude = argc > 1 && !strcmp(argv[1], "intrude");
  void* ctx = zmq_ctx_new();
  void* feed[2];
  for (int i = 0; i < 2; i++) {
    char ep[32];
    snprintf(ep, sizeof ep, "inproc://in%d", i);
    in[i] = zmq_socket(ctx, ZMQ_PULL);
    CHECK(zmq_bind(in[i], ep) == 0);
    feed[i] = zmq_socket(ctx, ZMQ_PUSH);
    CHECK(zmq_connect(feed[i], ep) == 0);
    snprintf(ep, sizeof ep, "inproc://out%d", i);
    sink[i] = zmq_socket(ctx, ZMQ_DEALER);
    CHECK(zmq_bind(sink[i], ep) == 0);
    out[i] = zmq_socket(ctx, ZMQ_DEALER);
    CHECK(zmq_connect(out[i], ep) == 0);
  }
  for (int i = 0; i < MSGS; i++) CHECK(zmq_send(feed[i % 2], "x", 1, 0) == 1);
  pthread_t f = spawn(forwarder, &intrude, "forwarder");
  char buf[4];
  int got = 0;
  for (int i = 0; i < MSGS; i++)
    if (zmq_recv(sink[i % 2], buf, sizeof buf, 0) == 1) got++;
  event_wait(&forwarded);
  printf("forwarded %d\n", got);
  fflush(stdout);
  if (intrude) {
    event_wait(&handed);
    pthread_t t = spawn(taker, NULL, "taker");
    pthread_join(t, NULL);
  }
  pthread_join(f, NULL);
  for (int i = 0; i < 2; i++) {
    zmq_close(in[i]);
    zmq_close(feed[i]);
    zmq_close(out[i]);
    zmq_close(sink[i]);
  }
  zmq_ctx_term(ctx);
  return 0;
}
