#!/bin/bash
# SPDX-License-Identifier: MIT
# run_fuzz.sh HARNESS SEED_DIR WORK_DIR SECONDS: a bounded libFuzzer run
# from the seed corpus; fails on the first crash, leak, timeout or abort of
# the harness's own checks, and prints the executions made.
set -uo pipefail
harness=$1 seeds=$2 work=$3 seconds=$4
mkdir -p "$work"
cp -n "$seeds"/* "$work"/ 2>/dev/null
# -close_fd_mask=2: the parsers' own lines about bad input go to stderr
# (a crash report is still shown).  A crashing input lands in the work
# directory: it goes into the seed corpus with its fix.
# UBSan reports are errors (they would go to the stderr that
# -close_fd_mask=2 closes, and the run would go on).
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
rc=0
"$harness" -max_total_time="$seconds" -close_fd_mask=2 -print_final_stats=1 -timeout=10 -rss_limit_mb=1024 \
  -artifact_prefix="$work/" "$work" >"$work.log" 2>&1 || rc=$?
grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+.*(DONE|cov:)|INFO: seed corpus)" "$work.log" | tail -4
[ "$rc" -ne 0 ] && tail -60 "$work.log"
exit "$rc"
