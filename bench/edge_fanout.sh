#!/usr/bin/env bash
# bench/edge_fanout.sh - the gateway tier's fan-out: one core, E edges (default 4), each holding C idle
# members (default 19000) of one public channel, all on this machine; then one message, and the time
# until it has reached every member.
#
# Brokers come from bridge/core.conf.in and bridge/edge.conf.in, with two changes for the bench: no
# password file (plugin_opt_auth_fallback allow: 76,000 password hashes would only slow the setup)
# and plugin_opt_synchronous normal on the core. Members are mqchat_edge_fanout processes (one per
# edge, an epoll loop of raw MQTT connections, since one process may hold at most 20,000 files). Each
# member joins through its edge (an API request the core commits), then all subscribe, then the
# first member of edge-1 sends. Every process reports CLOCK_MONOTONIC when its last member got the
# message; the figure is the latest of those minus the send.
#
# Usage: bench/edge_fanout.sh     Environment: MQCHAT_BUILD_DIR (default build), EDGES (4),
#        MEMBERS_PER_EDGE (19000), CAP (seconds per phase, 300), PAUSE_BEFORE_SEND (seconds to wait
#        once all are subscribed, to attach a profiler; default none)
# Everything runs in a temporary directory, removed at exit; brokers and clients are stopped by pid.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${MQCHAT_BUILD_DIR:-$ROOT/build}
EDGES=${EDGES:-4}
PER_EDGE=${MEMBERS_PER_EDGE:-19000}
CAP=${CAP:-300}
CLIENT=$BUILD/bench/mqchat_edge_fanout
[[ -x "$CLIENT" && -f "$BUILD/mqchat.so" ]] || {
  echo "edge_fanout: build first (cmake --build $BUILD --target mqchat mqchat_edge_fanout)" >&2
  exit 1
}
dir=$(mktemp -d /tmp/mqchat-fanout-XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { # <file> <text> <seconds>
  local deadline=$((SECONDS + $3))
  until grep -q "$2" "$1" 2>/dev/null; do
    ((SECONDS <= deadline)) || { echo "edge_fanout: no '$2' in $1 after $3 s" >&2; tail -5 "$1" >&2; exit 1; }
    sleep 0.1
  done
}
count_lines() { cat "$dir"/client-*.out 2>/dev/null | grep -c "^$1" || true; }
wait_clients() { # <prefix> <seconds>
  local deadline=$((SECONDS + $2))
  until (($(count_lines "$1") == EDGES)); do
    for pid in "${client_pids[@]}"; do
      kill -0 "$pid" 2>/dev/null || ! wait "$pid" || true
    done
    if grep -q . "$dir"/client-*.err 2>/dev/null; then cat "$dir"/client-*.err >&2; exit 1; fi
    ((SECONDS <= deadline)) || { echo "edge_fanout: clients not $1 after $2 s" >&2; exit 1; }
    sleep 0.2
  done
}
rss_mb() { awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
bench_conf() { # <template> <out> NAME=value...: the template, with no password file (and so anonymous
  # allowed: mqchat refuses auth_fallback allow beside allow_anonymous false)
  local tmpl=$1 out=$2 expr=()
  shift 2
  for kv in "$@"; do expr+=(-e "s|@${kv%%=*}@|${kv#*=}|g"); done
  sed "${expr[@]}" -e '/^password_file/d' -e 's/^allow_anonymous false/allow_anonymous true/' "$tmpl" > "$out"
}

core_port=$(free_port)
users=$(seq -s, -f 'edge-%g' 1 "$EDGES")
bench_conf "$ROOT/bridge/core.conf.in" "$dir/core.conf" CORE_PORT="$core_port" BIND=127.0.0.1 \
  LOG="$dir/core.log" USER="$(id -un)" PLUGIN="$BUILD/mqchat.so" DB="$dir/chat.db" BRIDGE_USERS="$users"
printf 'plugin_opt_auth_fallback allow\nplugin_opt_synchronous normal\n' >> "$dir/core.conf"
mosquitto -c "$dir/core.conf" 2> "$dir/core.stderr" &
pids+=($!)
core_pid=$!
wait_for "$dir/core.log" "mosquitto version .* running" 10

edge_ports=() edge_pids=()
for ((i = 1; i <= EDGES; i++)); do
  port=$(free_port)
  edge_ports[i]=$port
  bench_conf "$ROOT/bridge/edge.conf.in" "$dir/edge-$i.conf.tmp" EDGE_PORT="$port" BIND=127.0.0.1 \
    LOG="$dir/edge-$i.log" USER="$(id -un)" PLUGIN="$BUILD/mqchat.so" EDGE_ID="edge-$i" \
    CORE_HOST=127.0.0.1 CORE_PORT="$core_port" EDGE_PASSWORD=unused
  # the plugin's options must precede `connection`
  sed '/^plugin_opt_role edge/a plugin_opt_auth_fallback allow' "$dir/edge-$i.conf.tmp" > "$dir/edge-$i.conf"
  mosquitto -c "$dir/edge-$i.conf" 2> "$dir/edge-$i.stderr" &
  pids+=($!)
  edge_pids[i]=$!
done
for ((i = 1; i <= EDGES; i++)); do wait_for "$dir/edge-$i.log" "ready: snapshot of" 15; done
mosquitto_rr -p "$core_port" -u admin -i admin -t chat/_api -e chat/_reply/admin -W 10 \
  -m '{"op":"create","channel":"big","visibility":"public"}' > "$dir/create.json"
grep -q '"ok":true' "$dir/create.json" || { cat "$dir/create.json" >&2; exit 1; }

echo "edge_fanout: $EDGES edges x $PER_EDGE members: connecting and joining" >&2
t_join=$SECONDS
client_pids=()
for ((i = 1; i <= EDGES; i++)); do
  "$CLIENT" --port "${edge_ports[i]}" --count "$PER_EDGE" --first $(((i - 1) * PER_EDGE)) --dir "$dir" \
    --channel big --cap "$CAP" $([[ $i == 1 ]] && echo --sender) > "$dir/client-$i.out" 2> "$dir/client-$i.err" &
  pids+=($!)
  client_pids+=($!)
done
wait_clients JOINED "$CAP"
join_s=$((SECONDS - t_join))
touch "$dir/go"
wait_clients SUBSCRIBED "$CAP"
edge_rss=""
for ((i = 1; i <= EDGES; i++)); do edge_rss+="${edge_rss:+ }$(rss_mb "${edge_pids[i]}")"; done
core_rss=$(rss_mb "$core_pid")
if [[ -n "${PAUSE_BEFORE_SEND:-}" ]]; then # time to attach a profiler to the brokers
  echo "edge_fanout: edges ${edge_pids[*]}, core $core_pid; sending in $PAUSE_BEFORE_SEND s" >&2
  sleep "$PAUSE_BEFORE_SEND"
fi
touch "$dir/send"
wait_clients LAST "$CAP"
sent=$(grep -h '^SENT' "$dir"/client-*.out | awk '{print $2}')
last=$(grep -h '^LAST' "$dir"/client-*.out | awk '{print $2}' | sort -n | tail -1)
first_done=$(grep -h '^LAST' "$dir"/client-*.out | awk '{print $2}' | sort -n | head -1)
total=$((EDGES * PER_EDGE))
cat <<RESULT
| what | value |
|---|---|
| edges x members | $EDGES x $PER_EDGE = $total idle connections, one channel |
| connect + join all (through the edges, committed by the core) | ${join_s} s |
| one message to all $total members | $(awk -v a="$sent" -v b="$last" 'BEGIN {printf "%.1f ms", (b - a) / 1e6}') |
| to all members of the fastest edge | $(awk -v a="$sent" -v b="$first_done" 'BEGIN {printf "%.1f ms", (b - a) / 1e6}') |
| RSS per edge, subscribed and idle | $edge_rss MB |
| RSS of the core | $core_rss MB |
RESULT
