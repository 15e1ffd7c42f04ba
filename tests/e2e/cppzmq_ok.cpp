// SPDX-License-Identifier: MIT
// Correct: cppzmq (zmq::socket_t::send/recv use zmq_msg_send/zmq_msg_recv).
// An echo server thread owns its ROUTER; main owns its DEALER.
#include <cstdio>
#include <string>
#include <thread>
#include <zmq.hpp>

static void cpp_echo_server(zmq::context_t& ctx) {
  zmq::socket_t router(ctx, zmq::socket_type::router);
  router.bind("inproc://cpp");
  for (;;) {
    zmq::message_t id, body;
    if (!router.recv(id)) break;
    if (!router.recv(body)) break;
    if (body.to_string() == "quit") break;
    router.send(id, zmq::send_flags::sndmore);
    router.send(body, zmq::send_flags::none);
  }
}

int main() {
  zmq::context_t ctx;
  zmq::socket_t dealer(ctx, zmq::socket_type::dealer);
  std::thread server(cpp_echo_server, std::ref(ctx));
  dealer.connect("inproc://cpp");
  int ok = 0;
  for (int i = 0; i < 20; i++) {
    dealer.send(zmq::buffer(std::string("hello")), zmq::send_flags::none);
    zmq::message_t reply;
    if (dealer.recv(reply) && reply.to_string() == "hello") ok++;
  }
  dealer.send(zmq::str_buffer("quit"), zmq::send_flags::none);
  server.join();
  std::printf("replies %d\n", ok);
  return 0;
}
