// SPDX-License-Identifier: MIT
// The kinds of finding, made from one table (core/findings.def): the enum,
// the names, titles, hints, severities and who a report's second thread
// is.  A kind is added there, in one row; see doc/report.md.
#pragma once
#include <stdint.h>

namespace zg {

enum class FindingKind : uint8_t {
  None = 0,
#define ZG_FINDING(kind, name, severity, other, title, hint) kind,
#include "core/findings.def"
#undef ZG_FINDING
  Count
};
// One bit per kind in SocketState::reported.
static_assert(static_cast<unsigned>(FindingKind::Count) <= 32, "a kind per bit of SocketState::reported");

// Problem: ERROR in mode=abort, WARNING otherwise, counted; Info: INFO.
enum class Severity : uint8_t { Problem, Info };
// Who the report's second thread is.
enum class OtherThread : uint8_t { Owner, Inside, FirstUser };

struct FindingInfo {
  const char* name;   // "cross_thread": JSON, suppressions, SUMMARY
  Severity severity;
  OtherThread other;
  const char* title;  // the report's first line
  const char* hint;   // its HINT
};

// The row of k; None and values out of range get a row of their own
// ("none" / "unknown", title "finding", no hint).
const FindingInfo& finding_info(FindingKind k);
inline const char* finding_name(FindingKind k) { return finding_info(k).name; }
inline const char* finding_title(FindingKind k) { return finding_info(k).title; }
inline const char* finding_hint(FindingKind k) { return finding_info(k).hint; }
inline bool finding_is_info(FindingKind k) { return finding_info(k).severity == Severity::Info; }
// The other thread was inside a call on the socket at the same moment.
inline bool finding_inside(FindingKind k) { return finding_info(k).other == OtherThread::Inside; }
// The report's severity: "INFO" for Info; a Problem is "ERROR" in
// mode=abort (which stops the process), "WARNING" in the other modes.
inline const char* severity_text(Severity s, bool abort_mode) {
  return s == Severity::Info ? "INFO" : abort_mode ? "ERROR" : "WARNING";
}
// The kind with this name; None if there is none.
FindingKind finding_named(const char* name);

}  // namespace zg
