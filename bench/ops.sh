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
BENCH_NAME=ops
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
BENCH=$BUILD/bench/mqchat_bench
CTRL=$BUILD/mqchat_ctrl
EVENTS=${EVENTS:-1000000}
RATE_S=${RATE_S:-8}

# start_ops_broker <dir> [line...]: the bench's broker (synchronous full, no quotas, "ops" an admin).
start_ops_broker() {
	local dir=$1
	shift
	start_broker "$dir" "allow_duplicate_messages true" "max_queued_messages 1000000" \
		"plugin_opt_synchronous full" "plugin_opt_create_rate 0" "plugin_opt_member_rate 0" \
		"plugin_opt_max_memberships 0" "plugin_opt_catchup_page_bytes 1048576" "plugin_opt_admins ops" "$@"
}

mkdir -p "$WORK/seed"
start_ops_broker "$WORK/seed"
"$BENCH" --port "$PORT" --mode mqchat --label seed --cap 120 --scenarios seed --cu-events "$EVENTS" >/dev/null
stop_broker
"$BENCH" --seed-db "$WORK/seed/chat.db" --cu-events "$EVENTS" --label seed >/dev/null
ls -l "$WORK/seed/chat.db" | awk '{printf "database with %s events: %.0f MB\n", "'"$EVENTS"'", $5 / 1e6}'

for phase in ${PHASES:-idle backup prune idle backup prune}; do
	d=$WORK/$phase-$RANDOM
	mkdir -p "$d"
	cp "$WORK/seed/chat.db" "$d/chat.db"
	if [[ $phase == prune ]]; then
		start_ops_broker "$d" "plugin_opt_retention_count 1000" "plugin_opt_retention_check_ms 10"
	else
		start_ops_broker "$d"
	fi
	"${PIN_CLIENT[@]}" "$BENCH" --port "$PORT" --mode mqchat --label "$phase" --cap 120 \
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
