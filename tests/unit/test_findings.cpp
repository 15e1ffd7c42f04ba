// SPDX-License-Identifier: MIT
// The wrapper's merge of a run's findings: its JSON reader (input from any
// file a user names) and how reports become distinct findings.
#include <gtest/gtest.h>
#include <stdio.h>

#include <string>

#include "tools/findings.h"
#include "tools/json.h"

using zgtool::Json;

namespace {

Json parse_ok(const std::string& text) {
  Json j;
  std::string err;
  EXPECT_TRUE(zgtool::json_parse(text.data(), text.size(), &j, &err)) << text << ": " << err;
  return j;
}

std::string parse_error(const std::string& text) {
  Json j;
  std::string err;
  EXPECT_FALSE(zgtool::json_parse(text.data(), text.size(), &j, &err)) << text;
  return err;
}

std::string record(const char* kind, const char* fn, int line, long pid, const char* test,
                   const char* mode = "warn") {
  char buf[1024];
  snprintf(buf, sizeof buf,
           "{\"kind\":\"%s\",\"severity\":\"WARNING\",\"call\":\"zmq_send\",\"socket_type\":\"PUSH\",\"pid\":%ld,"
           "\"mode\":\"%s\",\"summary\":\"SUMMARY: zmq-guard: %s zmq_send on PUSH socket 0x%lx by T%ld in %s a.py:%d\","
           "\"user_frame\":{\"function\":\"%s\",\"file\":\"/src/a.py\",\"line\":%d},\"owner_user_frame\":null,"
           "\"test\":\"%s\",\"cmdline\":\"python3 a.py\"}",
           kind, pid, mode, kind, pid * 16, pid, fn, line, fn, line, test);
  return buf;
}

std::string summary_of(const zgtool::Merge& m) {
  char* text = nullptr;
  size_t len = 0;
  FILE* f = open_memstream(&text, &len);
  zgtool::print_summary(f, m, "> ");
  fclose(f);
  std::string s(text, len);
  free(text);
  return s;
}

}  // namespace

TEST(Json, ReadsWhatTheGuardWrites) {
  Json j = parse_ok(" {\"a\": [1, -2.5e3, true, false, null], \"s\": \"q\\\"\\\\\\/\\n\\t\\u00e9\\ud83d\\ude00\"} ");
  ASSERT_EQ(j.type, Json::Object);
  EXPECT_EQ(j["a"].size(), 5u);
  EXPECT_EQ(j["a"].at(1).number, -2500);
  EXPECT_TRUE(j["a"].at(2).truthy());
  EXPECT_TRUE(j["a"].at(4).is_null());
  EXPECT_EQ(j["s"].text(), "q\"\\/\n\t\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_TRUE(j["missing"].is_null());
  EXPECT_EQ(j["missing"]["deeper"].text(), "");
  EXPECT_EQ(j["a"].at(99).integer(-1), -1);
}

TEST(Json, LoneSurrogatesBecomeTheReplacementCharacter) {
  EXPECT_EQ(parse_ok("\"\\ud83d!\"").text(), "\xef\xbf\xbd!");
  EXPECT_EQ(parse_ok("\"\\ude00\"").text(), "\xef\xbf\xbd");
}

TEST(Json, RefusesWhatIsNotJson) {
  for (const char* bad : {"", "{", "[1,]", "{\"a\" 1}", "{\"a\":1,}", "tru", "\"open", "\"\\x\"", "\"\\u12\"", "-",
                          "1 2", "{} x", "\"tab\there\"", "[01x]"})
    EXPECT_FALSE(parse_error(bad).empty()) << bad;
}

TEST(Json, NestingIsBounded) {
  std::string deep(100000, '[');
  EXPECT_NE(parse_error(deep).find("nested too deeply"), std::string::npos);
  std::string ok = std::string(60, '[') + std::string(60, ']');
  parse_ok(ok);
}

TEST(Json, NumbersOutOfRangeAreNoInteger) {
  // Found by fuzz/fuzz_json.cpp (corpus: numbers): a pid of 1e400 was
  // cast from infinity to long.
  Json j = parse_ok("{\"a\":1e400,\"b\":-1e400,\"c\":9.3e18,\"d\":-42.9,\"e\":\"7\"}");
  EXPECT_EQ(j["a"].integer(-1), -1);
  EXPECT_EQ(j["b"].integer(-1), -1);
  EXPECT_EQ(j["c"].integer(-1), -1);
  EXPECT_EQ(j["d"].integer(-1), -42);
  EXPECT_EQ(j["e"].integer(-1), -1);
  zgtool::Merge m;
  std::string line = "{\"kind\":\"leak\",\"pid\":1e400,\"severity\":\"INFO\",\"mode\":\"warn\"}";
  zgtool::merge_line(line.data(), line.size(), "f", &m);
  ASSERT_EQ(m.findings.size(), 1u);
  EXPECT_EQ(m.findings[0].seen[0].pid, 0);
}

TEST(Merge, SameSiteInTwoProcessesIsOneFinding) {
  zgtool::Merge m;
  for (std::string r : {record("cross_thread", "worker", 7, 100, "t.py::test_a"),
                        record("cross_thread", "worker", 7, 101, "t.py::test_b"),
                        record("cross_thread", "other", 9, 101, ""),
                        std::string("{\"kind\":\"cross_thread\",\"suppressed\":true,\"pid\":5}"), std::string("   ")})
    zgtool::merge_line(r.data(), r.size(), "f:1", &m);
  ASSERT_EQ(m.findings.size(), 2u);
  EXPECT_EQ(m.findings[0].seen.size(), 2u);
  EXPECT_EQ(m.findings[0].summary, "cross_thread zmq_send on PUSH socket 0x640 by T100 in worker a.py:7");
  EXPECT_TRUE(m.findings[0].sets_status);
  EXPECT_EQ(m.reports, 3);
  EXPECT_EQ(m.suppressed, 1);
  EXPECT_EQ(m.pids.size(), 2u);
  EXPECT_TRUE(m.problems.empty());
  EXPECT_EQ(summary_of(m),
            "> 2 distinct findings in this run:\n"
            ">   cross_thread zmq_send on PUSH socket 0x640 by T100 in worker a.py:7\n"
            ">     2 times: pid 100 in test t.py::test_a; pid 101 in test t.py::test_b\n"
            ">   cross_thread zmq_send on PUSH socket 0x650 by T101 in other a.py:9\n"
            ">     1 time: pid 101 (python3 a.py)\n"
            "> total: 2 findings (3 reports in 2 processes), 1 suppressed\n");
}

TEST(Merge, SerializeModeAndInformationLeaveTheStatusAlone) {
  zgtool::Merge m;
  std::string r = record("use_after_fork", "child", 3, 7, "", "serialize");
  zgtool::merge_line(r.data(), r.size(), "f:1", &m);
  ASSERT_EQ(m.findings.size(), 1u);
  EXPECT_FALSE(m.any_sets_status());
}

TEST(Merge, NothingToSayIsSilent) {
  zgtool::Merge m;
  EXPECT_EQ(summary_of(m), "");
}

TEST(Merge, AControlCharacterCannotStartALineOfItsOwn) {
  zgtool::Merge m;
  std::string r = record("cross_thread", "evil\\nname", 1, 9, "t\\n::x");
  zgtool::merge_line(r.data(), r.size(), "f:1", &m);
  std::string s = summary_of(m);
  for (size_t at = 0; (at = s.find('\n', at)) != std::string::npos && at + 1 < s.size(); at++)
    EXPECT_EQ(s.compare(at + 1, 2, "> "), 0) << s;
}

TEST(Merge, JunkLinesAreNamedOnce) {
  zgtool::Merge m;
  for (const char* l : {"not json", "[1]", "{\"kind\":3}", "{}"}) zgtool::merge_line(l, strlen(l), "x.json:4", &m);
  ASSERT_EQ(m.problems.size(), 4u);
  EXPECT_EQ(m.problems[0].rfind("x.json:4: not a zmq-guard finding (", 0), 0u) << m.problems[0];
  EXPECT_TRUE(m.findings.empty());
}
