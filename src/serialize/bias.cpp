// SPDX-License-Identifier: MIT
#include "serialize/bias.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/guard.h"
#include "core/probe.h"
#include "core/threads.h"
#include "serialize/wait.h"

namespace zg {

// The bias and the ownership that lets its holder take the owner path go
// together.
void ser_drop_bias(SerState* ss) {
  ss->b.bias.store(0, std::memory_order_relaxed);
  if (ss->st) ss->st->owner.store(kNoOwner, std::memory_order_relaxed);
}

// The bias is about to be given (turn held, by the thread that gets it):
// libzmq gets the wake-up timeouts (SerBias), the user's are kept.  False if
// that failed: then there is no bias, since a call that waits for good
// inside libzmq could not be waited out.
bool ser_set_wake_timeouts(SerState* ss) {
  SerBias* b = &ss->b;
  if (b->timeouts_set) return true;
  const int e = errno;
  int rcv = -1, snd = -1;
  bool ok = ser_sockopt_int(ss, ZMQ_RCVTIMEO, &rcv) == 0 && ser_sockopt_int(ss, ZMQ_SNDTIMEO, &snd) == 0 &&
            ser_sockopt_set_int(ss, ZMQ_RCVTIMEO, ser_wake_timeout(rcv)) == 0;
  if (ok && ser_sockopt_set_int(ss, ZMQ_SNDTIMEO, ser_wake_timeout(snd)) != 0) {
    ser_sockopt_set_int(ss, ZMQ_RCVTIMEO, rcv);
    ok = false;
  }
  if (ok) {
    b->rcvtimeo = rcv;
    b->sndtimeo = snd;
    b->timeouts_set = true;
  }
  errno = e;
  return ok;
}

// The socket is shared from now on (turn held): the user's timeouts again.
// If libzmq refuses them (a terminated context), the guard keeps them and
// goes on answering and using them (timeouts_set stays; ser_begin tries
// again later), rather than leave libzmq's wake-up timeouts in the user's
// place unnoticed.
void ser_restore_timeouts(SerState* ss) {
  SerBias* b = &ss->b;
  if (!b->timeouts_set) return;
  const int e = errno;
  b->wake_cut = 0;
  if (ser_sockopt_set_int(ss, ZMQ_RCVTIMEO, b->rcvtimeo) == 0 && ser_sockopt_set_int(ss, ZMQ_SNDTIMEO, b->sndtimeo) == 0)
    b->timeouts_set = false;
  errno = e;
}

// A thread other than the biased one takes the locked path (ss->mu held):
// the biased thread is stopped from starting a lock-free call, its call in
// flight is waited out (one that waits inside libzmq comes back within a
// wake-up period and wakes us), and what it left half done becomes
// reservations.
void ser_unbias(SerState* ss, uint64_t me) {
  uint64_t old = ss->b.bias.load(std::memory_order_relaxed);
  if (old == 0 || old == me) return;
  ss->revoking.store(old, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);  // before the bias is seen dropped (ser_turn_lock_slow)
  ser_drop_bias(ss);
  // Every thread passes a full barrier: a biased call that had not seen
  // bias == 0 has its busy mark visible now (it sets the mark before it
  // looks at the bias again).
  process_barrier();
  // Most calls are over in microseconds; one that waits inside libzmq
  // comes back within a wake-up period; a set-up call can take longer (a DNS
  // name in zmq_connect).  Polled, so the holder's path has nothing to do
  // for a revoker but clear its mark.
  for (int spins = 0; ss->b.busy.load(std::memory_order_acquire) != 0; spins++) {
    // A thread cancelled inside its call never clears its mark (unless it
    // calls on the socket again while it unwinds: ser_turn_lock_slow).
    if (!thread_alive(old)) break;
    if (spins < 50) {
      sched_yield();
    } else {
      struct timespec ts = {0, 50000};
      syscall(SYS_nanosleep, &ts, nullptr);  // the turn is held: not a cancellation point
    }
  }
  ss->revoking.store(0, std::memory_order_relaxed);
  ser_restore_timeouts(ss);
  // The reservations are what the sole user left, either way: a message
  // it began under the turn (the call that got the bias) and ended on its
  // own path leaves none (it held the socket's sends up for good).
  ss->send_res = (ss->b.send_flags & ZMQ_SNDMORE) ? old : 0;
  ss->b.send_flags = 0;
  int more = 0;
  if (ser_sockopt_int(ss, ZMQ_RCVMORE, &more) == 0) {
    ss->recv_res = more ? old : 0;
    ss->bias_last_more.store(more, std::memory_order_relaxed);
    ss->bias_last_thread.store(old, std::memory_order_relaxed);
  }
}


bool ser_bias_ok() { return process_barrier_exact(); }

int ser_biased_option(SerBias* b, void* const* real, void* s, int option, const void* in, void* out,
                      size_t* outlen, size_t inlen, bool set, bool* handled) {
  int* user = option == ZMQ_RCVTIMEO ? &b->rcvtimeo : &b->sndtimeo;
  *handled = false;
  if (!b->timeouts_set) return 0;  // libzmq has the user's own: let it answer
  if (set) {
    // What libzmq takes (options.cpp: an int, -1 or more); anything else
    // goes to libzmq as it came, which refuses it (EINVAL, or ETERM first
    // once the context ended) and keeps the wake-up timeout.
    int v = 0;
    if (!in || inlen != sizeof(int) || (memcpy(&v, in, sizeof v), v < -1)) return 0;
    int rc = socket_set_int_option(real, s, option, ser_wake_timeout(v));
    if (rc == 0) *user = v;
    *handled = true;
    return rc;
  }
  // libzmq answers (its checks, its errors: a length other than an int's is
  // EINVAL, a terminated context ETERM), then the user's value replaces
  // the wake-up one.  (A null pointer goes to libzmq as it came.)
  if (!out || !outlen) return 0;
  using getsockopt_fn = int (*)(void*, int, void*, size_t*);
  auto gs = real_fn<FN_zmq_getsockopt, getsockopt_fn>(real);
  if (!gs) return 0;
  int rc;
  {
    Bypass nested;
    rc = gs(s, option, out, outlen);
  }
  if (rc == 0) memcpy(out, user, sizeof(int));
  *handled = true;
  return rc;
}

void ser_biased_uncut(SerBias* b) {
  const int e = errno;
  // SerBias is the first member of SerState.
  ser_sockopt_set_int(reinterpret_cast<SerState*>(b), b->wake_cut, kSerWakeMs);
  b->wake_cut = 0;
  errno = e;
}

SerAgain ser_biased_again(SerBias* b, MsgDir dir, uint64_t self, int64_t* deadline_ns, const char* call) {
  const int e = errno;
  SerAgain again = SerAgain::No;
  b->wait_call = call;
  if (b->wake_cut) ser_biased_uncut(b);  // the last period's attempt is over
  if (e == EINTR && !ser_program_signal()) {
    // The live dump's stack sample, not a signal of the program's.  (A
    // sample that landed just outside this call leaves the flag set: one
    // program signal in a later wait is then taken for a sample and the
    // wait goes on; the sole user's path does not clear it on every call.)
    again = SerAgain::Yes;
  } else if (e == EAGAIN && b->timeouts_set) {
    const int user = dir == MsgDir::Send ? b->sndtimeo : b->rcvtimeo;
    if (user < 0) {
      again = SerAgain::Yes;  // waits for good: the wake-up period ran out
    } else if (user > kSerWakeMs) {
      // One wake-up period has passed since the call began.
      if (*deadline_ns == 0) *deadline_ns = mono_ns() + int64_t(user - kSerWakeMs) * 1000000;
      again = SerAgain::Yes;  // unless the deadline has passed (below)
    }
    // else: libzmq's timeout was the user's own, and it ran out.
  }
  if (again == SerAgain::Yes && relaxed_peek(b->bias) != self) again = SerAgain::Gone;
  if (again == SerAgain::Yes && *deadline_ns != 0) {
    // A wait with a deadline gets no more than what is left of it: the
    // last attempt's timeout is cut to that (in whole milliseconds, as
    // libzmq counts), so that a 21 ms timeout ends after 21 ms, not 40.
    const int64_t left = *deadline_ns - mono_ns();
    if (left <= 0 && e == EAGAIN) {
      again = SerAgain::No;
    } else if (left < int64_t(kSerWakeMs) * 1000000) {
      const int option = dir == MsgDir::Send ? ZMQ_SNDTIMEO : ZMQ_RCVTIMEO;
      const int ms = left <= 0 ? 1 : static_cast<int>((left + 999999) / 1000000);
      if (ser_sockopt_set_int(reinterpret_cast<SerState*>(b), option, ms) == 0) b->wake_cut = option;
    }
  }
  if (again != SerAgain::Yes) b->busy.store(0, std::memory_order_release);
  errno = e;
  return again;
}

}  // namespace zg
