// SPDX-License-Identifier: MIT
// Thread identity: serials never repeat, exited threads are known to be
// gone, Bypass regions hide the thread from the fast path.
#include <pthread.h>
#include <string.h>

#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/threads.h"

namespace {

struct Seen {
  uint64_t serial = 0;
  uint64_t tls_me_before = ~0ull;
  uint64_t tls_me_after = 0;
  pthread_t self{};
  pid_t tid = 0;
  bool alive_inside = false;
};

Seen run_thread() {
  Seen s;
  std::thread t([&s] {
    s.tls_me_before = zg::tls_hot.me;
    zg::ThreadRecord* rec = zg::thread_self();
    ASSERT_NE(rec, nullptr);
    EXPECT_EQ(zg::thread_self(), rec) << "the record is made once per thread";
    s.serial = rec->serial.load();
    s.tls_me_after = zg::tls_hot.me;
    s.self = pthread_self();
    s.tid = rec->tid;
    s.alive_inside = zg::thread_alive(s.serial);
  });
  t.join();
  return s;
}

TEST(Threads, SerialsAreUniqueAndNonZero) {
  zg::ThreadRecord* me = zg::thread_self();
  ASSERT_NE(me, nullptr);
  uint64_t main_serial = me->serial.load();
  EXPECT_NE(main_serial, 0u);
  EXPECT_NE(main_serial, ~0ull);
  EXPECT_EQ(zg::tls_hot.me, main_serial);
  EXPECT_TRUE(zg::thread_alive(main_serial));
  EXPECT_FALSE(zg::thread_alive(0));

  std::set<uint64_t> serials{main_serial};
  for (int i = 0; i < 64; i++) {
    Seen s = run_thread();
    EXPECT_NE(s.serial, 0u);
    EXPECT_EQ(s.tls_me_before, 0u) << "a thread is unknown before it reaches the guard";
    EXPECT_EQ(s.tls_me_after, s.serial);
    EXPECT_TRUE(s.alive_inside);
    EXPECT_TRUE(serials.insert(s.serial).second) << "serial " << s.serial << " repeated";
  }

  // Threads alive at the same time too.
  constexpr int kN = 16;
  std::vector<uint64_t> got(kN);
  std::vector<std::thread> ts;
  pthread_barrier_t barrier;
  pthread_barrier_init(&barrier, nullptr, kN);
  for (int i = 0; i < kN; i++)
    ts.emplace_back([&, i] {
      pthread_barrier_wait(&barrier);
      got[i] = zg::thread_self()->serial.load();
      pthread_barrier_wait(&barrier);  // all alive while the others draw
    });
  for (auto& t : ts) t.join();
  pthread_barrier_destroy(&barrier);
  for (uint64_t s : got) {
    EXPECT_NE(s, 0u);
    EXPECT_TRUE(serials.insert(s).second) << "serial " << s << " repeated";
  }
}

TEST(Threads, ANewThreadWithTheSamePthreadGetsANewSerial) {
  // glibc hands a joined thread's stack, and so its pthread_t, to the next
  // thread; the serial must not follow.
  int same_pthread = 0;
  Seen prev = run_thread();
  for (int i = 0; i < 32; i++) {
    Seen next = run_thread();
    EXPECT_NE(next.serial, prev.serial);
    EXPECT_FALSE(zg::thread_alive(prev.serial)) << "an exited thread is reported alive";
    EXPECT_FALSE(zg::thread_alive(next.serial));
    if (pthread_equal(next.self, prev.self)) same_pthread++;
    prev = next;
  }
  RecordProperty("same_pthread_t", same_pthread);
  // The property that matters was checked in every round; this one says the
  // test did exercise reuse (glibc caches stacks of joined threads).
  EXPECT_GT(same_pthread, 0) << "pthread_t was never reused: the reuse case was not exercised";
}

TEST(Threads, ThreadAliveFollowsExit) {
  std::atomic<uint64_t> serial{0};
  std::atomic<bool> go{false};
  std::thread t([&] {
    serial.store(zg::thread_self()->serial.load());
    while (!go.load()) std::this_thread::yield();
  });
  while (!serial.load()) std::this_thread::yield();
  EXPECT_TRUE(zg::thread_alive(serial.load()));
  bool listed = false;
  struct Ctx {
    uint64_t serial;
    bool* listed;
  } ctx{serial.load(), &listed};
  zg::threads_for_each(
      [](zg::ThreadRecord* r, void* p) {
        auto* c = static_cast<Ctx*>(p);
        if (r->serial.load() == c->serial) *c->listed = true;
      },
      &ctx);
  EXPECT_TRUE(listed);
  go.store(true);
  t.join();
  EXPECT_FALSE(zg::thread_alive(serial.load()));
  listed = false;
  zg::threads_for_each(
      [](zg::ThreadRecord* r, void* p) {
        auto* c = static_cast<Ctx*>(p);
        if (r->serial.load() == c->serial) *c->listed = true;
      },
      &ctx);
  EXPECT_FALSE(listed);
}

TEST(Threads, RecordHasTidAndName) {
  std::thread t([] {
    pthread_setname_np(pthread_self(), "zg-unit-named");
    zg::ThreadRecord* rec = zg::thread_self();
    ASSERT_NE(rec, nullptr);
    EXPECT_EQ(rec->tid, gettid());
    EXPECT_STREQ(rec->name, "zg-unit-named");
    char name[16];
    zg::thread_name_of(gettid(), name, sizeof name);
    EXPECT_STREQ(name, "zg-unit-named");
  });
  t.join();
  char name[16] = "x";
  zg::thread_name_of(0x7ffffff0, name, sizeof name);  // no such task
  EXPECT_STREQ(name, "");
}

TEST(Threads, BypassHidesTheThreadAndRestoresIt) {
  uint64_t me = zg::thread_self()->serial.load();
  ASSERT_EQ(zg::tls_hot.me, me);
  ASSERT_EQ(zg::tls_bypass, 0);
  {
    zg::Bypass outer;
    EXPECT_EQ(zg::tls_hot.me, 0u);
    EXPECT_EQ(zg::tls_bypass, 1);
    {
      zg::Bypass inner;
      EXPECT_EQ(zg::tls_hot.me, 0u);
      EXPECT_EQ(zg::tls_bypass, 2);
    }
    EXPECT_EQ(zg::tls_hot.me, 0u) << "leaving the inner region must not end the outer one";
    EXPECT_EQ(zg::tls_bypass, 1);
    // thread_self inside a region does not expose the serial either.
    EXPECT_EQ(zg::thread_self()->serial.load(), me);
    EXPECT_EQ(zg::tls_hot.me, 0u);
  }
  EXPECT_EQ(zg::tls_bypass, 0);
  EXPECT_EQ(zg::tls_hot.me, me);
}

TEST(Threads, BypassInAThreadNotYetKnown) {
  std::thread t([] {
    uint64_t serial;
    {
      zg::Bypass b;
      serial = zg::thread_self()->serial.load();  // first contact inside a region
      EXPECT_NE(serial, 0u);
      EXPECT_EQ(zg::tls_hot.me, 0u);
    }
    EXPECT_EQ(zg::tls_hot.me, serial);
    {
      // A region in a thread the guard has not met: nothing to restore.
      std::thread u([] {
        { zg::Bypass b; EXPECT_EQ(zg::tls_hot.me, 0u); }
        EXPECT_EQ(zg::tls_hot.me, 0u);
        EXPECT_EQ(zg::tls_bypass, 0);
      });
      u.join();
    }
  });
  t.join();
}

}  // namespace

namespace {

// The guard's thread-locals live in every thread of the host process, in
// static TLS that glibc carves out of each thread's stack: a program that
// runs threads on small stacks must still be able to start them.
TEST(Threads, SmallStackThreadsStillStart) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  ASSERT_EQ(pthread_attr_setstacksize(&attr, 64 * 1024), 0);
  pthread_t t;
  int rc = pthread_create(
      &t, &attr,
      [](void*) -> void* {
        zg::thread_self();
        return nullptr;
      },
      nullptr);
  pthread_attr_destroy(&attr);
  ASSERT_EQ(rc, 0) << "pthread_create with a 64 KB stack: " << strerror(rc);
  pthread_join(t, nullptr);
}

}  // namespace
