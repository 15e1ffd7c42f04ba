// SPDX-License-Identifier: MIT
#include "supervise.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

namespace zgtool {
namespace {

const int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM};

volatile sig_atomic_t g_child = 0;

void forward(int sig, siginfo_t* info, void*) {
  // The terminal signals its whole foreground process group, the child
  // included (Ctrl-C, Ctrl-\, a hang-up): passing it on would deliver it
  // twice.  A signal the child sends its parent is not for the child.
  if (info && info->si_code == SI_KERNEL) return;
  if (info && info->si_code <= 0 && info->si_pid == g_child) return;
  int saved = errno;
  if (g_child > 0) kill(static_cast<pid_t>(g_child), sig);
  errno = saved;
}

}  // namespace

ChildEnd run_child(char** argv, void (*started)(long pid, void* ctx), void* ctx) {
  ChildEnd end;
  sigset_t all, old;
  sigfillset(&all);
  // No handler may run before the child's pid is known, and the child must
  // start with the signal mask and dispositions the wrapper was given.
  sigprocmask(SIG_BLOCK, &all, &old);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    end.code = errno;
    sigprocmask(SIG_SETMASK, &old, nullptr);
    return end;
  }
  if (pid == 0) {
    // A wrapper killed outright (kill -9 by a CI runner that started it)
    // takes the program along, as killing the program itself would have.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(128 + SIGKILL);  // it died before the line above
    sigprocmask(SIG_SETMASK, &old, nullptr);
    execvp(argv[0], argv);
    int e = errno;
    fprintf(stderr, "zmq-guard: cannot run '%s': %s\n", argv[0], strerror(e));
    _exit(e == ENOENT ? 127 : 126);
  }
  g_child = pid;
  end.started = true;
  for (int sig : kForwarded) {
    struct sigaction cur;
    // A signal the wrapper was told to ignore (nohup, a background job of a
    // script) stays ignored, here as in the child.
    if (sigaction(sig, nullptr, &cur) == 0 && cur.sa_handler == SIG_IGN) continue;
    struct sigaction sa = {};
    sa.sa_sigaction = forward;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, nullptr);
  }
  sigprocmask(SIG_SETMASK, &old, nullptr);
  if (started) started(pid, ctx);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      status = 0;
      break;
    }
  }
  g_child = 0;
  for (int sig : kForwarded) {
    struct sigaction cur;
    if (sigaction(sig, nullptr, &cur) == 0 && cur.sa_handler != SIG_IGN) signal(sig, SIG_DFL);
  }
  if (WIFSIGNALED(status)) {
    end.signaled = true;
    end.code = WTERMSIG(status);
  } else {
    end.code = WEXITSTATUS(status);
  }
  return end;
}

void exit_like(const ChildEnd& end, int status_override) {
  fflush(stdout);
  fflush(stderr);
  if (status_override >= 0) exit(status_override);
  if (!end.signaled) exit(end.code);
  // Die the same way, so that a shell, a test runner or a CI step sees what
  // it would have seen without the wrapper; the core file, if any, is the
  // program's.
  struct rlimit none = {0, 0};
  setrlimit(RLIMIT_CORE, &none);
  signal(end.code, SIG_DFL);
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, end.code);
  sigprocmask(SIG_UNBLOCK, &one, nullptr);
  raise(end.code);
  exit(128 + end.code);  // a signal whose default is not to terminate
}

namespace {

// Held locked (flock) for the wrapper's life in <session>/.lock: a session
// whose lock can be taken belongs to a wrapper that is gone (killed
// outright, so it could not remove it), and the next wrapper removes it.
// flock, not a pid in the name: a pid may be reused, or belong to another
// pid namespace sharing the directory.
int g_session_lock = -1;

void sweep_stale(const std::string& base) {
  DIR* d = opendir(base.c_str());
  if (!d) return;
  while (struct dirent* e = readdir(d)) {
    if (strncmp(e->d_name, "zmq-guard.", 10) != 0) continue;
    std::string dir = base + "/" + e->d_name;
    struct stat st;
    if (lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid()) continue;
    int fd = open((dir + "/.lock").c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) continue;  // not a session of this kind: left alone
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) remove_session(dir);
    close(fd);
  }
  closedir(d);
}

}  // namespace

std::string make_session(std::string* error) {
  const char* tmp = getenv("TMPDIR");
  std::string base = tmp && tmp[0] == '/' ? tmp : "/tmp";
  for (const std::string& dir : {base, std::string("/tmp")}) {
    sweep_stale(dir);
    std::string templ = dir + "/zmq-guard.XXXXXX";
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back(0);
    if (mkdtemp(buf.data())) {
      std::string session = buf.data();
      // Locked before it is named .lock: another wrapper's sweep that
      // opened a .lock not yet locked would take it for a dead wrapper's
      // and remove this live session.  Until the rename the directory has
      // no .lock, and a sweep leaves it alone.
      std::string fresh = session + "/.lock.new";
      g_session_lock = open(fresh.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (g_session_lock >= 0) {
        flock(g_session_lock, LOCK_EX);
        rename(fresh.c_str(), (session + "/.lock").c_str());
      }
      return session;
    }
    *error = "cannot create a session directory in " + dir + ": " + strerror(errno);
  }
  return "";
}

void remove_session(const std::string& dir) {
  if (DIR* d = opendir(dir.c_str())) {
    while (struct dirent* e = readdir(d))
      if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
  }
  rmdir(dir.c_str());
}

void keep_session(const std::string& dir) {
  // Without its lock file a session is not swept as stale: it is the
  // user's now.
  unlink((dir + "/.lock").c_str());
}

void pass_session_up(const std::string& dir, const std::string& outer) {
  DIR* d = opendir(dir.c_str());
  if (!d) return;
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;  // ".", "..", the wrapper's lock
    int in = openat(dirfd(d), e->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (in < 0) continue;
    std::string to = outer + "/" + e->d_name;
    int out = open(to.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    char buf[65536];
    ssize_t n;
    while (out >= 0 && (n = read(in, buf, sizeof buf)) > 0)
      if (write(out, buf, static_cast<size_t>(n)) != n) break;
    if (out >= 0) close(out);
    close(in);
  }
  closedir(d);
}

}  // namespace zgtool
