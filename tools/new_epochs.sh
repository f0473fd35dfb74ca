#!/bin/sh
# new_epochs.sh DATABASE - ask for a new epoch in every channel at the broker's next start.
#
# For an operator who restores the database on purpose (from a backup, a snapshot, another machine),
# by whatever means: clients compare the epoch of each channel with the one they stored, and a new
# one makes them drop their copy and sync the channel again from 0 (docs/protocol.md, "Catch-up").
# The plugin notices a database copied over while the broker was stopped by itself (store/lineage.h);
# this is for every other case, e.g. a restore that also replaced the sidecar file beside it.
#
# It leaves a row in the database's runs table, which the next start consumes: run it with the broker
# stopped, or at least before its next start. The broker logs "... start a new epoch" when it acts on it.
set -eu
if [ $# -ne 1 ] || [ ! -f "$1" ]; then
	echo "usage: $0 DATABASE (the file named by plugin_opt_database)" >&2
	exit 2
fi
sqlite3 -bail "$1" "INSERT INTO runs (name, value) VALUES ('new_epochs', '1')
  ON CONFLICT (name) DO UPDATE SET value = excluded.value;"
echo "$1: every channel gets a new epoch at the broker's next start"
