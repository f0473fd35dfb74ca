#!/usr/bin/env bash
# bench/ops.sh - what operations cost the chat (issue 18): the latency of ordinary sends (one sender to
# 100 members, 100 sends/s, mqchat_bench's fan-out) on a broker whose database holds a channel of
# EVENTS (1,000,000) events, in three kinds of phase, interleaved:
#   idle     nothing else happens
#   backup   mqchat_ctrl backup runs back to back for the whole phase (the copy is then deleted)
#   prune    retention cuts the big channel to its newest 1,000 events meanwhile (500 per tick)
# Prints each phase's latency p50/p99/max. Broker on CPU 0, load on CPU 1; synchronous full.
#
# Usage: bench/ops.sh   Environment: MQCHAT_BUILD_DIR (build), EVENTS (1000000), RATE_S (seconds of
#        paced sends per phase, 8), PHASES (default "idle backup prune idle backup prune")
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=${MQCHAT_BUILD_DIR:-$ROOT/build}
BENCH=$B/bench/mqchat_bench
CTRL=$B/mqchat_ctrl
EVENTS=${EVENTS:-1000000}
RATE_S=${RATE_S:-8}
PIN_BROKER=() PIN_BENCH=()
if [[ $(nproc) -ge 2 ]] && command -v taskset >/dev/null; then
	PIN_BROKER=(taskset -c 0) PIN_BENCH=(taskset -c 1)
fi
W=$(mktemp -d "${TMPDIR:-/tmp}/mqchat-ops.XXXXXX")
BROKER_PID=
cleanup() {
	[[ -n $BROKER_PID ]] && kill "$BROKER_PID" 2>/dev/null
	wait 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT

start_broker() { # dir [extra option lines]
	local dir=$1
	PORT=$("$BENCH" --free-port)
	{
		echo "listener $PORT 127.0.0.1"
		echo "allow_anonymous true"
		echo "persistence false"
		echo "log_dest file $dir/broker.log"
		echo "user $(id -un)"
		echo "set_tcp_nodelay true"
		echo "allow_duplicate_messages true"
		echo "max_queued_messages 1000000"
		echo "plugin $B/mqchat.so"
		echo "plugin_opt_database $dir/chat.db"
		echo "plugin_opt_synchronous full"
		echo "plugin_opt_auth_fallback allow"
		echo "plugin_opt_send_rate 0"
		echo "plugin_opt_request_rate 0"
		echo "plugin_opt_create_rate 0"
		echo "plugin_opt_member_rate 0"
		echo "plugin_opt_max_memberships 0"
		echo "plugin_opt_catchup_page_bytes 1048576"
		echo "plugin_opt_admins ops"
		printf '%b' "${2:-}"
	} >"$dir/mosquitto.conf"
	"${PIN_BROKER[@]}" mosquitto -c "$dir/mosquitto.conf" >"$dir/stderr.log" 2>&1 &
	BROKER_PID=$!
	for _ in $(seq 600); do
		grep -q "running" "$dir/broker.log" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "ops.sh: the broker did not start" >&2
	exit 1
}
stop_broker() {
	kill "$BROKER_PID"
	wait "$BROKER_PID" 2>/dev/null || true
	BROKER_PID=
}

mkdir -p "$W/seed"
start_broker "$W/seed"
"$BENCH" --port "$PORT" --mode mqchat --label seed --cap 120 --scenarios seed --cu-events "$EVENTS" >/dev/null
stop_broker
"$BENCH" --seed-db "$W/seed/chat.db" --cu-events "$EVENTS" --label seed >/dev/null
ls -l "$W/seed/chat.db" | awk '{printf "database with %s events: %.0f MB\n", "'"$EVENTS"'", $5 / 1e6}'

for phase in ${PHASES:-idle backup prune idle backup prune}; do
	d=$W/$phase-$RANDOM
	mkdir -p "$d"
	cp "$W/seed/chat.db" "$d/chat.db"
	extra=""
	[[ $phase == prune ]] && extra="plugin_opt_retention_count 1000\nplugin_opt_retention_check_ms 10\n"
	start_broker "$d" "$extra"
	"${PIN_BENCH[@]}" "$BENCH" --port "$PORT" --mode mqchat --label "$phase" --cap 120 \
		--scenarios setup,fanout --shapes 1to100 --n 200 --rate 100 --rate-s "$RATE_S" \
		>"$d/bench.out" 2>"$d/bench.err" &
	load=$!
	note=""
	if [[ $phase == backup ]]; then
		until grep -q "fanout" "$d/bench.err" 2>/dev/null || ! kill -0 "$load" 2>/dev/null; do sleep 0.05; done
		n=0
		while kill -0 "$load" 2>/dev/null; do
			"$CTRL" -h 127.0.0.1 -p "$PORT" -u ops backup "$d/copy.db" >/dev/null || true
			rm -f "$d/copy.db"
			n=$((n + 1))
		done
		note=" ($n backups)"
	fi
	wait "$load"
	if [[ $phase == prune ]]; then
		# the largest run of the phase: the big channel's
		note=" ($(grep -o 'pruned [0-9]* events in [0-9]* batches, the longest [0-9]* us' "$d/broker.log" |
			sort -k2 -n | tail -1); started $(grep -m1 'retention: pruned' "$d/broker.log" | cut -d: -f1-3),
			sends measured from $(date -r "$d/bench.err" +%T))"
	fi
	awk -v p="$phase" -v n="$note" '$1=="RESULT" && $2 ~ /latency/ {print p n, $2, $3, $4, $5}' "$d/bench.out"
	stop_broker
	rm -rf "$d"
done
