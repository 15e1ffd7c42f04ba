// SPDX-License-Identifier: MIT
// Report formatting: the text shape tests and people match on, JSON that a
// real parser accepts, and Python tracebacks.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/options.h"
#include "report/format.h"
#include "report/python.h"
#include "report/script.h"
#include "support.h"

namespace {

using zgunit::lines_of;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

const char* const kBanner = "=================================================================";
const char* const kPyText =
    "Stack (most recent call first):\n"
    "  File \"/a/b.py\", line 12 in worker\n"
    "  File \"/a/main.py\", line 30 in <module>\n";

struct Fixture {
  zg::Stack stack;
  int line = 0;
  zg::Finding f;

  Fixture() {
    zgunit::use_default_options();
    zgunit::capture_here(&stack, &line);
    f.kind = zg::FindingKind::CrossThread;
    f.severity = "ERROR";
    f.call = "zmq_recv";
    f.socket = reinterpret_cast<void*>(0x7f00deadbe00);
    f.socket_id = 2;
    f.socket_type = 5;  // ZMQ_DEALER
    f.endpoints = "connect inproc://echo\0";  // a list: entries end in NUL, then an empty one
    f.mode = "abort";
    f.policy = "handoff";
    set(&f.thread, 3, 3615, "shared", 1);
    f.stack = &stack;
    set(&f.owner, 2, 3614, "main", 1);
    f.owner_stack = &stack;
    f.owner_call = "zmq_send";
    set(&f.creator, 1, 3613, "creator", 0);
    f.created_stack = &stack;
  }
  static void set(zg::ThreadInfo* t, uint64_t serial, pid_t tid, const char* name, int running) {
    t->known = true;
    t->serial = serial;
    t->tid = tid;
    snprintf(t->name, sizeof t->name, "%s", name);
    t->running = running;
  }
};

std::string text_of(const zg::Finding& f) {
  char* t = zg::report_format_text(f);
  std::string s = t ? t : "";
  free(t);
  return s;
}

std::string json_of(const zg::Finding& f) {
  char* t = zg::report_format_json(f);
  std::string s = t ? t : "";
  free(t);
  return s;
}

std::string line_starting(const std::vector<std::string>& lines, const std::string& prefix) {
  for (const std::string& l : lines)
    if (l.compare(0, prefix.size(), prefix) == 0) return l;
  return "";
}

TEST(ReportText, CrossThreadShape) {
  Fixture fx;
  std::string text = text_of(fx.f);
  std::vector<std::string> lines = lines_of(text);
  ASSERT_GE(lines.size(), 8u) << text;

  EXPECT_EQ(lines.front(), kBanner);
  EXPECT_EQ(lines.back(), kBanner);
  EXPECT_EQ(text.back(), '\n');
  char head[128];
  snprintf(head, sizeof head, "==%d==ERROR: zmq-guard: cross_thread: socket used by a thread that does not own it",
           (int)getpid());
  EXPECT_EQ(lines[1], head) << text;
  EXPECT_TRUE(contains(text, "\n  socket 0x7f00deadbe00 (DEALER, #2), connect inproc://echo\n")) << text;
  EXPECT_TRUE(contains(text, "\n  thread T3 \"shared\" (tid 3615) calls zmq_recv:\n")) << text;
  EXPECT_TRUE(contains(text, "\n  owner: thread T2 \"main\" (tid 3614, running), which took the socket with zmq_send here:\n"))
      << text;
  EXPECT_TRUE(contains(text, "\n  socket created by thread T1 \"creator\" (tid 3613, exited) here:\n")) << text;
  EXPECT_FALSE(line_starting(lines, "HINT: ").empty()) << text;

  // The captured frame, by name and by source line.
  EXPECT_TRUE(contains(text, "    #0 0x")) << text;
  EXPECT_TRUE(contains(text, " in zgunit_capture_site")) << text;
  std::string where = "support.cpp:" + std::to_string(fx.line);
  EXPECT_TRUE(contains(text, where)) << "expected " << where << " in\n" << text;

  std::string summary = line_starting(lines, "SUMMARY: ");
  const char* want = "SUMMARY: zmq-guard: cross_thread zmq_recv on DEALER socket 0x7f00deadbe00 by T3 \"shared\" in zgunit_capture_site";
  EXPECT_EQ(summary.compare(0, strlen(want), want), 0) << summary;
  // Both sides, in the user's terms.
  EXPECT_TRUE(contains(summary, "; owner T2 \"main\" took it in zgunit_capture_site")) << summary;
  EXPECT_TRUE(contains(summary, " " + where)) << summary;
  // HINT then SUMMARY then the closing banner.
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines[lines.size() - 2], summary);
  // The hint wraps: its last line is indented under its first.
  size_t hint = lines.size();
  for (size_t i = 0; i < lines.size(); i++)
    if (lines[i].compare(0, 6, "HINT: ") == 0) hint = i;
  ASSERT_LT(hint, lines.size() - 2);
  for (size_t i = hint + 1; i < lines.size() - 2; i++) EXPECT_EQ(lines[i].compare(0, 6, "      "), 0) << lines[i];
}

TEST(ReportText, SocketTypesAndSeverity) {
  Fixture fx;
  const struct {
    int type;
    const char* name;
  } types[] = {{0, "PAIR"}, {1, "PUB"}, {2, "SUB"}, {3, "REQ"}, {4, "REP"}, {5, "DEALER"}, {6, "ROUTER"},
               {7, "PULL"}, {8, "PUSH"}, {9, "XPUB"}, {10, "XSUB"}, {11, "STREAM"}, {12, "SERVER"},
               {13, "CLIENT"}, {14, "RADIO"}, {15, "DISH"}, {16, "GATHER"}, {17, "SCATTER"}, {18, "DGRAM"},
               {19, "PEER"}, {20, "CHANNEL"}, {-1, "UNKNOWN"}, {99, "UNKNOWN"}};
  for (const auto& t : types) EXPECT_STREQ(zg::socket_type_name(t.type), t.name) << t.type;

  fx.f.severity = "WARNING";
  fx.f.socket_type = 6;
  fx.f.kind = zg::FindingKind::UseAfterClose;
  fx.f.owner = zg::ThreadInfo();
  fx.f.hint = "a hint of our own";
  std::string text = text_of(fx.f);
  char head[128];
  snprintf(head, sizeof head, "\n==%d==WARNING: zmq-guard: use_after_close: socket used after zmq_close\n",
           (int)getpid());
  EXPECT_TRUE(contains(text, head)) << text;
  EXPECT_TRUE(contains(text, "(ROUTER, #2)")) << text;
  EXPECT_FALSE(contains(text, "owner:")) << text;
  EXPECT_TRUE(contains(text, "\nHINT: a hint of our own\n")) << text;
  EXPECT_TRUE(contains(text, "SUMMARY: zmq-guard: use_after_close zmq_recv on ROUTER socket 0x7f00deadbe00 by T3 \"shared\" in "))
      << text;
}

TEST(ReportText, PythonTracebacks) {
  Fixture fx;
  fx.f.py_stack = kPyText;
  fx.f.owner_py = kPyText;
  std::string text = text_of(fx.f);
  const char* tb =
      "    Python traceback of this thread (most recent call last):\n"
      "      File \"/a/main.py\", line 30, in <module>\n"
      "      File \"/a/b.py\", line 12, in worker\n";
  EXPECT_TRUE(contains(text, tb)) << text;
  EXPECT_TRUE(contains(text, "    Python traceback where it took the socket (most recent call last):\n")) << text;
  // Python first, then a few native frames.
  EXPECT_LT(text.find("Python traceback of this thread"), text.find("native stack:")) << text;
  // The culprit is the innermost Python frame.
  std::string summary = line_starting(lines_of(text), "SUMMARY: ");
  EXPECT_TRUE(contains(summary, "\"shared\" in worker b.py:12; owner T2 \"main\" took it in worker b.py:12")) << summary;
}

// A language's part has a title in each place of the report.
void expect_owner_and_creation_titles(const std::string& text, const std::string& title) {
  EXPECT_TRUE(contains(text, "    " + title + " where it took the socket (most recent call first):\n")) << text;
  EXPECT_TRUE(contains(text, "    " + title + " where it was created (most recent call first):\n")) << text;
}

// A Ruby backtrace as report/script.h gives it: the language, then most
// recent call first, "file<TAB>line<TAB>label".
const char* const kRbText =
    "ruby\n"
    "/usr/lib/ruby/vendor_ruby/ffi-rzmq/socket.rb\t580\t__sendmsg__\n"
    "/usr/lib/ruby/vendor_ruby/ffi-rzmq/socket.rb\t246\tsend_string\n"
    "/app/worker.rb\t7\tsend_job\n"
    "/app/worker.rb\t20\tblock in run\n"
    "<internal:kernel>\t90\ttap\n";

TEST(ReportText, RubyBacktraces) {
  Fixture fx;
  fx.f.script_stack = kRbText;
  fx.f.owner_script = kRbText;
  fx.f.created_script = kRbText;
  std::string text = text_of(fx.f);
  const char* bt =
      "    Ruby backtrace of this thread (most recent call first):\n"
      "      ... 2 frames in ffi-rzmq (frames=all shows them)\n"
      "      /app/worker.rb:7:in `send_job'\n"
      "      /app/worker.rb:20:in `block in run'\n"
      "      ... 1 frame in <internal:kernel> (frames=all shows them)\n";
  EXPECT_TRUE(contains(text, bt)) << text;
  expect_owner_and_creation_titles(text, "Ruby backtrace");
  // The culprit is the program's innermost Ruby frame, not ffi-rzmq's.
  std::string summary = line_starting(lines_of(text), "SUMMARY: ");
  EXPECT_TRUE(contains(summary, "\"shared\" in send_job worker.rb:7; owner T2 \"main\" took it in send_job worker.rb:7"))
      << summary;
  std::string json = json_of(fx.f);
  EXPECT_TRUE(contains(json, "\"ruby_stack\":[{\"file\":\"/usr/lib/ruby/vendor_ruby/ffi-rzmq/socket.rb\",\"line\":580,"
                             "\"method\":\"__sendmsg__\",\"class\":\"library\"},"))
      << json;
  EXPECT_TRUE(contains(json, "{\"file\":\"/app/worker.rb\",\"line\":7,\"method\":\"send_job\",\"class\":\"user\"}")) << json;
  EXPECT_TRUE(contains(json, "{\"file\":\"<internal:kernel>\",\"line\":90,\"method\":\"tap\",\"class\":\"runtime\"}]"))
      << json;
  EXPECT_TRUE(contains(json, "\"user_frame\":{\"function\":\"send_job\",\"file\":\"/app/worker.rb\",\"line\":7,")) << json;
  EXPECT_TRUE(contains(json, "\"python\":false,\"ruby\":true,\"language\":\"ruby\"}")) << json;
  // Ruby's frames in Ruby's fields only.
  EXPECT_TRUE(contains(json, "\"owner_ruby_stack\":[{")) << json;
  EXPECT_TRUE(contains(json, "\"created_ruby_stack\":[{")) << json;
}

// A Perl backtrace as report/perl.cpp records it (ZMQ::FFI from an
// ithread's closure): frames in ZMQ::FFI, one Moo made in a string eval,
// Try::Tiny's, the program's.
const char* const kPlText =
    "perl\n"
    "/usr/share/perl5/ZMQ/FFI/ZMQ4_1/Socket.pm\t388\tZMQ::FFI::ZMQ4_1::Socket::send\n"
    "(eval 19)\t75\tZMQ::FFI::ZMQ4_1::Socket::new\n"
    "/usr/share/perl5/Try/Tiny.pm\t102\t(eval)\n"
    "/app/worker.pl\t18\tmain::send_job\n"
    "/app/worker.pl\t27\tmain::__ANON__\n"
    "/usr/share/perl/5.36/Carp.pm\t290\tCarp::croak\n"
    "/app/worker.pl\t27\t(main)\n";

TEST(ReportText, PerlBacktraces) {
  Fixture fx;
  fx.f.script_stack = kPlText;
  fx.f.owner_script = kPlText;
  fx.f.created_script = kPlText;
  std::string text = text_of(fx.f);
  const char* bt =
      "    Perl backtrace of this thread (most recent call first):\n"
      "      ... 3 frames in ZMQ::FFI, Try::Tiny (frames=all shows them)\n"
      "      main::send_job at /app/worker.pl line 18\n"
      "      main::__ANON__ at /app/worker.pl line 27\n"
      "      ... 1 frame in Carp (frames=all shows them)\n"
      "      (main) at /app/worker.pl line 27\n";
  EXPECT_TRUE(contains(text, bt)) << text;
  expect_owner_and_creation_titles(text, "Perl backtrace");
  // The culprit is the program's innermost sub, not ZMQ::FFI's.
  std::string summary = line_starting(lines_of(text), "SUMMARY: ");
  EXPECT_TRUE(contains(summary, "\"shared\" in main::send_job worker.pl:18; owner T2 \"main\" took it in "
                                "main::send_job worker.pl:18"))
      << summary;
  std::string json = json_of(fx.f);
  EXPECT_TRUE(contains(json, "\"perl_stack\":[{\"file\":\"/usr/share/perl5/ZMQ/FFI/ZMQ4_1/Socket.pm\",\"line\":388,"
                             "\"method\":\"ZMQ::FFI::ZMQ4_1::Socket::send\",\"class\":\"library\"},"
                             "{\"file\":\"(eval 19)\",\"line\":75,\"method\":\"ZMQ::FFI::ZMQ4_1::Socket::new\","
                             "\"class\":\"library\"},"))
      << json;
  EXPECT_TRUE(contains(json, "{\"file\":\"/app/worker.pl\",\"line\":18,\"method\":\"main::send_job\",\"class\":\"user\"}"))
      << json;
  EXPECT_TRUE(contains(json, "{\"file\":\"/usr/share/perl/5.36/Carp.pm\",\"line\":290,\"method\":\"Carp::croak\","
                             "\"class\":\"library\"}"))
      << json;
  EXPECT_TRUE(contains(json, "\"user_frame\":{\"function\":\"main::send_job\",\"file\":\"/app/worker.pl\",\"line\":18,"))
      << json;
  EXPECT_TRUE(contains(json, "\"language\":\"perl\"}")) << json;
  EXPECT_TRUE(contains(json, "\"ruby_stack\":null")) << json;
  EXPECT_TRUE(contains(json, "\"created_perl_stack\":[{")) << json;
}

// A PHP backtrace as report/php.cpp gives it: each frame's function and the
// line its code is at; a function written in C (php-zmq's ZMQSocket->send,
// array_map) at the line that called it, as PHP's own backtraces place it.
const char* const kPhpText =
    "php\n"
    "/app/worker.php\t12\tZMQSocket->send\n"
    "/app/worker.php\t12\tWorker->{closure}\n"
    "/app/worker.php\t15\tarray_map\n"
    "/app/vendor/acme/queue/src/Queue.php\t40\tAcme\\Queue->flush\n"
    "/app/vendor/acme/queue/src/Queue.php\t33\tAcme\\Queue::run\n"
    "/app/worker.php\t30\t{main}\n";

TEST(ReportText, PhpBacktraces) {
  Fixture fx;
  fx.f.script_stack = kPhpText;
  fx.f.created_script = kPhpText;
  std::string text = text_of(fx.f);
  const char* bt =
      "    PHP backtrace of this thread (most recent call first):\n"
      "      ... 1 frame in php-zmq (frames=all shows them)\n"
      "      Worker->{closure}() in /app/worker.php:12\n"
      "      array_map() in /app/worker.php:15\n"
      "      ... 2 frames in acme/queue (frames=all shows them)\n"
      "      {main}() in /app/worker.php:30\n";
  EXPECT_TRUE(contains(text, bt)) << text;
  EXPECT_TRUE(contains(text, "    PHP backtrace where it was created (most recent call first):\n")) << text;
  // The culprit is the program's innermost frame, not php-zmq's method.
  std::string summary = line_starting(lines_of(text), "SUMMARY: ");
  EXPECT_TRUE(contains(summary, "\"shared\" in Worker->{closure} worker.php:12;")) << summary;
  std::string json = json_of(fx.f);
  EXPECT_TRUE(contains(json, "\"php_stack\":[{\"file\":\"/app/worker.php\",\"line\":12,"
                             "\"method\":\"ZMQSocket->send\",\"class\":\"library\"},"))
      << json;
  EXPECT_TRUE(contains(json, "{\"file\":\"/app/vendor/acme/queue/src/Queue.php\",\"line\":33,"
                             "\"method\":\"Acme\\\\Queue::run\",\"class\":\"library\"}"))
      << json;
  EXPECT_TRUE(contains(json, "\"user_frame\":{\"function\":\"Worker->{closure}\",\"file\":\"/app/worker.php\",\"line\":12,"))
      << json;
  EXPECT_TRUE(contains(json, "\"python\":false,\"ruby\":false,\"language\":\"php\"}")) << json;
  // PHP's frames in PHP's fields only.
  for (const char* k : {"\"ruby_stack\":null", "\"perl_stack\":null", "\"php_stack\":[{", "\"owner_php_stack\":null",
                        "\"created_ruby_stack\":null", "\"created_php_stack\":[{"})
    EXPECT_TRUE(contains(json, k)) << k << "\n" << json;
}

// php-zmq's classes are the binding, PHP's own functions without a file of
// their own the runtime, composer's vendor/ and Debian's /usr/share/php
// libraries; any other file the program's.
TEST(ReportText, PhpFrameClasses) {
  size_t n = 0;
  const zg::LangOps* const* langs = zg::script_langs(&n);
  const zg::LangOps* php = nullptr;
  for (size_t i = 0; i < n; i++)
    if (!strcmp(langs[i]->key, "php")) php = langs[i];
  ASSERT_NE(php, nullptr);
  using zg::ScriptClass;
  EXPECT_EQ(php->classify("/app/a.php", "ZMQSocket->send"), ScriptClass::Binding);
  EXPECT_EQ(php->classify("/app/a.php", "ZMQContext->getsocket"), ScriptClass::Binding);
  EXPECT_EQ(php->classify("/app/a.php", "ZMQ::LIBZMQ_VER"), ScriptClass::Binding);
  EXPECT_EQ(php->classify("/app/a.php", "ZMQWorker->run"), ScriptClass::User) << "a class of the program's";
  EXPECT_EQ(php->classify("/app/a.php", "zmq_helper"), ScriptClass::User);
  EXPECT_EQ(php->classify("[internal function]", "array_map"), ScriptClass::Runtime);
  EXPECT_EQ(php->classify("/usr/share/php/Monolog/Logger.php", "Monolog\\Logger->log"), ScriptClass::Library);
  EXPECT_EQ(php->classify("/srv/app/vendor/acme/q/Q.php", "Acme\\Q->run"), ScriptClass::Library);
  EXPECT_EQ(php->classify("/app/a.php", "{main}"), ScriptClass::User);
  char name[64];
  php->short_name("/app/a.php", "ZMQSocket->send", name, sizeof name);
  EXPECT_STREQ(name, "php-zmq");
  php->short_name("[internal function]", "array_map", name, sizeof name);
  EXPECT_STREQ(name, "PHP");
  php->short_name("/srv/app/vendor/acme/queue/src/Q.php", "Acme\\Q->run", name, sizeof name);
  EXPECT_STREQ(name, "acme/queue");
  php->short_name("/usr/share/php/Monolog/Logger.php", "Monolog\\Logger->log", name, sizeof name);
  EXPECT_STREQ(name, "Monolog");
}

// A Java stack trace as report/java.cpp gives it: a native method's file is
// "Native Method" (line -2), a class without a SourceFile attribute's
// "Unknown Source" (line -1).
const char* const kJavaText =
    "java\n"
    "Native Method\t-2\torg.zeromq.ZMQ$Socket.send\n"
    "ZMQ.java\t1563\torg.zeromq.ZMQ$Socket.send\n"
    "JzmqPair.java\t13\tJzmqPair.sendJob\n"
    "JzmqPair.java\t27\tJzmqPair.lambda$main$0\n"
    "Unknown Source\t-1\tJzmqPair$$Lambda$1/0x00007f5ba4001800.run\n"
    "Thread.java\t840\tjava.lang.Thread.run\n";

TEST(ReportText, JavaStackTraces) {
  Fixture fx;
  fx.f.script_stack = kJavaText;
  fx.f.owner_script = kJavaText;
  fx.f.created_script = kJavaText;
  std::string text = text_of(fx.f);
  const char* st =
      "    Java stack trace of this thread (most recent call first):\n"
      "      ... 2 frames in org.zeromq (frames=all shows them)\n"
      "      at JzmqPair.sendJob(JzmqPair.java:13)\n"
      "      at JzmqPair.lambda$main$0(JzmqPair.java:27)\n"
      "      ... 2 frames in JzmqPair, java.lang (frames=all shows them)\n";
  EXPECT_TRUE(contains(text, st)) << text;
  EXPECT_TRUE(contains(text, "    Java stack trace where it took the socket (most recent call first):\n")) << text;
  std::string summary = line_starting(lines_of(text), "SUMMARY: ");
  EXPECT_TRUE(contains(summary, "\"shared\" in JzmqPair.sendJob JzmqPair.java:13; owner T2 \"main\" took it in "
                                "JzmqPair.sendJob JzmqPair.java:13"))
      << summary;
  // Every frame as Java prints it.
  zg::Options all_frames;
  zg::options_defaults(&all_frames);
  all_frames.frames = 1;
  zg::options_set_for_test(all_frames);
  text = text_of(fx.f);
  const char* all =
      "      at org.zeromq.ZMQ$Socket.send(Native Method)\n"
      "      at org.zeromq.ZMQ$Socket.send(ZMQ.java:1563)\n"
      "      at JzmqPair.sendJob(JzmqPair.java:13)\n"
      "      at JzmqPair.lambda$main$0(JzmqPair.java:27)\n"
      "      at JzmqPair$$Lambda$1/0x00007f5ba4001800.run(Unknown Source)\n"
      "      at java.lang.Thread.run(Thread.java:840)\n";
  EXPECT_TRUE(contains(text, all)) << text;
  zgunit::use_default_options();
  std::string json = json_of(fx.f);
  EXPECT_TRUE(contains(json, "\"java_stack\":[{\"file\":\"Native Method\",\"line\":-2,"
                             "\"method\":\"org.zeromq.ZMQ$Socket.send\",\"class\":\"library\"},"))
      << json;
  EXPECT_TRUE(contains(json, "\"user_frame\":{\"function\":\"JzmqPair.sendJob\",\"file\":\"JzmqPair.java\",\"line\":13,"))
      << json;
  EXPECT_TRUE(contains(json, "\"language\":\"java\"}")) << json;
  EXPECT_TRUE(contains(json, "\"ruby_stack\":null")) << json;
  EXPECT_TRUE(contains(json, "\"created_java_stack\":[{")) << json;
}

TEST(ReportText, ProgramTextCannotBreakALine) {
  // A thread name, an endpoint and a Python file name are the program's:
  // a newline in them must not split a report line (tests and CI grep
  // SUMMARY as one line).
  Fixture fx;
  snprintf(fx.f.thread.py_name, sizeof fx.f.thread.py_name, "two\nlines");
  fx.f.endpoints = "bind ipc:///tmp/a\nb\0";
  fx.f.py_stack = "  File \"/a/new\\x0aline.py\", line 4 in worker\n";
  std::string text = text_of(fx.f);
  std::vector<std::string> lines = lines_of(text);
  std::string summary = line_starting(lines, "SUMMARY: ");
  EXPECT_TRUE(contains(summary, "\"two?lines\" in worker new?line.py:4; owner T2")) << summary;
  EXPECT_TRUE(contains(text, ", bind ipc:///tmp/a?b\n")) << text;
  EXPECT_TRUE(contains(text, "      File \"/a/new?line.py\", line 4, in worker\n")) << text;
  // JSON keeps them exactly (escaped).
  EXPECT_TRUE(contains(json_of(fx.f), "\"python_name\":\"two\\nlines\"")) << json_of(fx.f);
}

TEST(ReportText, RubyNameBeforeTheOsNameAfterPython) {
  // A Ruby thread's name whole, where the OS name is its first 15 bytes;
  // a Python name, when there is one, still comes first.
  Fixture fx;
  snprintf(fx.f.thread.name, sizeof fx.f.thread.name, "a-very-long-thr");
  snprintf(fx.f.thread.rb_name, sizeof fx.f.thread.rb_name, "a-very-long-thread-name");
  snprintf(fx.f.owner.py_name, sizeof fx.f.owner.py_name, "py-owner");
  snprintf(fx.f.owner.rb_name, sizeof fx.f.owner.rb_name, "not-shown");
  std::string text = text_of(fx.f);
  std::string summary = line_starting(lines_of(text), "SUMMARY: ");
  EXPECT_TRUE(contains(text, "thread T3 \"a-very-long-thread-name\" (tid 3615)")) << text;
  EXPECT_TRUE(contains(summary, "by T3 \"a-very-long-thread-name\"")) << summary;
  EXPECT_TRUE(contains(summary, "owner T2 \"py-owner\"") && !contains(text, "not-shown")) << text;
  std::string json = json_of(fx.f);
  EXPECT_TRUE(contains(json, "\"name\":\"a-very-long-thr\",\"python_name\":\"\",\"ruby_name\":\"a-very-long-thread-name\"")) << json;
}

TEST(ReportText, UnknownThreadsAndNoStacks) {
  zgunit::use_default_options();
  zg::Finding f;
  f.kind = zg::FindingKind::CtxTermOpenSockets;
  f.severity = "ERROR";
  f.call = "zmq_ctx_term";
  f.extra = "  open: 0x1 (PUSH)\n";
  std::string text = text_of(f);
  EXPECT_TRUE(contains(text, "  an unknown thread calls zmq_ctx_term:\n    <no stack>\n")) << text;
  EXPECT_TRUE(contains(text, "  open: 0x1 (PUSH)\n")) << text;
  EXPECT_FALSE(contains(text, "  socket 0x")) << text;
  EXPECT_TRUE(contains(text, "\nSUMMARY: zmq-guard: ctx_term_open_sockets zmq_ctx_term\n")) << text;
}

// Runs a Python check over one JSON report and returns "key -> rest of line".
std::map<std::string, std::string> python_view(const std::string& json) {
  zgunit::TempDir dir;
  std::string file = dir.write("report.json", json);
  std::string script = dir.write("check.py", R"PY(
import json, sys
text = open(sys.argv[1], encoding='utf-8').read()
print('lines', text.count('\n'), 'ends_nl', text.endswith('\n'))
o = json.loads(text)
top = ['kind', 'severity', 'call', 'socket', 'socket_id', 'socket_type', 'endpoints', 'pid', 'mode',
       'policy', 'thread', 'owner', 'creator', 'owner_role', 'stack', 'owner_stack', 'created_stack',
       'python_stack', 'owner_python_stack', 'created_python_stack', 'ruby_stack', 'owner_ruby_stack',
       'created_ruby_stack', 'perl_stack', 'owner_perl_stack', 'created_perl_stack', 'php_stack',
       'owner_php_stack', 'created_php_stack', 'java_stack', 'owner_java_stack', 'created_java_stack',
       'detail', 'user_frame', 'owner_user_frame',
       'summary', 'test', 'cmdline']
print('missing', ','.join(k for k in top if k not in o) or '-')
print('extra', ','.join(sorted(k for k in o if k not in top)) or '-')
for k in ('thread', 'owner', 'creator'):
    print(k, json.dumps(o[k], sort_keys=True))
for k in ('stack', 'owner_stack', 'created_stack'):
    v = o[k]
    keys = sorted(set(tuple(sorted(f)) for f in v))
    print(k, len(v), json.dumps(keys), json.dumps([f['function'] for f in v[:1]]),
          json.dumps([f['line'] for f in v[:1]]), all(f['address'].startswith('0x') and f['offset'].startswith('0x') for f in v))
for k in ('python_stack', 'owner_python_stack', 'created_python_stack', 'ruby_stack', 'owner_ruby_stack',
          'created_ruby_stack', 'perl_stack', 'owner_perl_stack', 'created_perl_stack', 'php_stack',
          'owner_php_stack', 'created_php_stack', 'java_stack', 'owner_java_stack', 'created_java_stack'):
    print(k, json.dumps(o[k]))
print('endpoints', json.dumps(o['endpoints']))
for k in ('user_frame', 'owner_user_frame'):
    print(k, json.dumps(o[k], sort_keys=True))
print('summary', o['summary'])
print('process', json.dumps([o['test'], o['cmdline']]))
print('scalars', json.dumps([o['kind'], o['severity'], o['call'], o['socket'], o['socket_id'], o['socket_type'],
                             o['pid'], o['mode'], o['policy'], o['owner_role'], o['detail']]))
)PY");
  int status = -1;
  std::string out = zgunit::run_command("/usr/bin/python3 " + script + " " + file, &status);
  std::map<std::string, std::string> view;
  EXPECT_EQ(status, 0) << "python could not read the JSON:\n" << json;
  for (const std::string& l : lines_of(out)) {
    size_t sp = l.find(' ');
    view[l.substr(0, sp)] = sp == std::string::npos ? "" : l.substr(sp + 1);
  }
  return view;
}

TEST(ReportJson, ValidWithEveryField) {
  Fixture fx;
  fx.f.py_stack = kPyText;
  fx.f.extra = "detail line";
  std::string json = json_of(fx.f);
  auto v = python_view(json);
  EXPECT_EQ(v["lines"], "1 ends_nl True") << "one object per line";
  EXPECT_EQ(v["missing"], "-");
  EXPECT_EQ(v["extra"], "-");
  EXPECT_EQ(v["thread"], "{\"name\": \"shared\", \"python_name\": \"\", \"ruby_name\": \"\", \"running\": true, \"serial\": 3, \"tid\": 3615}");
  EXPECT_EQ(v["owner"], "{\"name\": \"main\", \"python_name\": \"\", \"ruby_name\": \"\", \"running\": true, \"serial\": 2, \"tid\": 3614}");
  EXPECT_EQ(v["creator"], "{\"name\": \"creator\", \"python_name\": \"\", \"ruby_name\": \"\", \"running\": false, \"serial\": 1, \"tid\": 3613}");
  std::string frame_keys = "[[\"address\", \"class\", \"file\", \"function\", \"line\", \"module\", \"offset\"]]";
  for (const char* k : {"stack", "owner_stack", "created_stack"}) {
    const std::string& s = v[k];
    EXPECT_EQ(s.rfind(std::to_string(fx.stack.n) + " " + frame_keys, 0), 0u) << k << ": " << s;
    EXPECT_TRUE(contains(s, "[\"zgunit_capture_site")) << k << ": " << s;
    EXPECT_TRUE(contains(s, "[" + std::to_string(fx.line) + "]")) << k << ": " << s;
    EXPECT_TRUE(contains(s, " True")) << k << ": " << s;
  }
  EXPECT_EQ(v["python_stack"],
            "[{\"file\": \"/a/main.py\", \"line\": 30, \"function\": \"<module>\", \"class\": \"user\"}, "
            "{\"file\": \"/a/b.py\", \"line\": 12, \"function\": \"worker\", \"class\": \"user\"}]");
  EXPECT_EQ(v["owner_python_stack"], "null");
  EXPECT_EQ(v["created_python_stack"], "null");
  EXPECT_EQ(v["endpoints"], "[\"connect inproc://echo\"]");
  for (const char* k : {"ruby_stack", "owner_ruby_stack", "created_ruby_stack", "perl_stack", "owner_perl_stack",
                        "created_perl_stack", "php_stack", "owner_php_stack", "created_php_stack", "java_stack",
                        "owner_java_stack", "created_java_stack"})
    EXPECT_EQ(v[k], "null") << k;
  // The frames SUMMARY names, for CI annotations: the innermost Python frame
  // of the offending thread, the owner's native frame (a file made absolute).
  EXPECT_EQ(v["user_frame"],
            "{\"file\": \"/a/b.py\", \"function\": \"worker\", \"language\": \"python\", \"line\": 12, \"module\": \"\", "
            "\"offset\": \"0x0\", \"python\": true, \"ruby\": false}");
  EXPECT_TRUE(contains(v["owner_user_frame"], "\"function\": \"zgunit_capture_site")) << v["owner_user_frame"];
  EXPECT_TRUE(contains(v["owner_user_frame"], "/tests/unit/support.cpp\", \"function\"")) << v["owner_user_frame"];
  EXPECT_TRUE(contains(v["owner_user_frame"], "\"file\": \"/")) << v["owner_user_frame"];
  EXPECT_EQ(v["summary"].rfind("SUMMARY: zmq-guard: cross_thread zmq_recv on DEALER socket 0x7f00deadbe00 by T3 "
                               "\"shared\" in worker b.py:12; owner T2 \"main\" took it in zgunit_capture_site",
                               0),
            0u)
      << v["summary"];
  EXPECT_TRUE(contains(v["process"], "[\"\", \"")) << "no test outside pytest: " << v["process"];
  EXPECT_TRUE(contains(v["process"], "unit")) << "the command line: " << v["process"];
  EXPECT_EQ(v["scalars"], "[\"cross_thread\", \"ERROR\", \"zmq_recv\", \"0x7f00deadbe00\", 2, \"DEALER\", " +
                              std::to_string(getpid()) + ", \"abort\", \"handoff\", \"owner\", \"detail line\"]");
}

TEST(ReportJson, EscapesQuotesNewlinesAndControlCharacters) {
  Fixture fx;
  fx.f.endpoints = "connect ipc:///tmp/we\"ird\nname\0bind tcp://*:5555\0bind ipc:///tmp/back\\slash\ttab\0";
  Fixture::set(&fx.f.thread, 3, 3615, "q\"uo\\te", 1);
  fx.f.extra = "line one\nline \"two\"\r\n";
  std::string json = json_of(fx.f);
  EXPECT_EQ(json.find('\n'), json.size() - 1) << "a raw newline inside the object: " << json;
  auto v = python_view(json);
  EXPECT_EQ(v["endpoints"],
            "[\"connect ipc:///tmp/we\\\"ird\\nname\", \"bind tcp://*:5555\", \"bind ipc:///tmp/back\\\\slash\\ttab\"]");
  EXPECT_TRUE(contains(v["thread"], "\"name\": \"q\\\"uo\\\\te\"")) << v["thread"];
  EXPECT_TRUE(contains(v["scalars"], "\"line one\\nline \\\"two\\\"\\r\\n\"")) << v["scalars"];
}

TEST(ReportJson, AnEndpointWithASeparatorInItStaysOneEntry) {
  // An ipc path may hold "; " (or anything but a NUL): the list the guard
  // keeps is not split on it.
  Fixture fx;
  char list[512] = {};
  zg::endpoints_add(list, sizeof list, "bind", "ipc:///tmp/a; b");
  zg::endpoints_add(list, sizeof list, "connect", "tcp://h:1");
  fx.f.endpoints = list;
  auto v = python_view(json_of(fx.f));
  EXPECT_EQ(v["endpoints"], "[\"bind ipc:///tmp/a; b\", \"connect tcp://h:1\"]");
  EXPECT_TRUE(contains(text_of(fx.f), ", bind ipc:///tmp/a; b; connect tcp://h:1\n")) << text_of(fx.f);
}

TEST(ReportJson, EndpointsCutToTheirBufferStillEnd) {
  char list[40];
  memset(list, 0, sizeof list);
  for (int i = 0; i < 10; i++) zg::endpoints_add(list, sizeof list, "connect", "tcp://somewhere:5555");
  EXPECT_EQ(list[sizeof list - 1], 0);
  std::vector<std::string> entries;
  for (const char* p = list; *p; p = zg::endpoints_next(p)) entries.push_back(p);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0], "connect tcp://somewhere:5555");
  EXPECT_EQ(entries[1], "connect t") << "the entry that did not fit is cut";
  char joined[16];
  zg::endpoints_join(list, joined, sizeof joined);
  EXPECT_EQ(std::string(joined), "connect tcp://s");
}

TEST(ReportJson, BytesThatAreNotUtf8StayValidJson) {
  Fixture fx;
  // The kernel cuts thread names at 15 bytes, in the middle of a character
  // if need be; paths may be in any encoding.
  Fixture::set(&fx.f.thread, 3, 3615, "\xc3\x9c" "berwachung-0\xc3", 1);  // "Überwachung-0" + half a 'Ã'
  fx.f.endpoints = "bind ipc:///tmp/caf\xe9\0connect tcp://h\xc3\xa9llo:1\0";  // Latin-1 é, then UTF-8 é
  std::string json = json_of(fx.f);
  auto v = python_view(json);
  EXPECT_EQ(v["missing"], "-") << json;
  // Valid UTF-8 passes through, each bad byte becomes U+FFFD.
  EXPECT_TRUE(contains(v["thread"], "\"name\": \"\\u00dcberwachung-0\\ufffd\"")) << v["thread"];
  EXPECT_EQ(v["endpoints"], "[\"bind ipc:///tmp/caf\\ufffd\", \"connect tcp://h\\u00e9llo:1\"]");
}

// Every row of src/core/findings.def makes a whole report: its name and
// title in the first line, its hint, its name in SUMMARY and the JSON.
TEST(ReportText, EveryKindOfTheTable) {
  for (int k = 1; k < static_cast<int>(zg::FindingKind::Count); k++) {
    Fixture fx;
    fx.f.kind = static_cast<zg::FindingKind>(k);
    const std::string name = zg::finding_name(fx.f.kind);
    const std::string text = text_of(fx.f);
    char head[300];
    snprintf(head, sizeof head, "==%d==ERROR: zmq-guard: %s: %s\n", (int)getpid(), name.c_str(),
             zg::finding_title(fx.f.kind));
    EXPECT_TRUE(contains(text, head)) << text;
    const std::string hint = zg::finding_hint(fx.f.kind);
    EXPECT_TRUE(contains(text, "\nHINT: " + hint.substr(0, hint.find(' ')) + " ")) << text;
    EXPECT_TRUE(contains(text, "\nSUMMARY: zmq-guard: " + name + " zmq_recv on DEALER")) << text;
    EXPECT_EQ(python_view(json_of(fx.f))["scalars"].rfind("[\"" + name + "\", ", 0), 0u) << name;
  }
}

TEST(ReportJson, NullsForUnknownParts) {
  zgunit::use_default_options();
  zg::Finding f;
  f.kind = zg::FindingKind::Leak;
  f.severity = "INFO";
  f.call = "exit";
  auto v = python_view(json_of(f));
  EXPECT_EQ(v["missing"], "-");
  EXPECT_EQ(v["thread"], "null");
  EXPECT_EQ(v["owner"], "null");
  EXPECT_EQ(v["creator"], "null");
  EXPECT_EQ(v["stack"].rfind("0 [] [] [] True", 0), 0u) << v["stack"];
  EXPECT_EQ(v["python_stack"], "null");
  EXPECT_EQ(v["endpoints"], "[]");
  EXPECT_TRUE(contains(v["scalars"], "[\"leak\", \"INFO\", \"exit\", null, 0, \"\"")) << v["scalars"];
}

// The frames py_frames hands out, in its order, into *got (emptied first);
// py_frames' count.
int frames_of(const char* text, std::vector<zg::PyFrame>* got) {
  got->clear();
  return zg::py_frames(
      text, [](const zg::PyFrame& f, void* ctx) { static_cast<std::vector<zg::PyFrame>*>(ctx)->push_back(f); }, got);
}

TEST(PyFrames, ParsesDumpTracebackTextOldestFirst) {
  std::vector<zg::PyFrame> got;
  int n = frames_of(kPyText, &got);
  ASSERT_EQ(n, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_STREQ(got[0].file, "/a/main.py");
  EXPECT_EQ(got[0].line, 30);
  EXPECT_STREQ(got[0].function, "<module>");
  EXPECT_STREQ(got[1].file, "/a/b.py");
  EXPECT_EQ(got[1].line, 12);
  EXPECT_STREQ(got[1].function, "worker");
}

TEST(PyFrames, EdgeCases) {
  auto count = [](const char* text) {
    return zg::py_frames(text, [](const zg::PyFrame&, void*) {}, nullptr);
  };
  EXPECT_EQ(count(nullptr), 0);
  EXPECT_EQ(count(""), 0);
  EXPECT_EQ(count("Stack (most recent call first):\n"), 0);
  // No trailing newline, a thread header, a truncated frame line.
  const char* text =
      "Current thread 0x00007f (most recent call first):\n"
      "  File \"/x/y.py\", line 7 in run\n"
      "  File \"/x/threading.py\", line 1045 in _bootstrap_inner\n"
      "  File \"/x/z.py\", line 3 in f";
  std::vector<zg::PyFrame> got;
  int n = frames_of(text, &got);
  ASSERT_EQ(n, 3);
  EXPECT_STREQ(got[0].file, "/x/z.py");
  EXPECT_STREQ(got[0].function, "f");
  EXPECT_EQ(got[1].line, 1045);
  EXPECT_STREQ(got[2].function, "run");
  // A path with spaces and a quote-less line are handled.
  const char* spaced = "  File \"/my dir/a b.py\", line 5 in go\n  garbage line\n";
  n = frames_of(spaced, &got);
  ASSERT_EQ(n, 1);
  EXPECT_STREQ(got[0].file, "/my dir/a b.py");
  EXPECT_EQ(got[0].line, 5);
  EXPECT_STREQ(got[0].function, "go");
  // The dumper writes '"' as it is and escapes non-ASCII (\xNN, \uNNNN,
  // \UNNNNNNNN, and \udcNN for an undecodable byte): the name ends at the
  // last '", line ', and comes back as the file's real (UTF-8) name.
  const char* odd = "  File \"/d/a \"q\", line 9/caf\\xe9 \\u4e2d\\U0001f600\\udcff.py\", line 5 in r\\xe9cv\n";
  n = frames_of(odd, &got);
  ASSERT_EQ(n, 1);
  EXPECT_STREQ(got[0].file, "/d/a \"q\", line 9/caf\xc3\xa9 \xe4\xb8\xad\xf0\x9f\x98\x80\xff.py");
  EXPECT_EQ(got[0].line, 5);
  EXPECT_STREQ(got[0].function, "r\xc3\xa9" "cv");
  // Read from the frames: UTF-8 as it is, a backslash and control
  // characters escaped, so a name holding "\x41" keeps it.
  const char* utf8 = "  File \"/d/caf\xc3\xa9 \\x5Cx41\\x0A.py\", line 3 in f\xc3\xa9\n";
  n = frames_of(utf8, &got);
  ASSERT_EQ(n, 1);
  EXPECT_STREQ(got[0].file, "/d/caf\xc3\xa9 \\x41\n.py");
  EXPECT_EQ(got[0].line, 3);
  EXPECT_STREQ(got[0].function, "f\xc3\xa9");
}

}  // namespace
