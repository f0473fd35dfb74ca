#!/usr/bin/env bash
# bench/search.sh - search over a large history: latency per kind of query, index size, and what
# indexing costs acknowledged sends (index on vs off, interleaved, in the same run).
#
# 1. A broker creates a database (schema migrations) and stops.
# 2. mqchat_search_bench --generate fills it: MQCHAT_SEARCH_MESSAGES messages (1,000,000) by 100 users
#    in 1,000 channels of 10 members, bodies of Zipf-distributed pseudo-words (bench/search.c says
#    how), straight into the log.
# 3. A broker on it: its search worker indexes the whole log into <db>-search at start (the
#    migration path); timed until every channel's watermark reaches its head.
# 4. A broker on both answers MQCHAT_SEARCH_QUERIES (200) searches of each kind, one at a time.
# 5. Acknowledged sends, 100 in flight, at synchronous normal and full, and 1 in flight at normal,
#    each on a fresh copy of the big database and its index, with search on and off
#    (plugin_opt_search 0: no worker), order rotating, MQCHAT_SEARCH_REPS (3) repetitions; medians
#    reported, and the index's lag behind the log under that load (the broker logs it at stop).
#    A third variant, "shared", leaves the worker on the broker's CPU (what pinning the broker, e.g.
#    systemd's CPUAffinity, gives): at SCHED_IDLE it then indexes only in the time the broker leaves.
# Broker on CPU 0, client on CPU 1, the broker's search worker thread on either (on) or on CPU 0
# (shared). Speed never fails
# the run; a refused or lost request does.
#
# Usage: bench/search.sh   (MQCHAT_BUILD_DIR picks the build directory, default build;
#        MQCHAT_SEARCH_KEEP=<dir> keeps the generated log and its index there;
#        MQCHAT_SEARCH_REUSE=<dir> starts from those instead of generating and indexing anew)
set -euo pipefail

BENCH_NAME=search
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
MESSAGES=${MQCHAT_SEARCH_MESSAGES:-1000000}
QUERIES=${MQCHAT_SEARCH_QUERIES:-200}
REPS=${MQCHAT_SEARCH_REPS:-3}
SENDS=${MQCHAT_SEARCH_SENDS:-10000}
TOOL=$BUILD/bench/mqchat_search_bench

cmake --build "$BUILD" -j"$(nproc)" --target mqchat mqchat_search_bench >&2

# start_search_broker <dir> <synchronous>: the bench's broker (search on unless SEARCH_ON=0), with
# its search worker free to use any CPU.
start_search_broker() {
	start_broker "$1" "max_queued_messages 1000000" "plugin_opt_synchronous $2" \
		"plugin_opt_max_memberships 0" "plugin_opt_search ${SEARCH_ON:-1}"
	# the worker starts at the broker's first tick; SEARCH_SHARED=1 leaves it on the broker's CPU
	[[ ${SEARCH_ON:-1} == 0 || ${SEARCH_SHARED:-0} == 1 ]] || unpin_thread mqchat-search
}

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

mkdir -p "$WORK/gen"
if [[ -n ${MQCHAT_SEARCH_REUSE:-} ]]; then
	# a log and its index kept by an earlier run (MQCHAT_SEARCH_KEEP) with the same MESSAGES
	cp "$MQCHAT_SEARCH_REUSE/chat.db" "$MQCHAT_SEARCH_REUSE/chat.db-search" "$WORK/gen/"
	: >"$WORK/generate.out"
else
	start_search_broker "$WORK/gen" normal
	stop_broker
	log "generating $MESSAGES messages"
	t0=$(date +%s)
	"$TOOL" --generate "$WORK/gen/chat.db" --messages "$MESSAGES" >"$WORK/generate.out"
	log "generated in $(($(date +%s) - t0)) s"
fi

log "indexing the log (the worker's catch-up at start)"
start_search_broker "$WORK/gen" normal
t0=$(date +%s.%N)
for _ in $(seq 7200); do
	[[ $(search_indexed "$WORK/gen/chat.db") == 1 ]] && break
	sleep 0.5
done
CATCHUP_S=$(echo "$(date +%s.%N) - $t0" | bc)
[[ $(search_indexed "$WORK/gen/chat.db") == 1 ]] || { log "the index did not catch up"; exit 1; }
stop_broker
log "indexed in $CATCHUP_S s"

# Index size: pages of docs (text and key) and its unique index, and the FTS5 shadow tables.
read -r DOCS_BYTES FTS_BYTES INDEX_BYTES < <(sqlite3 "$WORK/gen/chat.db-search" "
  SELECT (SELECT sum(pgsize) FROM dbstat WHERE name IN ('docs', 'docs_by_message')),
         (SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'fts_%'),
         (SELECT sum(pgsize) FROM dbstat)" | tr '|' ' ')
TOTAL_BYTES=$(sqlite3 "$WORK/gen/chat.db" "SELECT sum(pgsize) FROM dbstat")

if [[ -n ${MQCHAT_SEARCH_KEEP:-} ]]; then
	mkdir -p "$MQCHAT_SEARCH_KEEP"
	cp "$WORK/gen/chat.db" "$WORK/gen/chat.db-search" "$MQCHAT_SEARCH_KEEP/"
fi

log "searching"
start_search_broker "$WORK/gen" normal
"${PIN_CLIENT[@]}" "$TOOL" --search --port "$PORT" --messages "$MESSAGES" --queries "$QUERIES" >"$WORK/search.out"
stop_broker

# thread_ns <main|name>: on-CPU nanoseconds so far of the broker's main thread, or of its thread
# named name (mqchat-search: the search worker), 0 when it has none. CPU time, which the other load on a
# shared machine inflates far less than it does wall-clock throughput.
thread_ns() {
	local t
	if [[ $1 == main ]]; then
		cut -d' ' -f1 "/proc/$BROKER_PID/task/$BROKER_PID/schedstat"
		return 0
	fi
	for t in /proc/"$BROKER_PID"/task/*; do
		if [[ $(cat "$t/comm" 2>/dev/null) == "$1" ]]; then
			cut -d' ' -f1 "$t/schedstat"
			return 0
		fi
	done
	echo 0
}

# sends <on|off> <sync> <inflight> <n>: acks/s on a fresh copy of the big database.
sends() {
	local variant=$1 sync=$2 inflight=$3 n=$4 d=$WORK/send
	rm -rf "$d"
	mkdir -p "$d"
	cp "$WORK/gen/chat.db" "$WORK/gen/chat.db-search" "$d/"
	sync "$d/chat.db" "$d/chat.db-search" # or their write-back lands in a later run's sends (ops.sh)
	SEARCH_ON=$([[ $variant == off ]] && echo 0 || echo 1) SEARCH_SHARED=$([[ $variant == shared ]] && echo 1 || echo 0) \
		start_search_broker "$d" "$sync"
	local b0 w0
	b0=$(thread_ns main) w0=$(thread_ns mqchat-search)
	"${PIN_CLIENT[@]}" "$TOOL" --sends --port "$PORT" --messages "$MESSAGES" --sends-n "$n" \
		--inflight "$inflight" | awk -v k="$variant.$sync.$inflight" '$1 == "RESULT" {print k, $3}' >>"$WORK/sends.out"
	# the worker indexes what it could not during the burst: wait for it to go idle (bounded)
	local w1=0 w2
	for _ in $(seq 100); do
		w2=$(thread_ns mqchat-search)
		[[ $w2 == "$w1" ]] && break
		w1=$w2
		sleep 0.3
	done
	echo "$variant.$sync.$inflight $(( ($(thread_ns main) - b0) / n )) $(( ($(thread_ns mqchat-search) - w0) / n ))" >>"$WORK/cpu.out"
	stop_broker
	# "search index: N passes, lag behind the log p50 X ms, p99 Y ms, max Z ms"
	sed -n 's/.*search index: \([0-9]*\) passes, lag behind the log p50 \([0-9]*\) ms, p99 \([0-9]*\) ms, max \([0-9]*\) ms.*/\1 \2 \3 \4/p' \
		"$d/broker.log" | awk -v k="$variant.$sync.$inflight" '{print k, $0}' >>"$WORK/lag.out"
}

: >"$WORK/sends.out"
: >"$WORK/lag.out"
: >"$WORK/cpu.out"
for ((rep = 0; rep < REPS; rep++)); do
	order=(on off shared)
	((rep % 3 == 1)) && order=(off shared on)
	((rep % 3 == 2)) && order=(shared on off)
	for v in "${order[@]}"; do
		log "rep $((rep + 1))/$REPS: sends, index $v"
		sends "$v" normal 100 "$SENDS"
		sends "$v" full 100 "$SENDS"
		sends "$v" normal 1 $((SENDS / 10))
	done
done

echo
echo "## Search over $MESSAGES messages ($(nproc) CPUs, $(date -u +%Y-%m-%d))"
echo
awk '$1 == "RESULT" {print "- generate: " $3 " s of CPU"}' "$WORK/generate.out"
echo "- index built at start (the worker's catch-up of the whole log): $CATCHUP_S s"
awk -v d="$DOCS_BYTES" -v f="$FTS_BYTES" -v i="$INDEX_BYTES" -v t="$TOTAL_BYTES" -v m="$MESSAGES" 'BEGIN {
	printf "- index file: %.0f bytes per message (docs %.0f, FTS5 %.0f); the log: %.0f bytes per message\n",
		i / m, d / m, f / m, t / m }'
echo
echo "| query | p50 ms | p99 ms | max ms | results (mean, limit 20) |"
echo "|---|---|---|---|---|"
for k in word1 word2 phrase prefix top_word; do
	awk -v k="$k" '$1 == "RESULT" && $2 ~ "^search\\." k "\\." {split($2, a, "."); v[a[3]] = $3}
		END {printf "| %s | %s | %s | %s | %s |\n", k, v["p50_ms"], v["p99_ms"], v["max_ms"], v["mean_results"]}' \
		"$WORK/search.out"
done
echo
echo "| acknowledged sends | index on (acks/s) | index off (acks/s) | on/off | worker on the broker's CPU (acks/s) | shared/off |"
echo "|---|---|---|---|---|---|"
for cfg in normal.100 full.100 normal.1; do
	on=$(awk -v k="on.$cfg" '$1 == k {print $2}' "$WORK/sends.out" | median)
	off=$(awk -v k="off.$cfg" '$1 == k {print $2}' "$WORK/sends.out" | median)
	all_on=$(awk -v k="on.$cfg" '$1 == k {printf "%s ", $2}' "$WORK/sends.out")
	all_off=$(awk -v k="off.$cfg" '$1 == k {printf "%s ", $2}' "$WORK/sends.out")
	sh=$(awk -v k="shared.$cfg" '$1 == k {print $2}' "$WORK/sends.out" | median)
	all_sh=$(awk -v k="shared.$cfg" '$1 == k {printf "%s ", $2}' "$WORK/sends.out")
	awk -v c="$cfg" -v on="$on" -v off="$off" -v a="$all_on" -v b="$all_off" -v sh="$sh" -v s="$all_sh" 'BEGIN {
		split(c, p, "."); printf "| synchronous %s, %s in flight | %s (%s) | %s (%s) | %.2f | %s (%s) | %.2f |\n",
			p[1], p[2], on, a, off, b, on / off, sh, s, sh / off }'
done
echo
echo "| index lag under the sends | passes | p50 ms | p99 ms | max ms |"
echo "|---|---|---|---|---|"
for cfg in on.normal.100 on.full.100 on.normal.1 shared.normal.100 shared.full.100 shared.normal.1; do
	awk -v k="$cfg" '$1 == k {printf "| %s | %s | %s | %s | %s |\n", k, $2, $3, $4, $5}' "$WORK/lag.out"
done
echo
echo "| CPU ns per acknowledged send (median of the runs) | broker thread, on | broker thread, off | search worker, on |"
echo "|---|---|---|---|"
for cfg in normal.100 full.100 normal.1; do
	bon=$(awk -v k="on.$cfg" '$1 == k {print $2}' "$WORK/cpu.out" | median)
	boff=$(awk -v k="off.$cfg" '$1 == k {print $2}' "$WORK/cpu.out" | median)
	won=$(awk -v k="on.$cfg" '$1 == k {print $3}' "$WORK/cpu.out" | median)
	echo "| $cfg | $bon ($(awk -v k="on.$cfg" '$1 == k {printf "%s ", $2}' "$WORK/cpu.out")) | $boff ($(awk -v k="off.$cfg" '$1 == k {printf "%s ", $2}' "$WORK/cpu.out")) | $won |"
done
