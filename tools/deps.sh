#!/usr/bin/env bash
# deps.sh - installs what mqchat needs to build, run and test, from Debian's packages, when missing.
#
# Usage: tools/deps.sh [--test]    (--test adds what the test suite needs besides)
# Runs apt-get as root, or through sudo.
set -euo pipefail

packages=(build-essential cmake pkg-config
          mosquitto mosquitto-clients mosquitto-dev libmosquitto-dev
          libsqlite3-dev libcjson-dev uuid-dev uthash-dev)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(sqlite3 valgrind)
  packages+=(clang libclang-rt-14-dev) # reliability: the libFuzzer targets of tests/fuzz
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

sudo=()
if [[ "$(id -u)" != 0 ]]; then
  sudo=(sudo)
fi
echo "mqchat: installing ${missing[*]}" >&2
"${sudo[@]}" apt-get update -q
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
