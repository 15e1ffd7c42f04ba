// SPDX-License-Identifier: MIT
#include "core/policy.h"

#include "core/registry.h"

namespace zg {

Decision decide(const PolicyInput& in) {
  Decision d;
  if (in.closed) {
    // A handle this process closed is no socket: libzmq's answer would come
    // from freed memory.  Asking its type is how pyzmq finds that out.
    d.refuse = true;
    if (in.kind != CallKind::TypeQuery) d.finding = FindingKind::UseAfterClose;
    return d;
  }
  if (in.exempt || claims_nothing(in.kind)) return d;
  if (in.inherited) {
    // libzmq's advice after fork: close inherited sockets and terminate the
    // inherited context in the child, nothing else.
    if (in.kind != CallKind::Close && in.kind != CallKind::Setup) d.finding = FindingKind::UseAfterFork;
    if (in.kind == CallKind::Setup && in.is_ctx_setup) d.finding = FindingKind::UseAfterFork;
    return d;
  }
  if (in.policy == Policy::Overlap) return d;  // only concurrency is checked
  if (in.me == in.owner) return d;

  if (in.policy == Policy::Strict) {
    // The creator owns it for good (owner was set at creation; an adopted
    // socket is owned by the first thread seen).
    if (in.owner == kNoOwner) {
      d.take = true;
      return d;
    }
    d.finding = FindingKind::CrossThread;
    return d;
  }

  // Handoff.
  if (in.owner == kNoOwner) {
    // Not yet claimed: the creator's set-up calls are part of creating it;
    // the first real use (or any use by another thread) claims it.
    if (in.kind == CallKind::Close) return d;
    if (in.me == in.creator && in.kind == CallKind::Setup) return d;
    d.take = true;
    return d;
  }
  if (in.ordered) {
    // libzmq's rule: a full memory barrier between the two threads' calls.
    // The edge that ordered them is one.
    if (in.kind != CallKind::Close) d.take = true;
    return d;
  }
  if (!in.owner_alive) {
    // The owner has exited: the socket may move on.
    if (in.kind != CallKind::Close) d.take = true;
    return d;
  }
  if (in.kind == CallKind::Close) return d;  // the final hand-off
  d.finding = FindingKind::CrossThread;
  return d;
}

}  // namespace zg
