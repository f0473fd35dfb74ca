#!/usr/bin/env bash
# bench/run.sh - mqchat's benchmark: the same scenarios against plain mosquitto and against mosquitto
# with mqchat (synchronous=full and synchronous=normal), one broker at a time, printed as a Markdown
# table and written to bench/results.md.
#
# Each broker runs in a temporary directory of its own, on a loopback port that was free a moment
# ago, and is stopped by its pid; the directories are removed at exit, whatever happens. The bench
# client (mqchat_bench) gives every scenario a deadline and checks what it counted; a failed check
# stops the run with exit status 1. Speed never fails the run.
#
# Usage, from anywhere (it finds the repo from its own path):
#   bench/run.sh
# Environment (all optional):
#   MQCHAT_BUILD_DIR         build directory holding mqchat.so and bench/mqchat_bench (default: build)
#   MQCHAT_BENCH_RESULTS     where to write the table (default: bench/results.md)
#   MQCHAT_BENCH_N           throughput sends (20000)
#   MQCHAT_BENCH_LATENCY_N   latency round trips (2000)
#   MQCHAT_BENCH_FANOUT_N    fan-out sends (2000)
#   MQCHAT_BENCH_FANOUT_SUBS fan-out subscribers (20)
#   MQCHAT_BENCH_CALLGRIND   1 to count instructions per send under callgrind, 0 to skip
#                            (default: 1 when valgrind and callgrind_control are installed)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${MQCHAT_BUILD_DIR:-$ROOT/build}
RESULTS=${MQCHAT_BENCH_RESULTS:-$ROOT/bench/results.md}
N=${MQCHAT_BENCH_N:-20000}
LATENCY_N=${MQCHAT_BENCH_LATENCY_N:-2000}
FANOUT_N=${MQCHAT_BENCH_FANOUT_N:-2000}
FANOUT_SUBS=${MQCHAT_BENCH_FANOUT_SUBS:-20}
WINDOW=20
NAGLE_N=50      # round trips of the latency pass with Nagle's algorithm left on
CALLGRIND_N=2000 # sends counted under callgrind
CAP=60          # seconds any one scenario may take (mqchat_bench enforces it)
if command -v valgrind >/dev/null && command -v callgrind_control >/dev/null; then
	CALLGRIND=${MQCHAT_BENCH_CALLGRIND:-1}
else
	CALLGRIND=0
fi
COMMAND="bench/run.sh"
for v in MQCHAT_BUILD_DIR MQCHAT_BENCH_N MQCHAT_BENCH_LATENCY_N MQCHAT_BENCH_FANOUT_N \
	MQCHAT_BENCH_FANOUT_SUBS MQCHAT_BENCH_CALLGRIND; do
	if [[ -n ${!v:-} ]]; then
		COMMAND="$v=${!v} $COMMAND"
	fi
done

STARTED=$(date +%s)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mqchat-bench.XXXXXX")
BENCH=$BUILD/bench/mqchat_bench
PLUGIN=$BUILD/mqchat.so
BROKER_PIDS=()
BENCH_PID=

log() {
	printf '[run.sh] %s\n' "$*" >&2
}

# Stops one broker this script started: SIGTERM, up to 10 s to exit, then SIGKILL.
stop_pid() {
	local pid=$1
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local pid
	if [[ -n $BENCH_PID ]]; then
		stop_pid "$BENCH_PID"
	fi
	for pid in "${BROKER_PIDS[@]}"; do
		stop_pid "$pid"
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- build ----------------------------------------------------------------------------------------
if [[ ! -f $BUILD/CMakeCache.txt ]]; then
	cmake -S "$ROOT" -B "$BUILD" >&2
fi
cmake --build "$BUILD" -j"$(nproc)" --target mqchat mqchat_bench >&2

# ---- users ----------------------------------------------------------------------------------------
# ada sends, bo subscribes, cy catches up, f01.. are the fan-out subscribers; each password is
# "<user>-pw". Plain mosquitto gets the same file.
PASSWD=$WORK/passwd
mosquitto_passwd -c -b "$PASSWD" ada ada-pw
for u in bo cy $(seq -f 'f%02g' 1 "$FANOUT_SUBS"); do
	mosquitto_passwd -b "$PASSWD" "$u" "$u-pw"
done

# ---- brokers --------------------------------------------------------------------------------------
# start_broker <name> <plain|full|normal> <nodelay true|false> [wrapper...]
# Sets BROKER_PID, BROKER_PORT and BROKER_DIR. A start that loses its port to another process is
# retried on a new one.
start_broker() {
	local name=$1 kind=$2 nodelay=$3
	shift 3
	local attempt up_timeout=100
	if [[ $# -gt 0 ]]; then
		up_timeout=600 # valgrind takes a while
	fi
	BROKER_DIR=$WORK/$name
	mkdir -p "$BROKER_DIR"
	for attempt in 1 2 3; do
		BROKER_PORT=$("$BENCH" --free-port)
		rm -f "$BROKER_DIR"/broker.log "$BROKER_DIR"/chat.db*
		{
			echo "listener $BROKER_PORT 127.0.0.1"
			echo "allow_anonymous true"
			echo "password_file $PASSWD"
			echo "persistence false"
			echo "log_dest file $BROKER_DIR/broker.log"
			echo "user $(id -un)"
			echo "set_tcp_nodelay $nodelay"
			# No broker-side drops: the bench checks every subscriber got every message. Not 0
			# ("no limit"): mosquitto 2.0.x then disconnects any client whose publish is refused.
			echo "max_queued_messages 1000000"
			if [[ $kind != plain ]]; then
				echo "plugin $PLUGIN"
				echo "plugin_opt_database $BROKER_DIR/chat.db"
				echo "plugin_opt_synchronous $kind"
				echo "plugin_opt_send_rate 0"
				echo "plugin_opt_request_rate 0"
				# Room for 1000 events of this size in one catch-up page (the default is 256 KiB).
				echo "plugin_opt_catchup_page_bytes 1048576"
			fi
		} >"$BROKER_DIR/mosquitto.conf"
		"$@" mosquitto -c "$BROKER_DIR/mosquitto.conf" >"$BROKER_DIR/stderr.log" 2>&1 &
		BROKER_PID=$!
		BROKER_PIDS+=("$BROKER_PID")
		for _ in $(seq "$up_timeout"); do
			if grep -q "mosquitto version .* running" "$BROKER_DIR/broker.log" 2>/dev/null; then
				return 0
			fi
			kill -0 "$BROKER_PID" 2>/dev/null || break
			sleep 0.1
		done
		stop_pid "$BROKER_PID"
		if ! grep -q "Address already in use" "$BROKER_DIR/broker.log" "$BROKER_DIR/stderr.log" 2>/dev/null; then
			break
		fi
		log "port $BROKER_PORT was taken; attempt $attempt"
	done
	log "broker $name did not start:"
	tail -n 20 "$BROKER_DIR/broker.log" "$BROKER_DIR/stderr.log" >&2 || true
	exit 1
}

stop_broker() {
	stop_pid "$BROKER_PID"
}

# R[<variant>:<key>] = value, from mqchat_bench's "RESULT <key> <value>" lines.
declare -A R=()

# run_bench <variant> <args...>: runs mqchat_bench against the current broker and records its results.
run_bench() {
	local variant=$1 out key value
	shift
	out=$WORK/$variant.out
	# In the background and waited for, so that a signal to this script acts at once.
	timeout $((CAP * 8)) "$BENCH" --port "$BROKER_PORT" --label "$variant" --cap "$CAP" "$@" >"$out" &
	BENCH_PID=$!
	if ! wait "$BENCH_PID"; then
		log "mqchat_bench failed against $variant; the broker's log ends:"
		tail -n 20 "$BROKER_DIR/broker.log" >&2 || true
		exit 1
	fi
	while read -r _ key value; do
		R[$variant:$key]=$value
	done < <(grep '^RESULT ' "$out")
}

# ---- the machine ----------------------------------------------------------------------------------
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || echo unknown)
FS=$(df -T "$WORK" | awk 'NR == 2 {print $2}')
MOSQ_VERSION=$(mosquitto -h 2>&1 | head -n1 || true)
SQLITE_VERSION=$(pkg-config --modversion sqlite3 2>/dev/null || echo unknown)
GIT_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
GIT_DIRTY=$(git -C "$ROOT" status --porcelain -- plugin schema cmake CMakeLists.txt 2>/dev/null | wc -l)
# What one synchronous 4 KiB write costs on the temp dir's disk, for comparison with the
# full - normal difference below.
DSYNC_US=$(LC_ALL=C timeout 30 dd if=/dev/zero of="$WORK/dsync.probe" bs=4k count=1000 oflag=dsync 2>&1 \
	| awk '/copied/ {for(i = 1; i <= NF; i++) if($i ~ /^s,?$/) {print int($(i-1) / 1000 * 1e6); exit}}' || true)
rm -f "$WORK/dsync.probe"

# ---- the runs -------------------------------------------------------------------------------------
ARGS=(--n "$N" --window "$WINDOW" --latency-n "$LATENCY_N" --fanout-n "$FANOUT_N" --fanout-subs "$FANOUT_SUBS")
VARIANTS=(plain full normal)
declare -A TITLE=([plain]="plain mosquitto" [full]="mqchat, synchronous full" [normal]="mqchat, synchronous normal")

for v in "${VARIANTS[@]}"; do
	mode=mqchat
	[[ $v == plain ]] && mode=plain
	log "== $v: all scenarios"
	start_broker "$v" "$v" true
	run_bench "$v" --mode "$mode" "${ARGS[@]}" --scenarios setup,throughput,catchup,qos0,latency,fanout
	stop_broker

	# Mosquitto's and libmosquitto's default: Nagle's algorithm on (set_tcp_nodelay false).
	log "== $v: latency with Nagle's algorithm on"
	start_broker "$v-nagle" "$v" false
	run_bench "$v-nagle" --mode "$mode" --nodelay 0 --latency-n "$NAGLE_N" --scenarios setup,latency
	stop_broker
done

# Instructions the broker executes per send: (count over N sends - count over none) / N, so
# connecting, subscribing and disconnecting drop out. User space only: the fsync itself is the
# kernel's and is not counted.
callgrind_total() {
	awk '/^summary:/ {print $2; exit}' "$1"
}
if [[ $CALLGRIND == 1 ]]; then
	for v in "${VARIANTS[@]}"; do
		mode=mqchat
		[[ $v == plain ]] && mode=plain
		log "== $v: instructions per send under callgrind"
		start_broker "$v-callgrind" "$v" true \
			valgrind --tool=callgrind --callgrind-out-file="$WORK/$v-callgrind/callgrind.out"
		run_bench "$v-cg-setup" --mode "$mode" --scenarios setup
		callgrind_control -z "$BROKER_PID" >/dev/null
		run_bench "$v-cg-0" --mode "$mode" --n 0 --scenarios throughput
		callgrind_control -d "$BROKER_PID" >/dev/null
		callgrind_control -z "$BROKER_PID" >/dev/null
		run_bench "$v-cg-n" --mode "$mode" --n "$CALLGRIND_N" --scenarios throughput
		callgrind_control -d "$BROKER_PID" >/dev/null
		stop_broker
		base=$(callgrind_total "$WORK/$v-callgrind/callgrind.out.1")
		total=$(callgrind_total "$WORK/$v-callgrind/callgrind.out.2")
		if [[ -z $base || -z $total ]]; then
			log "no callgrind totals for $v"
			exit 1
		fi
		R[$v:callgrind.per_send]=$(((total - base) / CALLGRIND_N))
	done
fi

# ---- the table ------------------------------------------------------------------------------------
get() {
	echo "${R[$1:$2]:-n/a}"
}
three() { # three <key> <variant>: p50 / p99 / max
	local k=$1 v=$2
	if [[ -z ${R[$v:$k.p50_us]:-} ]]; then
		echo "n/a"
	else
		echo "${R[$v:$k.p50_us]} / ${R[$v:$k.p99_us]} / ${R[$v:$k.max_us]}"
	fi
}
row() { # row <label> <cell command...>: one table row, the cell command run for each variant
	local label=$1 v line
	shift
	line="| $label |"
	for v in "${VARIANTS[@]}"; do
		line+=" $("$@" "$v") |"
	done
	echo "$line"
}
cell() { get "$2" "$1"; } # cell <key> <variant>
per_send_us() { # 1e6 / sends per second
	local s=${R[$1:throughput.sends_per_s]:-}
	[[ -n $s ]] && awk -v s="$s" 'BEGIN {printf "%.0f", 1e6 / s}' || echo "n/a"
}
catchup_cell() {
	if [[ -z ${R[$1:catchup.events]:-} ]]; then
		echo "n/a"
	else
		echo "${R[$1:catchup.events_per_s]} events/s, ${R[$1:catchup.pages_per_s]} pages/s, first page ${R[$1:catchup.first_page_ms]} ms (${R[$1:catchup.events]} events in ${R[$1:catchup.pages]} pages)"
	fi
}
nagle_cell() {
	local d a
	d=$(three latency "$1-nagle")
	a=$(three latency.ack "$1-nagle")
	if [[ $a == n/a ]]; then
		echo "$d"
	else
		echo "$d; ack $a"
	fi
}
callgrind_cell() { get "$1" callgrind.per_send; }

ELAPSED=$(($(date +%s) - STARTED))
{
	echo "# mqchat benchmark results"
	echo
	echo "- Command: \`$COMMAND\` (from the repo root; took ${ELAPSED} s including the build check)"
	echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); mqchat at commit $GIT_REV$([[ $GIT_DIRTY -gt 0 ]] && echo " with uncommitted changes under plugin/, schema/ or the build files")"
	echo "- Machine: $(nproc) CPUs ($CPU), Linux $(uname -r); $MOSQ_VERSION; SQLite $SQLITE_VERSION"
	echo "- Temp dir: $FS; one synchronous 4 KiB write (dd oflag=dsync) took ${DSYNC_US:-n/a} µs"
	echo "- Broker config, all three: listener on 127.0.0.1, password file, persistence false," \
		"max_queued_messages 1000000, set_tcp_nodelay true (except the Nagle row);" \
		"mqchat adds send_rate 0, request_rate 0, catchup_page_bytes 1048576"
	echo
	echo "| Scenario | ${TITLE[plain]} | ${TITLE[full]} | ${TITLE[normal]} |"
	echo "|---|---|---|---|"
	row "1. Throughput, QoS 1, $N sends, window $WINDOW: sends/s (first publish → last PUBACK)" cell throughput.sends_per_s
	row "1. … delivered/s (first publish → last message at the subscriber)" cell throughput.delivered_per_s
	row "1. … µs per send (1 / sends/s)" per_send_us
	row "1. Throughput, QoS 0, $N sends: delivered/s" cell qos0.delivered_per_s
	row "2. Latency, $LATENCY_N sends one at a time, µs p50 / p99 / max: publish → subscriber" three latency
	row "2. … publish → the sender's ack (mqchat)" three latency.ack
	row "3. Fan-out, $FANOUT_SUBS subscribers × $FANOUT_N sends, QoS 1: deliveries/s" cell fanout.deliveries_per_s
	row "4. Catch-up of the whole channel after scenario 1, limit 1000 per page" catchup_cell
	row "Latency with Nagle's algorithm on (broker and client defaults), $NAGLE_N sends, µs p50 / p99 / max" nagle_cell
	if [[ $CALLGRIND == 1 ]]; then
		row "Broker instructions per QoS 1 send with one subscriber (callgrind, user space)" callgrind_cell
	fi
	echo
	full_us=$(per_send_us full)
	normal_us=$(per_send_us normal)
	if [[ $full_us != n/a && $normal_us != n/a && -n ${R[full:latency.p50_us]:-} && -n ${R[normal:latency.p50_us]:-} ]]; then
		echo "synchronous full − normal, which is what the fsync per commit costs: $((full_us - normal_us)) µs per send" \
			"in scenario 1, $((${R[full:latency.p50_us]} - ${R[normal:latency.p50_us]})) µs at p50 in scenario 2" \
			"(one synchronous 4 KiB write with dd: ${DSYNC_US:-n/a} µs)."
		echo
	fi
	echo "Every scenario checked that each subscriber received every send exactly once" \
		"(with mqchat: consecutive seqs, in order, and an ack per send) and that catch-up returned" \
		"seqs 1..head once each. See bench/README.md for the method and caveats."
} >"$RESULTS"

cat "$RESULTS"
log "wrote $RESULTS in ${ELAPSED} s"
