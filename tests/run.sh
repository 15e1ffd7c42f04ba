#!/bin/bash
# SPDX-License-Identifier: MIT
# The whole test suite, what CI runs (.ci/run): installs what it needs,
# builds, runs every suite through meson, and ends with one "N passed,
# N failed" line counting the individual test cases of all its parts:
#
#   1. the plain build (build): unit, end-to-end native, Python, bindings,
#      conformance, stress, hostile, the wrapper, install, demo smoke;
#   2. the library and test programs built with AddressSanitizer and
#      UndefinedBehaviorSanitizer (build-asan) over the suites that can run
#      that way (unit, hostile, harness, e2e-native, stress);
#   3. the libFuzzer harnesses (build-fuzz, clang), each for fuzz_seconds.
#
#   tests/run.sh                      all three (about 3 min plain, 2-3 more
#                                     for the rest once built)
#   tests/run.sh --plain [TEST...]    the plain build only, for a quick run
#                                     while developing (meson test names);
#                                     ZMQ_GUARD_TESTS=plain does the same
#   tests/run.sh TEST...              those tests of the plain build
#   tests/run.sh --sanitize=address,undefined [TEST...]   one sanitizer run
#                                     (with the fuzzers when no TEST is named)
#   tests/run.sh --sanitize=thread [TEST...]              (unit, hostile,
#                                     e2e-native without names)
#   tests/run.sh --all                the same as no argument (kept for
#                                     scripts that used it)
# The sanitizer builds live in build-asan, build-tsan and build-fuzz;
# doc/reliability.md says which suites run there and why not the others.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { echo "tests/run.sh: $*" >&2; }

# The plain build: BUILD_DIR (default build).  Sets plain_log.
plain() {
  export BUILD_DIR="${BUILD_DIR:-$root/build}"
  say "building in $BUILD_DIR (the first time: installing Debian packages and configuring)"
  "$root/scripts/build.sh" || return 1
  say "running the suites of $BUILD_DIR"
  meson test -C "$BUILD_DIR" --print-errorlogs --num-processes 2 "$@"
  local rc=$?
  plain_log="$BUILD_DIR/meson-logs/testlog.json"
  return $rc
}

# The names of the tests of suite $2 in build directory $1 (the stress
# suite is a test per scenario).
suite_tests() {
  meson introspect "$1" --tests | /usr/bin/python3 -c '
import json, sys
print(" ".join(t["name"] for t in json.load(sys.stdin) if any(s.split(":")[-1] == sys.argv[1] for s in t["suite"])))' "$2"
}

# One sanitizer build ($1: address,undefined or thread).  Sets san_log.
sanitized() {
  local sanitize="$1" dir with_fuzz=0
  shift
  case "$sanitize" in
    address,undefined | address | undefined) dir=build-asan ;;
    thread) dir=build-tsan ;;
    *) say "--sanitize takes address,undefined or thread, not '$sanitize'"; exit 2 ;;
  esac
  local build="${SAN_BUILD_DIR:-$root/$dir}"
  "$root/scripts/deps.sh" || return 1
  say "building with -fsanitize=$sanitize in $build"
  if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$root" -Db_sanitize="$sanitize" -Db_lundef=false >/dev/null || return 1
  fi
  ninja -C "$build" >"$build/ninja-run.log" 2>&1 || { tail -40 "$build/ninja-run.log" >&2; return 1; }
  # Without test names: the suites that run under the sanitizer (the
  # others do not, doc/reliability.md says why).  The setup asan or tsan in
  # tests/meson.build sets the runtime's options and preloads it where a
  # program that was not built with it loads the guard.
  if [ $# -eq 0 ]; then
    if [ "$dir" = build-tsan ]; then
      set -- unit hostile e2e-native
    else
      # shellcheck disable=SC2046 # one word a test
      set -- unit unwind hostile harness e2e-native $(suite_tests "$build" stress)
    fi
    [ "$dir" = build-asan ] && with_fuzz=1
  fi
  say "running $* under $sanitize"
  meson test -C "$build" --print-errorlogs --num-processes 2 --setup "${dir#build-}" "$@"
  local rc=$?
  san_log="$build/meson-logs/testlog-${dir#build-}.json"
  if [ "$with_fuzz" = 1 ]; then
    # The libFuzzer harnesses (fuzz/), built with clang in build-fuzz.
    local fuzz="$root/build-fuzz"
    say "fuzzing the option, suppressions, JSON and command-line parsers (build-fuzz)"
    if [ ! -f "$fuzz/build.ninja" ]; then
      CC=clang CXX=clang++ meson setup "$fuzz" "$root" -Dfuzz=true -Db_sanitize=address,undefined \
        -Db_lundef=false >/dev/null || return 1
    fi
    ninja -C "$fuzz" fuzz/fuzz_options fuzz/fuzz_suppressions fuzz/fuzz_json fuzz/fuzz_args \
      >"$fuzz/ninja-run.log" 2>&1 || { tail -40 "$fuzz/ninja-run.log" >&2; return 1; }
    meson test -C "$fuzz" --no-rebuild --print-errorlogs --num-processes 2 --suite fuzz || rc=1
    fuzz_log="$fuzz/meson-logs/testlog.json"
  fi
  return $rc
}

plain_log="" san_log="" fuzz_log=""
# ZMQ_GUARD_TESTS=plain: the plain build only, unless a sanitizer is asked for.
case "${ZMQ_GUARD_TESTS:-}:${1:-}" in
  plain:--plain | plain:--sanitize=*) ;;
  plain:*) set -- --plain "$@" ;;
esac
case "${1:-}" in
  --sanitize=*)
    s="${1#--sanitize=}"
    shift
    sanitized "$s" "$@"
    rc=$?
    ;;
  --plain)
    shift
    plain "$@"
    rc=$?
    ;;
  --all | "")
    plain
    rc=$?
    sanitized address,undefined || rc=1
    ;;
  *)
    plain "$@"
    rc=$?
    ;;
esac
logs=()
for l in "$plain_log" "$san_log" "$fuzz_log"; do [ -n "$l" ] && [ -f "$l" ] && logs+=("$l"); done
[ ${#logs[@]} -gt 0 ] && /usr/bin/python3 "$root/tests/lib/count.py" "${logs[@]}"
exit $rc
