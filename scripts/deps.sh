#!/bin/bash
# SPDX-License-Identifier: MIT
# Installs the Debian 12 packages zmq-guard needs to build, test and demo.
# Idempotent and quiet when everything is there; needs root (or sudo) only
# when something is missing.
set -euo pipefail

packages=(
  meson ninja-build pkg-config g++
  libzmq3-dev cppzmq-dev libczmq-dev
  libdw-dev
  libgtest-dev libbenchmark-dev
  python3-zmq python3-pytest python3-ipykernel python3-jupyter-client python3-jsonschema
  patchelf valgrind
  libasan8 libzmq-ffi-perl libperl5.36
  python3-cffi
  cargo rustc librust-zmq-dev
  default-jdk-headless libzmq-java libzmq-jni
  php-cli php-zmq php8.2-dev
  ruby ruby-ffi-rzmq
  clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "zmq-guard: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
