// SPDX-License-Identifier: MIT
// Misuse with a czmq actor: the actor sends on a PUSH that main made, then
// main sends on it while the actor still runs.  Nothing the guard can see
// orders the two (a plain atomic flag does), so main's send is reported,
// with the actor, whose thread czmq started, as the owner.
#include <czmq.h>
#include <sched.h>
#include <stdatomic.h>

static zsock_t* shared;
static atomic_int sent;

static void sending_actor(zsock_t* pipe, void* args) {
  (void)args;
  zsock_signal(pipe, 0);
  zstr_send(shared, "from the actor");  // @actor-send: the actor takes the socket here
  atomic_store(&sent, 1);
  char* cmd = zstr_recv(pipe);  // $TERM
  zstr_free(&cmd);
}

int main(void) {
  zsock_t* pull = zsock_new_pull("@inproc://actor-shared");
  shared = zsock_new_push(">inproc://actor-shared");
  assert(pull && shared);
  zactor_t* actor = zactor_new(sending_actor, NULL);
  assert(actor);
  while (!atomic_load(&sent)) sched_yield();
  zstr_send(shared, "from main");  // @main-send: reported, the actor owns the socket
  char* a = zstr_recv(pull);
  char* b = zstr_recv(pull);
  printf("received '%s' and '%s'\n", a, b);
  zstr_free(&a);
  zstr_free(&b);
  zactor_destroy(&actor);
  zsock_destroy(&shared);
  zsock_destroy(&pull);
  return 0;
}
