// SPDX-License-Identifier: MIT
// decide(): every rule of every policy, one row each.
#include <string>

#include <gtest/gtest.h>

#include "core/policy.h"
#include "core/registry.h"

namespace {

using zg::CallKind;
using zg::Decision;
using zg::FindingKind;
using zg::kNoOwner;
using zg::Policy;
using zg::PolicyInput;

constexpr uint64_t kCreator = 11, kOther = 22, kThird = 33;

struct Row {
  const char* what;
  Policy policy;
  CallKind kind;
  uint64_t me, owner, creator;
  bool owner_alive;
  bool closed, exempt, inherited, ctx_setup;
  FindingKind finding;
  bool take;
};

const char* kind_name(CallKind k) {
  switch (k) {
    case CallKind::Setup: return "Setup";
    case CallKind::Data: return "Data";
    case CallKind::Poll: return "Poll";
    case CallKind::Proxy: return "Proxy";
    case CallKind::Close: return "Close";
    case CallKind::Query: return "Query";
    case CallKind::Linger: return "Linger";
    case CallKind::TypeQuery: return "TypeQuery";
  }
  return "?";
}

Decision run(const Row& r) {
  PolicyInput in;
  in.policy = r.policy;
  in.kind = r.kind;
  in.closed = r.closed;
  in.exempt = r.exempt;
  in.inherited = r.inherited;
  in.me = r.me;
  in.owner = r.owner;
  in.creator = r.creator;
  in.owner_alive = r.owner_alive;
  in.is_ctx_setup = r.ctx_setup;
  return zg::decide(in);
}

void check(const Row& r) {
  Decision d = run(r);
  EXPECT_EQ(zg::finding_name(d.finding), std::string(zg::finding_name(r.finding)))
      << r.what << " [" << policy_name(r.policy) << ", " << kind_name(r.kind) << "]";
  EXPECT_EQ(d.take, r.take) << r.what << " [" << policy_name(r.policy) << ", " << kind_name(r.kind) << "]";
}

constexpr FindingKind None = FindingKind::None;
constexpr FindingKind Cross = FindingKind::CrossThread;
constexpr FindingKind UAC = FindingKind::UseAfterClose;
constexpr FindingKind UAF = FindingKind::UseAfterFork;
constexpr CallKind kSetup = CallKind::Setup, kData = CallKind::Data, kPoll = CallKind::Poll,
                   kProxy = CallKind::Proxy, kClose = CallKind::Close;

// what, policy, kind, me, owner, creator, owner_alive, closed, exempt, inherited, ctx_setup -> finding, take
const Row kHandoff[] = {
    // Unclaimed: the creator's set-up is part of creating it.
    {"creator sets up an unclaimed socket", Policy::Handoff, kSetup, kCreator, kNoOwner, kCreator, true, false, false, false, false, None, false},
    {"creator binds an unclaimed socket", Policy::Handoff, kSetup, kCreator, kNoOwner, kCreator, true, false, false, false, true, None, false},
    // The first real use claims it, by the creator or by anyone else.
    {"creator's first send claims", Policy::Handoff, kData, kCreator, kNoOwner, kCreator, true, false, false, false, false, None, true},
    {"creator's first poll claims", Policy::Handoff, kPoll, kCreator, kNoOwner, kCreator, true, false, false, false, false, None, true},
    {"creator's first proxy claims", Policy::Handoff, kProxy, kCreator, kNoOwner, kCreator, true, false, false, false, false, None, true},
    {"another thread's first send claims", Policy::Handoff, kData, kOther, kNoOwner, kCreator, true, false, false, false, false, None, true},
    {"another thread's first setsockopt claims", Policy::Handoff, kSetup, kOther, kNoOwner, kCreator, true, false, false, false, false, None, true},
    {"another thread's first connect claims", Policy::Handoff, kSetup, kOther, kNoOwner, kCreator, true, false, false, false, true, None, true},
    {"creator closes an unclaimed socket", Policy::Handoff, kClose, kCreator, kNoOwner, kCreator, true, false, false, false, false, None, false},
    {"another thread closes an unclaimed socket", Policy::Handoff, kClose, kOther, kNoOwner, kCreator, true, false, false, false, false, None, false},
    // The owner's own calls.
    {"owner sends", Policy::Handoff, kData, kOther, kOther, kCreator, true, false, false, false, false, None, false},
    {"owner sets an option", Policy::Handoff, kSetup, kOther, kOther, kCreator, true, false, false, false, false, None, false},
    {"owner closes", Policy::Handoff, kClose, kOther, kOther, kCreator, true, false, false, false, false, None, false},
    // Anyone else after the claim.
    {"non-owner receives", Policy::Handoff, kData, kThird, kOther, kCreator, true, false, false, false, false, Cross, false},
    {"non-owner polls", Policy::Handoff, kPoll, kThird, kOther, kCreator, true, false, false, false, false, Cross, false},
    {"non-owner proxies", Policy::Handoff, kProxy, kThird, kOther, kCreator, true, false, false, false, false, Cross, false},
    {"non-owner sets an option", Policy::Handoff, kSetup, kThird, kOther, kCreator, true, false, false, false, false, Cross, false},
    {"creator sends after handing off", Policy::Handoff, kData, kCreator, kOther, kCreator, true, false, false, false, false, Cross, false},
    {"creator sets up after handing off", Policy::Handoff, kSetup, kCreator, kOther, kCreator, true, false, false, false, false, Cross, false},
    // Close by a non-owner is the final hand-off.
    {"non-owner closes (owner alive)", Policy::Handoff, kClose, kThird, kOther, kCreator, true, false, false, false, false, None, false},
    {"creator closes after handing off", Policy::Handoff, kClose, kCreator, kOther, kCreator, true, false, false, false, false, None, false},
    // Owner exited: the socket moves on.
    {"send after the owner exited takes", Policy::Handoff, kData, kThird, kOther, kCreator, false, false, false, false, false, None, true},
    {"setup after the owner exited takes", Policy::Handoff, kSetup, kThird, kOther, kCreator, false, false, false, false, false, None, true},
    {"poll after the owner exited takes", Policy::Handoff, kPoll, kCreator, kOther, kCreator, false, false, false, false, false, None, true},
    {"close after the owner exited does not take", Policy::Handoff, kClose, kThird, kOther, kCreator, false, false, false, false, false, None, false},
};

const Row kStrict[] = {
    {"owner (creator) sends", Policy::Strict, kData, kCreator, kCreator, kCreator, true, false, false, false, false, None, false},
    {"owner sets up", Policy::Strict, kSetup, kCreator, kCreator, kCreator, true, false, false, false, true, None, false},
    {"owner closes", Policy::Strict, kClose, kCreator, kCreator, kCreator, true, false, false, false, false, None, false},
    {"another thread sends", Policy::Strict, kData, kOther, kCreator, kCreator, true, false, false, false, false, Cross, false},
    {"another thread sets up", Policy::Strict, kSetup, kOther, kCreator, kCreator, true, false, false, false, false, Cross, false},
    {"another thread polls", Policy::Strict, kPoll, kOther, kCreator, kCreator, true, false, false, false, false, Cross, false},
    {"another thread closes", Policy::Strict, kClose, kOther, kCreator, kCreator, true, false, false, false, false, Cross, false},
    {"use after the owner exited is still reported", Policy::Strict, kData, kOther, kCreator, kCreator, false, false, false, false, false, Cross, false},
    {"close after the owner exited is still reported", Policy::Strict, kClose, kOther, kCreator, kCreator, false, false, false, false, false, Cross, false},
    // An adopted socket (never seen created) has no owner: the first thread takes it.
    {"first use of an adopted socket takes", Policy::Strict, kData, kOther, kNoOwner, kOther, true, false, false, false, false, None, true},
    {"first setup of an adopted socket takes", Policy::Strict, kSetup, kOther, kNoOwner, kOther, true, false, false, false, false, None, true},
};

const Row kOverlap[] = {
    {"owner sends", Policy::Overlap, kData, kOther, kOther, kCreator, true, false, false, false, false, None, false},
    {"another thread sends", Policy::Overlap, kData, kThird, kOther, kCreator, true, false, false, false, false, None, false},
    {"another thread polls", Policy::Overlap, kPoll, kThird, kOther, kCreator, true, false, false, false, false, None, false},
    {"another thread sets up", Policy::Overlap, kSetup, kThird, kOther, kCreator, true, false, false, false, false, None, false},
    {"another thread closes", Policy::Overlap, kClose, kThird, kOther, kCreator, true, false, false, false, false, None, false},
    {"first use of an unclaimed socket does not claim", Policy::Overlap, kData, kOther, kNoOwner, kCreator, true, false, false, false, false, None, false},
};

TEST(Policy, Handoff) {
  for (const Row& r : kHandoff) check(r);
}

TEST(Policy, Strict) {
  for (const Row& r : kStrict) check(r);
}

TEST(Policy, Overlap) {
  for (const Row& r : kOverlap) check(r);
}

const Policy kAll[] = {Policy::Handoff, Policy::Strict, Policy::Overlap};
const CallKind kKinds[] = {kSetup, kData, kPoll, kProxy, kClose, CallKind::Query, CallKind::Linger, CallKind::TypeQuery};

TEST(Policy, ClosedIsUseAfterCloseForEveryoneAndEveryCall) {
  for (Policy p : kAll)
    for (CallKind k : kKinds) {
      if (k == CallKind::TypeQuery) continue;  // ClosedTypeProbe
      for (uint64_t me : {kCreator, kOther, kThird})
        for (bool exempt : {false, true})
          for (bool inherited : {false, true}) {
            Row r{"closed socket", p, k, me, kNoOwner, kCreator, true, true, exempt, inherited, false, UAC, false};
            check(r);
            r.owner = kOther;  // after close the guard resets the owner; decide must not rely on it
            check(r);
            EXPECT_TRUE(run(r).refuse);
          }
    }
}

// pyzmq's closed probe: getsockopt(ZMQ_TYPE) on a handle this process
// closed is refused (ENOTSOCK, libzmq not reached) and is no finding.
TEST(Policy, ClosedTypeProbeIsRefusedWithoutAFinding) {
  for (Policy p : kAll)
    for (uint64_t me : {kCreator, kOther, kThird})
      for (bool exempt : {false, true}) {
        Row r{"type probe", p, CallKind::TypeQuery, me, kNoOwner, kCreator, true, true, exempt, false, false, None,
              false};
        check(r);
        EXPECT_TRUE(run(r).refuse);
        r.closed = false;
        check(r);  // open: a Query
        EXPECT_FALSE(run(r).refuse);
      }
}

TEST(Policy, ExemptSocketsAreNeverReported) {
  for (Policy p : kAll)
    for (CallKind k : kKinds)
      for (bool alive : {false, true}) {
        Row r{"thread-safe or libzmq's own socket", p, k, kThird, kOther, kCreator, alive, false, true, false, false, None, false};
        check(r);
        r.inherited = true;
        check(r);
      }
}

TEST(Policy, InheritedAfterFork) {
  for (Policy p : kAll)
    for (uint64_t owner : {kNoOwner, kOther}) {
      // Using an inherited socket in the child is a finding...
      check({"send in the child", p, kData, kThird, owner, kCreator, true, false, false, true, false, UAF, false});
      check({"poll in the child", p, kPoll, kThird, owner, kCreator, true, false, false, true, false, UAF, false});
      check({"proxy in the child", p, kProxy, kThird, owner, kCreator, true, false, false, true, false, UAF, false});
      check({"bind/connect in the child", p, kSetup, kThird, owner, kCreator, true, false, false, true, true, UAF, false});
      // ...closing it (and setting ZMQ_LINGER first) is libzmq's advice.
      check({"close in the child", p, kClose, kThird, owner, kCreator, true, false, false, true, false, None, false});
      check({"setsockopt in the child", p, kSetup, kThird, owner, kCreator, true, false, false, true, false, None, false});
      // The child's thread is never the parent's owner, but even if the
      // serials matched the rule is the same.
      check({"send by the 'owner' in the child", p, kData, owner, owner, kCreator, true, false, false, true, false, UAF, false});
    }
}

TEST(Policy, QueriesClaimNothingAndAreNoUse) {
  const CallKind q = CallKind::Query;
  for (Policy p : kAll)
    for (uint64_t me : {kCreator, kOther, kThird})
      for (uint64_t owner : {kNoOwner, kOther})
        for (bool alive : {false, true})
          for (bool inherited : {false, true})
            check({"getsockopt of a set-up value", p, q, me, owner, kCreator, alive, false, false, inherited, false, None,
                   false});
}

// setsockopt(ZMQ_LINGER) is part of closing (pyzmq's close(linger=N) sets
// it from the closing thread): as a Query, never a use, never a claim.
TEST(Policy, LingerIsPartOfClosing) {
  const CallKind l = CallKind::Linger;
  for (Policy p : kAll)
    for (uint64_t me : {kCreator, kOther, kThird})
      for (uint64_t owner : {kNoOwner, kOther})
        for (bool alive : {false, true})
          for (bool inherited : {false, true})
            check({"ZMQ_LINGER before a close", p, l, me, owner, kCreator, alive, false, false, inherited, false, None,
                   false});
  // The other options set by a thread that is not the owner are a use.
  check({"another option by another thread", Policy::Handoff, kSetup, kThird, kOther, kCreator, true, false, false,
         false, false, Cross, false});
}

// A use ordered after the owner's last call (core/order.h) takes the
// socket under handoff, whatever the owner is doing; strict and overlap do
// not look at it.
TEST(Policy, OrderedUseTakesUnderHandoffOnly) {
  for (CallKind k : {kSetup, kData, kPoll, kProxy}) {
    PolicyInput in;
    in.kind = k;
    in.me = kThird;
    in.owner = kOther;
    in.creator = kCreator;
    in.ordered = true;
    in.policy = Policy::Handoff;
    Decision d = zg::decide(in);
    EXPECT_EQ(d.finding, FindingKind::None);
    EXPECT_TRUE(d.take);
    in.ordered = false;
    EXPECT_EQ(zg::decide(in).finding, Cross);
    in.ordered = true;
    in.policy = Policy::Strict;
    EXPECT_EQ(zg::decide(in).finding, Cross);
    in.policy = Policy::Overlap;
    EXPECT_EQ(zg::decide(in).finding, None);
    EXPECT_FALSE(zg::decide(in).take);
  }
  PolicyInput close;
  close.kind = kClose;
  close.me = kThird;
  close.owner = kOther;
  close.ordered = true;
  EXPECT_EQ(zg::decide(close).finding, None);
  EXPECT_FALSE(zg::decide(close).take);
}

TEST(Policy, FindingNamesAreDistinct) {
  for (int a = 1; a < static_cast<int>(FindingKind::Count); a++) {
    std::string na = zg::finding_name(static_cast<FindingKind>(a));
    EXPECT_NE(na, "unknown");
    EXPECT_NE(std::string(zg::finding_title(static_cast<FindingKind>(a))), "finding") << na;
    EXPECT_NE(std::string(zg::finding_hint(static_cast<FindingKind>(a))), "") << na;
    EXPECT_EQ(zg::finding_named(na.c_str()), static_cast<FindingKind>(a)) << na;
    for (int b = a + 1; b < static_cast<int>(FindingKind::Count); b++)
      EXPECT_NE(na, zg::finding_name(static_cast<FindingKind>(b)));
  }
  EXPECT_STREQ(zg::finding_name(FindingKind::CrossThread), "cross_thread");
  EXPECT_STREQ(zg::finding_name(FindingKind::UseAfterClose), "use_after_close");
  EXPECT_STREQ(zg::finding_name(FindingKind::UseAfterFork), "use_after_fork");
  EXPECT_EQ(zg::finding_named("none"), FindingKind::None);
  EXPECT_EQ(zg::finding_named("cross-thread"), FindingKind::None);
  EXPECT_STREQ(zg::finding_name(FindingKind::Count), "unknown");
  // Information only: never counted, never an abort.
  EXPECT_TRUE(zg::finding_is_info(FindingKind::SharedSocket));
  EXPECT_TRUE(zg::finding_is_info(FindingKind::Leak));
  EXPECT_FALSE(zg::finding_is_info(FindingKind::CrossThread));
  EXPECT_STREQ(zg::severity_text(zg::Severity::Problem, true), "ERROR");
  EXPECT_STREQ(zg::severity_text(zg::Severity::Problem, false), "WARNING");
}

}  // namespace
