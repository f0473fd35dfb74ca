#!/usr/bin/env bash
# worked-example.sh - the seeds' worked example, with nothing but the stock Mosquitto clients.
#
# Ada posts in a channel with Bo (online) and Cy (offline). The post becomes seq 42. Bo sees it live.
# Cy reconnects with last-seen 41, and catch-up delivers seq 42 exactly once.
#
# Needs a running broker with mqchat (tools/run.sh) and the demo users ada, bo, cy (password
# "<user>-pw"). Environment: MQCHAT_HOST (127.0.0.1), MQCHAT_PORT (1883), CHANNEL (a fresh name, so
# the seqs come out as in the story). Exits non-zero if anything differs from the story.
set -euo pipefail

host=${MQCHAT_HOST:-127.0.0.1}
port=${MQCHAT_PORT:-1883}
channel=${CHANNEL:-example-$(date +%s)-$$}
run=$(mktemp -d)
trap 'rm -rf "$run"' EXIT

# mosquitto_rr publishes a request with an MQTT v5 Response Topic and prints the one reply.
request() { # user topic payload
  mosquitto_rr -h "$host" -p "$port" -u "$1" -P "$1-pw" -i "$1-example-$$" -t "$2" -e "example/$1/$$" -m "$3" -W 10
}
expect() { # description text pattern
  if ! grep -qF -- "$3" <<<"$2"; then
    echo "worked example: $1: expected $3 in: $2" >&2
    exit 1
  fi
}

echo "0. Bo and Cy have used the chat before (only users who have signed in can be made members)."
request bo chat/_api '{"op":"channels"}' >/dev/null
request cy chat/_api '{"op":"channels"}' >/dev/null

echo "1. Ada creates #$channel with Bo and Cy; their joins are seqs 1, 2 and 3."
reply=$(request ada chat/_api "{\"op\":\"create\",\"channel\":\"$channel\",\"members\":[\"bo\",\"cy\"]}")
expect "create" "$reply" '"head":3'

echo "2. 38 earlier messages, seqs 4 to 41; Cy read them all before going offline."
seq 4 41 | sed 's/^/earlier message /' |
  mosquitto_pub -h "$host" -p "$port" -u ada -P ada-pw -i "ada-history-$$" -t "chat/$channel" -q 1 -l

echo "3. Bo is online: a persistent session subscribed to #$channel."
# -E subscribes and leaves; the session keeps the subscription, so nothing can be missed between
# here and Bo's client below, which takes the session over.
mosquitto_sub -h "$host" -p "$port" -u bo -P bo-pw -i "bo-phone-$$" -c -q 1 -t "chat/$channel" -E
mosquitto_sub -h "$host" -p "$port" -u bo -P bo-pw -i "bo-phone-$$" -c -q 1 -t "chat/$channel" \
  -C 1 -W 10 > "$run/bo" &
bo=$!

echo "4. Ada posts; the ack says the event is durable and numbered."
ack=$(request ada "chat/$channel" '{"client_msg_id":"c-5f1e","body":"hello"}')
echo "   ack: $ack"
expect "ack" "$ack" '"seq":42'
expect "ack" "$ack" '"duplicate":false'

wait "$bo"
live=$(cat "$run/bo")
echo "5. Bo saw it live: $live"
expect "live event" "$live" '"seq":42'
expect "live event" "$live" '"from":"ada"'

echo "6. Cy reconnects with last-seen 41 and catches up."
page=$(request cy "chat/$channel/sync" '{"since":41}')
echo "   page: $page"
expect "catch-up" "$page" '"next":42,"head":42,"more":false'
if [[ $(grep -o '"seq":' <<<"$page" | wc -l) != 1 ]]; then
  echo "worked example: catch-up should hold exactly one event" >&2
  exit 1
fi
expect "catch-up" "$page" "$live"

echo "Seq 42 reached Bo live and Cy by catch-up, exactly once, byte for byte the same."
