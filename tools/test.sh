#!/usr/bin/env bash
# test.sh - installs what is missing, builds mqchat and runs the whole test suite.
#
# First the layering and format checks (tools/check_layers.py, clang-format); then four passes, the
# first three against a real Mosquitto with the real plugin:
#   1. the regular build: unit and integration tests (ctest), the browser client's in headless
#      Chromium among them; then the reliability checker's summaries;
#   2. an AddressSanitizer + UndefinedBehaviorSanitizer build of plugin and tests, same tests;
#   3. valgrind (memcheck) around the broker for a subset: the worked example, the API, retries, the
#      README tour, the real-time layer, the ACL matrix, the attacks of docs/security.md and the
#      gateway tier (core and edges all under valgrind; tests/valgrind.supp lists what Mosquitto
#      itself leaks or trips);
#   4. a few seconds of libFuzzer per parser (tests/fuzz; MQCHAT_FUZZ_SECONDS, default 5).
# Between 1 and 2, as root, the .deb is built, installed beside Debian's mosquitto, run with its own
# /etc/mosquitto/mosquitto.conf through the worked example, and removed (tools/deb_check.sh).
# Any failure fails the script. MQCHAT_QUICK=1 runs only pass 1.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
tools/deps.sh --test
jobs=$(nproc)

echo "== checks: layers and format"
# The layers (docs/architecture.md): no include cycle, no upward include (the build refuses those too).
python3 tools/check_layers.py
# One formatter for the C tree (.clang-format): any drift fails here.
git ls-files '*.c' '*.h' | xargs clang-format --dry-run -Werror

echo "== pass 1: build and test"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMQCHAT_TESTS=ON -DMQCHAT_WEB=ON >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build -j"$jobs" --output-on-failure

# -- reliability (docs/reliability.md): the checker's and the flood tests' summaries from pass 1 --
cat build/tests/reliability-summary-*.txt 2>/dev/null || true
# -- end reliability --

if [[ "${MQCHAT_QUICK:-0}" == 1 ]]; then
  exit 0
fi

# The Debian package, installed next to Debian's mosquitto and run with its own configuration
# (tools/deb_check.sh). It installs a package, so only as root, where apt is (CI is both).
if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  echo "== pass 1b: the Debian package"
  tools/deb_check.sh
else
  echo "== pass 1b: the Debian package: skipped (needs root and apt-get)"
fi

echo "== pass 2: AddressSanitizer and UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DMQCHAT_TESTS=ON -DMQCHAT_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
ctest --test-dir build-asan -j"$jobs" --output-on-failure

echo "== pass 3: valgrind around the broker"
MQCHAT_BROKER_WRAPPER="valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --vgdb=no --suppressions=$root/tests/valgrind.supp" \
TH_TIMEOUT_S=300 ctest --test-dir build -j"$jobs" --output-on-failure -R '^test_(worked_example|api|idempotency|examples|realtime|gateway|attacks|abuse_limits)$'

# -- reliability (docs/reliability.md): the ACL matrix under valgrind too (12 s); pass 4, a short
# libFuzzer run of every parser --
MQCHAT_BROKER_WRAPPER="valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --vgdb=no --suppressions=$root/tests/valgrind.supp" \
TH_TIMEOUT_S=300 ctest --test-dir build --output-on-failure -R '^test_acl_matrix$'

echo "== pass 4: fuzzing the parsers (${MQCHAT_FUZZ_SECONDS:-5} s per target)"
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMQCHAT_FUZZ=ON -DMQCHAT_TESTS=OFF \
  -DMQCHAT_BENCH=OFF -DMQCHAT_WEB=OFF >/dev/null
targets=(fuzz_send_request fuzz_topic fuzz_utf8 fuzz_requests fuzz_config fuzz_sessions fuzz_search_query fuzz_mentions)
cmake --build build-fuzz -j"$jobs" --target "${targets[@]}"
for t in "${targets[@]}"; do
  work=$(mktemp -d)
  if ! build-fuzz/tests/fuzz/"$t" -max_total_time="${MQCHAT_FUZZ_SECONDS:-5}" -print_final_stats=1 \
       -artifact_prefix=build-fuzz/"$t"- "$work" tests/fuzz/corpus/"$t" >"$work.log" 2>&1; then
    tail -40 "$work.log"; rm -rf "$work" "$work.log"; exit 1
  fi
  echo "$t: $(grep -o 'stat::number_of_executed_units: [0-9]*' "$work.log" | grep -o '[0-9]*$') runs, no crash"
  rm -rf "$work" "$work.log"
done
# -- end reliability --
