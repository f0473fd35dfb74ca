/*
 * attention_store.h - the store's side of mentions, notification levels and threads
 * (schema/0010_attention.sql; docs/protocol.md, "Mentions", "Notification level and mute", "Threads").
 *
 * The mentions table is written by triggers inside the transaction that appends an event, so this
 * file writes only notification levels. Access control is the caller's: every function here trusts
 * the channels and user it is given.
 */
#ifndef CHAT_ATTENTION_STORE_H
#define CHAT_ATTENTION_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "errors.h"
#include "store.h"

enum chat_notify_level {
	CHAT_NOTIFY_ALL, /* the default: no row */
	CHAT_NOTIFY_MENTIONS,
	CHAT_NOTIFY_NONE, /* muted */
};

/* Wire names "all", "mentions", "none". parse returns false for any other name. */
const char *chat_notify_level__name(enum chat_notify_level level);
bool chat_notify_level__parse(const char *name, enum chat_notify_level *out);

/* Sets user's level in channel (rowid); CHAT_NOTIFY_ALL deletes the row. One statement, committed on
 * its own: the caller must have committed the open batch (the route table does). */
enum chat_err chat_store__set_notify_level(struct chat_store *store, int64_t channel, const char *user,
					   enum chat_notify_level level, struct chat_error *err);

/* Reads what the inbox shows of each of a user's channels, with statements prepared once for a whole
 * `channels` request. */
struct chat_inbox_reader;

enum chat_err chat_inbox_reader__open(struct chat_store *store, struct chat_inbox_reader **out,
				      struct chat_error *err);
/* The number of distinct events of channel above read_seq that mention user or everyone, not written
 * by user, whose message is not deleted; and user's level there. */
enum chat_err chat_inbox_reader__read(struct chat_inbox_reader *r, int64_t channel, const char *user,
				      int64_t read_seq, int64_t *mentions, enum chat_notify_level *level,
				      struct chat_error *err);
/* NULL is ignored. */
void chat_inbox_reader__close(struct chat_inbox_reader *r);

/* Called for each event returned, in the order documented by the caller; returns false to stop
 * (the event is then not part of the page). json is valid only during the call. */
typedef bool (*chat_attention_event_cb)(int64_t channel, int64_t seq, int64_t ts, const char *json,
					size_t len, void *ctx);

/* The events of the channels in channels_json (a JSON array of rowids) that mention user or everyone
 * and are not user's own, with ts < before_ts, newest first (ts, then channel, then seq, descending),
 * each once, at most limit. */
enum chat_err chat_store__mentions_of(struct chat_store *store, const char *channels_json, const char *user,
				      int64_t before_ts, int64_t limit, chat_attention_event_cb cb, void *ctx,
				      struct chat_error *err);

/* The thread of message root in channel: the events with seq > since that are its replies or that
 * target one of them (edits, deletes, reactions), in seq order, at most limit. */
enum chat_err chat_store__thread_events(struct chat_store *store, int64_t channel, int64_t root,
					int64_t since, int64_t limit, chat_attention_event_cb cb, void *ctx,
					struct chat_error *err);

/* The replies of root in channel that are not deleted: how many, and the ts of the last (0 if none). */
enum chat_err chat_store__thread_summary(struct chat_store *store, int64_t channel, int64_t root,
					 int64_t *count, int64_t *last_ts, struct chat_error *err);

#endif
