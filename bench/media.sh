#!/usr/bin/env bash
# bench/media.sh - media over MQTT: a MQCHAT_MEDIA_MB (25) MB upload and download over TCP on loopback,
# and the latency of ordinary chat sends by another user before (idle) and during each transfer, in
# one run (docs/benchmarks.md, "Media"). mqchat_media_bench does the work; this starts the broker as
# the shipped mosquitto.conf would (max_packet_size 131072, synchronous full), without rate limits
# (the chatter sends 200 a second), broker on CPU 0 and client on CPU 1 when there are two.
# Speed never fails the run; a refused piece, a wrong byte or a missing answer does.
#
# Usage: bench/media.sh   (MQCHAT_BUILD_DIR picks the build directory, default build;
#                          MQCHAT_MEDIA_REPS repetitions, default 3)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${MQCHAT_BUILD_DIR:-$ROOT/build}
MB=${MQCHAT_MEDIA_MB:-25}
REPS=${MQCHAT_MEDIA_REPS:-3}
WINDOW=${MQCHAT_MEDIA_WINDOW:-16}
# Then the same upload and download over MQTT-over-WebSocket by MQTT.js (tests/integration/media_ws.mjs),
# without the chatter.
# MQCHAT_MEDIA_SYNC: plugin_opt_synchronous (full, the shipped default; normal to see what the
# fsyncs of acknowledged sends cost them while a transfer fills the disk)
TOOL=$BUILD/bench/mqchat_media_bench
PLUGIN=$BUILD/mqchat.so
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mqchat-media-bench.XXXXXX")
BROKER_PID=

log() { printf '[media.sh] %s\n' "$*" >&2; }

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

cleanup() {
	stop_broker
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PIN_BROKER=() PIN_CLIENT=()
if [[ $(nproc) -ge 2 ]] && command -v taskset >/dev/null; then
	PIN_BROKER=(taskset -c 0) PIN_CLIENT=(taskset -c 1)
fi

[[ -n ${MQCHAT_BENCH_NO_BUILD:-} ]] || cmake --build "$BUILD" -j2 --target mqchat mqchat_media_bench >&2

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_broker() {
	local dir=$1
	PORT=$(free_port)
	WSPORT=$(free_port)
	{
		echo "listener $PORT 127.0.0.1"
		echo "listener $WSPORT 127.0.0.1"
		echo "protocol websockets"
		echo "allow_anonymous true"
		echo "persistence false"
		echo "log_dest file $dir/broker.log"
		echo "user $(id -un)"
		echo "set_tcp_nodelay true"
		echo "max_packet_size 131072"
		echo "plugin $PLUGIN"
		echo "plugin_opt_database $dir/chat.db"
		echo "plugin_opt_synchronous ${MQCHAT_MEDIA_SYNC:-full}"
		echo "plugin_opt_auth_fallback allow"
		echo "plugin_opt_send_rate 0"
		echo "plugin_opt_request_rate 0"
		echo "plugin_opt_media_max_bytes $((MB * 1000 * 1000))"
		echo "plugin_opt_media_quota_bytes 0"
	} >"$dir/mosquitto.conf"
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

for ((rep = 1; rep <= REPS; rep++)); do
	d=$WORK/run$rep
	mkdir -p "$d"
	start_broker "$d"
	log "rep $rep/$REPS: $MB MB up and down, chat meanwhile"
	"${PIN_CLIENT[@]}" "$TOOL" --port "$PORT" --mb "$MB" --window "$WINDOW"
	# The same size over MQTT-over-WebSocket with MQTT.js (8 pieces, 16 downloads in flight), when the
	# test dependencies are installed (tests/web/node_modules).
	if command -v node >/dev/null && [[ -d $ROOT/tests/web/node_modules/mqtt ]]; then
		printf 'websocket: '
		"${PIN_CLIENT[@]}" node "$ROOT/tests/integration/media_ws.mjs" "$ROOT/tests/web" "$WSPORT" ada files \
			"$((MB * 1000 * 1000))"
	fi
	stop_broker
	rm -rf "$d"
done
