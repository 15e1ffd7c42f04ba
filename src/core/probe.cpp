// SPDX-License-Identifier: MIT
#include "core/probe.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

#include "core/clock.h"
#include "core/api.h"
#include "core/threads.h"

namespace zg {

namespace {

std::atomic<int> g_barrier{0};  // 0 unknown, 1 membarrier registered, 2 not available

// The CPU time a thread of this process has used, from its tid (the
// kernel's per-thread clock id, as glibc's pthread_getcpuclockid makes it,
// without touching a pthread_t that may be gone).  -1 if it has exited.
int64_t thread_cpu_ns(pid_t tid) {
  clockid_t id = static_cast<clockid_t>((~static_cast<unsigned>(tid) << 3) | 6);
  struct timespec ts;
  if (clock_gettime(id, &ts) != 0) return -1;
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

bool read_syscall_line(pid_t tid, char* buf, size_t len) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d/syscall", static_cast<int>(tid));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = read(fd, buf, len - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = 0;
  return true;
}


// Whether the poll(2) a thread sleeps in was called from libzmq (its
// mailbox's wait) rather than from the program's own code (an event loop
// watching ZMQ_FD, as libzmq's docs describe).  The first word above the
// stack pointer that lies in executable code is the return address of the
// poll wrapper's frame (small, and all written by it).  True when that is
// libzmq's, or when it cannot be told (then the fd alone decides).
bool poll_called_from_libzmq(unsigned long sp) {
  constexpr int kWords = 32;
  unsigned long words[kWords];
  if (!sp || !read_memory(sp, words, sizeof words)) return true;
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return true;
  int first = kWords;  // index of the first word in code
  char buf[4096];
  size_t have = 0;
  for (;;) {
    ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
    if (n <= 0) break;
    have += static_cast<size_t>(n);
    buf[have] = 0;
    char* line = buf;
    for (char* nl; (nl = strchr(line, '\n')); line = nl + 1) {
      *nl = 0;
      // "lo-hi perms ..."
      char* dash = strchr(line, '-');
      char* sp1 = dash ? strchr(dash, ' ') : nullptr;
      if (!sp1 || sp1[3] != 'x') continue;
      unsigned long lo = strtoul(line, nullptr, 16), hi = strtoul(dash + 1, nullptr, 16);
      for (int i = 0; i < first; i++)
        if (words[i] >= lo && words[i] < hi) first = i;
    }
    have = strlen(line);
    memmove(buf, line, have);
  }
  close(fd);
  if (first == kWords) return true;
  return pc_in_libzmq(reinterpret_cast<const void*>(words[first]));
}

bool is_poll(long nr) {
#ifdef SYS_poll
  if (nr == SYS_poll) return true;
#endif
  return nr == SYS_ppoll;
}

// Yes if the poll set at addr (nfds entries) watches fd; Unknown if it
// cannot be read.
Inside poll_watches(unsigned long addr, unsigned long nfds, int fd) {
  struct pollfd chunk[32];
  for (unsigned long done = 0; done < nfds && done < 4096;) {
    unsigned long n = nfds - done < 32 ? nfds - done : 32;
    if (!read_memory(addr + done * sizeof(struct pollfd), chunk, n * sizeof(struct pollfd))) return Inside::Unknown;
    for (unsigned long i = 0; i < n; i++)
      if (chunk[i].fd == fd) return Inside::Yes;
    done += n;
  }
  return Inside::No;
}

const char* parse_number(const char* p, long* out) {
  while (*p == ' ') p++;
  char* end = nullptr;
  errno = 0;
  long v = strtol(p, &end, 10);
  if (end == p || errno) return nullptr;
  *out = v;
  return end;
}

const char* parse_hex(const char* p, unsigned long* out) {
  while (*p == ' ') p++;
  char* end = nullptr;
  errno = 0;
  unsigned long v = strtoul(p, &end, 16);  // takes the "0x" the kernel prints
  if (end == p || errno) return nullptr;
  *out = v;
  return end;
}

}  // namespace

// Copies memory of this process that another thread may be changing or
// giving back (its stack): a failed read is an answer, never a fault.
bool read_memory(unsigned long addr, void* out, size_t len) {
  struct iovec local = {out, len};
  struct iovec remote = {reinterpret_cast<void*>(addr), len};
  if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == static_cast<ssize_t>(len)) return true;
  int fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = pread(fd, out, len, static_cast<off_t>(addr));
  close(fd);
  return n == static_cast<ssize_t>(len);
}

bool process_barrier_exact() {
  int s = g_barrier.load(std::memory_order_acquire);
  if (s == 0) {
    int e = errno;
    s = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0 ? 1 : 2;
    errno = e;
    g_barrier.store(s, std::memory_order_release);
  }
  return s == 1;
}

void process_barrier() {
  int e = errno;
  if (!process_barrier_exact() || syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0) {
    // No membarrier: our own fence, and time for the others' store buffers
    // to drain (they do within nanoseconds; this is not a proof, which is
    // why serialize mode's bias requires the real barrier).
    std::atomic_thread_fence(std::memory_order_seq_cst);
    sched_yield();
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
  errno = e;
}

bool parse_syscall_line(const char* text, SyscallLine* out) {
  *out = SyscallLine();
  if (!text) return false;
  while (*text == ' ') text++;
  if (text[0] == 'r') {  // "running"
    out->running = text[1] == 'u';
    return out->running;
  }
  const char* p = parse_number(text, &out->nr);
  if (!p) return false;
  if (out->nr < 0) return true;  // asleep outside a system call: "-1 sp pc"
  for (int i = 0; i < 6; i++) {
    p = parse_hex(p, &out->args[i]);
    if (!p) return false;
  }
  if (!parse_hex(p, &out->sp)) out->sp = 0;  // older kernels end the line here
  return true;
}

Inside probe_inside(uint64_t serial, void* handle, int zfd, bool wait) {
  int saved = errno;
  Inside result = Inside::Unknown;
  int64_t start_wall = -1, start_cpu = -1;
  for (;;) {
    void* cur = nullptr;
    pid_t tid = 0;
    if (!thread_current_socket(serial, &cur, &tid)) {
      result = Inside::No;  // exited
      break;
    }
    if (cur != handle) {
      result = Inside::No;  // its latest call is on another socket
      break;
    }
    char text[320];
    SyscallLine line;
    if (!read_syscall_line(tid, text, sizeof text) || !parse_syscall_line(text, &line)) {
      result = Inside::Unknown;  // no /proc (or the thread just exited)
      break;
    }
    if (!line.running && line.nr >= 0) {
      if (!is_poll(line.nr)) result = Inside::No;
      else if (zfd < 0) result = Inside::Unknown;
      else result = poll_watches(line.args[0], line.args[1], zfd);
      if (result == Inside::Yes && !poll_called_from_libzmq(line.sp)) result = Inside::No;
      break;
    }
    // Running, or asleep outside a system call (a page fault): it may be
    // inside a short call.  Watch it, if we may.
    if (!wait) break;
    int64_t now = mono_ns();
    int64_t cpu = thread_cpu_ns(tid);
    if (start_wall < 0) {
      start_wall = now;
      start_cpu = cpu;
    } else if (cpu >= 0 && start_cpu >= 0 && cpu - start_cpu > kProbeCpuBudgetNs) {
      result = Inside::No;  // ran on for longer than any call on a socket
      break;
    } else if (now - start_wall > kProbeWallCapNs) {
      break;  // it hardly ran at all in that time: Unknown
    }
    struct timespec pause = {0, 50000};
    nanosleep(&pause, nullptr);
  }
  errno = saved;
  return result;
}

}  // namespace zg
