#include "report/sink.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/options.h"

namespace zg {
namespace {

pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
// The report being written's files, open only between sink_lock and
// sink_unlock.  The guard holds no descriptor of its own between reports:
// a program that closes what it inherited (a daemon's clean-up) and opens
// its own files must never find a report written into one of them, and a
// process that reports nothing (most of a test suite's) creates no file.
int g_text_fd = 2;
int g_json_fd = -1;
int g_session_fd = -1;  // the wrapper's <session>/<pid>.jsonl
// Whether this process has said that a path cannot be opened: once each.
bool g_said_log = false, g_said_json = false, g_said_session = false;
// The lock holder's cancellation state, put back by sink_unlock: open and
// write are cancellation points, and a thread cancelled holding the lock
// would keep it, and every later report would wait for it.
int g_cancel_state = PTHREAD_CANCEL_ENABLE;

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

int open_sink(const char* pattern, const char* what, bool* said) {
  char path[600];
  expand_path(pattern, getpid(), path, sizeof path);
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0 && !*said) {
    *said = true;
    char line[800];
    int n = snprintf(line, sizeof line, "zmq-guard: cannot open %s '%s': %s; %s\n", what, path,
                     strerror(errno), strcmp(what, "log_path") == 0 ? "reports go to stderr" : "no JSON is written");
    write_all(2, line, n > (int)sizeof line - 1 ? sizeof line - 1 : n);
  }
  return fd;
}

// The wrapper collects every process's findings in its session directory,
// one file per process, so that a finding reaches the user whatever the
// process did with its stderr (a test runner's capture, a kernel's pipe,
// /dev/null).  Created private (the directory is the wrapper's, mode 0700).
int open_session() {
  char path[600];
  int n = snprintf(path, sizeof path, "%s/%d.jsonl", options_session(), static_cast<int>(getpid()));
  if (n < 0 || n >= static_cast<int>(sizeof path)) return -1;
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0 && !g_said_session) {
    g_said_session = true;
    char line[800];
    int k = snprintf(line, sizeof line,
                     "zmq-guard: cannot write to the zmq-guard wrapper's session '%s': %s; this process's findings "
                     "are missing from the run's summary\n",
                     path, strerror(errno));
    write_all(2, line, k > (int)sizeof line - 1 ? sizeof line - 1 : k);
  }
  return fd;
}

// Opens the text sink, and the JSON one when what is written is a finding
// (a notice is text only: it must not create the JSON file).
void lock_and_open(bool json) {
  int cancel_state;
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
  pthread_mutex_lock(&g_mu);
  g_cancel_state = cancel_state;
  int saved = errno;
  const Options& o = options();
  g_text_fd = 2;
  g_json_fd = -1;
  if (o.log_path[0]) {
    int fd = open_sink(o.log_path, "log_path", &g_said_log);
    if (fd >= 0) g_text_fd = fd;
  }
  if (json && o.json_path[0]) g_json_fd = open_sink(o.json_path, "json_path", &g_said_json);
  if (json && options_session()[0]) g_session_fd = open_session();
  errno = saved;
}

}  // namespace

void sink_lock() { lock_and_open(true); }

void sink_unlock() {
  int saved = errno;
  if (g_text_fd > 2) close(g_text_fd);
  if (g_json_fd >= 0) close(g_json_fd);
  if (g_session_fd >= 0) close(g_session_fd);
  g_text_fd = 2;
  g_json_fd = -1;
  g_session_fd = -1;
  const int cancel_state = g_cancel_state;
  errno = saved;
  pthread_mutex_unlock(&g_mu);
  pthread_setcancelstate(cancel_state, nullptr);
}

void sink_write_text(const char* data, size_t len) { write_all(g_text_fd, data, len); }

void sink_write_json(const char* data, size_t len) {
  // One write per object, so parallel processes appending to one file never
  // interleave inside a line.
  if (g_json_fd >= 0) write_all(g_json_fd, data, len);
  if (g_session_fd >= 0) write_all(g_session_fd, data, len);
}

bool sink_has_json() { return g_json_fd >= 0 || g_session_fd >= 0; }

void sink_write_session(const char* data, size_t len) {
  if (g_session_fd >= 0) write_all(g_session_fd, data, len);
}

void sink_notice(const char* fmt, ...) {
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (n > (int)sizeof line - 2) n = sizeof line - 2;
  line[n++] = '\n';
  lock_and_open(false);
  write_all(g_text_fd, line, n);
  sink_unlock();
}

void sink_after_fork_child() {
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  g_mu = fresh;
  // A report the parent was writing is not the child's.
  g_text_fd = 2;
  g_json_fd = -1;
  g_session_fd = -1;
  // The child's own files (%p) may fail where the parent's did not.
  g_said_log = g_said_json = g_said_session = false;
}

}  // namespace zg
