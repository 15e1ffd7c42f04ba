#!/bin/bash
# SPDX-License-Identifier: MIT
# The zmq-guard demo, in three acts:
#
#   1. a Python DEALER client whose two threads share one socket, talking to
#      a C++ ROUTER echo server, without the guard: it hangs (or crashes);
#   2. the same client under `zmq-guard`: stopped at the first shared call,
#      with a report naming both threads and their lines in client.py;
#   3. the same client under `zmq-guard --mode=serialize`: the calls take
#      turns and every reply comes back.
#
# Works from a fresh clone on Debian 12: installs the Debian packages it
# needs (as root, or with sudo), builds what it needs with meson, runs.
# Environment: ZMQ_GUARD_DEMO_BUILD (build directory, default build-demo-run),
# DEMO_HANG_TIMEOUT (seconds before act 1 is called hung, default 15),
# DEMO_REQUESTS (requests the client sends, default 100000).
set -u

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${ZMQ_GUARD_DEMO_BUILD:-$root/build-demo-run}"
hang_timeout="${DEMO_HANG_TIMEOUT:-15}"
requests="${DEMO_REQUESTS:-100000}"
python=/usr/bin/python3  # Debian's, the one python3-zmq belongs to
client="$root/demo/client.py"

say() { printf '%s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }
title() {
  printf '\n'
  printf '#%.0s' {1..72}
  printf '\n# %s\n' "$1"
  printf '#%.0s' {1..72}
  printf '\n\n'
}

# ---------------------------------------------------------------- setup
# The project's one list of Debian packages (configuring the project
# configures its tests too, so the demo needs what they need).
"$root/scripts/deps.sh" || die "installing the Debian packages failed (run as root, or with sudo)"

buildlog="$(mktemp)"
if [ ! -f "$build/build.ninja" ]; then
  say "demo: configuring $build"
  if ! meson setup "$build" "$root" >"$buildlog" 2>&1; then
    tail -n 30 "$buildlog" >&2
    die "meson setup failed (full log: $buildlog)"
  fi
fi
# Only what the demo runs: the wrapper, the preload library, the server.
if ! ninja -C "$build" zmq-guard libzmqguard.so demo/demo-server >"$buildlog" 2>&1; then
  tail -n 30 "$buildlog" >&2
  die "build failed (full log: $buildlog)"
fi
rm -f "$buildlog"
guard="$build/zmq-guard"
server_bin="$build/demo/demo-server"

"$python" -c 'import zmq' 2>/dev/null || die "$python cannot import zmq (apt-get install python3-zmq)"
command -v timeout >/dev/null || die "timeout (coreutils) is missing"

# No core files from the crashes this demo provokes.
ulimit -c 0

tmp="$(mktemp -d)"
server_pid=""
cleanup() {
  # The server exits by itself when idle; this only matters on ^C.
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_server() {
  rm -f "$tmp/endpoint"
  "$server_bin" --endpoint-file "$tmp/endpoint" --idle-exit 2 2>"$tmp/server.log" &
  server_pid=$!
  for _ in $(seq 100); do
    [ -s "$tmp/endpoint" ] && break
    kill -0 "$server_pid" 2>/dev/null || die "the server died: $(cat "$tmp/server.log")"
    sleep 0.1
  done
  [ -s "$tmp/endpoint" ] || die "the server wrote no endpoint in 10 s"
  endpoint="$(cat "$tmp/endpoint")"
}

finish_server() {
  wait "$server_pid"
  server_pid=""
  sed 's/^/    /' "$tmp/server.log"
}

# The client's output and the guard's report, as the user would see them.
# Through a pipe (and without pipefail), so the shell adds no "Aborted"
# line of its own: the verdict after each act says what happened.
run_client() {
  say "\$ $*"
  "$@" 2>&1 | cat
  status=${PIPESTATUS[0]}
}

describe_status() {
  local s=$1
  if [ "$s" -eq 0 ]; then
    say "exit status 0"
  elif [ "$s" -gt 128 ]; then
    say "killed by SIG$(kill -l $((s - 128))) (exit status $s)"
  else
    say "exit status $s"
  fi
}

unexpected=0
say "zmq-guard demo: a Python DEALER client talking to a C++ ROUTER echo server over TCP."
say "The client ($client) sends $requests requests from one thread and receives"
say "the replies in another, on ONE shared DEALER socket. ZeroMQ sockets are not thread-safe."

# ---------------------------------------------------------------- act 1
title "Act 1 of 3: the client WITHOUT the guard (given ${hang_timeout} s)"
# A race does not hit every run: a run that gets through is shown, and the
# client is run again (three runs at most).
for attempt in 1 2 3; do
  start_server
  say "server: $server_bin (ROUTER, $endpoint)"
  run_client timeout -k 2 "$hang_timeout" "$python" "$client" "$endpoint" --requests "$requests"
  say ""
  say "server log:"
  finish_server
  say ""
  case $status in
    0)
      say "=> This time it got through: the race does not hit every run."
      [ "$attempt" -lt 3 ] && say "   Again:" && say ""
      ;;
    124 | 137)
      say "=> HUNG: no progress, killed after ${hang_timeout} s. Nothing says why, or where."
      break
      ;;
    *)
      say "=> CRASHED: $(describe_status "$status"). Nothing says which threads, or where in client.py."
      break
      ;;
  esac
done

# ---------------------------------------------------------------- act 2
title "Act 2 of 3: the same client under zmq-guard (default: report, then abort)"
start_server
run_client "$guard" -- "$python" "$client" "$endpoint" --requests "$requests"
say ""
say "server log:"
finish_server
say ""
if [ "$status" -eq 134 ]; then
  say "=> STOPPED at the first call on the shared socket: $(describe_status "$status")."
  say "   The report names both threads, the functions and the lines in client.py."
else
  say "=> unexpected: $(describe_status "$status") (expected SIGABRT after a report)"
  unexpected=1
fi

# ---------------------------------------------------------------- act 3
title "Act 3 of 3: the same client under zmq-guard --mode=serialize"
start_server
run_client timeout -k 2 60 "$guard" --mode=serialize -- "$python" "$client" "$endpoint" --requests "$requests"
say ""
say "server log:"
finish_server
say ""
if [ "$status" -eq 0 ]; then
  say "=> COMPLETED: the guard made the two threads take turns on the socket; every reply is accounted for."
  say "   (The real fix: give each thread its own socket, or hand messages to one socket-owning thread.)"
elif [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
  say "=> unexpected: still hung after 60 s under --mode=serialize"
  unexpected=1
else
  say "=> unexpected: $(describe_status "$status")"
  unexpected=1
fi

# Acts 2 and 3 are the guard's promises; act 1 is whatever the race does.
exit "$unexpected"
