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

BENCH_NAME=media
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
MB=${MQCHAT_MEDIA_MB:-25}
REPS=${MQCHAT_MEDIA_REPS:-3}
WINDOW=${MQCHAT_MEDIA_WINDOW:-16}
# Then the same upload and download over MQTT-over-WebSocket by MQTT.js (tests/integration/media_ws.mjs),
# without the chatter.
# MQCHAT_MEDIA_SYNC: plugin_opt_synchronous (full, the shipped default; normal to see what the
# fsyncs of acknowledged sends cost them while a transfer fills the disk)
TOOL=$BUILD/bench/mqchat_media_bench

[[ -n ${MQCHAT_BENCH_NO_BUILD:-} ]] || cmake --build "$BUILD" -j2 --target mqchat mqchat_media_bench >&2

# start_media_broker <dir>: the bench's broker, with a WebSocket listener on $WSPORT too, as the shipped
# mosquitto.conf would (max_packet_size 131072, synchronous full unless MQCHAT_MEDIA_SYNC says).
start_media_broker() {
	WSPORT=$(free_port)
	start_broker "$1" "max_packet_size 131072" "plugin_opt_synchronous ${MQCHAT_MEDIA_SYNC:-full}" \
		"plugin_opt_media_max_bytes $((MB * 1000 * 1000))" "plugin_opt_media_quota_bytes 0" \
		"listener $WSPORT 127.0.0.1" "protocol websockets"
}

for ((rep = 1; rep <= REPS; rep++)); do
	d=$WORK/run$rep
	mkdir -p "$d"
	start_media_broker "$d"
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
