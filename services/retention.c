/*
 * retention.c - the retention job and channel deletion (see retention.h).
 *
 * The channels' stored policies and first seqs are read into the index (chat_channel.first,
 * keep_days, keep_count) once, at the first use; from then on the index holds them, and every change
 * is written to the store first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "broker.h"
#include "clock.h"
#include "counters.h"
#include "membership.h"
#include "retention.h"
#include "store.h"
#include "users.h"
#include "../store/retention.h" /* the store's file of the same name: this directory's comes first */

struct rows {
	struct chat_retention_row *v;
	size_t n, cap;
};


static bool keep_row(const struct chat_retention_row *row, void *ctx)
{
	struct rows *rows = ctx;

	if(rows->n == rows->cap) {
		size_t cap = rows->cap ? rows->cap * 2 : 16;
		struct chat_retention_row *v = realloc(rows->v, cap * sizeof(*v));
		if(v == NULL) {
			return false;
		}
		rows->v = v;
		rows->cap = cap;
	}
	rows->v[rows->n++] = *row;
	return true;
}


static int by_channel(const void *a, const void *b)
{
	int64_t x = ((const struct chat_retention_row *)a)->channel;
	int64_t y = ((const struct chat_retention_row *)b)->channel;

	return (x > y) - (x < y);
}


/* Reads the stored policies into the index, once. On failure the index keeps first 1 and no policy,
 * and the next use tries again. */
static void load(struct chat_plugin *plugin)
{
	struct rows rows = {0};
	struct chat_error err = {0};
	struct chat_channel *ch, *tmp;

	if(plugin->retention_loaded || plugin->store == NULL) {
		return;
	}
	if(chat_retention_store__load(plugin->store, keep_row, &rows, &err) != CHAT_ERR_OK) {
		chat_broker__log(CHAT_LOG_WARNING, "retention policies not read yet: %s", err.message);
		free(rows.v);
		return;
	}
	if(rows.n > 0) { /* v is NULL when there are none */
		qsort(rows.v, rows.n, sizeof(*rows.v), by_channel);
	}
	HASH_ITER(hh, plugin->index.channels, ch, tmp) {
		struct chat_retention_row key = {.channel = ch->rowid};
		const struct chat_retention_row *row =
			rows.n ? bsearch(&key, rows.v, rows.n, sizeof(*rows.v), by_channel) : NULL;
		if(row != NULL) {
			ch->first = row->first;
			ch->keep_days = row->days;
			ch->keep_count = row->count;
		}
	}
	free(rows.v);
	plugin->retention_loaded = true;
}


int64_t chat_retention__first(struct chat_plugin *plugin, const struct chat_channel *ch)
{
	load(plugin);
	return ch->first > 0 ? ch->first : 1;
}


enum chat_err chat_retention__set(struct chat_plugin *plugin, struct chat_channel *ch, int64_t days,
				  int64_t count, struct chat_error *err)
{
	load(plugin);
	if(chat_batch__flush(plugin) != CHAT_ERR_OK) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "the open batch could not be committed");
	}
	if(chat_retention_store__set(plugin->store, ch->rowid, days, count, err) != CHAT_ERR_OK) {
		return err->code;
	}
	ch->keep_days = days;
	ch->keep_count = count;
	plugin->next_retention_ms = 0; /* the new policy applies at the next tick */
	return CHAT_ERR_OK;
}


void chat_retention__policy(const struct chat_plugin *plugin, const struct chat_channel *ch, int64_t *days,
			    int64_t *count)
{
	*days = ch->keep_days >= 0 ? ch->keep_days : plugin->config.retention_days;
	*count = ch->keep_count >= 0 ? ch->keep_count : plugin->config.retention_count;
}


enum chat_err chat_retention__unread(struct chat_plugin *plugin, const struct chat_channel *ch,
				     const char *user, int64_t read_seq, int64_t *unread,
				     struct chat_error *err)
{
	int64_t first = chat_retention__first(plugin, ch), all = 0, mine = 0, mine_at_head = 0;

	if(read_seq >= first || read_seq >= ch->last_message_seq) {
		return chat_store__unread(plugin->store, ch, user, read_seq, unread, err);
	}
	/* the cursor points into pruned history: everything kept is unread, but the user's own */
	if(chat_retention_store__before_first(plugin->store, ch->rowid, first, user, &all, &mine, err)
		   != CHAT_ERR_OK
	   || chat_store__author_messages(plugin->store, ch->rowid, user, &mine_at_head, err)
		      != CHAT_ERR_OK) {
		return err->code;
	}
	if(mine < 0) {
		mine = mine_at_head;
	}
	*unread = (ch->message_count - all) - (mine_at_head - mine);
	return CHAT_ERR_OK;
}


/* The seq below which ch's events may go now, at most CHAT_RETENTION_BATCH above its first, and never
 * its last event. ch->first when nothing is due. */
static enum chat_err cut_of(struct chat_plugin *plugin, const struct chat_channel *ch, int64_t wall_ms,
			    int64_t *cut, struct chat_error *err)
{
	int64_t days, count, limit = ch->first + CHAT_RETENTION_BATCH;

	*cut = ch->first;
	chat_retention__policy(plugin, ch, &days, &count);
	if(limit > ch->head) {
		limit = ch->head;
	}
	if(limit <= ch->first || (days == 0 && count == 0)) {
		return CHAT_ERR_OK;
	}
	if(count > 0 && ch->head - count + 1 > *cut) {
		*cut = ch->head - count + 1 < limit ? ch->head - count + 1 : limit;
	}
	if(days > 0 && *cut < limit) {
		int64_t age_cut, cutoff = wall_ms - days * plugin->config.retention_day_seconds * 1000;
		if(chat_retention_store__age_cut(plugin->store, ch->rowid, ch->first, limit - ch->first,
						 cutoff, &age_cut, err)
		   != CHAT_ERR_OK) {
			return err->code;
		}
		if(age_cut > *cut) {
			*cut = age_cut;
		}
	}
	return CHAT_ERR_OK;
}


void chat_retention__tick(struct chat_plugin *plugin, int64_t now_ms)
{
	struct chat_error err = {0};
	struct chat_channel *ch, *tmp;
	int64_t wall = chat_clock__wall_ms();

	if(plugin->store == NULL || now_ms < plugin->next_retention_ms) {
		return;
	}
	/* Never inside a group commit: a batch still open waits for its senders' next bytes (batch.c) */
	if(plugin->batch != NULL && plugin->batch->open) {
		return;
	}
	load(plugin);
	plugin->next_retention_ms = now_ms + plugin->config.retention_check_ms;
	HASH_ITER(hh, plugin->index.channels, ch, tmp) {
		int64_t cut = 0, rows = 0, t0, us;
		if(cut_of(plugin, ch, wall, &cut, &err) != CHAT_ERR_OK) {
			chat_broker__log(CHAT_LOG_WARNING, "retention of #%s: %s", ch->name, err.message);
			continue;
		}
		if(cut <= ch->first) {
			continue;
		}
		t0 = chat_metrics__now_us();
		if(chat_retention_store__prune(plugin->store, ch->rowid, ch->first, cut, &rows, &err)
		   != CHAT_ERR_OK) {
			chat_broker__log(CHAT_LOG_WARNING, "retention of #%s: %s", ch->name, err.message);
			return;
		}
		us = chat_metrics__now_us() - t0;
		chat_broker__log(CHAT_LOG_DEBUG, "retention: pruned %lld events of #%s below %lld in %lld us",
				 (long long)rows, ch->name, (long long)cut, (long long)us);
		plugin->retention_rows += rows;
		plugin->retention_batches++;
		plugin->retention_max_us = us > plugin->retention_max_us ? us : plugin->retention_max_us;
		ch->first = cut;
		/* more may be due: after a pause that leaves the broker's thread to the chat */
		plugin->next_retention_ms =
			now_ms
			+ (us * 4 / 1000 > CHAT_RETENTION_PAUSE_MS ? us * 4 / 1000 : CHAT_RETENTION_PAUSE_MS);
		return; /* one batch at a time */
	}
	/* nothing more is due: the run (if any) is over */
	if(plugin->retention_batches > 0) {
		chat_broker__log(CHAT_LOG_INFO,
				 "retention: pruned %lld events in %lld batches, the longest %lld us",
				 (long long)plugin->retention_rows, (long long)plugin->retention_batches,
				 (long long)plugin->retention_max_us);
		plugin->retention_rows = plugin->retention_batches = plugin->retention_max_us = 0;
	}
}


enum chat_err chat_retention__delete_channel(struct chat_plugin *plugin, const struct chat_requester *who,
					     struct chat_channel *ch, struct chat_error *err)
{
	int64_t t0;

	if(ch->visibility == CHAT_VISIBILITY_DM) {
		return chat_error__set(err, CHAT_ERR_FORBIDDEN, "a direct channel cannot be deleted");
	}
	/* Each member's leave, as an admin's removeMember logs it: subscribers see it, and the member's
	 * own connections are told though the read ACL no longer lets them (membership.c). */
	while(ch->members != NULL) {
		char user[CHAT_USER_MAX + 1]; /* the member's entry, and its name, are freed on the way */
		snprintf(user, sizeof(user), "%s", ch->members->user);
		if(chat_membership__admin_remove(plugin, who, ch, user, err) != CHAT_ERR_OK) {
			return err->code;
		}
	}
	if(chat_batch__flush(plugin) != CHAT_ERR_OK) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "the open batch could not be committed");
	}
	t0 = chat_metrics__now_us();
	if(chat_retention_store__erase_channel(plugin->store, ch->rowid, err) != CHAT_ERR_OK) {
		return err->code;
	}
	/* one transaction, on the broker's thread: its time is the stall a deletion costs */
	chat_broker__log(CHAT_LOG_NOTICE, "channel #%s (%lld events) deleted by %s, erased in %lld us",
			 ch->name, (long long)(ch->head - chat_retention__first(plugin, ch) + 1), who->user,
			 (long long)(chat_metrics__now_us() - t0));
	chat_index__remove_channel(&plugin->index, ch);
	return CHAT_ERR_OK;
}
