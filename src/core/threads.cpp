// SPDX-License-Identifier: MIT
#include "core/threads.h"

#include <utility>

#include "core/registry.h"
#include "core/hooks.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <new>

namespace zg {

namespace {
template <size_t... I>
constexpr HotTls initial_hot(std::index_sequence<I...>) {
  return HotTls{0, {nullptr}, {((void)I, &g_registry_empty)...}, {((void)I, &g_registry_empty)...}};
}
}  // namespace
__thread HotTls tls_hot ZG_TLS = initial_hot(std::make_index_sequence<kHotSlots>());
__thread ThreadRecord* tls_rec ZG_TLS = nullptr;
__thread int tls_bypass ZG_TLS = 0;

namespace {

pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
ThreadRecord* g_all = nullptr;
ThreadRecord* g_free = nullptr;
std::atomic<uint64_t> g_next_serial{1};
pthread_key_t g_key;
pthread_once_t g_key_once = PTHREAD_ONCE_INIT;

void on_thread_exit(void* p) {
  auto* rec = static_cast<ThreadRecord*>(p);
  hook_thread_exit(rec->serial.load(std::memory_order_relaxed));
  pthread_mutex_lock(&g_lock);
  rec->alive.store(false, std::memory_order_release);
  // The record goes back to the pool with its serial cleared; sockets that
  // name it as owner compare serials, so they see an exited owner.
  rec->serial.store(0, std::memory_order_release);
  rec->next_free = g_free;
  g_free = rec;
  pthread_mutex_unlock(&g_lock);
  tls_rec = nullptr;
  tls_hot.me = 0;
}

void make_key() { pthread_key_create(&g_key, on_thread_exit); }

}  // namespace

void thread_name_of(pid_t tid, char* out, size_t len) {
  out[0] = 0;
  if (tls_rec && tls_rec->tid == tid && len >= 16) {
    // Our own name: one prctl instead of opening /proc.
    if (prctl(PR_GET_NAME, out, 0, 0, 0) == 0) {
      out[15] = 0;
      return;
    }
  }
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d/comm", (int)tid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read(fd, out, len - 1);
  close(fd);
  if (n <= 0) {
    out[0] = 0;
    return;
  }
  if (out[n - 1] == '\n') n--;
  out[n] = 0;
}

ThreadRecord* thread_self() {
  if (tls_rec) return tls_rec;
  pthread_once(&g_key_once, make_key);
  pthread_mutex_lock(&g_lock);
  ThreadRecord* rec = g_free;
  if (rec) {
    g_free = rec->next_free;
  } else {
    rec = new (std::nothrow) ThreadRecord;
    if (!rec) {
      pthread_mutex_unlock(&g_lock);
      return nullptr;
    }
    rec->next = g_all;
    g_all = rec;
  }
  rec->tid = static_cast<pid_t>(syscall(SYS_gettid));
  rec->pthread = pthread_self();
  rec->name[0] = 0;
  rec->hot = &tls_hot;
  rec->serial.store(g_next_serial.fetch_add(1), std::memory_order_release);
  rec->alive.store(true, std::memory_order_release);
  pthread_mutex_unlock(&g_lock);
  // The exit handler first: a thread cancelled from here on (opening a
  // file is a cancellation point) still gives its record back.  With
  // tls_rec set, the name comes from prctl, not /proc.
  pthread_setspecific(g_key, rec);
  tls_rec = rec;
  thread_name_of(rec->tid, rec->name, sizeof rec->name);
  if (tls_bypass == 0) tls_hot.me = rec->serial.load(std::memory_order_relaxed);
  return rec;
}

bool thread_alive(uint64_t serial) {
  if (serial == 0) return false;
  bool alive = false;
  pthread_mutex_lock(&g_lock);
  for (ThreadRecord* r = g_all; r; r = r->next)
    if (r->serial.load(std::memory_order_relaxed) == serial) {
      alive = r->alive.load(std::memory_order_relaxed);
      break;
    }
  pthread_mutex_unlock(&g_lock);
  return alive;
}

bool thread_current_socket(uint64_t serial, void** cur, pid_t* tid) {
  if (serial == 0) return false;
  bool alive = false;
  // Under the lock, a record still marked alive belongs to a thread that
  // has not run its exit handler, so its thread-local block is still there.
  pthread_mutex_lock(&g_lock);
  for (ThreadRecord* r = g_all; r; r = r->next)
    if (r->serial.load(std::memory_order_relaxed) == serial) {
      alive = r->alive.load(std::memory_order_relaxed) && r->hot;
      if (alive) {
        *cur = r->hot->cur.load(std::memory_order_relaxed);
        *tid = r->tid;
      }
      break;
    }
  pthread_mutex_unlock(&g_lock);
  return alive;
}

void threads_for_each(void (*fn)(ThreadRecord*, void*), void* ctx) {
  pthread_mutex_lock(&g_lock);
  for (ThreadRecord* r = g_all; r; r = r->next)
    if (r->alive.load(std::memory_order_relaxed)) fn(r, ctx);
  pthread_mutex_unlock(&g_lock);
}

void threads_fork_prepare() { pthread_mutex_lock(&g_lock); }
void threads_fork_parent() { pthread_mutex_unlock(&g_lock); }

void threads_after_fork_child() {
  // The lock was taken in prepare by this very thread; make it fresh rather
  // than unlock, so the child never inherits a half-held mutex.
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  g_lock = fresh;
  for (ThreadRecord* r = g_all; r; r = r->next) {
    if (r == tls_rec) continue;
    if (r->alive.load(std::memory_order_relaxed)) {
      r->alive.store(false, std::memory_order_relaxed);
      r->serial.store(0, std::memory_order_relaxed);
      r->next_free = g_free;
      g_free = r;
    }
  }
  if (tls_rec) {
    // A new serial: sockets this thread owned in the parent are not its own
    // in the child (they are inherited), so they leave the fast path.
    tls_rec->serial.store(g_next_serial.fetch_add(1), std::memory_order_relaxed);
    tls_rec->tid = static_cast<pid_t>(syscall(SYS_gettid));
    tls_rec->pthread = pthread_self();
    if (tls_bypass == 0) tls_hot.me = tls_rec->serial.load(std::memory_order_relaxed);
  }
}

}  // namespace zg
