#!/usr/bin/env bash
# bench/ws.sh - large payloads to WebSocket and TCP clients on an idle broker, plain Mosquitto and
# Mosquitto with mqchat in one run (bench/ws.mjs does the measuring; MQTT.js from examples/web).
#
# Usage: bench/ws.sh [repetitions (3)]     Environment: MQCHAT_BUILD_DIR (default build),
#        WS_SIZE (bytes of the publish, 1048576), WS_PAGE (events of the catch-up page, 500),
#        WS_IDLE (idle TCP connections held open during the measures, 0; at most ~19,000 here, where a
#        process may open 20,000 files), WS_MODES (default "plain mqchat")
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${MQCHAT_BUILD_DIR:-$ROOT/build}
REPS=${1:-3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mqchat-ws.XXXXXX")
PID=
IDLE_PID=
trap '[[ -n $IDLE_PID ]] && kill "$IDLE_PID" 2>/dev/null; [[ -n $PID ]] && kill "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT
free_port() { "$BUILD/bench/mqchat_bench" --free-port; }

for ((rep = 1; rep <= REPS; rep++)); do
	for mode in ${WS_MODES:-plain mqchat}; do
		d=$WORK/$rep-$mode
		mkdir -p "$d"
		tcp=$(free_port)
		ws=$(free_port)
		{
			echo "listener $tcp 127.0.0.1"
			echo "listener $ws 127.0.0.1"
			echo "protocol websockets"
			echo "allow_anonymous true"
			echo "persistence false"
			echo "set_tcp_nodelay true"
			echo "max_packet_size 4194304"
			echo "log_dest file $d/broker.log"
			echo "user $(id -un)"
			if [[ $mode == mqchat ]]; then
				echo "plugin $BUILD/mqchat.so"
				echo "plugin_opt_database $d/chat.db"
				echo "plugin_opt_synchronous normal"
				echo "plugin_opt_auth_fallback allow"
				echo "plugin_opt_send_rate 0"
				echo "plugin_opt_request_rate 0"
				echo "plugin_opt_catchup_max_limit 1000"
				echo "plugin_opt_catchup_page_bytes 1048576"
			fi
		} >"$d/mosquitto.conf"
		mosquitto -c "$d/mosquitto.conf" >"$d/stderr.log" 2>&1 &
		PID=$!
		for _ in $(seq 50); do
			grep -q "running" "$d/broker.log" 2>/dev/null && break
			sleep 0.1
		done
		if ((${WS_IDLE:-0} > 0)); then
			node "$ROOT/bench/idle_conns.mjs" "$tcp" "$WS_IDLE" >"$d/idle.out" &
			IDLE_PID=$!
			for _ in $(seq 1200); do
				grep -q READY "$d/idle.out" && break
				kill -0 "$IDLE_PID" || exit 1
				sleep 0.1
			done
			# What the held connections cost an idle broker: its CPU time over 5 s.
			cpu() { awk '{print ($14 + $15) * 10}' "/proc/$PID/stat"; }
			c0=$(cpu)
			sleep 5
			echo "$mode RESULT idle.${WS_IDLE}_conns_cpu_ms_per_5s $(($(cpu) - c0))"
		fi
		BROKER_PID=$PID node "$ROOT/bench/ws.mjs" "$tcp" "$ws" "$mode" "${WS_SIZE:-1048576}" "${WS_PAGE:-500}" \
			| sed "s/^/$mode /"
		if [[ -n $IDLE_PID ]]; then
			kill "$IDLE_PID"
			wait "$IDLE_PID" 2>/dev/null || true
			IDLE_PID=
		fi
		kill "$PID"
		wait "$PID" 2>/dev/null || true
		PID=
	done
done
