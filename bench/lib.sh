# bench/lib.sh - what the one-broker benchmark scripts share (push.sh, search.sh, media.sh, ops.sh):
# sourced, never run. Before sourcing, set BENCH_NAME (their log lines and work directory say it).
# Afterwards: ROOT, BUILD (MQCHAT_BUILD_DIR, default build), PLUGIN, WORK (a temporary directory
# removed at exit with the broker stopped), PIN_BROKER / PIN_CLIENT (taskset to CPU 0 / CPU 1 when
# there are two), and the functions below.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${MQCHAT_BUILD_DIR:-$ROOT/build}
PLUGIN=$BUILD/mqchat.so
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mqchat-$BENCH_NAME-bench.XXXXXX")
BROKER_PID=

log() { printf '[%s.sh] %s\n' "$BENCH_NAME" "$*" >&2; }

# Stops the broker start_broker started, by its pid (TERM, then KILL after 30 s).
stop_broker() {
	[[ -n $BROKER_PID ]] || return 0
	kill -TERM "$BROKER_PID" 2>/dev/null || true
	for _ in $(seq 300); do
		kill -0 "$BROKER_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$BROKER_PID" 2>/dev/null || true
	wait "$BROKER_PID" 2>/dev/null || true
	BROKER_PID=
}

bench_cleanup() {
	stop_broker
	rm -rf "$WORK"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

PIN_BROKER=() PIN_CLIENT=()
if [[ $(nproc) -ge 2 ]] && command -v taskset >/dev/null; then
	PIN_BROKER=(taskset -c 0) PIN_CLIENT=(taskset -c 1)
fi

# unpin_thread <name>: lets the broker's thread called name (prctl; it may start a little after the
# broker) run on any CPU: taskset's pinning is inherited by every thread, and a worker that would
# have the other core to itself on an operator's machine should not be measured sharing the broker's.
unpin_thread() {
	((${#PIN_BROKER[@]})) || return 0
	for _ in $(seq 50); do
		for t in /proc/"$BROKER_PID"/task/*; do
			if [[ $(cat "$t/comm" 2>/dev/null) == "$1" ]]; then
				taskset -p -c 0-$(($(nproc) - 1)) "${t##*/}" >/dev/null
				return 0
			fi
		done
		sleep 0.1
	done
	log "no thread $1 to unpin"
}

# search_indexed <database>: 1 when every channel's watermark in <database>-search is its head in
# the log (the broker's search worker has caught up), else 0.
search_indexed() {
	sqlite3 "file:$1-search?mode=ro" "ATTACH 'file:$1?mode=ro' AS log;
	  SELECT (SELECT coalesce(sum(seq), 0) FROM main.marks)
	       = (SELECT coalesce(sum((SELECT max(seq) FROM log.events WHERE channel_id = c.id)), 0) FROM log.channels AS c)" \
		2>/dev/null || echo 0
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_broker <dir> [line...]: a Mosquitto with mqchat on a free loopback port ($PORT), its database
# <dir>/chat.db, anonymous clients accepted (auth_fallback allow), send and request limits off, and
# each further argument appended as a configuration line; pinned to CPU 0. Returns once it runs;
# exits the script when it does not start.
start_broker() {
	local dir=$1
	shift
	PORT=$(free_port)
	{
		echo "listener $PORT 127.0.0.1"
		echo "allow_anonymous true"
		echo "persistence false"
		echo "log_dest file $dir/broker.log"
		echo "user $(id -un)"
		echo "set_tcp_nodelay true"
		echo "plugin $PLUGIN"
		echo "plugin_opt_database $dir/chat.db"
		echo "plugin_opt_auth_fallback allow"
		echo "plugin_opt_send_rate 0"
		echo "plugin_opt_request_rate 0"
		for line in "$@"; do
			echo "$line"
		done
	} >"$dir/mosquitto.conf"
	rm -f "$dir/broker.log" # a restart on the same directory waits for its own "running"
	"${PIN_BROKER[@]}" mosquitto -c "$dir/mosquitto.conf" >"$dir/stderr.log" 2>&1 &
	BROKER_PID=$!
	for _ in $(seq 600); do
		grep -q "mosquitto version .* running" "$dir/broker.log" 2>/dev/null && return 0
		kill -0 "$BROKER_PID" 2>/dev/null || break
		sleep 0.1
	done
	log "the broker in $dir did not start:"
	tail -n 20 "$dir/broker.log" "$dir/stderr.log" >&2 || true
	exit 1
}
