// SPDX-License-Identifier: MIT
// The program beside next_preload.c: linked with libzmq, it asks what
// RTLD_NEXT and RTLD_DEFAULT mean from the executable, calls the wrapped
// getpid() and sends one message on a socket only main uses.
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "../lib/object_name.h"

int main(void) {
  printf("host: next getpid -> %s, default getpid -> %s\n", object_name(dlsym(RTLD_NEXT, "getpid")),
         object_name(dlsym(RTLD_DEFAULT, "getpid")));
  printf("host: next zmq_send -> %s\n", object_name(dlsym(RTLD_NEXT, "zmq_send")));
  if (getpid() <= 0) return 2;
  void* ctx = zmq_ctx_new();
  void* a = zmq_socket(ctx, ZMQ_PAIR);
  void* b = zmq_socket(ctx, ZMQ_PAIR);
  char buf[8];
  if (zmq_bind(a, "inproc://next") != 0 || zmq_connect(b, "inproc://next") != 0) return 2;
  if (zmq_send(a, "hi", 2, 0) != 2 || zmq_recv(b, buf, sizeof buf, 0) != 2) return 2;
  zmq_close(a);
  zmq_close(b);
  zmq_ctx_term(ctx);
  puts("done");
  return 0;
}
