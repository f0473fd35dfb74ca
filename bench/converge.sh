#!/usr/bin/env bash
# bench/converge.sh - a client that missed 10,000 messages: how long until it has converged, through
# libmqchat (clients/) end to end, side by side with the raw catch-up rate of a bare libmosquitto loop.
# Starts its own broker (a free loopback port, a temporary directory, the shipped settings except the
# rate limits, off so that the backlog is seeded quickly and small pages are not throttled), runs
# bench/converge.c, stops the broker.
#
# Usage: bench/converge.sh [messages] [repetitions] [page limit]      (10000 3 1000)
# Environment: MQCHAT_BUILD_DIR (default build), holding mqchat.so and bench/mqchat_converge;
# MQCHAT_PLUGIN, another mqchat.so.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${MQCHAT_BUILD_DIR:-$ROOT/build}
PLUGIN=${MQCHAT_PLUGIN:-$BUILD/mqchat.so}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mqchat-converge.XXXXXX")
BROKER_PID=
cleanup() {
	if [[ -n $BROKER_PID ]]; then
		kill -TERM "$BROKER_PID" 2>/dev/null || true
		wait "$BROKER_PID" 2>/dev/null || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
: >"$WORK/passwd"
for u in ada bo; do
	mosquitto_passwd -b "$WORK/passwd" "$u" "$u-pw"
done
cat >"$WORK/mosquitto.conf" <<CONF
listener $PORT 127.0.0.1
allow_anonymous false
password_file $WORK/passwd
persistence false
log_dest file $WORK/broker.log
user $(id -un)
set_tcp_nodelay true
max_queued_messages 1000000
plugin $PLUGIN
plugin_opt_database $WORK/chat.db
plugin_opt_send_rate 0
plugin_opt_request_rate 0
CONF
mosquitto -c "$WORK/mosquitto.conf" >"$WORK/stderr.log" 2>&1 &
BROKER_PID=$!
for _ in $(seq 100); do
	grep -q "mosquitto version .* running" "$WORK/broker.log" 2>/dev/null && break
	sleep 0.1
done
echo "$(nproc) CPUs, $(mosquitto -h 2>&1 | head -n1), libmqchat $(wc -l "$ROOT"/clients/libmqchat/*.[ch] | tail -n1 | awk '{print $1}') lines"
"$BUILD/bench/mqchat_converge" "$PORT" "${1:-10000}" "${2:-3}" "${3:-1000}"
