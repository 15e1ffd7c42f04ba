// SPDX-License-Identifier: MIT
// The cached walk of report/unwind.cpp against glibc's backtrace(): the
// same frames for the same call, over call shapes that exercise each kind
// of rule, the first time (libgcc's walk, learning) and again (the cached
// walk, where one exists).
#include <dlfcn.h>
#include <execinfo.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include <functional>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "report/unwind.h"
#include "unwind_shapes.h"

namespace {

struct Both {
  int max = 64;
  void* a[130];
  int na = 0;
  void* b[130];
  int nb = 0;
  bool may_init = true;
};

// backtrace() and the walk from one function: frame 0 differs (two call
// sites of this function), the rest must not.
__attribute__((noinline)) void capture_both(void* p) {
  Both* both = static_cast<Both*>(p);
#ifdef __SANITIZE_ADDRESS__
  // AddressSanitizer's backtrace() is its interceptor, one frame more.
  void* raw[131];
  int n = backtrace(raw, both->max + 1);
  both->na = n > 0 ? n - 1 : 0;
  memcpy(both->a, raw + 1, sizeof(void*) * static_cast<size_t>(both->na));
#else
  both->na = backtrace(both->a, both->max);
#endif
  both->nb = zg_unwind_backtrace(both->b, both->max, both->may_init);
  asm volatile("" ::: "memory");
}

std::string describe(const Both& b) {
  std::string s;
  char line[64];
  for (int i = 0; i < b.na || i < b.nb; i++) {
    snprintf(line, sizeof line, "#%d %p %p\n", i, i < b.na ? b.a[i] : nullptr, i < b.nb ? b.b[i] : nullptr);
    s += line;
  }
  return s;
}

void expect_same(const Both& b) {
  ASSERT_GT(b.na, b.max > 1 ? 1 : 0);
  ASSERT_EQ(b.na, b.nb) << describe(b);
  for (int i = 1; i < b.na; i++) EXPECT_EQ(b.a[i], b.b[i]) << "frame " << i << "\n" << describe(b);
  // Frame 0: both in capture_both, a few instructions apart (more with
  // AddressSanitizer's instrumentation).
  uintptr_t d = reinterpret_cast<uintptr_t>(b.b[0]) - reinterpret_cast<uintptr_t>(b.a[0]);
  EXPECT_LT(d, 1024u) << describe(b);
}

// Runs shape twice: libgcc's walk the first time (rules learned), then
// expect_fast says whether the second must have taken the cached walk.
void twice(const std::function<void(Both*)>& shape, bool expect_fast, int max = 64) {
  for (int round = 0; round < 2; round++) {
    Both b;
    b.max = max;
    zg::UnwindStats before = zg::unwind_stats();
    shape(&b);
    zg::UnwindStats after = zg::unwind_stats();
    expect_same(b);
    if (ZG_FAST_UNWIND) {  // (elsewhere it is backtrace(), and counts nothing)
      EXPECT_EQ(after.fast + after.slow, before.fast + before.slow + 1);
      if (round == 1) {
        EXPECT_EQ(after.fast, before.fast + (expect_fast ? 1 : 0)) << "round 2";
      }
    }
  }
}

__attribute__((noinline)) void recurse(Both* b, int depth) {
  if (depth == 0) {
    capture_both(b);
    return;
  }
  recurse(b, depth - 1);
  asm volatile("" ::: "memory");
}

TEST(Unwind, DeepRecursionAtEveryDepthLimit) {
  twice([](Both* b) { recurse(b, 10); }, true);
  for (int max : {1, 2, 5, 24, 40, 64, 80}) twice([](Both* b) { recurse(b, 150); }, true, max);
}

TEST(Unwind, FramesWithoutFramePointer) {
  twice([](Both* b) { shapes::omit_recurse(capture_both, b, 7); }, true);
  twice([](Both* b) { shapes::omit_leaf(capture_both, b, 3); }, true);
}

TEST(Unwind, AllocaAndVlaFrames) {
  twice([](Both* b) { shapes::alloca_frame(capture_both, b, 100); }, true);
  twice([](Both* b) { shapes::vla_frame(capture_both, b, 37); }, true);
  // Another size: the rules hold for any frame size.
  twice([](Both* b) { shapes::vla_frame(capture_both, b, 1000); }, true);
}

TEST(Unwind, Lambda) {
  int k = 3;
  auto inner = [&](Both* b) {
    k++;
    capture_both(b);
  };
  std::function<void(Both*)> f = [&](Both* b) { inner(b); };
  twice(f, true);
  EXPECT_EQ(k, 5);
}

TEST(Unwind, OtherThreadDownToItsStart) {
  std::thread t([] {
    twice([](Both* b) { recurse(b, 3); }, true);
    twice([](Both* b) { shapes::omit_recurse(capture_both, b, 2); }, true, 80);
  });
  t.join();
}

// Threads learning the same new call sites at once (the table's adds race)
// and walking them: every capture still backtrace()'s.
__attribute__((noinline)) void recurse_other(Both* b, int depth) {
  if (depth == 0) {
    shapes::vla_frame(capture_both, b, 5 + depth);
    return;
  }
  recurse_other(b, depth - 1);
  asm volatile("" ::: "memory");
}

TEST(Unwind, ThreadsLearnTogether) {
  std::thread ts[4];
  for (auto& t : ts)
    t = std::thread([] {
      for (int i = 0; i < 50; i++) {
        Both b;
        recurse_other(&b, i % 7);
        expect_same(b);
      }
    });
  for (auto& t : ts) t.join();
}

// Frames inside libzmq: a message's free function runs in zmq_msg_close.
struct Zmq {
  int (*init_data)(void*, void*, size_t, void (*)(void*, void*), void*);
  int (*close)(void*);
};

void free_hook(void*, void* hint) { capture_both(hint); }

TEST(Unwind, FramesInLibzmq) {
  void* h = dlopen("libzmq.so.5", RTLD_NOW);
  ASSERT_NE(h, nullptr);
  Zmq z;
  z.init_data = reinterpret_cast<decltype(z.init_data)>(dlsym(h, "zmq_msg_init_data"));
  z.close = reinterpret_cast<decltype(z.close)>(dlsym(h, "zmq_msg_close"));
  ASSERT_TRUE(z.init_data && z.close);
  static char data[16];
  twice([&](Both* b) {
    alignas(8) unsigned char msg[64];
    ASSERT_EQ(z.init_data(msg, data, sizeof data, free_hook, b), 0);
    ASSERT_EQ(z.close(msg), 0);
  }, true);
  // The frames between the hook and the test are libzmq's.
  Both b;
  alignas(8) unsigned char msg[64];
  ASSERT_EQ(z.init_data(msg, data, sizeof data, free_hook, &b), 0);
  ASSERT_EQ(z.close(msg), 0);
  int in_zmq = 0;
  for (int i = 1; i < b.nb; i++) {
    Dl_info info;
    if (dladdr(b.b[i], &info) && info.dli_fname && strstr(info.dli_fname, "libzmq")) in_zmq++;
  }
  EXPECT_GT(in_zmq, 0) << describe(b);
}

// An object loaded, walked through, unloaded, and loaded again (most often
// at the same address): its rules are keyed by its link map and address,
// and every capture through it is still backtrace()'s.
TEST(Unwind, ObjectUnloadedAndLoadedAgain) {
  const char* path = getenv("ZG_UNWIND_PLUGIN");
  ASSERT_NE(path, nullptr) << "ZG_UNWIND_PLUGIN: the test's plugin (meson test sets it)";
  for (int load = 0; load < 3; load++) {
    void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(h, nullptr) << dlerror();
    auto call = reinterpret_cast<int (*)(void (*)(void*), void*)>(dlsym(h, "zg_plugin_call"));
    ASSERT_NE(call, nullptr);
    for (int round = 0; round < 2; round++) {
      Both b;
      call(capture_both, &b);
      expect_same(b);
      Dl_info info;
      ASSERT_NE(dladdr(b.b[1], &info), 0);
      EXPECT_NE(strstr(info.dli_fname, "unwind_plugin"), nullptr) << info.dli_fname;
    }
    dlclose(h);
  }
}

// A signal frame has no cached rule: the walk goes to libgcc every time,
// and the frames are still backtrace()'s, below the handler and above it.
Both* g_in_signal;
void on_signal(int) { capture_both(g_in_signal); }

TEST(Unwind, SignalHandlerFallsBack) {
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  ASSERT_EQ(sigaction(SIGUSR2, &sa, &old), 0);
  for (bool may_init : {true, false}) {
    for (int round = 0; round < 3; round++) {
      Both b;
      b.may_init = may_init;
      g_in_signal = &b;
      zg::UnwindStats before = zg::unwind_stats();
      raise(SIGUSR2);
      zg::UnwindStats after = zg::unwind_stats();
      expect_same(b);
      if (ZG_FAST_UNWIND) {
        EXPECT_EQ(after.fast, before.fast) << "a signal frame has no fast rule";
      }
    }
  }
  sigaction(SIGUSR2, &old, nullptr);
}

// After fork the child's walk uses the table it inherited.
TEST(Unwind, ForkedChildWalks) {
  twice([](Both* b) { recurse(b, 4); }, true);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // The child's first capture from here learns this call site (the
    // table's mutex was reset for it), the second walks.
    bool ok = true;
    for (int round = 0; round < 2; round++) {
      Both b;
      zg::UnwindStats before = zg::unwind_stats();
      recurse(&b, 4);
      zg::UnwindStats after = zg::unwind_stats();
      ok = ok && b.na == b.nb && b.na > 1 && memcmp(b.a + 1, b.b + 1, sizeof(void*) * (b.na - 1)) == 0;
      if (round == 1 && ZG_FAST_UNWIND) ok = ok && after.fast == before.fast + 1;
    }
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

}  // namespace
