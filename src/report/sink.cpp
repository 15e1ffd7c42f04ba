// SPDX-License-Identifier: MIT
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
// Whether this process has said that a path cannot be opened or written:
// once each.  A path a write failed on is not tried again.
bool g_said_log = false, g_said_json = false, g_said_session = false;
bool g_failed_log = false, g_failed_json = false;
// The lock holder's cancellation state, put back by sink_unlock: open and
// write are cancellation points, and a thread cancelled holding the lock
// would keep it, and every later report would wait for it.
int g_cancel_state = PTHREAD_CANCEL_ENABLE;

// 0, or the error of a write that failed (ENOSPC from a full disk or
// /dev/full, EIO, EFBIG, EPIPE): the caller decides where the rest goes.
int write_all(int fd, const char* p, size_t n) {
  int saved = errno;
  int err = 0;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      err = w < 0 ? errno : ENOSPC;
      break;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  errno = saved;
  return err;
}

// Control bytes (a newline in a path or a value) as '?': a notice is one line.
void printable(char* p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (static_cast<unsigned char>(p[i]) < 0x20 || p[i] == 0x7f) p[i] = '?';
}

void say_once(bool* said, const char* verb, const char* what, const char* path, const char* why) {
  if (*said) return;
  *said = true;
  char line[800];
  int n = snprintf(line, sizeof line, "zmq-guard: cannot %s %s '%s': %s; %s\n", verb, what, path, why,
                   strcmp(what, "log_path") == 0 ? "reports go to stderr" : "no JSON is written");
  if (n > (int)sizeof line - 1) {
    n = sizeof line - 1;
    line[n - 1] = '\n';
  }
  printable(line, static_cast<size_t>(n) - 1);
  write_all(2, line, static_cast<size_t>(n));
}

int open_sink(const char* pattern, const char* what, bool* said, bool* failed) {
  if (*failed) return -1;
  char path[600];
  expand_path(pattern, getpid(), path, sizeof path);
  // O_NONBLOCK: a FIFO nobody reads would block the open (and the program's
  // thread in it) for ever; it fails with ENXIO instead.  Writes block again
  // afterwards, as they do on stderr.
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0644);
  if (fd < 0) {
    say_once(said, "open", what, path, strerror(errno));
    return -1;
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
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
    int fd = open_sink(o.log_path, "log_path", &g_said_log, &g_failed_log);
    if (fd >= 0) g_text_fd = fd;
  }
  if (json && o.json_path[0]) g_json_fd = open_sink(o.json_path, "json_path", &g_said_json, &g_failed_json);
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

// A report file that cannot take a write (a full disk, /dev/full) is given
// up for the rest of the process, said once; the text goes to stderr from
// that write on (what the file got before stays there).
static void write_failed(bool json, int e) {
  char path[600];
  expand_path(json ? options().json_path : options().log_path, getpid(), path, sizeof path);
  say_once(json ? &g_said_json : &g_said_log, "write", json ? "json_path" : "log_path", path, strerror(e));
  (json ? g_failed_json : g_failed_log) = true;
  int& fd = json ? g_json_fd : g_text_fd;
  close(fd);
  fd = json ? -1 : 2;
}

void sink_write_text(const char* data, size_t len) {
  int e = write_all(g_text_fd, data, len);
  if (!e || g_text_fd == 2) return;
  write_failed(false, e);
  write_all(2, data, len);
}

void sink_write_json(const char* data, size_t len) {
  // One write per object, so parallel processes appending to one file never
  // interleave inside a line.
  if (g_json_fd >= 0)
    if (int e = write_all(g_json_fd, data, len)) write_failed(true, e);
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
  printable(line, static_cast<size_t>(n));
  line[n++] = '\n';
  lock_and_open(false);
  sink_write_text(line, static_cast<size_t>(n));
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
  g_failed_log = g_failed_json = false;
}

}  // namespace zg
