#!/bin/bash
# The whole test suite: installs what it needs, builds, runs every test
# (unit, end-to-end native, Python, stress, install, demo smoke) through
# meson, and ends with one "N passed, N failed" line counting the
# individual test cases inside those suites.
#
# --sanitize=address,undefined or --sanitize=thread builds the library,
# the unit tests and the test programs with those sanitizers in a build
# directory of their own (build-asan, build-tsan) and runs the suites that
# can run that way (doc/reliability.md says which, and why not the others).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
sanitize=""
if [[ "${1:-}" == --sanitize=* ]]; then
  sanitize="${1#--sanitize=}"
  shift
fi
if [ -z "$sanitize" ]; then
  export BUILD_DIR="${BUILD_DIR:-$root/build}"
  "$root/scripts/build.sh" || exit 1
  meson test -C "$BUILD_DIR" --print-errorlogs --num-processes 2 "$@"
else
  case "$sanitize" in
    address,undefined | address | undefined) dir=build-asan ;;
    thread) dir=build-tsan ;;
    *) echo "tests/run.sh: --sanitize takes address,undefined or thread, not '$sanitize'" >&2; exit 2 ;;
  esac
  export BUILD_DIR="${BUILD_DIR:-$root/$dir}"
  "$root/scripts/deps.sh" || exit 1
  if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    meson setup "$BUILD_DIR" "$root" -Db_sanitize="$sanitize" -Db_lundef=false >/dev/null || exit 1
  fi
  ninja -C "$BUILD_DIR" >/dev/null || exit 1
  # The suites meson runs with the sanitizer: the setup asan or tsan in
  # tests/meson.build sets the runtime's options and preloads it where a
  # program that was not built with it loads the guard.
  # Without test names: the suites that run under the sanitizer (the
  # others do not, doc/reliability.md says why).
  if [ $# -eq 0 ]; then
    if [ "$dir" = build-tsan ]; then set -- unit hostile; else set -- unit hostile harness e2e-native stress; fi
  fi
  meson test -C "$BUILD_DIR" --print-errorlogs --num-processes 2 --setup "${dir#build-}" "$@"
  rc=$?
  if [ "$sanitize" = address,undefined ]; then
    # The libFuzzer harnesses (fuzz/), built with clang in build-fuzz.
    fuzz="$root/build-fuzz"
    if [ ! -f "$fuzz/build.ninja" ]; then
      CC=clang CXX=clang++ meson setup "$fuzz" "$root" -Dfuzz=true -Db_sanitize=address,undefined \
        -Db_lundef=false >/dev/null || exit 1
    fi
    ninja -C "$fuzz" fuzz/fuzz_options fuzz/fuzz_suppressions >/dev/null || exit 1
    meson test -C "$fuzz" --no-rebuild --print-errorlogs --num-processes 2 --suite fuzz || rc=1
  fi
  /usr/bin/python3 "$root/tests/lib/count.py" "$BUILD_DIR/meson-logs/testlog-${dir#build-}.json" || true
  exit $rc
fi
rc=$?
/usr/bin/python3 "$root/tests/lib/count.py" "$BUILD_DIR/meson-logs/testlog.json" || true
exit $rc
