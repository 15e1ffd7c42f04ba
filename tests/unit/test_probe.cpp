// SPDX-License-Identifier: MIT
// core/probe: whether a thread is inside a call on a socket, from its
// announcement and what the kernel says it does.  Real threads, really
// asleep in poll(2), nanosleep(2) or a futex, or really running.
#include <elf.h>
#include <link.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "core/probe.h"
#include "core/threads.h"
#include "support.h"

namespace {

int64_t mono_us() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

// A thread that announces `handle` (as a wrapper does) and then does what
// `body` says until told to stop.
class Subject {
 public:
  enum Body { PollFd, Sleep, Spin, Exit };

  Subject(void* handle, Body body, int fd = -1) : handle_(handle), body_(body), fd_(fd) {
    stop_fd_ = eventfd(0, EFD_CLOEXEC);
    t_ = std::thread([this] { run(); });
    while (!ready_.load()) usleep(100);
  }
  ~Subject() {
    stop_.store(true);
    uint64_t one = 1;
    ssize_t n = write(stop_fd_, &one, sizeof one);
    (void)n;
    t_.join();
    close(stop_fd_);
  }
  uint64_t serial() const { return serial_; }
  pid_t tid() const { return tid_; }

 private:
  void run() {
    zg::ThreadRecord* rec = zg::thread_self();
    serial_ = rec->serial.load();
    tid_ = rec->tid;
    zg::tls_hot.cur.store(handle_);
    ready_.store(true);
    if (body_ == PollFd) {
      struct pollfd pfd[2] = {{stop_fd_, POLLIN, 0}, {fd_, POLLIN, 0}};
      poll(pfd, 2, 20000);
    } else if (body_ == Sleep) {
      while (!stop_.load()) usleep(20000);
    } else if (body_ == Spin) {
      volatile uint64_t x = 0;
      while (!stop_.load()) x = x + 1;
    }
  }

  void* handle_;
  Body body_;
  int fd_;
  int stop_fd_ = -1;
  std::atomic<bool> ready_{false}, stop_{false};
  uint64_t serial_ = 0;
  pid_t tid_ = 0;
  std::thread t_;
};

int g_sock_a, g_sock_b;  // their addresses stand for two socket handles

// The subject's poll(2) is called from this program's code: let that code
// stand for libzmq's (as if the subject slept in a call on a socket), or not
// (a poll of the program's own).
struct CodeOfThisProgramIsLibzmq {
  CodeOfThisProgramIsLibzmq() {
    dl_iterate_phdr(
        [](struct dl_phdr_info* info, size_t, void*) {
          for (int i = 0; i < info->dlpi_phnum; i++) {
            const auto& ph = info->dlpi_phdr[i];
            if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
            uintptr_t lo = info->dlpi_addr + ph.p_vaddr, hi = lo + ph.p_memsz;
            auto here = reinterpret_cast<uintptr_t>(&zgunit::asleep_in);  // code of this program
            if (here >= lo && here < hi) zgunit::pretend_libzmq(lo, hi);
          }
          return 0;
        },
        nullptr);
  }
  ~CodeOfThisProgramIsLibzmq() { zgunit::pretend_libzmq(0, 0); }
};

TEST(Probe, ParsesTheKernelsLines) {
  zg::SyscallLine l;
  ASSERT_TRUE(zg::parse_syscall_line("running\n", &l));
  EXPECT_TRUE(l.running);
  ASSERT_TRUE(zg::parse_syscall_line("-1 0x7ffc8a0 0x7f01234\n", &l));
  EXPECT_FALSE(l.running);
  EXPECT_EQ(l.nr, -1);
  ASSERT_TRUE(zg::parse_syscall_line(
      "7 0x7f5e3a7fdc70 0x1 0xffffffffffffffff 0x0 0x0 0x0 0x7f5e3a7fdc48 0x7f5e3b9a3f6d\n", &l));
  EXPECT_EQ(l.nr, 7);
  EXPECT_EQ(l.args[0], 0x7f5e3a7fdc70ul);
  EXPECT_EQ(l.args[1], 1ul);
  EXPECT_EQ(l.args[2], ~0ul);
  EXPECT_EQ(l.sp, 0x7f5e3a7fdc48ul);
  EXPECT_FALSE(zg::parse_syscall_line("", &l));
  EXPECT_FALSE(zg::parse_syscall_line("7 0x1 0x2", &l)) << "a cut line is not an answer";
  EXPECT_FALSE(zg::parse_syscall_line("garbage", &l));
}

// Not in the sanitizer builds (deselected there, as tests/lib/guard_plugin.py
// deselects Python tests): the sanitizer's poll interceptor makes the call,
// so the sleeping frame is in its runtime, not in this program's code that
// stands in for libzmq.  The plain build runs it.
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
TEST(Probe, AsleepInPollOnTheSocketsFdIsInside) {
  CodeOfThisProgramIsLibzmq pretend;
  int fd = eventfd(0, EFD_CLOEXEC);
  Subject s(&g_sock_a, Subject::PollFd, fd);
  ASSERT_TRUE(zgunit::asleep_in(s.tid(), -1));
  EXPECT_EQ(zg::probe_inside(s.serial(), &g_sock_a, fd, false), zg::Inside::Yes);
  EXPECT_EQ(zg::probe_inside(s.serial(), &g_sock_a, fd, true), zg::Inside::Yes);
  // Another socket's fd, or another socket announced: not inside.
  int other = eventfd(0, EFD_CLOEXEC);
  EXPECT_EQ(zg::probe_inside(s.serial(), &g_sock_a, other, true), zg::Inside::No);
  EXPECT_EQ(zg::probe_inside(s.serial(), &g_sock_b, fd, true), zg::Inside::No);
  // Without the socket's fd a poll says nothing.
  EXPECT_EQ(zg::probe_inside(s.serial(), &g_sock_a, -1, true), zg::Inside::Unknown);
  close(other);
  close(fd);
}
#endif

TEST(Probe, ItsOwnPollOnTheSocketsFdIsNotACall) {
  // An event loop of the program's that watches ZMQ_FD (as libzmq's docs
  // describe): the poll is not libzmq's.
  int fd = eventfd(0, EFD_CLOEXEC);
  Subject s(&g_sock_a, Subject::PollFd, fd);
  ASSERT_TRUE(zgunit::asleep_in(s.tid(), -1));
  EXPECT_EQ(zg::probe_inside(s.serial(), &g_sock_a, fd, true), zg::Inside::No);
  close(fd);
}

TEST(Probe, AsleepElsewhereIsNotInside) {
  int fd = eventfd(0, EFD_CLOEXEC);
  Subject s(&g_sock_a, Subject::Sleep);
  ASSERT_TRUE(zgunit::asleep_in(s.tid(), -1));
  EXPECT_EQ(zg::probe_inside(s.serial(), &g_sock_a, fd, true), zg::Inside::No);
  close(fd);
}

TEST(Probe, RunningIsWatchedThenNotInside) {
  int fd = eventfd(0, EFD_CLOEXEC);
  Subject s(&g_sock_a, Subject::Spin);
  EXPECT_EQ(zg::probe_inside(s.serial(), &g_sock_a, fd, false), zg::Inside::Unknown)
      << "without waiting, a running thread is not known";
  int64_t t0 = mono_us();
  zg::Inside r = zg::probe_inside(s.serial(), &g_sock_a, fd, true);
  int64_t took = mono_us() - t0;
  // It runs for the whole CPU budget without sleeping: back in its own code.
  // (On a machine too loaded to give it the budget within the cap: Unknown.)
  EXPECT_NE(r, zg::Inside::Yes);
  if (r == zg::Inside::No) {
    EXPECT_GE(took, zg::kProbeCpuBudgetNs / 1000) << "answered before it ran the budget";
  }
  close(fd);
}

TEST(Probe, ExitedOrUnknownThreadIsNotInside) {
  uint64_t serial = 0;
  std::thread t([&serial] {
    serial = zg::thread_self()->serial.load();
    zg::tls_hot.cur.store(&g_sock_a);
  });
  t.join();
  EXPECT_EQ(zg::probe_inside(serial, &g_sock_a, 0, true), zg::Inside::No);
  EXPECT_EQ(zg::probe_inside(0, &g_sock_a, 0, true), zg::Inside::No);
  EXPECT_EQ(zg::probe_inside(~0ull, &g_sock_a, 0, true), zg::Inside::No);
}

TEST(Probe, BypassPutsBackTheEnclosingAnnouncement) {
  zg::thread_self();
  zg::tls_hot.cur.store(&g_sock_a);
  {
    zg::Bypass b;
    zg::tls_hot.cur.store(&g_sock_b);  // a nested call's wrapper
  }
  EXPECT_EQ(zg::tls_hot.cur.load(), &g_sock_a);
}

TEST(Probe, BarrierKeepsErrno) {
  errno = 1234;
  zg::process_barrier();
  EXPECT_EQ(errno, 1234);
}

}  // namespace
