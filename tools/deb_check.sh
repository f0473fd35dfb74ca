#!/usr/bin/env bash
# deb_check.sh - builds mqchat's .deb, installs it next to Debian's mosquitto, starts that mosquitto
# with Debian's own /etc/mosquitto/mosquitto.conf (as root, so it drops to the `mosquitto` user as
# the service does), runs the worked example against it, and removes the package again.
#
# Needs root (apt-get, /etc). What it adds beside the package, as an operator would, is one conf.d
# file of its own (a loopback listener on a free port and a password file with the demo users); it
# removes that file, the database it made and the package at the end, whatever happens.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${MQCHAT_DEB_BUILD:-$root/build-deb}
[[ $(id -u) == 0 ]] || { echo "deb_check: needs root" >&2; exit 1; }
[[ ! -e /etc/mosquitto/conf.d/mqchat.conf ]] || { echo "deb_check: mqchat is already installed" >&2; exit 1; }

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
  -DMQCHAT_TESTS=OFF -DMQCHAT_BENCH=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
(cd "$build" && rm -f mqchat_*.deb && cpack -G DEB >/dev/null)
deb=$(ls "$build"/mqchat_*.deb)

conf=/etc/mosquitto/conf.d/zz-mqchat-deb-check.conf
passwd=/etc/mosquitto/mqchat-deb-check.passwd
pid=
# Debian's mosquitto.conf has `persistence true`: the broker writes mosquitto.db when it stops.
had_mosquitto_db=$([[ -e /var/lib/mosquitto/mosquitto.db ]] && echo 1 || echo 0)
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null && while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  # the database, its WAL, the search index, the media directory and the lineage sidecar
  rm -rf "$conf" "$passwd" /var/lib/mosquitto/mqchat.db /var/lib/mosquitto/mqchat.db-* \
    /var/lib/mosquitto/mqchat.db.media /var/lib/mosquitto/.mqchat.db.lineage
  [[ $had_mosquitto_db == 1 ]] || rm -f /var/lib/mosquitto/mosquitto.db
  apt-get purge -y -qq mqchat >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "== deb: installing $(basename "$deb")"
apt-get install -y -qq "$deb" >/dev/null
dpkg -L mqchat | grep -E 'mqchat.so|conf.d/mqchat.conf'

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
rm -f "$passwd"
for u in ada bo cy; do
  if [[ -e $passwd ]]; then mosquitto_passwd -b "$passwd" "$u" "$u-pw"; else mosquitto_passwd -c -b "$passwd" "$u" "$u-pw"; fi
done
chown mosquitto: "$passwd"
chmod 0640 "$passwd"
printf 'listener %s 127.0.0.1\npassword_file %s\n' "$port" "$passwd" >"$conf"
mkdir -p /run/mosquitto /var/log/mosquitto
chown mosquitto: /run/mosquitto /var/log/mosquitto

echo "== deb: starting Debian's mosquitto with /etc/mosquitto/mosquitto.conf on port $port"
mosquitto -c /etc/mosquitto/mosquitto.conf &
pid=$!
for _ in $(seq 100); do
  (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
  kill -0 "$pid" || { tail -20 /var/log/mosquitto/mosquitto.log >&2; exit 1; }
  sleep 0.1
done
MQCHAT_PORT=$port "$root/examples/worked-example.sh"
[[ $(stat -c %U /var/lib/mosquitto/mqchat.db) == mosquitto ]] || { echo "deb: database not owned by mosquitto" >&2; exit 1; }
echo "== deb: the worked example passed against the installed package"
