/*
 * cursors.h - read cursors (per user) and delivery cursors (per device).
 *
 * A cursor says "up to seq N". It only moves forward. The in-memory index holds every cursor and
 * answers from memory (the inbox's unread counts start from it); moves are sent to the channel's
 * members at once and written to the store in batches, one transaction every
 * plugin_opt_cursor_flush_ms and at shutdown, because receipts are frequent and each is idempotent:
 * a move lost in a crash is repaired by the client's next one.
 */
#ifndef CHAT_CURSORS_H
#define CHAT_CURSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"

struct chat_plugin;
struct chat_requester;
struct chat_reply_to;
struct chat_cursor_write;

struct chat_cursors {
	struct chat_cursor_write *pending; /* moves not yet written, one per cursor */
};

/* Handles {"seq":N} published by who to chat/<channel>/read (delivered false) or /delivered (true).
 * Returns CHAT_ERR_OK when handled (an ignored backward move included), or the error it answered
 * with. */
enum chat_err chat_cursors__serve_or_reply(struct chat_plugin *plugin, const struct chat_requester *who,
					   const struct chat_reply_to *rt, const char *channel,
					   size_t channel_len, const void *payload, size_t len,
					   bool delivered);

/* Writes the pending moves in one transaction. On failure they stay pending for the next flush. */
void chat_cursors__flush(struct chat_plugin *plugin);

/* Drops the pending moves of user in the channel with store rowid channel (user left it). */
void chat_cursors__forget(struct chat_plugin *plugin, int64_t channel, const char *user);

/* Frees the pending moves without writing them. */
void chat_cursors__clear(struct chat_cursors *cursors);

#endif
