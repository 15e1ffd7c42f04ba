// SPDX-License-Identifier: MIT
// The demo's server: a plain, correct cppzmq ROUTER that echoes every
// request back to the DEALER that sent it.  One thread, one socket: nothing
// here is ever reported by the guard.
//
//   demo-server [--endpoint-file FILE] [--idle-exit SECONDS]
//
// It binds to an ephemeral port on 127.0.0.1 (so two demos never collide)
// and writes the endpoint it got to FILE, or to stdout.  It exits by itself
// once no request has arrived for --idle-exit seconds, so a demo whose
// client hangs or crashes never leaves it behind.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <string>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

namespace {

[[noreturn]] void usage() {
  fprintf(stderr, "usage: demo-server [--endpoint-file FILE] [--idle-exit SECONDS]\n");
  exit(2);
}

// The demo script polls for the file: writing it under another name and
// renaming it means the script never reads half an endpoint.
bool publish_endpoint(const std::string& path, const std::string& endpoint) {
  if (path.empty()) {
    printf("%s\n", endpoint.c_str());
    fflush(stdout);
    return true;
  }
  std::string tmp = path + ".tmp";
  FILE* f = fopen(tmp.c_str(), "w");
  if (!f) return false;
  fprintf(f, "%s\n", endpoint.c_str());
  if (fclose(f) != 0) return false;
  return rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string endpoint_file;
  int idle_seconds = 3;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--endpoint-file") && i + 1 < argc) {
      endpoint_file = argv[++i];
    } else if (!strcmp(argv[i], "--idle-exit") && i + 1 < argc) {
      idle_seconds = atoi(argv[++i]);
      if (idle_seconds <= 0) usage();
    } else {
      usage();
    }
  }

  zmq::context_t ctx;
  zmq::socket_t router(ctx, zmq::socket_type::router);
  router.set(zmq::sockopt::linger, 0);
  router.set(zmq::sockopt::rcvtimeo, idle_seconds * 1000);
  router.bind("tcp://127.0.0.1:*");
  std::string endpoint = router.get(zmq::sockopt::last_endpoint);
  if (!publish_endpoint(endpoint_file, endpoint)) {
    perror("demo-server: writing the endpoint file");
    return 1;
  }
  fprintf(stderr, "server: ROUTER listening on %s\n", endpoint.c_str());

  unsigned long echoed = 0;
  for (;;) {
    std::vector<zmq::message_t> parts;  // [client identity, request...]
    if (!zmq::recv_multipart(router, std::back_inserter(parts))) break;  // idle
    zmq::send_multipart(router, parts);
    echoed++;
  }
  fprintf(stderr, "server: echoed %lu request%s; none for %d s, exiting\n", echoed, echoed == 1 ? "" : "s",
          idle_seconds);
  return 0;
}
