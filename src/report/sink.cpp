#include "report/sink.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <atomic>

#include "core/options.h"

namespace zg {
namespace {

pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
std::atomic<int> g_state{0};  // 0 new, 1 opening, 2 ready
int g_text_fd = 2;
int g_json_fd = -1;
int g_pid_opened = 0;

void write_all(int fd, const char* p, size_t n) {
  int saved = errno;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      break;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  errno = saved;
}

int open_sink(const char* pattern, const char* what) {
  char path[600];
  expand_path(pattern, getpid(), path, sizeof path);
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    char line[800];
    int n = snprintf(line, sizeof line, "zmq-guard: cannot open %s '%s': %s; %s\n", what, path,
                     strerror(errno), strcmp(what, "log_path") == 0 ? "reports go to stderr" : "no JSON is written");
    write_all(2, line, n > (int)sizeof line - 1 ? sizeof line - 1 : n);
  }
  return fd;
}

void open_all() {
  const Options& o = options();
  g_text_fd = 2;
  g_json_fd = -1;
  if (o.log_path[0]) {
    int fd = open_sink(o.log_path, "log_path");
    if (fd >= 0) g_text_fd = fd;
  }
  if (o.json_path[0]) g_json_fd = open_sink(o.json_path, "json_path");
  g_pid_opened = getpid();
}

}  // namespace

void sink_init() {
  int expected = 0;
  if (g_state.compare_exchange_strong(expected, 1)) {
    open_all();
    g_state.store(2, std::memory_order_release);
    return;
  }
  while (g_state.load(std::memory_order_acquire) != 2) {
  }
}

void sink_lock() {
  sink_init();
  pthread_mutex_lock(&g_mu);
  // A forked child with %p in a path writes its own files.
  if (g_pid_opened != getpid()) {
    const Options& o = options();
    if ((o.log_path[0] && strstr(o.log_path, "%p")) || (o.json_path[0] && strstr(o.json_path, "%p"))) {
      if (g_text_fd > 2) close(g_text_fd);
      if (g_json_fd >= 0) close(g_json_fd);
      open_all();
    }
    g_pid_opened = getpid();
  }
}

void sink_unlock() { pthread_mutex_unlock(&g_mu); }

void sink_write_text(const char* data, size_t len) { write_all(g_text_fd, data, len); }

void sink_write_json(const char* data, size_t len) {
  if (g_json_fd < 0) return;
  // One write per object, so parallel processes appending to one file never
  // interleave inside a line.
  write_all(g_json_fd, data, len);
}

bool sink_has_json() { return g_json_fd >= 0; }
int sink_text_fd() { return g_text_fd; }

void sink_notice(const char* fmt, ...) {
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (n > (int)sizeof line - 2) n = sizeof line - 2;
  line[n++] = '\n';
  sink_lock();
  write_all(g_text_fd, line, n);
  sink_unlock();
}

void sink_after_fork_child() {
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  g_mu = fresh;
}

}  // namespace zg
