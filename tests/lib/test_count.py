# SPDX-License-Identifier: MIT
"""count.py's closing line, from meson test logs made up here: it is what
CI reads, so it must not call a failed run passed."""
import json
import os
import subprocess
import sys

import pytest

COUNT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "count.py")

GTEST_OK = "[==========] 58 tests from 9 test suites ran. (120 ms total)\n[  PASSED  ] 58 tests.\n"
GTEST_BAD = ("[  PASSED  ] 56 tests.\n[  FAILED  ] 2 tests, listed below:\n[  FAILED  ] Report.Text\n"
             "[  FAILED  ] Report.Json\n\n 2 FAILED TESTS\n")
GTEST_SKIP = "[  PASSED  ] 57 tests.\n[  SKIPPED ] 1 test, listed below:\n[  SKIPPED ] Probe.Ptrace\n"


def closing_line(tmp_path, *suites):
    log = tmp_path / "testlog.json"
    log.write_text("".join(json.dumps({"name": "s%d" % i, "result": result, "stdout": out}) + "\n"
                           for i, (result, out) in enumerate(suites)))
    p = subprocess.run([sys.executable, COUNT, str(log)], capture_output=True, text=True, check=True)
    return p.stdout.splitlines()[-1]


@pytest.mark.parametrize("suites,line", [
    ([("OK", GTEST_OK), ("OK", "....\n4 passed in 0.50s\n")], "62 passed, 0 failed"),
    ([("FAIL", GTEST_BAD)], "56 passed, 2 failed"),
    ([("OK", GTEST_SKIP)], "57 passed, 0 failed, 1 skipped"),
    # A crash at exit after every case passed.
    ([("FAIL", GTEST_OK)], "58 passed, 1 failed"),
    ([("FAIL", "..\n2 passed in 0.1s\n")], "2 passed, 1 failed"),
    ([("TIMEOUT", "..")], "0 passed, 1 failed"),
    ([("FAIL", "F.E\n1 failed, 1 passed, 1 error in 2.00s\n")], "1 passed, 2 failed"),
    ([("FAIL", "\n2 failed, 3 errors in 2.00s\n")], "0 passed, 5 failed"),
    ([("OK", "3 passed, 2 skipped, 1 xfailed, 1 xpassed, 4 warnings in 9.01s\n")],
     "4 passed, 0 failed, 3 skipped"),
    ([("OK", "no counts here\n"), ("SKIP", ""), ("ERROR", "")], "1 passed, 1 failed, 1 skipped"),
])
def test_closing_line(tmp_path, suites, line):
    assert closing_line(tmp_path, *suites) == line
