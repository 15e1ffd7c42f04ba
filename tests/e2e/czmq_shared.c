// SPDX-License-Identifier: MIT
// Misuse with czmq: one zsock_t DEALER, a sending and a receiving thread
// (czmq moves data with the deprecated zmq_sendmsg/zmq_recvmsg).
#include <czmq.h>
#include <pthread.h>

static zsock_t* dealer;
static zsock_t* router;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int stage;

static void set_stage(int s) {
  pthread_mutex_lock(&mu);
  stage = s;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
}

static void wait_stage(int s) {
  pthread_mutex_lock(&mu);
  while (stage < s) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
}

static void* czmq_sender(void* arg) {
  (void)arg;
  zstr_send(dealer, "ping");
  set_stage(1);
  wait_stage(2);
  return NULL;
}

static void* czmq_receiver(void* arg) {
  (void)arg;
  char* reply = zstr_recv(dealer);
  printf("received %s\n", reply ? reply : "nothing");
  fflush(stdout);
  zstr_free(&reply);
  set_stage(2);
  return NULL;
}

int main(void) {
  router = zsock_new_router("@inproc://czmq");
  dealer = zsock_new_dealer(">inproc://czmq");
  assert(router && dealer);
  pthread_t a, b;
  pthread_create(&a, NULL, czmq_sender, NULL);
  zmsg_t* m = zmsg_recv(router);  // main owns the ROUTER and echoes once
  zmsg_send(&m, router);
  wait_stage(1);
  pthread_create(&b, NULL, czmq_receiver, NULL);
  pthread_join(b, NULL);
  pthread_join(a, NULL);
  zsock_destroy(&dealer);
  zsock_destroy(&router);
  return 0;
}
