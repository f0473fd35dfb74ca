#!/usr/bin/env bash
# bench/ops.sh - what operations cost the chat (issue 18): the latency of ordinary sends (one sender to
# 100 members, 100 sends/s, mqchat_bench's fan-out) on a broker whose database holds a channel of
# EVENTS (1,000,000) events, in three kinds of phase, interleaved:
#   idle     nothing else happens
#   backup   mqchat_ctrl backup runs back to back for the whole phase (the copy is then deleted)
#   prune    retention cuts the big channel to its newest 1,000 events meanwhile (500 per tick)
# Prints each phase's latency p50/p99/max. Broker on CPU 0 (its backup thread too, at nice 19: the
# harder case, sharing the broker thread's CPU), load on CPU 1; synchronous full.
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
# The search index caught up first, as on a broker that has run a while: otherwise every phase would
# also be indexing the million events, at the lowest priority but on the same disk and CPUs.
start_ops_broker "$WORK/seed"
for _ in $(seq 1200); do
	[[ $(search_indexed "$WORK/seed/chat.db") == 1 ]] && break
	sleep 0.5
done
stop_broker
ls -l "$WORK/seed/chat.db" | awk '{printf "database with %s events: %.0f MB\n", "'"$EVENTS"'", $5 / 1e6}'

for phase in ${PHASES:-idle backup prune idle backup prune}; do
	d=$WORK/$phase-$RANDOM
	mkdir -p "$d"
	cp "$WORK/seed/chat.db" "$WORK/seed/chat.db-search" "$d/"
	# The copy's ~500 MB of dirty pages would otherwise be written back ~30 s later (the kernel's
	# dirty_expire), in the middle of a phase, stalling every ack's fsync behind them: in both kinds
	# of phase alike, idle included (p99 165 ms idle in the run that found it).
	sync "$d/chat.db" "$d/chat.db-search"
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
		# each copy kept until the phase ends: unlinking ~500 MB is an ext4 journal commit that every
		# ack's fsync would wait for, a cost of the script's clean-up, not of the backup
		while kill -0 "$load" 2>/dev/null; do
			"$CTRL" -h 127.0.0.1 -p "$PORT" -u ops backup "$d/copy-$n.db" >/dev/null || true
			n=$((n + 1))
		done
		note=" ($n backups)"
	fi
	wait "$load"
	stop_broker
	if [[ $phase == prune ]]; then
		# how far the big channel (the one with the most events left) was cut while the sends ran
		note=" ($(sqlite3 "$d/chat.db" "SELECT min(seq) - 1 FROM events GROUP BY channel_id
			ORDER BY max(seq) DESC LIMIT 1") events pruned by the end)"
	fi
	awk -v p="$phase" -v n="$note" '$1=="RESULT" && $2 ~ /latency/ {print p n, $2, $3, $4, $5}' "$d/bench.out"
	rm -rf "$d"
done
