# SPDX-License-Identifier: MIT
"""Prints one closing line for a meson test run: the test cases inside its
suites (GoogleTest and pytest print their own counts) and the suites.

The line is "N passed, N failed", with ", N skipped" after it when any
case was skipped.  A suite meson failed counts at least one failed case,
whatever its output ends with (a crash at exit after GoogleTest's
"[  PASSED  ]" line, a pytest session killed after its summary)."""
import json
import re
import sys

# meson's results: those of a suite that did what it should, and skipped.
GOOD = ("OK", "EXPECTEDFAIL")
SKIPPED = ("SKIP",)


def gtest_counts(out):
    """(passed, failed, skipped) from GoogleTest's closing lines, or None."""
    found = False
    counts = [0, 0, 0]
    for i, label in enumerate(("PASSED", "FAILED", "SKIPPED")):
        m = re.search(r"^\[  %-8s\] (\d+) tests?[,.]" % label, out, re.M)
        if m:
            found = True
            counts[i] = int(m.group(1))
    return tuple(counts) if found else None


def pytest_counts(out):
    """(passed, failed, skipped) from pytest's summary line (its last), or
    None.  An error counts as failed, an xfail (a known failure) as skipped,
    an xpass as passed (pytest's exit status takes it as one)."""
    last = out.strip().splitlines()[-1] if out.strip() else ""
    words = re.findall(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)\b", last)
    if not words:
        return None
    counts = [0, 0, 0]
    where = {"passed": 0, "xpassed": 0, "failed": 1, "error": 1, "errors": 1, "skipped": 2, "xfailed": 2}
    for n, what in words:
        counts[where[what]] += int(n)
    return tuple(counts)


def suite_counts(entry):
    """(passed, failed, skipped) of one suite's test cases."""
    result = entry.get("result")
    out = entry.get("stdout") or ""
    counts = gtest_counts(out) or pytest_counts(out)
    if counts is None:
        counts = (int(result in GOOD), int(result not in GOOD + SKIPPED), int(result in SKIPPED))
    passed, failed, skipped = counts
    if result not in GOOD + SKIPPED and failed == 0:
        failed = 1
    return passed, failed, skipped


def main(*paths):
    """One closing line for all the meson runs whose logs are given (the
    plain run and the sanitizer runs of tests/run.sh)."""
    passed = failed = skipped = 0
    suites = {"ok": 0, "failed": 0, "skipped": 0}
    for path in paths:
        with open(path) as log:
            for line in log:
                entry = json.loads(line)
                result = entry.get("result")
                suites["ok" if result in GOOD else "skipped" if result in SKIPPED else "failed"] += 1
                p, f, s = suite_counts(entry)
                passed += p
                failed += f
                skipped += s
    print("meson suites: %d ok, %d failed%s" % (suites["ok"], suites["failed"],
                                                ", %d skipped" % suites["skipped"] if suites["skipped"] else ""))
    print("%d passed, %d failed%s" % (passed, failed, ", %d skipped" % skipped if skipped else ""))


if __name__ == "__main__":
    main(*sys.argv[1:])
