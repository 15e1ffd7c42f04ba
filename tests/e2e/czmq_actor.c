// SPDX-License-Identifier: MIT
// Correct: a czmq actor (czmq creates the pipe socket in the caller and
// hands the other end to the actor's thread), a zsock in main, messages both
// ways, then zactor_destroy.
#include <czmq.h>

static void echo_actor(zsock_t* pipe, void* args) {
  (void)args;
  zsock_t* push = zsock_new_push(">inproc://results");
  assert(push);
  zsock_signal(pipe, 0);
  for (;;) {
    char* cmd = zstr_recv(pipe);
    if (!cmd) break;
    int term = streq(cmd, "$TERM");
    if (!term) {
      zstr_sendf(push, "pushed %s", cmd);
      zstr_sendf(pipe, "echo %s", cmd);
    }
    zstr_free(&cmd);
    if (term) break;
  }
  zsock_destroy(&push);
}

int main(void) {
  zsock_t* results = zsock_new_pull("@inproc://results");
  assert(results);
  zactor_t* actor = zactor_new(echo_actor, NULL);
  assert(actor);
  int ok = 0;
  for (int i = 0; i < 10; i++) {
    zstr_sendf(actor, "ping%d", i);
    char* reply = zstr_recv(actor);
    char* pushed = zstr_recv(results);
    if (reply && pushed && strncmp(reply, "echo ping", 9) == 0 && strncmp(pushed, "pushed ping", 11) == 0) ok++;
    zstr_free(&reply);
    zstr_free(&pushed);
  }
  zactor_destroy(&actor);
  zsock_destroy(&results);
  printf("round trips %d\n", ok);
  return 0;
}
