// SPDX-License-Identifier: MIT
// The guard's slow path on the life of sockets it does not check for
// ownership: thread-safe ones and libzmq's own (a monitor's PAIR).  Their
// close ends their state like any socket's, whoever makes it and whether or
// not inside a pass-through region; a call after it is a use after close,
// unless libzmq makes it.  No libzmq: fake handles, the fake table of
// support.cpp, and code of this test standing in for libzmq's.
#include <gtest/gtest.h>

#include "core/guard.h"
#include "core/report.h"
#include "core/threads.h"
#include "support.h"

namespace {

using zg::CallKind;
using zg::SocketState;

// Fake handles far from test_registry.cpp's.
void* handle(size_t i) { return reinterpret_cast<void*>((uintptr_t(0x7a) << 36) + 0x1000 + i * 16 * 77); }

// A return address inside "libzmq" (pretend_libzmq covers this array).
char g_libzmq_code[64];
const void* const kInLibzmq = &g_libzmq_code[8];

class GuardLife : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The guard's start, once per process (guard_enter asks for it), in
    // mode=off: so it leaves what the other tests rely on alone (in this
    // executable the guard's own code is the test's, which stack_warm_up
    // would have every captured stack skip).  The tests then pick the mode.
    zg::options_init_from_env();
    zg::Options off = zgunit::default_options();
    off.mode = static_cast<int>(zg::Mode::Off);
    zg::options_set_for_test(off);
    zg::guard_init();
  }
  void SetUp() override {
    zgunit::use_default_options();
    saved_mode_ = zg::g_mode;
    zg::g_mode = zg::Mode::Warn;
    zgunit::pretend_libzmq(reinterpret_cast<uintptr_t>(g_libzmq_code),
                           reinterpret_cast<uintptr_t>(g_libzmq_code + sizeof g_libzmq_code));
  }
  void TearDown() override {
    zgunit::pretend_libzmq(0, 0);
    zg::g_mode = saved_mode_;
  }

  static SocketState* create(void* h, int type, const void* ra) {
    zg::guard_created(h, nullptr, type, zg::real_for_caller(nullptr), ra);
    return zg::registry_lookup_locked(h);
  }
  // zmq_close as wrappers.cpp makes it (the real call left out).
  static bool close(void* h, const void* ra) {
    zg::Ticket t;
    void* const* real = nullptr;
    if (!zg::guard_enter(h, zg::registry_lookup(h), "zmq_close", CallKind::Close, ra, &t, &real)) return false;
    zg::guard_close_done(t, "zmq_close", 0);
    return true;
  }
  static bool use(void* h, const void* ra) {
    zg::Ticket t;
    void* const* real = nullptr;
    bool ok = zg::guard_enter(h, zg::registry_lookup(h), "zmq_msg_send", CallKind::Data, ra, &t, &real);
    if (ok) zg::guard_leave(t, "zmq_msg_send");
    return ok;
  }

  zg::Mode saved_mode_ = zg::Mode::Off;
};

TEST_F(GuardLife, ThreadSafeSocketIsClosedAndItsUseAfterCloseReported) {
  const size_t open0 = zg::registry_open_count();
  SocketState* st = create(handle(0), 13 /* CLIENT */, nullptr);
  ASSERT_NE(st, nullptr);
  EXPECT_TRUE(st->thread_safe);
  EXPECT_EQ(zg::registry_open_count(), open0 + 1);
  EXPECT_TRUE(use(handle(0), nullptr));
  EXPECT_TRUE(close(handle(0), nullptr));
  EXPECT_TRUE(st->closed.load());
  EXPECT_EQ(zg::registry_open_count(), open0);

  const uint64_t findings0 = zg::guard_finding_count();
  zgunit::StderrCapture err;
  EXPECT_FALSE(use(handle(0), nullptr));
  EXPECT_NE(err.stop().find("use_after_close"), std::string::npos);
  EXPECT_EQ(zg::guard_finding_count(), findings0 + 1);
}

TEST_F(GuardLife, LibzmqsOwnSocketClosedByLibzmqIsRetired) {
  const size_t open0 = zg::registry_open_count();
  SocketState* st = create(handle(1), ZMQ_PAIR, kInLibzmq);
  ASSERT_NE(st, nullptr);
  EXPECT_TRUE(st->internal);
  EXPECT_TRUE(use(handle(1), kInLibzmq));
  EXPECT_TRUE(close(handle(1), kInLibzmq));  // libzmq's reaper
  EXPECT_TRUE(st->closed.load());
  EXPECT_EQ(zg::registry_open_count(), open0);
  const uint64_t findings0 = zg::guard_finding_count();
  EXPECT_TRUE(use(handle(1), kInLibzmq));  // libzmq's call: never reported
  EXPECT_EQ(zg::guard_finding_count(), findings0);
}

TEST_F(GuardLife, LibzmqsOwnSocketMadeAndClosedInsideAPassThroughRegion) {
  // zmq_socket_monitor on the slow path: libzmq makes its PAIR, and stops a
  // monitor (closes the PAIR), inside the program's call.
  const size_t open0 = zg::registry_open_count();
  SocketState* st;
  {
    zg::Bypass b;
    st = create(handle(2), ZMQ_PAIR, kInLibzmq);
  }
  ASSERT_NE(st, nullptr);
  EXPECT_TRUE(st->internal);
  EXPECT_EQ(zg::registry_open_count(), open0 + 1);
  {
    zg::Bypass b;
    EXPECT_TRUE(close(handle(2), kInLibzmq));
  }
  EXPECT_TRUE(st->closed.load());
  EXPECT_EQ(zg::registry_open_count(), open0);
}

TEST_F(GuardLife, SocketMadeInsideAPassThroughRegionByOtherCodeDropsTheOldState) {
  SocketState* old = create(handle(3), ZMQ_PUSH, nullptr);
  ASSERT_NE(old, nullptr);
  EXPECT_TRUE(close(handle(3), nullptr));
  ASSERT_EQ(zg::registry_lookup_locked(handle(3)), old);  // closed, in the quarantine
  {
    zg::Bypass b;
    create(handle(3), ZMQ_PUSH, nullptr);
  }
  EXPECT_EQ(zg::registry_lookup_locked(handle(3)), nullptr);
}

}  // namespace

namespace {

// Only ZMQ_EVENTS processes the socket's pending commands (libzmq's
// socket_base_t::getsockopt); ZMQ_RCVMORE and ZMQ_FD read a flag and a
// number, as ZMQ_TYPE does.
TEST(GetsockoptKind, OnlyEventsIsAUse) {
  EXPECT_EQ(zg::getsockopt_kind(ZMQ_EVENTS), CallKind::Data);
  for (int option : {ZMQ_RCVMORE, ZMQ_FD, ZMQ_LAST_ENDPOINT, ZMQ_LINGER, ZMQ_RCVTIMEO})
    EXPECT_EQ(zg::getsockopt_kind(option), CallKind::Query) << option;
  // A Query too, and pyzmq's closed probe (refused on a closed handle).
  EXPECT_EQ(zg::getsockopt_kind(ZMQ_TYPE), CallKind::TypeQuery);
  EXPECT_TRUE(zg::claims_nothing(CallKind::TypeQuery));
}

// Setting ZMQ_LINGER is part of closing; every other option is set-up.
TEST(SetsockoptKind, OnlyLingerIsPartOfClosing) {
  EXPECT_EQ(zg::setsockopt_kind(ZMQ_LINGER), CallKind::Linger);
  for (int option : {ZMQ_SNDHWM, ZMQ_RCVHWM, ZMQ_SUBSCRIBE, ZMQ_RCVTIMEO, ZMQ_SNDTIMEO, ZMQ_IDENTITY, ZMQ_IMMEDIATE})
    EXPECT_EQ(zg::setsockopt_kind(option), CallKind::Setup) << option;
}

}  // namespace
