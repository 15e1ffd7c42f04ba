// SPDX-License-Identifier: MIT
// suppressions_load: good files, malformed lines, unreadable paths; and the
// rules it loads, applied by suppressions_match to every stack of a finding.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/lifecycle.h"
#include "core/suppressions.h"
#include "support.h"

namespace {

using zgunit::lines_of;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

class Suppressions : public ::testing::Test {
 protected:
  void SetUp() override {
    zgunit::use_default_options();
    zg::suppressions_clear();
  }
  void TearDown() override { zg::suppressions_clear(); }

  // Loads a file, returning the count and the lines written to stderr.
  int load(const std::string& path, std::vector<std::string>* out) {
    zgunit::StderrCapture cap;
    int n = zg::suppressions_load(path.c_str());
    *out = lines_of(cap.stop());
    return n;
  }

  zgunit::TempDir dir_;
};

TEST_F(Suppressions, GoodFile) {
  std::string path = dir_.write("good.supp",
                                "# zmq-guard suppressions\n"
                                "\n"
                                "cross_thread:zgunit_capture_site*\n"
                                "   use_after_close:libfoo.so*\n"
                                "*:worker\r\n"
                                "leak:  \n"
                                "concurrent_call:*/b.py\n");
  std::vector<std::string> err;
  EXPECT_EQ(load(path, &err), 4) << "the 'leak:' line has only blanks as pattern";
  // 'leak:  ' is malformed (trailing blanks are trimmed, leaving no pattern).
  ASSERT_EQ(err.size(), 1u);
  EXPECT_TRUE(contains(err[0], path + ":6")) << err[0];
}

TEST_F(Suppressions, AllGoodLinesLoadSilently) {
  std::string path = dir_.write("clean.supp",
                                "cross_thread:zgunit_capture_site*\n"
                                "concurrent_call:libzmq.so*\n"
                                "close_while_in_use:a\n"
                                "use_after_close:b\n"
                                "use_after_fork:c\n"
                                "ctx_term_open_sockets:d\n"
                                "leak:e\n"
                                "*:f");
  std::vector<std::string> err;
  EXPECT_EQ(load(path, &err), 8);
  EXPECT_TRUE(err.empty()) << err[0];
}

TEST_F(Suppressions, MalformedLineIsOneClearLineAndSkipped) {
  std::string path = dir_.write("bad.supp",
                                "cross_thread:zgunit_capture_site*\n"
                                "crossthread:foo\n"
                                "use_after_close:bar\n");
  std::vector<std::string> err;
  EXPECT_EQ(load(path, &err), 2);
  ASSERT_EQ(err.size(), 1u);
  const std::string& l = err[0];
  EXPECT_TRUE(contains(l, "zmq-guard")) << l;
  EXPECT_TRUE(contains(l, path + ":2")) << l;
  EXPECT_TRUE(contains(l, "'crossthread:foo'")) << l;
  for (int k = 1; k < static_cast<int>(zg::FindingKind::Count); k++)  // from the table, every one
    EXPECT_TRUE(contains(l, zg::finding_name(static_cast<zg::FindingKind>(k)))) << "names the accepted kinds: " << l;
  EXPECT_TRUE(contains(l, "ignored")) << l;

  // The others were loaded and work.
  zg::Stack s;
  int line;
  zgunit::capture_here(&s, &line);
  EXPECT_TRUE(zg::lifecycle_suppressed(zg::FindingKind::CrossThread, &s, nullptr));
  EXPECT_FALSE(zg::lifecycle_suppressed(zg::FindingKind::ConcurrentCall, &s, nullptr));
}

TEST_F(Suppressions, EachMalformedLineIsReported) {
  std::string path = dir_.write("several.supp",
                                "no colon here\n"
                                "nosuchkind:x\n"
                                "cross_thread:\n"
                                ":pattern\n"
                                "leak:ok\n");
  std::vector<std::string> err;
  EXPECT_EQ(load(path, &err), 1);
  ASSERT_EQ(err.size(), 4u);
  for (int i = 0; i < 4; i++) EXPECT_TRUE(contains(err[i], path + ":" + std::to_string(i + 1))) << err[i];
  EXPECT_TRUE(contains(err[0], "'no colon here'")) << err[0];
}

TEST_F(Suppressions, UnreadablePath) {
  std::vector<std::string> err;
  std::string path = dir_.path("does-not-exist.supp");
  EXPECT_EQ(load(path, &err), -1);
  ASSERT_EQ(err.size(), 1u);
  EXPECT_TRUE(contains(err[0], "zmq-guard")) << err[0];
  EXPECT_TRUE(contains(err[0], path)) << err[0];
  EXPECT_TRUE(contains(err[0], "No such file")) << err[0];
}

TEST_F(Suppressions, DirectoryIsUnreadable) {
  // fopen() of a directory succeeds; reading it fails with EISDIR.
  std::vector<std::string> err;
  EXPECT_EQ(load(dir_.dir(), &err), -1);
  ASSERT_EQ(err.size(), 1u);
  EXPECT_TRUE(contains(err[0], dir_.dir())) << err[0];
}

TEST_F(Suppressions, RulesMatchNativeAndPythonFrames) {
  zg::Stack s;
  int line;
  zgunit::capture_here(&s, &line);
  const char* py =
      "Stack (most recent call first):\n"
      "  File \"/srv/app/b.py\", line 12 in worker\n"
      "  File \"/srv/app/main.py\", line 30 in <module>\n";

  // Nothing loaded: nothing suppressed.
  EXPECT_FALSE(zg::lifecycle_suppressed(zg::FindingKind::CrossThread, &s, py));

  std::string path = dir_.write("rules.supp",
                                "cross_thread:zgunit_capture_site*\n"
                                "use_after_close:worker\n"
                                "concurrent_call:b.py\n"
                                "*:no_such_function\n");
  std::vector<std::string> err;
  ASSERT_EQ(load(path, &err), 4);
  // A native function name (glob), for its kind only.
  EXPECT_TRUE(zg::lifecycle_suppressed(zg::FindingKind::CrossThread, &s, nullptr));
  EXPECT_FALSE(zg::lifecycle_suppressed(zg::FindingKind::UseAfterFork, &s, nullptr));
  // A Python function, and a Python file by its base name.
  EXPECT_TRUE(zg::lifecycle_suppressed(zg::FindingKind::UseAfterClose, nullptr, py));
  EXPECT_TRUE(zg::lifecycle_suppressed(zg::FindingKind::ConcurrentCall, nullptr, py));
  EXPECT_FALSE(zg::lifecycle_suppressed(zg::FindingKind::UseAfterClose, nullptr, nullptr));
  EXPECT_FALSE(zg::lifecycle_suppressed(zg::FindingKind::Leak, &s, py));

  // A native source file, by its base name, with blanks around the kind
  // and the pattern (layout, not part of them).
  std::string file = dir_.write("file.supp", "  leak \t:\t support.cpp \t\n");
  ASSERT_EQ(load(file, &err), 1);
  EXPECT_TRUE(err.empty()) << err[0];
  EXPECT_TRUE(zg::lifecycle_suppressed(zg::FindingKind::Leak, &s, nullptr));
  zg::suppressions_clear();

  // The executable's module name matches too.
  std::string mod = dir_.write("mod.supp", "leak:zmq-guard-unit\n");
  ASSERT_EQ(load(mod, &err), 1);
  EXPECT_TRUE(zg::lifecycle_suppressed(zg::FindingKind::Leak, &s, nullptr));

  zg::suppressions_clear();
  EXPECT_FALSE(zg::lifecycle_suppressed(zg::FindingKind::CrossThread, &s, nullptr));
}

// As ThreadSanitizer's: a rule matches a frame of any stack of the finding
// (offending, owner, creation), native or Python, and each match counts.
TEST_F(Suppressions, AnyStackOfTheFindingMatchesAndHitsAreCounted) {
  zg::Stack here;
  int line;
  zgunit::capture_here(&here, &line);
  zg::Stack other;  // a stack with no frame of this test's
  const char* owner_py =
      "Stack (most recent call first):\n"
      "  File \"/usr/lib/python3/dist-packages/czmqlike/actor.py\", line 7 in actor_loop\n";
  std::string path = dir_.write("any.supp",
                                "cross_thread:actor_loop\n"
                                "concurrent_call:zgunit_capture_site*\n");
  std::vector<std::string> err;
  ASSERT_EQ(load(path, &err), 2);
  {
    // Only the owner's Python traceback has the frame.
    const zg::Stack* stacks[3] = {&other, &other, &other};
    const char* pys[3] = {nullptr, owner_py, nullptr};
    EXPECT_TRUE(zg::suppressions_match(zg::FindingKind::CrossThread, stacks, pys, 3));
    EXPECT_FALSE(zg::suppressions_match(zg::FindingKind::CrossThread, stacks, pys, 1)) << "the offending stack alone";
  }
  {
    // Only the creation stack (third) has the native frame.
    const zg::Stack* stacks[3] = {&other, nullptr, &here};
    const char* pys[3] = {nullptr, nullptr, nullptr};
    EXPECT_TRUE(zg::suppressions_match(zg::FindingKind::ConcurrentCall, stacks, pys, 3));
    EXPECT_FALSE(zg::suppressions_match(zg::FindingKind::CrossThread, stacks, pys, 3)) << "kind must match";
  }
  zgunit::StderrCapture cap;
  zg::suppressions_print_used();
  std::vector<std::string> out = lines_of(cap.stop());
  ASSERT_EQ(out.size(), 4u);
  EXPECT_TRUE(contains(out[0], "suppressions used (2 rules, 0 built-in)")) << out[0];
  EXPECT_TRUE(contains(out[1], "the built-in list is empty")) << out[1];
  EXPECT_TRUE(contains(out[2], " 1 cross_thread:actor_loop (" + path + ":1)")) << out[2];
  EXPECT_TRUE(contains(out[3], " 1 concurrent_call:zgunit_capture_site* (" + path + ":2)")) << out[3];
}

}  // namespace
