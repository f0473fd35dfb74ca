/*
 * attention.h - the `mentions` op, and what the inbox adds per channel: "mentions" and "notify"
 * (docs/protocol.md, "Mentions", "Notification level and mute").
 */
#ifndef CHAT_ATTENTION_H
#define CHAT_ATTENTION_H

#include <cjson/cJSON.h>

#include "attention_store.h"
#include "chat.h"

#define CHAT_MENTIONS_LIMIT_DEFAULT 50
#define CHAT_MENTIONS_LIMIT_MAX     200

/* The `mentions` op: {"limit":L,"before_ts":T} by user. Adds "events" (the events of user's current
 * channels that mention user or everyone, or are direct messages to user, with ts < T, newest first,
 * at most L and at most plugin_opt_catchup_page_bytes of them, always at least one) and "more" to
 * reply. The open group commit must have been committed. Returns CHAT_ERR_OK, bad_request, or
 * unavailable. */
enum chat_err chat_attention__mentions(struct chat_plugin *plugin, const char *user, const cJSON *request,
				       cJSON *reply, struct chat_error *err);

/* Adds "mentions" (unread events above read_seq that mention user, everyone, or are direct messages
 * to user, not deleted) and "notify" (user's level) to entry, an inbox entry of ch, reading through r
 * (chat_inbox_reader__open, once per `channels` request). */
enum chat_err chat_attention__inbox_fields(struct chat_inbox_reader *r, const struct chat_channel *ch,
					   const char *user, int64_t read_seq, cJSON *entry,
					   struct chat_error *err);

#endif
