/*
 * retention.h - the store's side of retention and channel deletion (schema/0012_retention.sql).
 *
 * Every event row removed goes through here: each function below opens its own transaction, writes a
 * prune_allowed row (the only thing the events_no_delete trigger lets through), deletes, removes the
 * row again and commits. The caller must have committed the open batch first (batch.h), and trusts
 * the channel it names.
 */
#ifndef CHAT_STORE_RETENTION_H
#define CHAT_STORE_RETENTION_H

#include <stdbool.h>
#include <stdint.h>

#include "errors.h"
#include "store.h"

/* A channel's stored policy: days and count are -1 when it has none of its own (the default options
 * apply), 0 for "no limit"; first is the lowest seq the channel still holds (1 when never pruned). */
struct chat_retention_row {
	int64_t channel;
	int64_t days, count;
	int64_t first;
};

/* Calls cb for every channel_retention row; cb returns false to stop (out of memory). */
enum chat_err chat_retention_store__load(struct chat_store *store,
					 bool (*cb)(const struct chat_retention_row *row, void *ctx),
					 void *ctx, struct chat_error *err);

/* Stores a channel's policy (-1: none of its own), keeping its first seq. One transaction. */
enum chat_err chat_retention_store__set(struct chat_store *store, int64_t channel, int64_t days,
					int64_t count, struct chat_error *err);

/* The seq below which events older than cutoff_ms may go, looking at seqs [first, first + max) only:
 * the first of them with ts >= cutoff_ms, or first + max when all are older, or first when the first
 * is not. Reads at most max rows. */
enum chat_err chat_retention_store__age_cut(struct chat_store *store, int64_t channel, int64_t first,
					    int64_t max, int64_t cutoff_ms, int64_t *cut,
					    struct chat_error *err);

/* What unread counts need of a pruned channel whose first seq is first: *all the messages before
 * first (pruned ones), *mine those of user among them, or -1 when user has no message from first on
 * (the caller then takes all of user's messages). */
enum chat_err chat_retention_store__before_first(struct chat_store *store, int64_t channel, int64_t first,
						 const char *user, int64_t *all, int64_t *mine,
						 struct chat_error *err);

/* Deletes the events of channel with first <= seq < cut, with their side rows (mentions, push
 * queue rows; media references and the search index follow by themselves: schema/0013, search_store.h),
 * and records cut as the channel's first seq. One transaction; *rows
 * says how many events went. */
enum chat_err chat_retention_store__prune(struct chat_store *store, int64_t channel, int64_t first,
					  int64_t cut, int64_t *rows, struct chat_error *err);

/* Erases a channel: its events, members, cursors, mentions, notification levels, push queue rows,
 * retention row and the channel row itself. One transaction. */
enum chat_err chat_retention_store__erase_channel(struct chat_store *store, int64_t channel,
						  struct chat_error *err);

#endif
