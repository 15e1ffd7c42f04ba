// SPDX-License-Identifier: MIT
#include "support.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "core/api.h"
#include "core/probe.h"
#include "report/symbolize.h"

// The interposition layer's side of core/api.h.  The unit tests never call
// into libzmq: an empty table (every function null), and no pc is libzmq's
// unless a test says which code stands for it (zgunit::pretend_libzmq).
namespace zgunit {
uintptr_t g_libzmq_lo = 0, g_libzmq_hi = 0;
void pretend_libzmq(uintptr_t lo, uintptr_t hi) {
  g_libzmq_lo = lo;
  g_libzmq_hi = hi;
}
}  // namespace zgunit

namespace zg {
static RealTable g_fake_real;
RealTable* real_for_caller(const void*) { return &g_fake_real; }
bool pc_in_libzmq(const void* pc) {
  auto a = reinterpret_cast<uintptr_t>(pc);
  return a >= zgunit::g_libzmq_lo && a < zgunit::g_libzmq_hi;
}
}  // namespace zg

// Kept out of line and followed by code so it is a real frame, never a tail
// call.
__attribute__((noinline)) void zgunit_capture_site(zg::Stack* out, int* line) {
  *line = __LINE__ + 1;
  zg::stack_capture(out, 32);
  asm volatile("" ::: "memory");
}

namespace zgunit {

zg::Options default_options() {
  zg::Options o;
  zg::options_defaults(&o);
  return o;
}

void use_default_options() { zg::options_set_for_test(default_options()); }

void capture_here(zg::Stack* out, int* line) {
  zg::Stack raw;
  zgunit_capture_site(&raw, line);
  // In the unit test binary the core is part of the executable, so
  // stack_capture keeps its own frame; start at the test's function.
  int first = -1;
  for (int i = 0; i < raw.n && first < 0; i++) {
    zg::Frame f;
    zg::symbolize(raw.pc[i], true, &f);
    if (strstr(f.function, "zgunit_capture_site")) first = i;
  }
  ASSERT_GE(first, 0) << "the capture site is not among " << raw.n << " captured frames";
  out->n = 0;
  for (int i = first; i < raw.n; i++) out->pc[out->n++] = raw.pc[i];
}

StderrCapture::StderrCapture() {
  fflush(stderr);
  FILE* tmp = tmpfile();
  fd_ = dup(fileno(tmp));
  fclose(tmp);
  saved_ = dup(2);
  dup2(fd_, 2);
}

StderrCapture::~StderrCapture() { stop(); }

std::string StderrCapture::stop() {
  if (saved_ < 0) return {};
  fflush(stderr);
  dup2(saved_, 2);
  close(saved_);
  saved_ = -1;
  std::string out;
  char buf[4096];
  ssize_t n;
  off_t off = 0;
  while ((n = pread(fd_, buf, sizeof buf, off)) > 0) {
    out.append(buf, n);
    off += n;
  }
  close(fd_);
  fd_ = -1;
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  size_t p = 0;
  while (p < text.size()) {
    size_t e = text.find('\n', p);
    if (e == std::string::npos) e = text.size();
    if (e > p) out.push_back(text.substr(p, e - p));
    p = e + 1;
  }
  return out;
}

TempDir::TempDir() {
  char tmpl[] = "/tmp/zmq-guard-unit.XXXXXX";
  char* d = mkdtemp(tmpl);
  if (d) dir_ = d;
}

TempDir::~TempDir() {
  if (dir_.empty()) return;
  if (DIR* d = opendir(dir_.c_str())) {
    while (dirent* e = readdir(d)) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      std::string p = dir_ + "/" + e->d_name;
      if (unlink(p.c_str()) != 0) rmdir(p.c_str());
    }
    closedir(d);
  }
  rmdir(dir_.c_str());
}

std::string TempDir::write(const char* name, const std::string& content) const {
  std::string p = path(name);
  FILE* f = fopen(p.c_str(), "w");
  if (f) {
    fwrite(content.data(), 1, content.size(), f);
    fclose(f);
  }
  return p;
}

std::string run_command(const std::string& cmd, int* status) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) {
    *status = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = pclose(p);
  *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

bool asleep_in(pid_t tid, long nr) {
  for (int i = 0; i < 5000; i++) {
    char path[64], text[320] = {};
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    FILE* f = fopen(path, "r");
    if (f) {
      size_t n = fread(text, 1, sizeof text - 1, f);
      fclose(f);
      text[n] = 0;
      zg::SyscallLine line;
      if (zg::parse_syscall_line(text, &line) && !line.running && line.nr >= 0 && (nr < 0 || line.nr == nr))
        return true;
    }
    usleep(1000);
  }
  return false;
}

}  // namespace zgunit
