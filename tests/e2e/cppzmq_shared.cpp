// SPDX-License-Identifier: MIT
// Misuse with cppzmq: one zmq::socket_t, a sending std::thread and a
// receiving std::thread (the sender stays alive while the other receives).
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <zmq.hpp>

namespace {

std::mutex mu;
std::condition_variable cv;
int stage = 0;

void wait_stage(int s) {
  std::unique_lock<std::mutex> l(mu);
  cv.wait(l, [&] { return stage >= s; });
}

void set_stage(int s) {
  std::lock_guard<std::mutex> l(mu);
  stage = s;
  cv.notify_all();
}

}  // namespace

void cpp_echo_server(zmq::context_t& ctx) {
  zmq::socket_t router(ctx, zmq::socket_type::router);
  router.bind("inproc://cpp");
  set_stage(1);
  for (;;) {
    zmq::message_t id, body;
    if (!router.recv(id)) break;
    if (!router.recv(body)) break;
    if (body.to_string() == "quit") break;
    router.send(id, zmq::send_flags::sndmore);
    router.send(body, zmq::send_flags::none);
  }
}

void cpp_sender(zmq::socket_t& s) {
  for (int i = 0; i < 3; i++) s.send(zmq::str_buffer("ping"), zmq::send_flags::none);
  set_stage(2);
  wait_stage(3);
}

void cpp_receiver(zmq::socket_t& s) {
  int got = 0;
  for (int i = 0; i < 3; i++) {
    zmq::message_t m;
    if (s.recv(m)) got++;
  }
  std::printf("received %d\n", got);
  std::fflush(stdout);
  set_stage(3);
}

int main() {
  zmq::context_t ctx;
  std::thread server(cpp_echo_server, std::ref(ctx));
  wait_stage(1);
  zmq::socket_t dealer(ctx, zmq::socket_type::dealer);
  dealer.connect("inproc://cpp");
  std::thread a(cpp_sender, std::ref(dealer));
  wait_stage(2);
  std::thread b(cpp_receiver, std::ref(dealer));
  b.join();
  a.join();
  dealer.send(zmq::str_buffer("quit"), zmq::send_flags::none);
  server.join();
  return 0;
}
