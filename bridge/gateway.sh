#!/usr/bin/env bash
# gateway.sh - a chat core and N edges (and optionally HAProxy in front of the edges) on one machine.
#
#   bridge/gateway.sh start [N]    build mqchat, write the configurations, start the core and N edges
#                                  (default 2), wait until every edge has its snapshot from the core
#   bridge/gateway.sh stop         stop what `start` started (by the pids it recorded)
#   bridge/gateway.sh status       which of them run
#
# Everything lives in $GATEWAY_DIR (default data/gateway): core.conf and edge-<i>.conf made from
# bridge/core.conf.in and bridge/edge.conf.in, the password file (demo users ada, bo, cy, dee with
# password <user>-pw; bridge users edge-<i> with random passwords), logs, pids and the core's chat.db.
# Ports: the core on $CORE_PORT (default 1890), edge i on $EDGE_BASE_PORT + i (default 1890 + i), and
# with LB=1 HAProxy (bridge/haproxy.cfg.in) on $LB_PORT (default 1889) spreading clients over the
# edges. Everything binds $BIND (default 127.0.0.1).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${GATEWAY_DIR:-$root/data/gateway}
core_port=${CORE_PORT:-1890}
edge_base=${EDGE_BASE_PORT:-1890}
lb_port=${LB_PORT:-1889}
bind=${BIND:-127.0.0.1}

fill() { # fill <template> <out> NAME=value...
  local tmpl=$1 out=$2 expr=()
  shift 2
  for kv in "$@"; do expr+=(-e "s|@${kv%%=*}@|${kv#*=}|g"); done
  sed "${expr[@]}" "$tmpl" > "$out"
}

running() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_one() { # start_one <name> <command...>: in the background, its own session, pid recorded
  local name=$1
  shift
  if running "$dir/$name.pid"; then
    echo "gateway: $name already runs (pid $(cat "$dir/$name.pid"))" >&2
    exit 1
  fi
  setsid "$@" >> "$dir/$name.stderr" 2>&1 < /dev/null &
  echo $! > "$dir/$name.pid"
}

log_size() { stat -c %s "$1" 2>/dev/null || echo 0; }

wait_for() { # wait_for <file> <text> <seconds> <offset>: the text in what was written after offset
  local deadline=$((SECONDS + $3))
  until tail -c +$(($4 + 1)) "$1" 2>/dev/null | grep -q "$2"; do
    if ((SECONDS > deadline)); then
      echo "gateway: no '$2' in $1 after $3 s" >&2
      exit 1
    fi
    sleep 0.1
  done
}

cmd_start() {
  local n=${1:-2} users="" i
  mkdir -p "$dir"
  if [[ ! -x "$root/build/mqchat.so" && ! -f "$root/build/mqchat.so" ]]; then
    cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMQCHAT_TESTS=OFF -DMQCHAT_WEB=OFF >/dev/null
    cmake --build "$root/build" -j"$(nproc)" --target mqchat >/dev/null
  fi
  : > "$dir/passwd"
  for u in ada bo cy dee; do mosquitto_passwd -b "$dir/passwd" "$u" "$u-pw"; done
  for ((i = 1; i <= n; i++)); do
    local pw
    pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
    mosquitto_passwd -b "$dir/passwd" "edge-$i" "$pw"
    echo "$pw" > "$dir/edge-$i.secret"
    users+="${users:+,}edge-$i"
  done
  chmod 600 "$dir/passwd" "$dir"/edge-*.secret
  fill "$root/bridge/core.conf.in" "$dir/core.conf" CORE_PORT="$core_port" BIND="$bind" \
    PASSWD="$dir/passwd" LOG="$dir/core.log" USER="$(id -un)" PLUGIN="$root/build/mqchat.so" \
    DB="$dir/chat.db" BRIDGE_USERS="$users"
  local offset
  offset=$(log_size "$dir/core.log")
  start_one core mosquitto -c "$dir/core.conf"
  wait_for "$dir/core.log" "mosquitto version .* running" 10 "$offset"
  local servers="" offsets=()
  for ((i = 1; i <= n; i++)); do
    offsets[i]=$(log_size "$dir/edge-$i.log")
    fill "$root/bridge/edge.conf.in" "$dir/edge-$i.conf" EDGE_PORT=$((edge_base + i)) BIND="$bind" \
      PASSWD="$dir/passwd" LOG="$dir/edge-$i.log" USER="$(id -un)" PLUGIN="$root/build/mqchat.so" \
      EDGE_ID="edge-$i" CORE_HOST=127.0.0.1 CORE_PORT="$core_port" \
      EDGE_PASSWORD="$(cat "$dir/edge-$i.secret")"
    start_one "edge-$i" mosquitto -c "$dir/edge-$i.conf"
    servers+="\tserver edge$i 127.0.0.1:$((edge_base + i)) check\n"
  done
  for ((i = 1; i <= n; i++)); do
    wait_for "$dir/edge-$i.log" "ready: snapshot of" 15 "${offsets[i]}"
    echo "gateway: edge-$i on $bind:$((edge_base + i))"
  done
  echo "gateway: core on $bind:$core_port, log in $dir/chat.db"
  if [[ "${LB:-0}" == 1 ]]; then
    printf '%b' "$servers" > "$dir/haproxy.servers"
    awk -v port="$lb_port" -v bind="$bind" -v servers="$dir/haproxy.servers" '
      /@EDGE_SERVERS@/ { while ((getline line < servers) > 0) print line; next }
      { gsub(/@LB_PORT@/, port); gsub(/@LB_BIND@/, bind); print }' \
      "$root/bridge/haproxy.cfg.in" > "$dir/haproxy.cfg"
    haproxy -c -q -f "$dir/haproxy.cfg"
    start_one haproxy haproxy -db -f "$dir/haproxy.cfg"
    echo "gateway: HAProxy on $bind:$lb_port in front of the $n edges"
  fi
}

cmd_stop() {
  local f
  for f in "$dir"/haproxy.pid "$dir"/edge-*.pid "$dir"/core.pid; do
    [[ -f "$f" ]] || continue
    if running "$f"; then
      local pid tries=0
      pid=$(cat "$f")
      kill "$pid"
      while kill -0 "$pid" 2>/dev/null && ((tries++ < 100)); do sleep 0.1; done
      if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
      echo "gateway: stopped $(basename "$f" .pid) (pid $pid)"
    fi
    rm -f "$f"
  done
}

cmd_status() {
  local f
  for f in "$dir"/core.pid "$dir"/edge-*.pid "$dir"/haproxy.pid; do
    [[ -f "$f" ]] || continue
    if running "$f"; then echo "$(basename "$f" .pid): running (pid $(cat "$f"))"
    else echo "$(basename "$f" .pid): not running"; fi
  done
}

case "${1:-}" in
  start) cmd_start "${2:-2}" ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) sed -n '2,14p' "$0" >&2; exit 2 ;;
esac
