#!/bin/bash
# The whole test suite, what CI runs: installs what it needs, builds, runs
# every suite through meson (unit, end-to-end native, Python, bindings,
# conformance, stress, hostile input, the wrapper, install, demo smoke),
# and ends with one "N passed, N failed" line counting the individual test
# cases.
#
#   tests/run.sh [TEST...]            the plain build (meson test names)
#   tests/run.sh --all                that, then the library and test
#                                     programs built with AddressSanitizer
#                                     and UndefinedBehaviorSanitizer over
#                                     the suites that can run that way, and
#                                     the libFuzzer harnesses for a bounded
#                                     time; one closing line for all of it
#   tests/run.sh --sanitize=address,undefined [TEST...]   one sanitizer run
#   tests/run.sh --sanitize=thread [TEST...]
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
  local sanitize="$1" dir
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
  ninja -C "$build" >/dev/null || return 1
  # Without test names: the suites that run under the sanitizer (the
  # others do not, doc/reliability.md says why).  The setup asan or tsan in
  # tests/meson.build sets the runtime's options and preloads it where a
  # program that was not built with it loads the guard.
  if [ $# -eq 0 ]; then
    if [ "$dir" = build-tsan ]; then
      set -- unit hostile
    else
      # shellcheck disable=SC2046 # one word a test
      set -- unit hostile harness e2e-native $(suite_tests "$build" stress)
    fi
  fi
  say "running $* under $sanitize"
  meson test -C "$build" --print-errorlogs --num-processes 2 --setup "${dir#build-}" "$@"
  local rc=$?
  san_log="$build/meson-logs/testlog-${dir#build-}.json"
  if [ "$sanitize" = address,undefined ]; then
    # The libFuzzer harnesses (fuzz/), built with clang in build-fuzz.
    local fuzz="$root/build-fuzz"
    say "fuzzing the option and suppressions parsers (build-fuzz)"
    if [ ! -f "$fuzz/build.ninja" ]; then
      CC=clang CXX=clang++ meson setup "$fuzz" "$root" -Dfuzz=true -Db_sanitize=address,undefined \
        -Db_lundef=false >/dev/null || return 1
    fi
    ninja -C "$fuzz" fuzz/fuzz_options fuzz/fuzz_suppressions >/dev/null || return 1
    meson test -C "$fuzz" --no-rebuild --print-errorlogs --num-processes 2 --suite fuzz || rc=1
    fuzz_log="$fuzz/meson-logs/testlog.json"
  fi
  return $rc
}

plain_log="" san_log="" fuzz_log=""
case "${1:-}" in
  --sanitize=*)
    s="${1#--sanitize=}"
    shift
    sanitized "$s" "$@"
    rc=$?
    ;;
  --all)
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
