#!/usr/bin/env bash
# bench/run.sh - plain Mosquitto and Mosquitto with mqchat (synchronous normal and full), side by side.
#
# One command: it builds what is missing, then for each repetition runs every variant in turn (the
# order rotates between repetitions, so slow phases of a shared machine fall on all variants alike),
# each on a broker of its own: a free loopback port, a temporary directory and database, stopped by
# its pid. The broker is pinned to CPU 0 and the load generator (mqchat_bench, one epoll thread) to
# CPU 1 when there are two. It prints a Markdown table: the median of the repetitions with their
# spread (min-max), mqchat/plain as a ratio, and the target. Speed never fails the run; a failed
# correctness check of mqchat_bench (a lost, duplicated or out-of-order message, a gap in catch-up, a
# missing ack, a deadline) stops it with exit status 1.
#
# Usage, from anywhere:  bench/run.sh
# Environment (all optional):
#   MQCHAT_BUILD_DIR       build directory holding mqchat.so and bench/mqchat_bench (default: build)
#   MQCHAT_BENCH_SMOKE     1: tiny sizes, one repetition, a few seconds (the test suite runs this)
#   MQCHAT_BENCH_REPS      repetitions (3)
#   MQCHAT_BENCH_N         fan-out sends per shape at full speed (10000)
#   MQCHAT_BENCH_RATE_S    seconds of the fixed-rate (100 sends/s) latency phase per shape (2)
#   MQCHAT_BENCH_ACK_N     acknowledged sends with 100 in flight; a tenth with 1 in flight (10000)
#   MQCHAT_BENCH_CONNS     "small big" idle connections (10000 19000)
#   MQCHAT_BENCH_CU_EVENTS events in the catch-up channel (1000000); MQCHAT_BENCH_CU_PAGES pages (200)
#   MQCHAT_BENCH_STORM     clients of the reconnect storm (2000), each 100 events behind
#   MQCHAT_BENCH_OUT       also write the table (and the machine) to this file
#   MQCHAT_BENCH_NO_BUILD  1: use the build directory as it is (the test suite sets it)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${MQCHAT_BUILD_DIR:-$ROOT/build}
SMOKE=${MQCHAT_BENCH_SMOKE:-0}
if [[ $SMOKE == 1 ]]; then
	REPS=1 N=300 RATE_S=0.3 ACK_N=200 CONNS="20 40" CU_EVENTS=3000 CU_PAGES=5 STORM=20 CAP=60
else
	REPS=${MQCHAT_BENCH_REPS:-3}
	N=${MQCHAT_BENCH_N:-10000}
	RATE_S=${MQCHAT_BENCH_RATE_S:-2}
	ACK_N=${MQCHAT_BENCH_ACK_N:-10000}
	CONNS=${MQCHAT_BENCH_CONNS:-10000 19000}
	CU_EVENTS=${MQCHAT_BENCH_CU_EVENTS:-1000000}
	CU_PAGES=${MQCHAT_BENCH_CU_PAGES:-200}
	STORM=${MQCHAT_BENCH_STORM:-2000}
	CAP=120
fi
read -r CONNS_SMALL CONNS_BIG <<<"$CONNS"
VARIANTS=(plain normal full)
BENCH=$BUILD/bench/mqchat_bench
PLUGIN=$BUILD/mqchat.so
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mqchat-bench.XXXXXX")
RESULTS=$WORK/results.txt
STARTED=$(date +%s)
BROKER_PID=
BENCH_PID=
: >"$RESULTS"

PIN_BROKER=() PIN_BENCH=()
if [[ $(nproc) -ge 2 ]] && command -v taskset >/dev/null; then
	PIN_BROKER=(taskset -c 0) PIN_BENCH=(taskset -c 1)
fi

log() { printf '[run.sh] %s\n' "$*" >&2; }

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
	[[ -n $BENCH_PID ]] && stop_pid "$BENCH_PID"
	[[ -n $BROKER_PID ]] && stop_pid "$BROKER_PID"
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ ${MQCHAT_BENCH_NO_BUILD:-0} != 1 ]]; then
	if [[ ! -f $BUILD/CMakeCache.txt ]]; then
		cmake -S "$ROOT" -B "$BUILD" >&2
	fi
	cmake --build "$BUILD" -j"$(nproc)" --target mqchat mqchat_bench >&2
fi

# start_broker <dir> <plain|normal|full>: a broker on a free port with its database in <dir>. Sets
# BROKER_PID and BROKER_PORT. Both variants get the same broker settings; mqchat's are the shipped
# mosquitto.conf's except for the rate limits (off) and the page size (room for 1000 events).
start_broker() {
	local dir=$1 kind=$2
	mkdir -p "$dir"
	for attempt in 1 2 3; do
		BROKER_PORT=$("$BENCH" --free-port)
		{
			echo "listener $BROKER_PORT 127.0.0.1"
			echo "allow_anonymous true"
			echo "persistence false"
			echo "log_dest file $dir/broker.log"
			echo "user $(id -un)"
			echo "set_tcp_nodelay true"
			echo "allow_duplicate_messages true"
			echo "max_queued_messages 1000000"
			if [[ $kind != plain ]]; then
				echo "plugin $PLUGIN"
				echo "plugin_opt_database $dir/chat.db"
				echo "plugin_opt_synchronous $kind"
				echo "plugin_opt_auth_fallback allow"
				echo "plugin_opt_send_rate 0"
				echo "plugin_opt_request_rate 0"
				# the bench's admin adds up to 19,000 members: no quotas (mosquitto.conf, "quotas")
				echo "plugin_opt_create_rate 0"
				echo "plugin_opt_member_rate 0"
				echo "plugin_opt_max_memberships 0"
				echo "plugin_opt_catchup_page_bytes 1048576"
			fi
		} >"$dir/mosquitto.conf"
		rm -f "$dir/broker.log"
		"${PIN_BROKER[@]}" mosquitto -c "$dir/mosquitto.conf" >"$dir/stderr.log" 2>&1 &
		BROKER_PID=$!
		for _ in $(seq 100); do
			if grep -q "mosquitto version .* running" "$dir/broker.log" 2>/dev/null; then
				return 0
			fi
			kill -0 "$BROKER_PID" 2>/dev/null || break
			sleep 0.1
		done
		stop_pid "$BROKER_PID"
		BROKER_PID=
		grep -q "Address already in use" "$dir/broker.log" "$dir/stderr.log" 2>/dev/null || break
	done
	log "broker in $dir did not start:"
	tail -n 20 "$dir/broker.log" "$dir/stderr.log" >&2 || true
	exit 1
}

stop_broker() {
	stop_pid "$BROKER_PID"
	BROKER_PID=
}

# bench <variant> <dir> <args...>: runs mqchat_bench against the running broker, records its RESULTs.
bench() {
	local variant=$1 dir=$2 mode=mqchat out
	shift 2
	[[ $variant == plain ]] && mode=plain
	out=$dir/bench.out
	"${PIN_BENCH[@]}" "$BENCH" --port "$BROKER_PORT" --broker-pid "$BROKER_PID" --mode "$mode" \
		--label "$variant" --cap "$CAP" "$@" >"$out" &
	BENCH_PID=$!
	if ! wait "$BENCH_PID"; then
		BENCH_PID=
		log "mqchat_bench failed against $variant; the broker's log ends:"
		tail -n 20 "$dir/broker.log" >&2 || true
		exit 1
	fi
	BENCH_PID=
	awk -v v="$variant" '$1 == "RESULT" {print v, $2, $3}' "$out" >>"$RESULTS"
}

SIZES=(--n "$N" --rate 100 --rate-s "$RATE_S" --ack-n "$ACK_N" --conns-small "$CONNS_SMALL"
	--conns-big "$CONNS_BIG" --cu-events "$CU_EVENTS" --cu-pages "$CU_PAGES" --storm-clients "$STORM")

# The catch-up channel is filled once, directly in SQLite while its broker is stopped, and copied
# for each run.
log "seeding a channel with $CU_EVENTS events"
start_broker "$WORK/seed" normal
bench seed "$WORK/seed" "${SIZES[@]}" --scenarios seed
stop_broker
"$BENCH" --seed-db "$WORK/seed/chat.db" --cu-events "$CU_EVENTS" --label seed

for ((rep = 0; rep < REPS; rep++)); do
	order=("${VARIANTS[@]:rep % 3}" "${VARIANTS[@]:0:rep % 3}")
	for v in "${order[@]}"; do
		d=$WORK/$rep-$v
		log "rep $((rep + 1))/$REPS $v: fan-out and acknowledged sends"
		start_broker "$d-a" "$v"
		bench "$v" "$d-a" "${SIZES[@]}" --scenarios setup,fanout,acks
		stop_broker
		log "rep $((rep + 1))/$REPS $v: idle connections"
		start_broker "$d-c" "$v"
		bench "$v" "$d-c" "${SIZES[@]}" --scenarios conns
		stop_broker
		if [[ $v != plain ]]; then
			log "rep $((rep + 1))/$REPS $v: catch-up and reconnect storm"
			mkdir -p "$d-u"
			cp "$WORK/seed/chat.db" "$d-u/chat.db"
			start_broker "$d-u" "$v"
			bench "$v" "$d-u" "${SIZES[@]}" --scenarios catchup,storm
			stop_broker
		fi
	done
done

# ---- the table ------------------------------------------------------------------------------------
# stats: "<variant> <key> <median> <min> <max>" for each variant and key.
STATS=$WORK/stats.txt
sort -k1,1 -k2,2 -k3,3g "$RESULTS" | awk '
	function flush() { if(n) { m = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2; print pk, m, v[1], v[n] } n = 0 }
	{ k = $1 " " $2; if(k != pk) { flush(); pk = k } v[++n] = $3 }
	END { flush() }' >"$STATS"

stat() { # stat <variant> <key> <field 3|4|5>
	awk -v v="$1" -v k="$2" -v f="$3" '$1 == v && $2 == k {print $f; exit}' "$STATS"
}
cell() { # median (min-max)
	local m lo hi
	m=$(stat "$1" "$2" 3)
	[[ -z $m ]] && { echo "n/a"; return; }
	lo=$(stat "$1" "$2" 4) hi=$(stat "$1" "$2" 5)
	if [[ $REPS -gt 1 ]]; then
		awk -v m="$m" -v lo="$lo" -v hi="$hi" 'BEGIN {printf "%.6g (%.6g–%.6g)", m, lo, hi}'
	else
		awk -v m="$m" 'BEGIN {printf "%.6g", m}'
	fi
}
ratio() { # ratio <variant> <key>: mqchat median / plain median
	local a b
	a=$(stat "$1" "$2" 3) b=$(stat plain "$2" 3)
	[[ -z $a || -z $b ]] && { echo "–"; return; }
	awk -v a="$a" -v b="$b" 'BEGIN {if(b == 0) print "–"; else printf "%.2fx", a / b}'
}
extra() { # extra <variant> <key>: mqchat median - plain median
	local a b
	a=$(stat "$1" "$2" 3) b=$(stat plain "$2" 3)
	[[ -z $a || -z $b ]] && { echo "–"; return; }
	awk -v a="$a" -v b="$b" 'BEGIN {printf "%+.0f B", a - b}'
}
row() { # row <label> <key> <ratio|extra|none> <target>
	local how=$3 rn rf
	case $how in
	ratio) rn=$(ratio normal "$2") rf=$(ratio full "$2") ;;
	extra) rn=$(extra normal "$2") rf=$(extra full "$2") ;;
	*) rn="–" rf="–" ;;
	esac
	echo "| $1 | $(cell plain "$2") | $(cell normal "$2") | $(cell full "$2") | $rn | $rf | $4 |"
}

TABLE=$WORK/table.md
{
	echo "| scenario | plain mosquitto | mqchat normal | mqchat full | normal/plain | full/plain | target |"
	echo "|---|---|---|---|---|---|---|"
	row "1. fan-out 1→1, deliveries/s" fanout.1to1.deliveries_per_s ratio ""
	row "1. fan-out 1→100, deliveries/s" fanout.1to100.deliveries_per_s ratio "≥ 0.9x"
	row "1. fan-out 10→10, deliveries/s" fanout.10to10.deliveries_per_s ratio "≥ 0.8x"
	row "1. fan-out 1000 ch × 10, random senders, deliveries/s" fanout.1000x10.deliveries_per_s ratio ""
	for s in 1to1 1to100 10to10 1000x10; do
		row "1. latency $s at 100 sends/s, p50 µs" fanout.$s.latency.p50_us ratio ""
		row "1. latency $s at 100 sends/s, p99 µs" fanout.$s.latency.p99_us ratio "≤ 1.5x"
		row "1. latency $s at 100 sends/s, max µs" fanout.$s.latency.max_us ratio ""
	done
	row "2. acknowledged sends, 1 in flight, acks/s" acks.w1.per_s ratio ""
	row "2. acknowledged sends, 100 in flight, acks/s" acks.w100.per_s ratio "≥ 0.5x (default level), full ≥ 0.3x"
	row "3. $CONNS_SMALL idle members: broker RSS per connection, bytes" conns.$CONNS_SMALL.rss_per_conn_b extra "plugin ≤ 1024 B"
	row "3. $CONNS_BIG idle members: broker RSS per connection, bytes" conns.$CONNS_BIG.rss_per_conn_b extra "plugin ≤ 1024 B"
	row "3. $CONNS_SMALL idle members: one message to the last member, ms" conns.$CONNS_SMALL.last_member_ms ratio ""
	row "3. $CONNS_BIG idle members: one message to the last member, ms" conns.$CONNS_BIG.last_member_ms ratio "≤ 300 ms"
	row "4. catch-up, $CU_EVENTS events, pages of 1000 from random cursors (warm), events/s" catchup.events_per_s none "≥ 500k"
	row "4. catch-up reply latency p50 µs" catchup.page.p50_us none ""
	row "4. catch-up reply latency p99 µs" catchup.page.p99_us none ""
	row "5. reconnect storm, $STORM clients 100 events behind, all caught up, ms" storm.all_caught_up_ms none ""
} >"$TABLE"

ELAPSED=$(($(date +%s) - STARTED))
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || echo unknown)
{
	echo "- Command: \`$(for v in MQCHAT_BUILD_DIR MQCHAT_BENCH_SMOKE MQCHAT_BENCH_REPS MQCHAT_BENCH_N MQCHAT_BENCH_RATE_S MQCHAT_BENCH_ACK_N MQCHAT_BENCH_CONNS MQCHAT_BENCH_CU_EVENTS MQCHAT_BENCH_CU_PAGES MQCHAT_BENCH_STORM; do [[ -n ${!v:-} ]] && printf '%s="%s" ' "$v" "${!v}"; done)bench/run.sh\`, $ELAPSED s"
	echo "- $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$([[ -n $(git -C "$ROOT" status --porcelain -- plugin 2>/dev/null) ]] && echo ' (plugin/ modified)')"
	echo "- $(nproc) CPUs ($CPU), $(free -g | awk '/Mem:/ {print $2}') GiB, Linux $(uname -r), $(mosquitto -h 2>&1 | head -n1), SQLite $(pkg-config --modversion sqlite3 2>/dev/null || echo '?'); temp dir on $(df -T "$WORK" | awk 'NR == 2 {print $2}')"
	echo "- $REPS repetitions, variants interleaved; cells are median (min–max); broker on CPU 0, load generator on CPU 1"
	echo
	cat "$TABLE"
} | tee "${MQCHAT_BENCH_OUT:-/dev/null}"
