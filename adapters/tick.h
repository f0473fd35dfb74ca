/*
 * tick.h - periodic work, run from the broker's tick.
 */
#ifndef CHAT_TICK_H
#define CHAT_TICK_H

#include "chat.h"

/* Runs the jobs that are due. Called on every broker loop iteration (ten times a second when idle, far
 * more under load), so each job checks its own period against the plugin's clock. */
void chat_tick__run(struct chat_plugin *plugin);

/* Writes the client-id bindings that changed (sessions.h) in one transaction; retried later on failure. */
void chat_tick__flush_client_ids(struct chat_plugin *plugin);

#endif
