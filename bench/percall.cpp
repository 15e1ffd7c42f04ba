// SPDX-License-Identifier: MIT
// Per-call cost of each interposed path, with Google Benchmark.  Run the
// same binary with and without the preload library; the difference per
// iteration is what the guard adds (bench/run.py does both).  Every socket
// here is used only by the thread that made it: the owner's path.
#include <benchmark/benchmark.h>
#include <string.h>
#include <zmq.h>

namespace {

struct Pair {
  void* ctx;
  void* a;
  void* b;
  explicit Pair(const char* ep) {
    ctx = zmq_ctx_new();
    a = zmq_socket(ctx, ZMQ_PAIR);
    b = zmq_socket(ctx, ZMQ_PAIR);
    zmq_bind(a, ep);
    zmq_connect(b, ep);
  }
  ~Pair() {
    zmq_close(a);
    zmq_close(b);
    zmq_ctx_term(ctx);
  }
};

// Sends one message each way, so each socket has an owner: until then a
// socket's set-up calls take the guard's slow path (they are part of
// creating it), which is not what these benchmarks measure.
void own(Pair& p) {
  zmq_send(p.a, "x", 1, 0);
  zmq_send(p.b, "x", 1, 0);
  char c;
  zmq_recv(p.a, &c, 1, 0);
  zmq_recv(p.b, &c, 1, 0);
}

// The cheapest socket call libzmq has: nearly all of it is the wrapper.
void BM_getsockopt_type(benchmark::State& st) {
  Pair p("inproc://bm-gso");
  own(p);
  int type;
  size_t len = sizeof type;
  for (auto _ : st) {
    len = sizeof type;
    benchmark::DoNotOptimize(zmq_getsockopt(p.a, ZMQ_TYPE, &type, &len));
  }
}
BENCHMARK(BM_getsockopt_type);

// The same call on a socket nothing has sent or received on yet: the
// creator's set-up calls, which the guard checks on its slow path.
void BM_getsockopt_type_unowned(benchmark::State& st) {
  Pair p("inproc://bm-gso-new");
  int type;
  size_t len = sizeof type;
  for (auto _ : st) {
    len = sizeof type;
    benchmark::DoNotOptimize(zmq_getsockopt(p.a, ZMQ_TYPE, &type, &len));
  }
}
BENCHMARK(BM_getsockopt_type_unowned);

void BM_getsockopt_events(benchmark::State& st) {
  Pair p("inproc://bm-gse");
  own(p);
  int ev;
  size_t len = sizeof ev;
  for (auto _ : st) {
    len = sizeof ev;
    benchmark::DoNotOptimize(zmq_getsockopt(p.a, ZMQ_EVENTS, &ev, &len));
  }
}
BENCHMARK(BM_getsockopt_events);

void BM_setsockopt_sndhwm(benchmark::State& st) {
  Pair p("inproc://bm-sso");
  own(p);
  int hwm = 1000;
  for (auto _ : st) benchmark::DoNotOptimize(zmq_setsockopt(p.a, ZMQ_SNDHWM, &hwm, sizeof hwm));
}
BENCHMARK(BM_setsockopt_sndhwm);

// One message there and back in one thread: two intercepted calls.
void BM_msg_send_recv(benchmark::State& st) {
  Pair p("inproc://bm-msg");
  zmq_msg_t m;
  for (auto _ : st) {
    zmq_msg_init_size(&m, 8);
    zmq_msg_send(&m, p.a, 0);
    zmq_msg_init(&m);
    zmq_msg_recv(&m, p.b, 0);
    zmq_msg_close(&m);
  }
}
BENCHMARK(BM_msg_send_recv);

void BM_send_recv(benchmark::State& st) {
  Pair p("inproc://bm-sr");
  char buf[8] = "1234567";
  for (auto _ : st) {
    zmq_send(p.a, buf, sizeof buf, 0);
    zmq_recv(p.b, buf, sizeof buf, 0);
  }
}
BENCHMARK(BM_send_recv);

// The deprecated pair czmq and libzmq's perf tools use.
void BM_sendmsg_recvmsg(benchmark::State& st) {
  Pair p("inproc://bm-smsg");
  zmq_msg_t m;
  for (auto _ : st) {
    zmq_msg_init_size(&m, 8);
    zmq_sendmsg(p.a, &m, 0);
    zmq_msg_init(&m);
    zmq_recvmsg(p.b, &m, 0);
    zmq_msg_close(&m);
  }
}
BENCHMARK(BM_sendmsg_recvmsg);

// A failing non-blocking receive: a cheap trip through the data path.
void BM_recv_eagain(benchmark::State& st) {
  Pair p("inproc://bm-eagain");
  char buf[8];
  for (auto _ : st) benchmark::DoNotOptimize(zmq_recv(p.b, buf, sizeof buf, ZMQ_DONTWAIT));
}
BENCHMARK(BM_recv_eagain);

void BM_poll_one(benchmark::State& st) {
  Pair p("inproc://bm-poll");
  zmq_pollitem_t item = {p.b, 0, ZMQ_POLLIN, 0};
  for (auto _ : st) benchmark::DoNotOptimize(zmq_poll(&item, 1, 0));
}
BENCHMARK(BM_poll_one);

void BM_poll_four(benchmark::State& st) {
  Pair p1("inproc://bm-poll4a"), p2("inproc://bm-poll4b");
  zmq_pollitem_t items[4] = {{p1.a, 0, ZMQ_POLLIN, 0},
                             {p1.b, 0, ZMQ_POLLIN, 0},
                             {p2.a, 0, ZMQ_POLLIN, 0},
                             {p2.b, 0, ZMQ_POLLIN, 0}};
  for (auto _ : st) benchmark::DoNotOptimize(zmq_poll(items, 4, 0));
}
BENCHMARK(BM_poll_four);

// Creation and close: the guard records a stack at creation, so this is
// where its cost is visible (never on the data path).  libzmq frees closed
// sockets later on its reaper thread and refuses new ones past
// ZMQ_MAX_SOCKETS, so every 256 iterations the context is terminated (which
// waits for the reaper) outside the timing.
void BM_socket_close(benchmark::State& st) {
  void* ctx = zmq_ctx_new();
  int linger = 0;
  int n = 0;
  for (auto _ : st) {
    void* s = zmq_socket(ctx, ZMQ_DEALER);
    if (!s) {
      st.SkipWithError("zmq_socket failed");
      break;
    }
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(s);
    if (++n % 256 == 0) {
      st.PauseTiming();
      zmq_ctx_term(ctx);
      ctx = zmq_ctx_new();
      st.ResumeTiming();
    }
  }
  zmq_ctx_term(ctx);
}
BENCHMARK(BM_socket_close);

void BM_bind_unbind_inproc(benchmark::State& st) {
  Pair p("inproc://bm-bind-keep");
  own(p);
  for (auto _ : st) {
    zmq_bind(p.a, "inproc://bm-bind");
    zmq_unbind(p.a, "inproc://bm-bind");
  }
}
BENCHMARK(BM_bind_unbind_inproc);

void nop_free(void*, void*) {}

// Zero-copy messages: the guard wraps the free callback.
void BM_msg_init_data(benchmark::State& st) {
  static char data[64];
  zmq_msg_t m;
  for (auto _ : st) {
    zmq_msg_init_data(&m, data, sizeof data, nop_free, nullptr);
    zmq_msg_close(&m);
  }
}
BENCHMARK(BM_msg_init_data);

}  // namespace

BENCHMARK_MAIN();
