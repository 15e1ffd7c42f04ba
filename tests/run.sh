#!/bin/bash
# The whole test suite: installs what it needs, builds, runs every test
# (unit, end-to-end native, Python, stress, demo smoke) through meson.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export BUILD_DIR="${BUILD_DIR:-$root/build}"
"$root/scripts/build.sh"
meson test -C "$BUILD_DIR" --print-errorlogs --num-processes 2 "$@"
