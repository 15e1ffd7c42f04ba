// SPDX-License-Identifier: MIT
// Options: one table (options.def) gives defaults, parser, checks and help.
#include <string.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/options.h"

namespace {

using zg::Options;

struct Errors {
  std::vector<std::string> lines;
  static void add(const char* line, void* ctx) { static_cast<Errors*>(ctx)->lines.push_back(line); }
};

// Every option of the table: name and its default as options_help prints it.
struct Row {
  const char* name;
  std::string def;
};

std::vector<Row> table_rows() {
  std::vector<Row> rows;
#define ZG_S_(x) #x
#define ZG_OPT_ENUM(name, def, help, ...) rows.push_back({#name, def});
#define ZG_OPT_INT(name, def, lo, hi, help) rows.push_back({#name, ZG_S_(def)});
#define ZG_OPT_BOOL(name, def, help) rows.push_back({#name, (def) ? "1" : "0"});
#define ZG_OPT_STR(name, def, help) rows.push_back({#name, def});
#include "core/options.def"
#undef ZG_OPT_ENUM
#undef ZG_OPT_INT
#undef ZG_OPT_BOOL
#undef ZG_OPT_STR
#undef ZG_S_
  return rows;
}

Options defaults() {
  Options o;
  zg::options_defaults(&o);
  return o;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(Options, DefaultsComeFromTheTable) {
  Options o = defaults();
  // Each field against its own row of options.def.
#define ZG_OPT_ENUM(name, def, help, ...)                                   \
  {                                                                         \
    const char* const words[] = {__VA_ARGS__};                              \
    int want = -1;                                                          \
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)             \
      if (!strcmp(words[i], def)) want = static_cast<int>(i);               \
    ASSERT_GE(want, 0) << #name " default is not one of its words";         \
    EXPECT_EQ(o.name, want) << #name;                                       \
  }
#define ZG_OPT_INT(name, def, lo, hi, help) \
  EXPECT_EQ(o.name, static_cast<long>(def)) << #name; \
  EXPECT_GE(static_cast<long>(def), static_cast<long>(lo)) << #name; \
  EXPECT_LE(static_cast<long>(def), static_cast<long>(hi)) << #name;
#define ZG_OPT_BOOL(name, def, help) EXPECT_EQ(o.name, static_cast<bool>(def)) << #name;
#define ZG_OPT_STR(name, def, help) EXPECT_STREQ(o.name, def) << #name;
#include "core/options.def"
#undef ZG_OPT_ENUM
#undef ZG_OPT_INT
#undef ZG_OPT_BOOL
#undef ZG_OPT_STR

  // And the documented values, spelled out.
  EXPECT_EQ(o.mode_value(), zg::Mode::Abort);
  EXPECT_EQ(o.policy_value(), zg::Policy::Handoff);
  EXPECT_EQ(o.exitcode, 66);
  EXPECT_EQ(o.stack_depth, 24);
  EXPECT_TRUE(o.symbolize);
  EXPECT_TRUE(o.python);
  EXPECT_FALSE(o.leaks);
  EXPECT_FALSE(o.help);
  EXPECT_STREQ(o.log_path, "");
}

TEST(Options, ParsesAGoodString) {
  Options o = defaults();
  Errors e;
  int bad = zg::options_parse(
      "mode=warn:policy=strict,exitcode=3:log_path=/tmp/zg-%p.log:json_path=/tmp/j.json:stack_depth=64:"
      "symbolize=0,python=false:leaks=yes:term_timeout_ms=0:dump_signal=10:suppressions=/etc/zg.supp:verbose=1",
      &o, Errors::add, &e);
  EXPECT_EQ(bad, 0);
  EXPECT_TRUE(e.lines.empty());
  EXPECT_EQ(o.mode_value(), zg::Mode::Warn);
  EXPECT_EQ(o.policy_value(), zg::Policy::Strict);
  EXPECT_EQ(o.exitcode, 3);
  EXPECT_STREQ(o.log_path, "/tmp/zg-%p.log");
  EXPECT_STREQ(o.json_path, "/tmp/j.json");
  EXPECT_EQ(o.stack_depth, 64);
  EXPECT_FALSE(o.symbolize);
  EXPECT_FALSE(o.python);
  EXPECT_TRUE(o.leaks);
  EXPECT_EQ(o.term_timeout_ms, 0);
  EXPECT_EQ(o.dump_signal, 10);
  EXPECT_STREQ(o.suppressions, "/etc/zg.supp");
  EXPECT_TRUE(o.verbose);
  EXPECT_FALSE(o.help);

  // Every enum word is accepted and maps to its enum value.
  const char* modes[] = {"mode=abort", "mode=warn", "mode=serialize", "mode=off"};
  for (int i = 0; i < 4; i++) {
    Options m = defaults();
    EXPECT_EQ(zg::options_parse(modes[i], &m, nullptr, nullptr), 0) << modes[i];
    EXPECT_EQ(m.mode, i) << modes[i];
  }
  EXPECT_EQ(static_cast<int>(zg::Mode::Serialize), 2);
  const char* policies[] = {"policy=handoff", "policy=strict", "policy=overlap"};
  for (int i = 0; i < 3; i++) {
    Options p = defaults();
    EXPECT_EQ(zg::options_parse(policies[i], &p, nullptr, nullptr), 0) << policies[i];
    EXPECT_EQ(p.policy, i) << policies[i];
  }
  EXPECT_EQ(static_cast<int>(zg::Policy::Overlap), 2);

  // Empty text, empty entries and a null text change nothing.
  Options n = defaults();
  EXPECT_EQ(zg::options_parse("", &n, Errors::add, &e), 0);
  EXPECT_EQ(zg::options_parse("::,,", &n, Errors::add, &e), 0);
  EXPECT_EQ(zg::options_parse(nullptr, &n, Errors::add, &e), 0);
  EXPECT_TRUE(e.lines.empty());
  const Options d = defaults();
  EXPECT_EQ(memcmp(&n, &d, sizeof n), 0);
}

TEST(Options, UnknownKeyIsOneLineAndTheRestStillApplies) {
  Options o = defaults();
  Errors e;
  int bad = zg::options_parse("mode=warn:no_such_option=5:exitcode=7", &o, Errors::add, &e);
  EXPECT_EQ(bad, 1);
  ASSERT_EQ(e.lines.size(), 1u);
  const std::string& line = e.lines[0];
  EXPECT_EQ(line.find('\n'), std::string::npos) << line;
  EXPECT_TRUE(contains(line, "zmq-guard")) << line;
  EXPECT_TRUE(contains(line, "'no_such_option'")) << line;
  for (const Row& r : table_rows()) EXPECT_TRUE(contains(line, r.name)) << "known keys miss " << r.name << ": " << line;
  EXPECT_EQ(o.mode_value(), zg::Mode::Warn);
  EXPECT_EQ(o.exitcode, 7);
}

struct BadValue {
  const char* text;
  const char* option;
  const char* value;
  const char* accepted;
};

TEST(Options, BadValueIsOneLineNamingOptionValueAndAcceptedValues) {
  const BadValue cases[] = {
      {"mode=loud", "mode", "loud", "abort, warn, serialize, off"},
      {"mode=", "mode", "''", "abort, warn, serialize, off"},
      {"mode", "mode", "'1'", "abort, warn, serialize, off"},  // bare key means 1
      {"policy=Strict", "policy", "Strict", "handoff, strict, overlap"},
      {"exitcode=abc", "exitcode", "abc", "1 to 255"},
      {"exitcode=0", "exitcode", "'0'", "1 to 255"},
      {"exitcode=256", "exitcode", "256", "1 to 255"},
      {"exitcode=12x", "exitcode", "12x", "1 to 255"},
      {"exitcode=", "exitcode", "''", "1 to 255"},
      {"exitcode= 7", "exitcode", "' 7'", "1 to 255"},
      {"exitcode=+7", "exitcode", "'+7'", "1 to 255"},
      {"stack_depth=-", "stack_depth", "'-'", "1 to 64"},
      {"stack_depth=65", "stack_depth", "65", "1 to 64"},
      {"stack_depth=-1", "stack_depth", "-1", "1 to 64"},
      {"exitcode=99999999999999999999999", "exitcode", "99999999999999999999999", "1 to 255"},
      {"leaks=maybe", "leaks", "maybe", "0 or 1"},
      {"symbolize=2", "symbolize", "'2'", "0 or 1"},
      {"python=", "python", "''", "0 or 1"},
  };
  const Options d = defaults();
  for (const BadValue& c : cases) {
    Options o = defaults();
    Errors e;
    int bad = zg::options_parse(c.text, &o, Errors::add, &e);
    EXPECT_EQ(bad, 1) << c.text;
    ASSERT_EQ(e.lines.size(), 1u) << c.text;
    const std::string& line = e.lines[0];
    EXPECT_EQ(line.find('\n'), std::string::npos) << line;
    EXPECT_TRUE(contains(line, c.option)) << c.text << " -> " << line;
    EXPECT_TRUE(contains(line, c.value)) << c.text << " -> " << line;
    EXPECT_TRUE(contains(line, c.accepted)) << c.text << " -> " << line;
    EXPECT_TRUE(contains(line, "default")) << c.text << " -> " << line;
    // The default is kept.
    EXPECT_EQ(memcmp(&o, &d, sizeof o), 0) << c.text << " changed the options";
  }

  // A too long path is refused too, and the rest of the string applies.
  std::string longpath = "log_path=/" + std::string(600, 'a') + ":leaks=1";
  Options o = defaults();
  Errors e;
  EXPECT_EQ(zg::options_parse(longpath.c_str(), &o, Errors::add, &e), 1);
  ASSERT_EQ(e.lines.size(), 1u);
  EXPECT_TRUE(contains(e.lines[0], "log_path")) << e.lines[0];
  EXPECT_STREQ(o.log_path, "");
  EXPECT_TRUE(o.leaks);
}

TEST(Options, SeveralBadEntriesGiveOneLineEach) {
  Options o = defaults();
  Errors e;
  int bad = zg::options_parse("mode=x:bogus:exitcode=1000:policy=overlap:leaks=2", &o, Errors::add, &e);
  EXPECT_EQ(bad, 4);
  ASSERT_EQ(e.lines.size(), 4u);
  EXPECT_TRUE(contains(e.lines[0], "mode"));
  EXPECT_TRUE(contains(e.lines[1], "'bogus'"));
  EXPECT_TRUE(contains(e.lines[2], "exitcode"));
  EXPECT_TRUE(contains(e.lines[3], "leaks"));
  EXPECT_EQ(o.policy_value(), zg::Policy::Overlap);
  EXPECT_EQ(o.mode_value(), zg::Mode::Abort);
  EXPECT_EQ(o.exitcode, 66);
  EXPECT_FALSE(o.leaks);
}

TEST(Options, BareKeyMeansOne) {
  Options o = defaults();
  Errors e;
  EXPECT_EQ(zg::options_parse("leaks:help,verbose", &o, Errors::add, &e), 0);
  EXPECT_TRUE(e.lines.empty());
  EXPECT_TRUE(o.leaks);
  EXPECT_TRUE(o.help);
  EXPECT_TRUE(o.verbose);

  Options i = defaults();
  EXPECT_EQ(zg::options_parse("exitcode:dump_signal", &i, Errors::add, &e), 0);
  EXPECT_EQ(i.exitcode, 1);
  EXPECT_EQ(i.dump_signal, 1);

  Options s = defaults();
  EXPECT_EQ(zg::options_parse("log_path", &s, Errors::add, &e), 0);
  EXPECT_STREQ(s.log_path, "1");
  EXPECT_TRUE(e.lines.empty());
}

TEST(Options, LaterEntriesWin) {
  Options o = defaults();
  EXPECT_EQ(zg::options_parse("mode=warn:mode=off:exitcode=5,exitcode=9", &o, nullptr, nullptr), 0);
  EXPECT_EQ(o.mode_value(), zg::Mode::Off);
  EXPECT_EQ(o.exitcode, 9);
}

TEST(Options, ExpandPath) {
  char out[256];
  zg::expand_path("/tmp/zg-%p.log", 4242, out, sizeof out);
  EXPECT_STREQ(out, "/tmp/zg-4242.log");
  zg::expand_path("%p/%p", 7, out, sizeof out);
  EXPECT_STREQ(out, "7/7");
  zg::expand_path("/no/pattern", 7, out, sizeof out);
  EXPECT_STREQ(out, "/no/pattern");
  zg::expand_path("100%", 7, out, sizeof out);
  EXPECT_STREQ(out, "100%");
  zg::expand_path("%d%p%", 12, out, sizeof out);
  EXPECT_STREQ(out, "%d12%");
  zg::expand_path("", 12, out, sizeof out);
  EXPECT_STREQ(out, "");

  // Truncation: always terminated, never past outlen.
  char small[9];
  memset(small, 'X', sizeof small);
  zg::expand_path("/tmp/zg-%p.log", 123456, small, 8);
  EXPECT_EQ(small[8], 'X');
  EXPECT_EQ(strlen(small), 7u);
  EXPECT_EQ(std::string(small), std::string("/tmp/zg"));
  memset(small, 'X', sizeof small);
  zg::expand_path("ab%p", 123456789, small, 8);
  EXPECT_EQ(small[8], 'X');
  EXPECT_STREQ(small, "ab12345");
}

TEST(Options, HelpListsEveryOptionWithItsDefault) {
  std::vector<std::string> lines;
  zg::options_help([](const char* text, void* ctx) { static_cast<std::vector<std::string>*>(ctx)->push_back(text); },
                   &lines);
  std::vector<Row> rows = table_rows();
  ASSERT_EQ(lines.size(), rows.size() + 1) << "a title line and one line per option";
  EXPECT_TRUE(contains(lines[0], "ZMQ_GUARD_OPTIONS"));
  for (size_t i = 0; i < rows.size(); i++) {
    const std::string& l = lines[i + 1];
    EXPECT_EQ(l.find('\n'), std::string::npos);
    // "  name   default value   help [accepted]"
    size_t at = l.find_first_not_of(' ');
    ASSERT_NE(at, std::string::npos);
    EXPECT_EQ(l.compare(at, strlen(rows[i].name), rows[i].name), 0) << l;
    EXPECT_EQ(l[at + strlen(rows[i].name)], ' ') << l;
    std::string def = rows[i].def.empty() ? "\"\"" : rows[i].def;
    EXPECT_TRUE(contains(l, "default " + def + " ")) << l;
    EXPECT_EQ(l.back(), ']') << l;
  }
  // Accepted values are listed.
  bool saw_modes = false;
  for (const std::string& l : lines) saw_modes |= contains(l, "[abort, warn, serialize, off]");
  EXPECT_TRUE(saw_modes);
}

TEST(Options, OptionCheck) {
  char msg[1024];
  EXPECT_TRUE(zg::option_check("mode", "warn", msg, sizeof msg));
  EXPECT_TRUE(zg::option_check("policy", "overlap", msg, sizeof msg));
  EXPECT_TRUE(zg::option_check("exitcode", "255", msg, sizeof msg));
  EXPECT_TRUE(zg::option_check("leaks", "1", msg, sizeof msg));
  EXPECT_TRUE(zg::option_check("log_path", "/tmp/x-%p", msg, sizeof msg));

  msg[0] = 0;
  EXPECT_FALSE(zg::option_check("mode", "chatty", msg, sizeof msg));
  EXPECT_TRUE(contains(msg, "mode")) << msg;
  EXPECT_TRUE(contains(msg, "chatty")) << msg;
  EXPECT_TRUE(contains(msg, "abort, warn, serialize, off")) << msg;

  msg[0] = 0;
  EXPECT_FALSE(zg::option_check("exitcode", "300", msg, sizeof msg));
  EXPECT_TRUE(contains(msg, "exitcode")) << msg;
  EXPECT_TRUE(contains(msg, "300")) << msg;

  msg[0] = 0;
  EXPECT_FALSE(zg::option_check("colour", "1", msg, sizeof msg));
  EXPECT_TRUE(contains(msg, "'colour'")) << msg;
  EXPECT_TRUE(contains(msg, "policy")) << msg;

  // A small buffer is truncated, not overrun.
  char tiny[16];
  memset(tiny, 'X', sizeof tiny);
  EXPECT_FALSE(zg::option_check("mode", "chatty", tiny, 8));
  EXPECT_EQ(strlen(tiny), 7u);
  EXPECT_EQ(tiny[8], 'X');
}

TEST(Options, HugeKeysAndValuesAreQuotedShort) {
  Options o;
  zg::options_defaults(&o);
  Errors e;
  std::string text = std::string(100000, 'K') + "=1:mode=" + std::string(100000, 'W');
  EXPECT_EQ(zg::options_parse(text.c_str(), &o, Errors::add, &e), 2);
  ASSERT_EQ(e.lines.size(), 2u);
  EXPECT_EQ(e.lines[0].find("zmq-guard: unknown option '" + std::string(64, 'K') + "...' (known: "), 0u) << e.lines[0];
  EXPECT_EQ(e.lines[1].find("zmq-guard: option mode: bad value '" + std::string(64, 'W') + "...' (accepted: "), 0u)
      << e.lines[1];
  EXPECT_EQ(o.mode_value(), zg::Mode::Abort);
}

TEST(Options, FormatCharactersAreText) {
  Options o;
  zg::options_defaults(&o);
  Errors e;
  EXPECT_EQ(zg::options_parse("mode=%n%s%s:%n%s=1:log_path=%s%n", &o, Errors::add, &e), 2);
  ASSERT_EQ(e.lines.size(), 2u);
  EXPECT_NE(e.lines[0].find("bad value '%n%s%s'"), std::string::npos) << e.lines[0];
  EXPECT_NE(e.lines[1].find("unknown option '%n%s'"), std::string::npos) << e.lines[1];
  EXPECT_STREQ(o.log_path, "%s%n");
}

TEST(Options, ControlBytesInALineAreQuestionMarks) {
  // Found by fuzz/fuzz_options (fuzz/corpus/options/newline-in-key): the
  // line quoted a newline of the key and was two lines for its reader.
  Options o;
  zg::options_defaults(&o);
  Errors e;
  EXPECT_EQ(zg::options_parse("he\xff\n=1:mode=\x1b[2J", &o, Errors::add, &e), 2);
  ASSERT_EQ(e.lines.size(), 2u);
  EXPECT_EQ(e.lines[0].find("zmq-guard: unknown option 'he\xff?' "), 0u) << e.lines[0];
  EXPECT_NE(e.lines[1].find("bad value '?[2J'"), std::string::npos) << e.lines[1];
}

TEST(Options, SecureExecutionClearsThePathsAndSaysSoOnce) {
  Options o;
  zg::options_defaults(&o);
  ASSERT_EQ(zg::options_parse("log_path=/tmp/a:json_path=/tmp/b:suppressions=/tmp/c:mode=warn", &o, nullptr, nullptr), 0);
  Options plain = o;
  Errors e;
  EXPECT_EQ(zg::options_secure_restrict(&plain, false, Errors::add, &e), 0);
  EXPECT_STREQ(plain.log_path, "/tmp/a");
  EXPECT_TRUE(e.lines.empty());
  EXPECT_EQ(zg::options_secure_restrict(&o, true, Errors::add, &e), 3);
  EXPECT_STREQ(o.log_path, "");
  EXPECT_STREQ(o.json_path, "");
  EXPECT_STREQ(o.suppressions, "");
  EXPECT_EQ(o.mode_value(), zg::Mode::Warn);
  ASSERT_EQ(e.lines.size(), 1u);
  EXPECT_EQ(e.lines[0],
            "zmq-guard: secure-execution process (setuid, setgid or capabilities): ignoring log_path, json_path, "
            "suppressions; reports go to stderr");
  // Nothing set, nothing said.
  Options none;
  zg::options_defaults(&none);
  Errors quiet;
  EXPECT_EQ(zg::options_secure_restrict(&none, true, Errors::add, &quiet), 0);
  EXPECT_TRUE(quiet.lines.empty());
}

TEST(Options, SetForTestIsWhatOptionsReturns) {
  Options o = defaults();
  o.exitcode = 42;
  o.policy = static_cast<int>(zg::Policy::Strict);
  zg::options_set_for_test(o);
  EXPECT_EQ(zg::options().exitcode, 42);
  EXPECT_EQ(zg::options().policy_value(), zg::Policy::Strict);
  zg::options_set_for_test(defaults());
  EXPECT_EQ(zg::options().exitcode, 66);
}

}  // namespace
