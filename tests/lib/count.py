"""Prints one closing line for a meson test run: the test cases inside its
suites (GoogleTest and pytest print their own counts) and the suites."""
import json
import re
import sys

passed = failed = suites_ok = suites_bad = 0
with open(sys.argv[1]) as log:
    for line in log:
        entry = json.loads(line)
        ok = entry.get("result") == "OK"
        suites_ok += ok
        suites_bad += not ok
        out = entry.get("stdout") or ""
        gtest = re.search(r"\[  PASSED  \] (\d+) tests?", out)
        gfail = re.search(r"\[  FAILED  \] (\d+) tests?, listed below", out)
        py = re.findall(r"(\d+) (passed|failed|error)", out.splitlines()[-1] if out.strip() else "")
        if gtest or gfail:
            passed += int(gtest.group(1)) if gtest else 0
            failed += int(gfail.group(1)) if gfail else 0
        elif py:
            for n, what in py:
                if what == "passed":
                    passed += int(n)
                else:
                    failed += int(n)
        else:
            passed += ok
            failed += not ok
print("meson suites: %d ok, %d failed" % (suites_ok, suites_bad))
print("%d passed, %d failed" % (passed, failed))
