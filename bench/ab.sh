#!/usr/bin/env bash
# bench/ab.sh - acknowledged sends with two builds of the plugin, interleaved: the before/after table
# of docs/benchmarks.md ("Group commit, before and after").
#
# Usage: bench/ab.sh BEFORE.so AFTER.so [repetitions (3)]
# AB_SCENARIO=fanout compares fan-out (1->1, 1->100, 10->10, 1000 channels x 10; 5,000 sends each at
# full speed) instead of acknowledged sends.
# Builds nothing: point it at two mqchat.so files (e.g. from `git worktree add` of the older commit).
# For each repetition, each build and each sync level (normal, full), a broker of its own on a free
# loopback port (pinned to CPU 0; mqchat_bench on CPU 1) runs 10,000 sends with 100 in flight and
# 1,000 with 1 in flight. Prints "<label> <sync> RESULT <key> <value>" and each broker's group-commit
# count (a build before group commit has none).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=${MQCHAT_BUILD_DIR:-$ROOT/build}/bench/mqchat_bench
[[ $# -ge 2 ]] || { echo "usage: bench/ab.sh BEFORE.so AFTER.so [repetitions]" >&2; exit 2; }
declare -A SO=([before]=$(realpath "$1") [after]=$(realpath "$2"))
REPS=${3:-3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mqchat-ab.XXXXXX")
PID=
trap '[[ -n $PID ]] && kill "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT
PIN0=() PIN1=()
if [[ $(nproc) -ge 2 ]] && command -v taskset >/dev/null; then
	PIN0=(taskset -c 0) PIN1=(taskset -c 1)
fi

for ((rep = 1; rep <= REPS; rep++)); do
	for label in before after; do
		for sync in normal full; do
			d=$WORK/$rep-$label-$sync
			mkdir -p "$d"
			port=$("$BENCH" --free-port)
			printf '%s\n' "listener $port 127.0.0.1" "allow_anonymous true" "persistence false" \
				"log_dest file $d/broker.log" "user $(id -un)" "set_tcp_nodelay true" \
				"allow_duplicate_messages true" "max_queued_messages 1000000" "plugin ${SO[$label]}" \
				"plugin_opt_database $d/chat.db" "plugin_opt_synchronous $sync" \
				"plugin_opt_auth_fallback allow" "plugin_opt_send_rate 0" "plugin_opt_request_rate 0" \
				>"$d/mosquitto.conf"
			# no quotas where the build has them (an older build refuses options it does not know)
			if grep -q max_memberships "${SO[$label]}"; then
				printf '%s\n' "plugin_opt_create_rate 0" "plugin_opt_member_rate 0" \
					"plugin_opt_max_memberships 0" >>"$d/mosquitto.conf"
			fi
			"${PIN0[@]}" mosquitto -c "$d/mosquitto.conf" >"$d/stderr.log" 2>&1 &
			PID=$!
			for _ in $(seq 50); do
				grep -q "running" "$d/broker.log" 2>/dev/null && break
				sleep 0.1
			done
			if [[ ${AB_SCENARIO:-acks} == fanout ]]; then
				scenario=(--scenarios setup,fanout --n 5000 --rate-s 0.5)
			else
				scenario=(--scenarios setup-acks,acks --ack-n 10000)
			fi
			"${PIN1[@]}" "$BENCH" --port "$port" --mode mqchat --label "$label-$sync" \
				"${scenario[@]}" | sed "s/^/$label $sync /"
			kill "$PID"
			wait "$PID" 2>/dev/null || true
			PID=
			grep -h "group commit" "$d/broker.log" | sed "s/^[0-9]*: /$label $sync /" || true
		done
	done
done
