#!/usr/bin/env bash
# deps.sh - installs what mqchat needs to build, run and test, when missing: Debian's packages, then
# the browser client's npm packages (MQTT.js and esbuild) from the npm registry.
#
# Usage: tools/deps.sh [--test]    (--test adds what the test suite needs besides: valgrind, Chromium,
#                                   an emoji font for its screenshots, HAProxy for the gateway tier's load
#                                   balancer test, and tests/web's npm packages)
# Runs apt-get as root, or through sudo.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
packages=(build-essential cmake pkg-config
          mosquitto mosquitto-clients mosquitto-dev libmosquitto-dev
          libsqlite3-dev libcjson-dev uuid-dev uthash-dev libssl-dev libcurl4-openssl-dev)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(sqlite3 valgrind chromium fonts-noto-color-emoji haproxy)
  packages+=(clang libclang-rt-14-dev) # reliability: the libFuzzer targets of tests/fuzz
  packages+=(clang-format python3) # tools/test.sh's format and layer checks
fi
# Node.js and npm build the browser client. A machine that has them (any source) keeps its own.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} > 0)); then
  sudo=()
  if [[ "$(id -u)" != 0 ]]; then
    sudo=(sudo)
  fi
  echo "mqchat: installing ${missing[*]}" >&2
  "${sudo[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# npm ci installs exactly what package-lock.json pins; skipped when node_modules already matches it.
npm_ci() {
  local dir=$1
  if [[ -f "$dir/node_modules/.package-lock.json" && ! "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]]; then
    return 0
  fi
  echo "mqchat: npm ci in ${dir#"$root"/}" >&2
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
}
npm_ci "$root/examples/web"
if [[ "${1:-}" == "--test" ]]; then
  npm_ci "$root/tests/web"
fi
