#!/usr/bin/env bash
# bench/push.sh - what push hand-off costs acknowledged sends, and how long a notification takes from
# its commit to the gateway (docs/benchmarks.md, "Push hand-off").
#
# 1. Acknowledged sends, 100 in flight, from ada to #push, whose MQCHAT_PUSH_MEMBERS (10) other
#    members are offline with a pusher each, so every message is handed off to all of them:
#      off   no plugin_opt_push_gateway (the pushers are stored all the same)
#      dead  plugin_opt_push_gateway pointing at a port nobody listens on: every post is refused
#            and retried with backoff by the worker, every hand-off writes its rows
#    Both at synchronous full, interleaved, order rotating, MQCHAT_PUSH_REPS (5) repetitions; medians.
# 2. A live gateway (mqchat_push_bench --latency listens itself): one message every 20 ms to a
#    channel with one offline member, MQCHAT_PUSH_LATENCY_N (500) of them; the time from each send's
#    JSON ack (sent right after its commit) to the gateway's receipt of a notification for it or for
#    a later message (one that came while a notification waited rides on it), p50/p99/max.
# Broker on CPU 0, client on CPU 1. Speed never fails the run; a missing ack or notification does.
#
# Usage: bench/push.sh   (MQCHAT_BUILD_DIR picks the build directory, default build)
set -euo pipefail

BENCH_NAME=push
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
MEMBERS=${MQCHAT_PUSH_MEMBERS:-10}
REPS=${MQCHAT_PUSH_REPS:-5}
SENDS=${MQCHAT_PUSH_SENDS:-5000}
LATENCY_N=${MQCHAT_PUSH_LATENCY_N:-500}
TOOL=$BUILD/bench/mqchat_push_bench

[[ -n ${MQCHAT_BENCH_NO_BUILD:-} ]] || cmake --build "$BUILD" -j"$(nproc)" --target mqchat mqchat_push_bench >&2

# start_push_broker <dir> <gateway url or "">: the bench's broker, pushing to the gateway when given.
start_push_broker() {
	start_broker "$1" "max_queued_messages 1000000" "plugin_opt_synchronous full" \
		${2:+"plugin_opt_push_gateway $2"}
}

# utime + stime of the broker, in clock ticks
cpu_ticks() { awk '{print $14 + $15}' "/proc/$BROKER_PID/stat"; }

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

DEAD_URL="http://127.0.0.1:$(free_port)/_matrix/push/v1/notify" # nobody listens there

# One seeded database (members and pushers), copied fresh for every run.
mkdir -p "$WORK/seed"
start_push_broker "$WORK/seed" ""
"$TOOL" --setup --port "$PORT" --members "$MEMBERS"
stop_broker

: >"$WORK/sends.out"
: >"$WORK/cpu.out"
for ((rep = 0; rep < REPS; rep++)); do
	order=(off dead)
	((rep % 2)) && order=(dead off)
	for v in "${order[@]}"; do
		log "rep $((rep + 1))/$REPS: sends, push $v"
		d=$WORK/run
		rm -rf "$d"
		mkdir -p "$d"
		cp "$WORK/seed/chat.db" "$d/chat.db"
		start_push_broker "$d" "$([[ $v == dead ]] && echo "$DEAD_URL" || true)"
		cpu0=$(cpu_ticks)
		"${PIN_CLIENT[@]}" "$TOOL" --sends --port "$PORT" --n "$SENDS" --inflight 100 |
			awk -v k="$v" '$1 == "RESULT" {print k, $3}' >>"$WORK/sends.out"
		# the broker's CPU (all its threads, the push thread included) per acknowledged send, in µs
		awk -v k="$v" -v t="$(($(cpu_ticks) - cpu0))" -v hz="$(getconf CLK_TCK)" -v n="$SENDS" \
			'BEGIN {printf "%s %.1f\n", k, t * 1e6 / hz / n}' >>"$WORK/cpu.out"
		[[ $v == off ]] || grep -q "push: delivering to" "$d/broker.log" || { log "push did not start"; exit 1; }
		stop_broker
	done
done

log "latency with a live gateway"
mkdir -p "$WORK/lat"
GW_PORT=$(free_port)
start_push_broker "$WORK/lat" "http://127.0.0.1:$GW_PORT/_matrix/push/v1/notify"
"$TOOL" --setup --port "$PORT" --members 1
"${PIN_CLIENT[@]}" "$TOOL" --latency --port "$PORT" --gateway-port "$GW_PORT" --n "$LATENCY_N" \
	--interval-ms 20 >"$WORK/latency.out"
stop_broker

off=$(awk '$1 == "off" {print $2}' "$WORK/sends.out" | median)
dead=$(awk '$1 == "dead" {print $2}' "$WORK/sends.out" | median)
range() { awk -v k="$1" '$1 == k {print $2}' "$WORK/sends.out" | sort -n | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%s-%s", lo, hi}'; }
echo
echo "Acknowledged sends/s, 100 in flight, synchronous full, $MEMBERS offline members with a pusher each ($REPS reps, median (min-max)):"
printf '  push off:                 %s (%s)\n' "$off" "$(range off)"
printf '  push on, gateway dead:    %s (%s)\n' "$dead" "$(range dead)"
printf '  ratio dead/off:           %s\n' "$(awk -v a="$dead" -v b="$off" 'BEGIN {printf "%.3f", a / b}')"
coff=$(awk '$1 == "off" {print $2}' "$WORK/cpu.out" | median)
cdead=$(awk '$1 == "dead" {print $2}' "$WORK/cpu.out" | median)
echo "Broker CPU per acknowledged send, µs (all threads; median):"
printf '  push off: %s   push on, gateway dead: %s   ratio off/dead (throughput at saturation): %s\n' \
	"$coff" "$cdead" "$(awk -v a="$coff" -v b="$cdead" 'BEGIN {printf "%.3f", a / b}')"
echo "Commit (JSON ack) -> gateway receipt, live gateway, $LATENCY_N messages, one every 20 ms:"
sed -e 's/^RESULT latency_ms /  /' -e 's/^RESULT latency_of /  /' "$WORK/latency.out"
