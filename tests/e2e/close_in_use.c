// Misuse: main closes a socket while the thread that owns it is blocked in
// zmq_recv on it.
#include "scenario.h"

static void* pull;
static event_t receiving = EVENT_INIT;
static pid_t receiver_tid;

// True once thread `tid` sleeps in poll(2), where libzmq waits inside a
// blocking zmq_recv.  Lets the scenario close at the right moment without
// guessing a delay.
static int blocked_in_poll(pid_t tid) {
  char path[64], text[64] = {0};
  snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
  FILE* f = fopen(path, "r");
  if (!f) return 0;
  int ok = fgets(text, sizeof text, f) != NULL;
  fclose(f);
  long nr = ok ? strtol(text, NULL, 10) : -1;
  return nr == 7 /* poll */ || nr == 271 /* ppoll */;
}

static void* blocked_receiver(void* arg) {
  (void)arg;
  char buf[16];
  receiver_tid = gettid();
  event_set(&receiving);
  zmq_recv(pull, buf, sizeof buf, 0);  // nothing is ever sent
  return NULL;
}

int main(void) {
  void* ctx = zmq_ctx_new();
  pull = zmq_socket(ctx, ZMQ_PULL);
  CHECK(pull);
  CHECK(zmq_bind(pull, "inproc://nothing") == 0);
  pthread_t t = spawn(blocked_receiver, NULL, "blocked");
  event_wait(&receiving);
  for (int i = 0; i < 10000 && !blocked_in_poll(receiver_tid); i++) usleep(1000);
  zmq_close(pull);
  puts("closed");
  fflush(stdout);
  // Never reached in abort mode; in other modes the receiver would stay
  // blocked on a closed socket, so leave without joining it.
  _exit(0);
  (void)t;
}
