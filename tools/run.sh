#!/usr/bin/env bash
# run.sh - installs what is missing, builds mqchat and runs Mosquitto with it in the foreground.
#
# Everything lives under data/ in the repository: the SQLite log (data/mqchat.db), the password file
# with the demo users and the configuration actually run (data/mosquitto.conf, made from the shipped
# mosquitto.conf). The web client is built into build/web and served by the broker itself.
# Environment: MQCHAT_PORT (MQTT over TCP; default 1883, or the next free port when 1883 is taken) and
# MQCHAT_WEB_PORT (the web client and MQTT over WebSocket; default 9001, or the next free one).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
tools/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMQCHAT_TESTS=OFF -DMQCHAT_WEB=ON >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
mkdir -p data

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# first_free <name> <first> <other than>: the first free port of first..first+5 that is not <other than>.
first_free() {
  local candidate
  for ((candidate = $2; candidate < $2 + 6; candidate++)); do
    if [[ "$candidate" != "$3" ]] && port_free "$candidate"; then echo "$candidate"; return; fi
  done
  echo "mqchat: ports $2-$(($2 + 5)) are all taken; set $1" >&2
  exit 1
}
port=${MQCHAT_PORT:-$(first_free MQCHAT_PORT 1883 0)}
web_port=${MQCHAT_WEB_PORT:-$(first_free MQCHAT_WEB_PORT 9001 "$port")}

# The demo users, password "<user>-pw" (see README). Made once; delete data/passwd to redo it.
if [[ ! -f data/passwd ]]; then
  : > data/passwd.new
  for user in ada bo cy dee; do
    mosquitto_passwd -b data/passwd.new "$user" "$user-pw"
  done
  chmod 600 data/passwd.new
  mv data/passwd.new data/passwd
fi

# The shipped configuration with absolute paths, this port, and the current user (Mosquitto started
# as root would otherwise switch to the `mosquitto` user, which may not read this checkout).
sed -e "s|^listener 1883 |listener $port |" \
    -e "s|^listener 9001 |listener $web_port |" \
    -e "s|^http_dir build/|http_dir $root/build/|" \
    -e "s|^password_file data/|password_file $root/data/|" \
    -e "s|^plugin build/|plugin $root/build/|" \
    -e "s|^plugin_opt_database data/|plugin_opt_database $root/data/|" \
    mosquitto.conf > data/mosquitto.conf
echo "user $(id -un)" >> data/mosquitto.conf

cat <<MSG
mqchat: web client on http://localhost:$web_port/ (MQTT over WebSocket on the same port)
mqchat: MQTT on 127.0.0.1:$port, channel logs in $root/data/mqchat.db
mqchat: demo users ada, bo, cy, dee (password: <user>-pw); try the tour in README.md with -p $port
MSG
exec mosquitto -c data/mosquitto.conf
