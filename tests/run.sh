#!/bin/bash
# The whole test suite: installs what it needs, builds, runs every test
# (unit, end-to-end native, Python, stress, install, demo smoke) through
# meson, and ends with one "N passed, N failed" line counting the
# individual test cases inside those suites.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export BUILD_DIR="${BUILD_DIR:-$root/build}"
"$root/scripts/build.sh" || exit 1
meson test -C "$BUILD_DIR" --print-errorlogs --num-processes 2 "$@"
rc=$?
/usr/bin/python3 "$root/tests/lib/count.py" "$BUILD_DIR/meson-logs/testlog.json" || true
exit $rc
