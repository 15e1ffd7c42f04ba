// SPDX-License-Identifier: MIT
// core/order.h: releases offer a thread's sockets, and only a thread that
// acquired the release (by its creation, or by receiving the message a
// pipe end carried) is ordered after it.  Real threads, fake handles, no
// libzmq.
#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>

#include <thread>

#include <gtest/gtest.h>

#include "core/guard.h"
#include "core/locks.h"
#include "core/order.h"
#include "core/registry.h"
#include "core/threads.h"
#include "support.h"

namespace {

// Fake handles far from the other tests'.
void* handle(size_t i) { return reinterpret_cast<void*>((uintptr_t(0x7c) << 36) + 0x2000 + i * 16 * 97); }

class Order : public ::testing::Test {
 protected:
  void SetUp() override {
    zgunit::use_default_options();
    saved_mode_ = zg::g_mode;
    zg::g_mode = zg::Mode::Warn;
    zg::order_init();
    ASSERT_TRUE(zg::order_enabled());
    me_ = zg::thread_self()->serial.load();
  }
  void TearDown() override {
    for (zg::SocketState* st : made_) zg::order_closed(st);
    for (size_t i = 0; i < made_.size(); i++) zg::registry_forget(handle(base_ + i));
    zg::g_mode = saved_mode_;
    zg::order_init();
  }
  // A socket this thread owns (as take() leaves it).
  zg::SocketState* owned(int type = 5) {
    zg::SocketState* st = zg::registry_create(handle(base_ + made_.size()));
    st->type = type;
    st->ctx = this;
    st->owner.store(zg::order_owner_word(st, me_));
    zg::order_taken(st);
    made_.push_back(st);
    return st;
  }
  // Runs fn on a new thread started as the guard's pthread_create does.
  template <typename F>
  static void on_created_thread(F fn) {
    struct Box {
      F* fn;
    } box{&fn};
    void* block = zg::order_thread_prepare(
        [](void* p) -> void* {
          (*static_cast<Box*>(p)->fn)();
          return nullptr;
        },
        &box, nullptr);
    ASSERT_NE(block, nullptr);
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, nullptr, zg::order_thread_start, block), 0);
    pthread_join(t, nullptr);
  }

  zg::Mode saved_mode_ = zg::Mode::Off;
  uint64_t me_ = 0;
  size_t base_ = 0;
  std::vector<zg::SocketState*> made_;
};

TEST_F(Order, ReleaseOffersOwnSocketsAndTheOwnersUseTakesItBack) {
  zg::SocketState* mine = owned();
  zg::SocketState* other = owned();
  other->owner.store(me_ + 1000);  // another thread's
  const uint32_t seq = zg::order_release(me_);
  ASSERT_GT(seq, 0u);
  const uint64_t w = mine->owner.load();
  EXPECT_TRUE(zg::owner_offered(w));
  EXPECT_EQ(zg::owner_serial(w), me_);
  EXPECT_EQ(zg::owner_offer_seq(w), seq);
  EXPECT_EQ(other->owner.load(), me_ + 1000);
  // A later release keeps the first one after the last use.
  EXPECT_GT(zg::order_release(me_), seq);
  EXPECT_EQ(zg::owner_offer_seq(mine->owner.load()), seq);
  // Nobody has acquired it, this thread included.
  EXPECT_FALSE(zg::order_acquired(me_, seq));
}

TEST_F(Order, ThreadCreationAcquiresTheCreatorsRelease) {
  zg::SocketState* mine = owned();
  bool before = true, after = false;
  const uint64_t me = me_;
  // A thread started before the release has not acquired it.
  std::thread early([&] { before = zg::order_acquired(me, 1); });
  early.join();
  on_created_thread([&] { after = zg::order_acquired(me, zg::owner_offer_seq(mine->owner.load())); });
  EXPECT_FALSE(before);
  EXPECT_TRUE(after);
  // What the creator had acquired goes to the new thread too.
  bool grandchild = false;
  on_created_thread([&] {
    const uint32_t seq = zg::owner_offer_seq(mine->owner.load());
    std::thread plain([&] { grandchild = zg::order_acquired(me, seq); });  // not through order_thread_start
    plain.join();
  });
  EXPECT_FALSE(grandchild);
}

TEST_F(Order, APipeCarriesEachMessagesOwnRelease) {
  zg::SocketState* a = owned(0);
  zg::SocketState* b = owned(0);
  b->owner.store(zg::kNoOwner);
  zg::order_endpoint(a, "bind", "inproc://order-test");
  EXPECT_EQ(a->pipe.load(), nullptr);  // waiting for its other end
  zg::order_endpoint(b, "connect", "inproc://order-test");
  ASSERT_NE(a->pipe.load(), nullptr);
  ASSERT_NE(b->pipe.load(), nullptr);
  EXPECT_TRUE(a->owner.load() & zg::kPipeBit);  // its calls are all seen
  EXPECT_EQ(zg::owner_serial(a->owner.load()), me_);
  zg::SocketState* s = owned();
  const uint64_t t1 = zg::order_sending(a, me_, 1);
  zg::order_sent(a, t1, 1, true);
  const uint32_t r1 = zg::owner_offer_seq(s->owner.load());
  s->owner.store(me_);  // this thread used s again
  const uint64_t t2 = zg::order_sending(a, me_, 1);
  zg::order_sent(a, t2, 1, true);
  const uint32_t r2 = zg::owner_offer_seq(s->owner.load());
  ASSERT_GT(r2, r1);
  // A failed send is taken back: nothing for the receiver.
  const uint64_t t3 = zg::order_sending(a, me_, 1);
  zg::order_sent(a, t3, 1, false);
  const uint64_t me = me_;
  bool got1 = false, got2_early = true, got2 = false, got3 = true;
  std::thread receiver([&] {
    zg::order_received(b, 1);
    got1 = zg::order_acquired(me, r1);
    got2_early = zg::order_acquired(me, r2);  // the second message is not received yet
    zg::order_received(b, 1);
    got2 = zg::order_acquired(me, r2);
    zg::order_received(b, 1);  // nothing queued (the failed send)
    got3 = zg::order_acquired(me, r2 + 1);
  });
  receiver.join();
  EXPECT_TRUE(got1);
  EXPECT_FALSE(got2_early);
  EXPECT_TRUE(got2);
  EXPECT_FALSE(got3);
  zg::order_closed(a);
  EXPECT_EQ(a->pipe.load(), nullptr);
}

TEST_F(Order, OnlyPairsOfOneContextOverInprocArePipes) {
  zg::SocketState* push = owned(8);
  zg::SocketState* pull = owned(7);
  zg::order_endpoint(push, "bind", "inproc://order-not-pair");
  zg::order_endpoint(pull, "connect", "inproc://order-not-pair");
  EXPECT_EQ(push->pipe.load(), nullptr);
  zg::SocketState* a = owned(0);
  zg::SocketState* b = owned(0);
  zg::order_endpoint(a, "bind", "tcp://127.0.0.1:5555");
  zg::order_endpoint(b, "connect", "tcp://127.0.0.1:5555");
  EXPECT_EQ(a->pipe.load(), nullptr);
  zg::SocketState* c = owned(0);
  zg::SocketState* d = owned(0);
  d->ctx = &made_;  // another context
  zg::order_endpoint(c, "bind", "inproc://order-two-contexts");
  zg::order_endpoint(d, "connect", "inproc://order-two-contexts");
  EXPECT_EQ(c->pipe.load(), nullptr);
}

// core/locks.h: the per-thread list of held locks.
TEST(Locks, PushPopOutOfOrderForgetAndOverflow) {
  zg::HeldLocks saved = zg::tls_held;
  zg::tls_held = zg::HeldLocks{};
  int a, b, c;
  zg::locks_push(&a);
  zg::locks_push(&b);
  zg::locks_push(&a);  // a recursive mutex, taken twice
  zg::locks_pop(&b);   // released out of order
  ASSERT_EQ(zg::tls_held.n, 2u);
  EXPECT_EQ(zg::tls_held.held[0], &a);
  EXPECT_EQ(zg::tls_held.held[1], &a);
  zg::locks_pop(&c);  // never taken here (a semaphore posted by another thread)
  EXPECT_EQ(zg::tls_held.n, 2u);
  zg::locks_forget(&a);  // destroyed: every entry goes
  EXPECT_EQ(zg::tls_held.n, 0u);
  for (uint32_t i = 0; i < zg::kHeldMax + 3; i++) zg::locks_push(&b);
  EXPECT_EQ(zg::tls_held.n, zg::kHeldMax + 3);
  for (uint32_t i = 0; i < zg::kHeldMax + 3; i++) zg::locks_pop(&b);
  EXPECT_EQ(zg::tls_held.n, 0u);
  zg::tls_held = saved;
}

// A mutex taken before the thread followed its mutexes is found by glibc's
// owner field, read safely: held here, held by another thread, unmapped, a
// semaphore (never asked), and the latest one taken when tracking starts.
TEST(Locks, OwnerFieldFindsAMutexTakenBeforeTracking) {
  zg::HeldLocks saved = zg::tls_held;
  zg::tls_held = zg::HeldLocks{};
  pthread_mutex_t mine = PTHREAD_MUTEX_INITIALIZER, theirs = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_lock(&mine);
  EXPECT_TRUE(zg::locks_owned(&mine));
  ASSERT_EQ(zg::tls_held.n, 1u);
  EXPECT_EQ(zg::tls_held.held[0], &mine);
  EXPECT_FALSE(zg::locks_owned(&mine));  // already listed: not pushed twice
  EXPECT_EQ(zg::tls_held.n, 1u);
  std::thread([&] { pthread_mutex_lock(&theirs); }).join();  // held by a thread that exited
  EXPECT_FALSE(zg::locks_owned(&theirs));
  EXPECT_FALSE(zg::locks_owned(zg::sem_key(&mine)));
  void* page = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(page, MAP_FAILED);
  munmap(page, 4096);
  errno = 1234;
  EXPECT_FALSE(zg::locks_owned(page));  // freed: an error, not a fault
  EXPECT_EQ(errno, 1234);
  zg::locks_pop(&mine);
  EXPECT_EQ(zg::tls_held.n, 0u);
  // Tracking starts: the latest mutex, still held, joins the list.
  zg::tls_held.last = &mine;
  zg::locks_thread_start();
  EXPECT_EQ(zg::tls_held.track, 1u);
  ASSERT_EQ(zg::tls_held.n, 1u);
  EXPECT_EQ(zg::tls_held.held[0], &mine);
  pthread_mutex_unlock(&mine);
  zg::tls_held = zg::HeldLocks{};
  zg::tls_held.last = &mine;  // released since: not listed
  zg::locks_thread_start();
  EXPECT_EQ(zg::tls_held.n, 0u);
  zg::tls_held = saved;
}

}  // namespace
