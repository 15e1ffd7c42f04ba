// SPDX-License-Identifier: MIT
// Correct: czmq's zproxy and zauth actors, driven as their selftests drive
// them.  Each actor's thread makes its own sockets and the caller talks to
// it over the actor's pipe, waiting for each reply (zsock_wait); the proxy
// is given the caller's endpoints, the authenticator serves ZAP requests
// that libzmq's I/O thread sends for the caller's PLAIN server.  Runs
// silent in abort mode with no built-in suppression (survey for issue 17).
#include <czmq.h>

static int through_proxy(void) {
  zactor_t* proxy = zactor_new(zproxy, NULL);
  assert(proxy);
  zstr_sendx(proxy, "FRONTEND", "PULL", "inproc://proxy-in", NULL);
  zsock_wait(proxy);
  zstr_sendx(proxy, "BACKEND", "PUSH", "inproc://proxy-out", NULL);
  zsock_wait(proxy);
  zsock_t* in = zsock_new_push(">inproc://proxy-in");
  zsock_t* out = zsock_new_pull(">inproc://proxy-out");
  assert(in && out);
  zstr_send(in, "through");
  char* got = zstr_recv(out);
  int ok = got && streq(got, "through");
  zstr_free(&got);
  zstr_sendx(proxy, "PAUSE", NULL);
  zsock_wait(proxy);
  zstr_sendx(proxy, "RESUME", NULL);
  zsock_wait(proxy);
  zsock_destroy(&in);
  zsock_destroy(&out);
  zactor_destroy(&proxy);
  return ok;
}

static int plain_auth(const char* dir) {
  char path[512];
  snprintf(path, sizeof path, "%s/passwords", dir);
  FILE* f = fopen(path, "w");
  assert(f);
  fprintf(f, "admin=secret\n");
  fclose(f);
  zactor_t* auth = zactor_new(zauth, NULL);
  assert(auth);
  zstr_sendx(auth, "PLAIN", path, NULL);
  zsock_wait(auth);
  zsock_t* server = zsock_new(ZMQ_PULL);
  zsock_t* client = zsock_new(ZMQ_PUSH);
  assert(server && client);
  zsock_set_plain_server(server, 1);
  zsock_set_zap_domain(server, "test");
  int port = zsock_bind(server, "tcp://127.0.0.1:*");
  assert(port > 0);
  zsock_set_plain_username(client, "admin");
  zsock_set_plain_password(client, "secret");
  zsock_connect(client, "tcp://127.0.0.1:%d", port);
  zstr_send(client, "authenticated");
  char* got = zstr_recv(server);
  int ok = got && streq(got, "authenticated");
  zstr_free(&got);
  zsock_destroy(&client);
  zsock_destroy(&server);
  zactor_destroy(&auth);
  remove(path);
  return ok;
}

int main(void) {
  char dir[] = "/tmp/zg-czmq-auth-XXXXXX";
  assert(mkdtemp(dir));
  int proxied = through_proxy();
  int authed = plain_auth(dir);
  rmdir(dir);
  printf("proxy %d auth %d\n", proxied, authed);
  return proxied && authed ? 0 : 1;
}
