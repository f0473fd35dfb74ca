#!/usr/bin/env bash
# test.sh - installs what is missing, builds mqchat and runs the whole test suite.
#
# Three passes, each against a real Mosquitto with the real plugin:
#   1. the regular build: unit and integration tests (ctest);
#   2. an AddressSanitizer + UndefinedBehaviorSanitizer build of plugin and tests, same tests;
#   3. valgrind (memcheck) around the broker for a subset: the worked example, the API, retries, the
#      README tour, the real-time layer and the gateway tier (core and edges all under valgrind;
#      tests/valgrind.supp lists what Mosquitto itself leaks or trips).
# Any failure fails the script. MQCHAT_QUICK=1 runs only pass 1.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
tools/deps.sh --test
jobs=$(nproc)

echo "== pass 1: build and test"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMQCHAT_TESTS=ON >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build -j"$jobs" --output-on-failure

if [[ "${MQCHAT_QUICK:-0}" == 1 ]]; then
  exit 0
fi

echo "== pass 2: AddressSanitizer and UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DMQCHAT_TESTS=ON -DMQCHAT_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
ctest --test-dir build-asan -j"$jobs" --output-on-failure

echo "== pass 3: valgrind around the broker"
MQCHAT_BROKER_WRAPPER="valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --vgdb=no --suppressions=$root/tests/valgrind.supp" \
TH_TIMEOUT_S=300 ctest --test-dir build -j"$jobs" --output-on-failure -R '^test_(worked_example|api|idempotency|examples|realtime|gateway)$'
