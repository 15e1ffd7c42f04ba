// SPDX-License-Identifier: MIT
// Two std::threads send on one PUSH, each send under one std::mutex
// (std::lock_guard): legal, silent.  With "forget", the second thread sends
// once without it, after both have sent under it: reported, naming it.
#include <zmq.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

static void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "scenario: %s failed: %s\n", what, zmq_strerror(errno));
    std::exit(3);
  }
}

int main(int argc, char** argv) {
  const bool forget = argc > 1 && !std::strcmp(argv[1], "forget");
  void* ctx = zmq_ctx_new();
  void* pull = zmq_socket(ctx, ZMQ_PULL);
  void* push = zmq_socket(ctx, ZMQ_PUSH);
  check(zmq_bind(pull, "inproc://std") == 0 && zmq_connect(push, "inproc://std") == 0, "set-up");
  std::mutex lock;
  const int rounds = 50;
  // Both send once under the lock before either goes on.
  std::mutex gate_mu;
  int first_done = 0;
  auto sender = [&](int n) {
    for (int i = 0; i < rounds; i++) {
      if (forget && n == 1 && i == 10) {
        check(zmq_send(push, "x", 1, 0) == 1, "send without the lock");
      } else {
        std::lock_guard<std::mutex> g(lock);
        check(zmq_send(push, "x", 1, 0) == 1, "send");
      }
      if (i == 0) {
        { std::lock_guard<std::mutex> g(gate_mu); first_done++; }
        for (;;) {
          std::lock_guard<std::mutex> g(gate_mu);
          if (first_done == 2) break;
        }
      }
    }
  };
  std::thread a(sender, 0), b(sender, 1);
  char buf[4];
  for (int i = 0; i < 2 * rounds; i++) check(zmq_recv(pull, buf, sizeof buf, 0) == 1, "recv");
  a.join();
  b.join();
  zmq_close(push);
  zmq_close(pull);
  zmq_ctx_term(ctx);
  std::puts("done");
  return 0;
}
