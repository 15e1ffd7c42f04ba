// SPDX-License-Identifier: MIT
#include "findings.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <functional>

#include "core/findings.h"
#include "core/options.h"
#include "zmq_guard_config.h"

namespace zgtool {
namespace {

// A line longer than this is not one the guard wrote (its reports are a
// few kilobytes; /dev/zero has no newline at all).
constexpr size_t kMaxLine = 16u << 20;

const char* const kSummaryPrefix = "SUMMARY: zmq-guard: ";

std::string base_name(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// "function file:line" of a user_frame object, "" when there is none.
std::string frame_place(const Json& uf) {
  if (uf.type != Json::Object) return "";
  std::string s = uf["function"].text();
  if (!uf["file"].text().empty()) s += " " + base_name(uf["file"].text()) + ":" + std::to_string(uf["line"].integer());
  return s;
}

// The SUMMARY line with what differs between processes taken out (socket
// addresses, thread serials): the same misuse in two processes is one.
std::string normalized(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (s.compare(i, 2, "0x") == 0) {
      i += 2;
      while (i < s.size() && isxdigit(static_cast<unsigned char>(s[i]))) i++;
      out += "0x?";
    } else if (s[i] == 'T' && (i == 0 || s[i - 1] == ' ') && i + 1 < s.size() && isdigit((unsigned char)s[i + 1])) {
      i++;
      while (i < s.size() && isdigit(static_cast<unsigned char>(s[i]))) i++;
      out += "T?";
    } else {
      out += s[i++];
    }
  }
  return out;
}

std::string key_of(const Json& r, const std::string& summary) {
  const Json& uf = r["user_frame"];
  if (uf.type != Json::Object) return r["kind"].text() + "|" + normalized(summary);
  auto place = [](const Json& f) {
    return f["function"].text() + "@" + f["file"].text() + ":" + std::to_string(f["line"].integer());
  };
  return r["kind"].text() + "|" + r["call"].text() + "|" + r["socket_type"].text() + "|" + place(uf) + "|" +
         place(r["owner_user_frame"]);
}

void add_pid(std::vector<long>* pids, long pid) {
  if (std::find(pids->begin(), pids->end(), pid) == pids->end()) pids->push_back(pid);
}

// "pid 123 in test t.py::test_x", "pid 124 (python3 x.py)".
std::string occurrence_text(const Occurrence& o) {
  std::string s = "pid " + std::to_string(o.pid);
  if (!o.test.empty()) return s + " in test " + o.test;
  if (!o.cmdline.empty()) {
    std::string cmd = o.cmdline.size() > 120 ? o.cmdline.substr(0, 117) + "..." : o.cmdline;
    return s + " (" + cmd + ")";
  }
  return s;
}

// Text from a file or a program: a control character becomes '?', so that
// every line printed is the line it seems (a text of several lines keeps
// its line breaks).
std::string plain(const std::string& s, bool keep_newlines = false) {
  std::string out = s;
  for (char& c : out)
    if ((static_cast<unsigned char>(c) < 0x20 && !(keep_newlines && c == '\n')) || c == 0x7f) c = '?';
  return out;
}

bool write_whole(const std::string& path, const std::string& text, std::string* error) {
  FILE* f = fopen(path.c_str(), "we");
  if (!f) {
    *error = "cannot write '" + path + "': " + strerror(errno);
    return false;
  }
  size_t n = fwrite(text.data(), 1, text.size(), f);
  int rc = fclose(f);
  if (n != text.size() || rc != 0) {
    *error = "cannot write '" + path + "': " + strerror(errno ? errno : EIO);
    return false;
  }
  return true;
}

// ---- JUnit -----------------------------------------------------------

std::string xml(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // XML 1.0 has no way to write most control characters.
        out += (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f ? '?' : char(c);
    }
  }
  return out;
}

// ---- SARIF -----------------------------------------------------------

std::string jstr(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20) {
      char esc[8];
      snprintf(esc, sizeof esc, "\\u%04x", c);
      out += esc;
    } else {
      out += char(c);
    }
  }
  return out + "\"";
}

// A file name as a URI reference: absolute paths as file:// URIs (GitHub's
// upload makes them relative to the checkout), others relative to the
// source root.
std::string uri_of(const std::string& path) {
  static const char kSafe[] = "/-._~";
  std::string out = path[0] == '/' ? "file://" : "";
  for (unsigned char c : path) {
    if (isalnum(c) || strchr(kSafe, c)) {
      out += char(c);
    } else {
      char esc[4];
      snprintf(esc, sizeof esc, "%%%02X", c);
      out += esc;
    }
  }
  return out;
}

// A SARIF location for a user_frame: physical (file and line) when the
// frame has a file, else logical (its function and module).
std::string sarif_location(const Json& uf, const std::string& message, int id) {
  std::string s = "{";
  if (id >= 0) s += "\"id\":" + std::to_string(id) + ",";
  const std::string& file = uf["file"].text();
  if (!file.empty()) {
    s += "\"physicalLocation\":{\"artifactLocation\":{\"uri\":" + jstr(uri_of(file));
    if (file[0] != '/') s += ",\"uriBaseId\":\"%SRCROOT%\"";
    s += "}";
    long line = uf["line"].integer();
    if (line > 0) s += ",\"region\":{\"startLine\":" + std::to_string(line) + "}";
    s += "},";
  }
  // A stripped module's frame is known by its module and offset alone.
  std::string name = uf["function"].text();
  if (name.empty()) name = base_name(uf["module"].text()) + "+" + uf["offset"].text();
  s += "\"logicalLocations\":[{\"name\":" + jstr(name) + ",\"kind\":\"function\"";
  if (!uf["module"].text().empty()) s += ",\"fullyQualifiedName\":" + jstr(uf["module"].text() + "!" + uf["function"].text());
  s += "}],\"message\":{\"text\":" + jstr(message) + "}}";
  return s;
}

std::string thread_name(const Json& t) {
  if (t.type != Json::Object) return "a thread";
  std::string name = !t["python_name"].text().empty() ? t["python_name"].text()
                     : !t["ruby_name"].text().empty() ? t["ruby_name"].text()
                                                      : t["name"].text();
  std::string s = "T" + std::to_string(t["serial"].integer());
  if (!name.empty()) s += " \"" + name + "\"";
  return s;
}

}  // namespace

bool Merge::any_sets_status() const {
  for (const Distinct& d : findings)
    if (d.sets_status) return true;
  return false;
}

void merge_line(const char* line, size_t len, const std::string& where, Merge* m) {
  while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
  bool blank = true;
  for (size_t i = 0; i < len && blank; i++) blank = line[i] == ' ' || line[i] == '\t';
  if (blank) return;
  Json r;
  std::string err;
  if (!json_parse(line, len, &r, &err) || r.type != Json::Object || r["kind"].type != Json::String) {
    m->problems.push_back(where + ": not a zmq-guard finding (" + (err.empty() ? "no \"kind\"" : err) + ")");
    return;
  }
  Occurrence o;
  o.pid = r["pid"].integer();
  o.test = r["test"].text();
  o.cmdline = r["cmdline"].text();
  if (r["suppressed"].truthy()) {
    m->suppressed++;
    return;
  }
  std::string summary = r["summary"].text();
  if (summary.compare(0, strlen(kSummaryPrefix), kSummaryPrefix) == 0) summary.erase(0, strlen(kSummaryPrefix));
  if (summary.empty()) summary = r["kind"].text() + " " + r["call"].text();
  std::string key = key_of(r, summary);
  m->reports++;
  add_pid(&m->pids, o.pid);
  for (Distinct& d : m->findings)
    if (d.key == key) {
      d.seen.push_back(o);
      return;
    }
  Distinct d;
  d.key = key;
  d.kind = r["kind"].text();
  d.summary = summary;
  // As the library's own exit status: serialize mode keeps a program
  // running and its status alone; its notices are information.
  const std::string& mode = r["mode"].text();
  d.sets_status = r["severity"].text() != zg::severity_text(zg::Severity::Info, false) &&
                  (mode == zg::mode_name(zg::Mode::Warn) || mode == zg::mode_name(zg::Mode::Abort));
  d.seen.push_back(o);
  d.first = std::move(r);
  m->findings.push_back(std::move(d));
}

bool merge_file(const std::string& path, Merge* m) {
  FILE* f = path == "-" ? stdin : fopen(path.c_str(), "re");
  if (!f) {
    m->problems.push_back("cannot read '" + path + "': " + strerror(errno));
    return false;
  }
  std::string line;
  long lineno = 0;
  int c;
  bool too_long = false;
  while (!too_long) {
    line.clear();
    while ((c = getc(f)) != EOF && c != '\n') {
      if (line.size() >= kMaxLine) {
        too_long = true;
        break;
      }
      line += char(c);
    }
    if (too_long) {
      m->problems.push_back(path + ":" + std::to_string(lineno + 1) + ": a line over 16 MiB; the rest of the file is skipped");
      break;
    }
    if (c == EOF && line.empty()) break;
    lineno++;
    merge_line(line.data(), line.size(), path + ":" + std::to_string(lineno), m);
    if (c == EOF) break;
  }
  if (f != stdin) fclose(f);
  return true;
}

void merge_session(const std::string& dir, Merge* m) {
  DIR* d = opendir(dir.c_str());
  if (!d) return;
  std::vector<std::pair<long, std::string>> files;
  while (struct dirent* e = readdir(d)) {
    char* end = nullptr;
    long pid = strtol(e->d_name, &end, 10);
    if (pid > 0 && end && strcmp(end, ".jsonl") == 0) files.emplace_back(pid, e->d_name);
  }
  closedir(d);
  std::sort(files.begin(), files.end());
  for (const auto& f : files) merge_file(dir + "/" + f.second, m);
}

void print_summary(FILE* out, const Merge& m, const char* prefix) {
  for (const std::string& p : m.problems) fprintf(out, "%s%s\n", prefix, plain(p).c_str());
  if (m.findings.empty() && m.suppressed == 0) return;
  if (!m.findings.empty())
    fprintf(out, "%s%zu distinct finding%s in this run:\n", prefix, m.findings.size(),
            m.findings.size() == 1 ? "" : "s");
  for (const Distinct& d : m.findings) {
    fprintf(out, "%s  %s\n", prefix, plain(d.summary).c_str());
    // Each process and test once, the first few of them.
    std::vector<std::string> places;
    for (const Occurrence& o : d.seen) {
      std::string t = occurrence_text(o);
      if (std::find(places.begin(), places.end(), t) == places.end()) places.push_back(t);
    }
    std::string where;
    for (size_t i = 0; i < places.size() && i < 5; i++) where += (i ? "; " : "") + places[i];
    if (places.size() > 5) where += "; and " + std::to_string(places.size() - 5) + " more";
    fprintf(out, "%s    %zu time%s: %s\n", prefix, d.seen.size(), d.seen.size() == 1 ? "" : "s", plain(where).c_str());
  }
  fprintf(out, "%stotal: %zu finding%s (%ld report%s in %zu process%s), %ld suppressed\n", prefix, m.findings.size(),
          m.findings.size() == 1 ? "" : "s", m.reports, m.reports == 1 ? "" : "s", m.pids.size(),
          m.pids.size() == 1 ? "" : "es", m.suppressed);
}

std::string finding_text(const Distinct& d) {
  const Json& r = d.first;
  std::string s = "SUMMARY: zmq-guard: " + d.summary + "\n";
  auto side = [&s](const char* title, const Json& thread, const Json& py, const Json& native) {
    if (py.size() == 0 && native.size() == 0) return;
    s += "\n" + std::string(title) + " " + thread_name(thread) + ":\n";
    for (size_t i = 0; i < py.size(); i++)
      s += "  File \"" + py.at(i)["file"].text() + "\", line " + std::to_string(py.at(i)["line"].integer()) +
           ", in " + py.at(i)["function"].text() + "\n";
    for (size_t i = 0; i < native.size(); i++) {
      const Json& f = native.at(i);
      s += "  #" + std::to_string(i) + " " + f["address"].text();
      if (!f["function"].text().empty()) s += " in " + f["function"].text();
      if (!f["file"].text().empty()) s += " " + f["file"].text() + ":" + std::to_string(f["line"].integer());
      s += " (" + base_name(f["module"].text()) + "+" + f["offset"].text() + ")\n";
    }
  };
  side("thread", r["thread"], r["python_stack"], r["stack"]);
  side(r["owner_role"].text().empty() ? "owner" : r["owner_role"].text().c_str(), r["owner"],
       r["owner_python_stack"], r["owner_stack"]);
  side("socket created by", r["creator"], r["created_python_stack"], r["created_stack"]);
  if (!r["detail"].text().empty()) s += "\n" + r["detail"].text() + "\n";
  s += "\nseen " + std::to_string(d.seen.size()) + " time" + (d.seen.size() == 1 ? "" : "s") + ":\n";
  for (const Occurrence& o : d.seen) s += "  " + occurrence_text(o) + "\n";
  return plain(s, true);
}

bool write_junit(const std::string& path, const Merge& m, std::string* error) {
  size_t failures = 0;
  std::string cases;
  for (const Distinct& d : m.findings) {
    const Occurrence& o = d.seen.front();
    std::string where = !o.test.empty() ? o.test : base_name(o.cmdline.substr(0, o.cmdline.find(' ')));
    std::string place = frame_place(d.first["user_frame"]);
    std::string name = where + ": " + d.kind + " " + d.first["call"].text() + (place.empty() ? "" : " in " + place);
    cases += "    <testcase classname=\"zmq-guard." + xml(d.kind) + "\" name=\"" + xml(name) + "\">\n";
    if (d.sets_status) {
      failures++;
      cases += "      <failure type=\"" + xml(d.kind) + "\" message=\"" + xml(d.summary) + "\">" +
               xml(finding_text(d)) + "</failure>\n";
    } else {
      cases += "      <system-out>" + xml(finding_text(d)) + "</system-out>\n";
    }
    cases += "    </testcase>\n";
  }
  size_t tests = m.findings.size();
  if (tests == 0) {
    // A suite with one passing case: CI shows the check ran, and passed.
    cases = "    <testcase classname=\"zmq-guard\" name=\"no ZeroMQ socket used by two threads\"/>\n";
    tests = 1;
  }
  std::string head = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"zmq-guard\" tests=\"" +
                     std::to_string(tests) + "\" failures=\"" + std::to_string(failures) + "\">\n" +
                     "  <testsuite name=\"zmq-guard\" tests=\"" + std::to_string(tests) + "\" failures=\"" +
                     std::to_string(failures) + "\" errors=\"0\" skipped=\"0\">\n";
  if (m.suppressed)
    head += "    <properties><property name=\"suppressed\" value=\"" + std::to_string(m.suppressed) + "\"/></properties>\n";
  return write_whole(path, head + cases + "  </testsuite>\n</testsuites>\n", error);
}

bool write_sarif(const std::string& path, const Merge& m, std::string* error) {
  std::vector<std::string> rule_ids;
  for (const Distinct& d : m.findings)
    if (std::find(rule_ids.begin(), rule_ids.end(), d.kind) == rule_ids.end()) rule_ids.push_back(d.kind);
  std::string rules;
  for (size_t i = 0; i < rule_ids.size(); i++) {
    zg::FindingKind k = zg::finding_named(rule_ids[i].c_str());
    std::string title = k == zg::FindingKind::None ? rule_ids[i] : zg::finding_title(k);
    std::string hint = k == zg::FindingKind::None ? "" : zg::finding_hint(k);
    rules += std::string(i ? "," : "") + "{\"id\":" + jstr(rule_ids[i]) + ",\"name\":" + jstr(rule_ids[i]) +
             ",\"shortDescription\":{\"text\":" + jstr(title) + "},\"help\":{\"text\":" + jstr(hint) + "}}";
  }
  std::string results;
  for (size_t i = 0; i < m.findings.size(); i++) {
    const Distinct& d = m.findings[i];
    const Json& r = d.first;
    size_t rule = size_t(std::find(rule_ids.begin(), rule_ids.end(), d.kind) - rule_ids.begin());
    std::string res = std::string(i ? "," : "") + "{\"ruleId\":" + jstr(d.kind) + ",\"ruleIndex\":" +
                      std::to_string(rule) + ",\"level\":\"" + (d.sets_status ? "error" : "note") +
                      "\",\"message\":{\"text\":" + jstr(d.summary) + "}";
    if (r["user_frame"].type == Json::Object)
      res += ",\"locations\":[" +
             sarif_location(r["user_frame"], thread_name(r["thread"]) + " calls " + r["call"].text() + " here", -1) +
             "]";
    if (r["owner_user_frame"].type == Json::Object)
      res += ",\"relatedLocations\":[" +
             sarif_location(r["owner_user_frame"],
                            thread_name(r["owner"]) + " (" + r["owner_role"].text() + ") took the socket here", 1) +
             "]";
    char fp[32];
    snprintf(fp, sizeof fp, "%016zx", std::hash<std::string>()(d.key));
    res += ",\"partialFingerprints\":{\"zmqGuardFinding/v1\":\"" + std::string(fp) + "\"}";
    std::string pids, tests;
    for (const Occurrence& o : d.seen) {
      pids += (pids.empty() ? "" : ",") + std::to_string(o.pid);
      if (!o.test.empty()) tests += (tests.empty() ? "" : ",") + jstr(o.test);
    }
    res += ",\"properties\":{\"count\":" + std::to_string(d.seen.size()) + ",\"pids\":[" + pids + "],\"tests\":[" +
           tests + "]}}";
    results += res;
  }
  std::string doc = "{\"version\":\"2.1.0\",\"$schema\":\"https://json.schemastore.org/sarif-2.1.0.json\",\"runs\":[{"
                    "\"tool\":{\"driver\":{\"name\":\"zmq-guard\",\"version\":\"" ZMQ_GUARD_VERSION
                    "\",\"rules\":[" + rules + "]}},\"results\":[" + results + "]";
  if (m.suppressed) doc += ",\"properties\":{\"suppressed\":" + std::to_string(m.suppressed) + "}";
  return write_whole(path, doc + "}]}\n", error);
}

}  // namespace zgtool
