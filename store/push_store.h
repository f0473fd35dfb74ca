/*
 * push_store.h - the store's side of push hand-off (schema/0011_push.sql; docs/protocol.md, "Push").
 *
 * Two kinds of caller, two connections:
 * - the broker's thread, on the store's own connection: the pushers ops, and chat_push_enqueuer__add,
 *   which writes the hand-off rows inside the transaction that appends the message (batch.c's);
 * - the push worker's thread (services/push_worker.c), on a connection of its own
 *   (struct chat_push_db): which notifications are due, and what became of each post.
 * Access control is the caller's.
 */
#ifndef CHAT_PUSH_STORE_H
#define CHAT_PUSH_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "store.h"

/* ---- broker thread, the store's connection --------------------------------------------------- */

/* Stores user's pusher (pushkey unique per user: a known one gets the new app_id, data and ts). data is
 * a JSON object's text or NULL. One statement, committed on its own: the open batch must have been
 * committed. */
enum chat_err chat_push_store__set(struct chat_store *store, const char *user, const char *app_id,
				   const char *pushkey, const char *data, int64_t ts_s,
				   struct chat_error *err);

/* Deletes user's pusher pushkey (and what waits for it); *found says whether there was one. */
enum chat_err chat_push_store__delete(struct chat_store *store, const char *user, const char *pushkey,
				      bool *found, struct chat_error *err);

/* Calls cb for each of user's pushers, in pushkey order; data may be NULL. Strings valid during the call. */
typedef int (*chat_pusher_cb)(const char *app_id, const char *pushkey, const char *data, int64_t ts_s,
			      void *ctx);
enum chat_err chat_push_store__list(struct chat_store *store, const char *user, chat_pusher_cb cb, void *ctx,
				    struct chat_error *err);

/* Calls cb with each user who has at least one pusher. cb returns 0 to go on, -1 to stop (then
 * CHAT_ERR_UNAVAILABLE, out of memory). */
enum chat_err chat_push_store__each_user(struct chat_store *store, int (*cb)(const char *user, void *ctx),
					 void *ctx, struct chat_error *err);

/* The statement that hands a message off, prepared once (it runs for every offline member with a
 * pusher of every message). Free with chat_push_enqueuer__free before the store closes. */
struct chat_push_enqueuer;
enum chat_err chat_push_enqueuer__new(struct chat_store *store, struct chat_push_enqueuer **out,
				      struct chat_error *err);
void chat_push_enqueuer__free(struct chat_push_enqueuer *q);

/* Inside the open transaction that appended message seq of channel: queues it for each of user's
 * pushers if user's level there lets it through (all; mentions: the mentions table, which 0010's
 * triggers filled in this same transaction, names user or everyone, or it is a direct message). A
 * row already waiting for (pusher, channel) is kept as it is: it stands for the newest eligible
 * message from its seq up, which the worker looks up when it posts. *queued: rows now waiting for
 * user in channel (0: none, e.g. a muted channel). */
enum chat_err chat_push_enqueuer__add(struct chat_push_enqueuer *q, int64_t channel, int64_t seq,
				      const char *user, int64_t now_ms, int *queued, struct chat_error *err);

/* ---- worker thread, its own connection ------------------------------------------------------- */

struct chat_push_db;

/* Opens path for the worker (synchronous normal: what it writes only says what was delivered; a crash
 * may send one notification again, never lose one). Returns 0, or -1 with a message in err. */
int chat_push_db__open(const char *path, int busy_timeout_ms, struct chat_push_db **out, char *err,
		       size_t err_len);
void chat_push_db__close(struct chat_push_db *db);

/* One waiting notification, as the worker posts it. Strings are owned by the struct
 * (chat_push_due__clear). */
struct chat_push_due {
	int64_t pusher_id, channel_id, seq, first_ms, attempts;
	int64_t target_seq; /* the message to post: the newest the user should hear of from seq up; 0: none */
	char *user, *app_id, *pushkey, *data; /* data may be NULL */
	int64_t pushkey_ts;
	char *room;       /* the channel's name */
	char *event_json; /* target_seq's event, NULL when none */
	int64_t unread;   /* messages from others above the user's read cursor */
};
void chat_push_due__clear(struct chat_push_due *d);

/* Fills out[0..*count) with at most max notifications due at now_ms, earliest first, each with what
 * it will say (target_seq, event_json, unread). Returns 0 or -1. */
int chat_push_db__due(struct chat_push_db *db, int64_t now_ms, struct chat_push_due *out, size_t max,
		      size_t *count);

/* What became of a post. */
enum chat_push_outcome {
	CHAT_PUSH_DONE,  /* 2xx: delete the row (if its seq is still the one posted) */
	CHAT_PUSH_RETRY, /* connection failure, timeout, 5xx: due again at retry_ms */
	CHAT_PUSH_DROP,  /* other 4xx, or retried for 24 h: delete it, counted as failed */
};

/* Called inside the worker's transaction, before its COMMIT, when the last row of user in channel is
 * deleted: the broker's thread may then no longer count on a row waiting (push.c). While the worker
 * holds the write lock no send is in flight (a send's transaction holds it from BEGIN IMMEDIATE to
 * COMMIT), so every message appended before is visible here and every one after sees the clear. */
typedef void (*chat_push_cleared_cb)(const char *user, int64_t channel, void *ctx);

/* Applies results, all in one transaction: for each d[i], outcome[i] (and retry_at[i]), and when
 * rejected[i] the pusher itself is deleted (the gateway listed its pushkey in "rejected": the app is
 * gone from that device). Done or dropped: the row goes, unless a newer eligible message came since
 * target_seq; then it is due again at once, from target_seq + 1. Returns 0 or -1. */
int chat_push_db__apply(struct chat_push_db *db, const struct chat_push_due *d,
			const enum chat_push_outcome *outcome, const int64_t *retry_at, const bool *rejected,
			size_t n, chat_push_cleared_cb cleared, void *ctx);

/* The number of rows waiting, and the earliest due_ms (INT64_MAX when none). Returns 0 or -1. */
int chat_push_db__pending(struct chat_push_db *db, int64_t *count, int64_t *next_due_ms);

#endif
