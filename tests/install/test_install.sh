#!/bin/bash
# SPDX-License-Identifier: MIT
# `meson install` into a scratch DESTDIR, then the installed wrapper must
# find the installed library by itself and catch a shared socket, and the
# header and pkg-config file must be usable.
set -euo pipefail
build="$1"
src="$2"
scenario="$3"  # a program that shares a socket between two threads
version="$4"   # the project's
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

meson install -C "$build" --destdir "$tmp/root" --no-rebuild >/dev/null

wrapper="$(find "$tmp/root" -path '*/bin/zmq-guard' -type f)"
lib="$(find "$tmp/root" -name libzmqguard.so -type f)"
header="$(find "$tmp/root" -name zmq_guard.h -type f)"
pc="$(find "$tmp/root" -name zmq-guard.pc -type f)"
for f in "$wrapper" "$lib" "$header" "$pc"; do
  [ -n "$f" ] || { echo "FAIL: missing installed file"; find "$tmp/root"; exit 1; }
done

# zmq-guard(1), with every option of the table the installed wrapper takes.
man1="$(find "$tmp/root" -path '*/man1/zmq-guard.1' -type f)"
[ -n "$man1" ] || { echo "FAIL: zmq-guard.1 not installed"; exit 1; }
for opt in $("$wrapper" --help-options | awk 'NR > 1 { print $1 }'); do
  roff="\\-\\-$(printf '%s' "$opt" | sed 's/_/\\-/g')"
  grep -qF -- ".BR $roff" "$man1" || { echo "FAIL: zmq-guard.1 lacks --$opt ($roff)"; exit 1; }
done

# The installed wrapper, away from the build tree.
[ "$("$wrapper" --version)" = "zmq-guard $version" ] || { echo "FAIL: --version, want zmq-guard $version"; exit 1; }
set +e
"$wrapper" --mode=warn --json-path="$tmp/out.json" -- "$scenario" >"$tmp/stdout" 2>"$tmp/stderr"
rc=$?
set -e
if [ "$rc" -ne 66 ]; then
  echo "FAIL: installed wrapper: exit status $rc, want 66"
  cat "$tmp/stderr"
  exit 1
fi
# One cross_thread, in the text and in the JSON.
[ "$(grep -Ec '^==[0-9]+==WARNING: zmq-guard: cross_thread: ' "$tmp/stderr")" = 1 ] &&
  [ "$(grep -Ec '^SUMMARY: zmq-guard: cross_thread zmq_send ' "$tmp/stderr")" = 1 ] ||
  { echo "FAIL: no cross_thread report"; cat "$tmp/stderr"; exit 1; }
[ "$(grep -c . "$tmp/out.json")" = 1 ] && grep -q '^{"kind":"cross_thread",' "$tmp/out.json" ||
  { echo "FAIL: not one cross_thread JSON finding"; cat "$tmp/out.json"; exit 1; }

# The public header compiles in C and C++ and works without the guard.
cat >"$tmp/use.c" <<'C'
#include <stdio.h>
#include <zmq_guard.h>
int main(void) {
  const char* v = zmq_guard_loaded_version();
  printf("%s\n", v ? v : "not loaded");
  return 0;
}
C
cc -I"$(dirname "$header")" -o "$tmp/use" "$tmp/use.c" -ldl
[ "$("$tmp/use")" = "not loaded" ] || { echo "FAIL: header without the guard"; exit 1; }
loaded="$("$wrapper" -- "$tmp/use")"
[ "$loaded" = "$version" ] || { echo "FAIL: header under the guard: '$loaded', want $version"; exit 1; }
c++ -x c++ -I"$(dirname "$header")" -fsyntax-only "$tmp/use.c"

# pkg-config names the preload library.
PKG_CONFIG_PATH="$(dirname "$pc")" pkg-config --variable=preload zmq-guard | grep -q 'libzmqguard.so$'
echo "install: ok ($loaded)"
