// SPDX-License-Identifier: MIT
#include "core/findings.h"

#include <string.h>

namespace zg {
namespace {

const FindingInfo kNone = {"none", Severity::Problem, OtherThread::Owner, "finding", ""};
const FindingInfo kUnknown = {"unknown", Severity::Problem, OtherThread::Owner, "finding", ""};

const FindingInfo kKinds[] = {
#define ZG_FINDING(kind, name, severity, other, title, hint) \
  {#name, Severity::severity, OtherThread::other, title, hint},
#include "core/findings.def"
#undef ZG_FINDING
};
static_assert(sizeof kKinds / sizeof kKinds[0] == static_cast<size_t>(FindingKind::Count) - 1, "one row per kind");

}  // namespace

const FindingInfo& finding_info(FindingKind k) {
  if (k == FindingKind::None) return kNone;
  if (k >= FindingKind::Count) return kUnknown;
  return kKinds[static_cast<size_t>(k) - 1];
}

FindingKind finding_named(const char* name) {
  for (size_t i = 0; i < sizeof kKinds / sizeof kKinds[0]; i++)
    if (!strcmp(kKinds[i].name, name)) return static_cast<FindingKind>(i + 1);
  return FindingKind::None;
}

}  // namespace zg
