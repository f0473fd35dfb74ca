/*
 * retention.c - pruning and erasing events (see retention.h, schema/0012_retention.sql).
 *
 * Statements are prepared per call and finalized before returning, like the store's other side files:
 * these run at most a few times a second (retention) or on an admin's command (erase), never per send.
 * The search index needs no statement here: it lives in a file of its own, follows the log and drops
 * what the log no longer holds (store/search_store.h); a search never returns a pruned message. Mentions and
 * push queue rows have no trigger on events (each would cost every append), so they are deleted here, by the
 * same seq range.
 */
#include <sqlite3.h>
#include <stdint.h>

#include "sql.h"
#include "retention.h"


/* Runs sql with ?1 = a and ?2 = b (when the statement has them) to completion. */
static enum chat_err run(sqlite3 *db, const char *sql, int64_t a, int64_t b, struct chat_error *err,
			 const char *doing)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	if(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) {
		sqlite3_finalize(stmt);
		return chat_sql__error(db, err, doing);
	}
	if(sqlite3_bind_parameter_count(stmt) >= 1) {
		sqlite3_bind_int64(stmt, 1, a);
	}
	if(sqlite3_bind_parameter_count(stmt) >= 2) {
		sqlite3_bind_int64(stmt, 2, b);
	}
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? CHAT_ERR_OK : chat_sql__error(db, err, doing);
}


enum chat_err chat_retention_store__load(struct chat_store *store,
					 bool (*cb)(const struct chat_retention_row *row, void *ctx),
					 void *ctx, struct chat_error *err)
{
	sqlite3 *db = chat_store__db(store);
	sqlite3_stmt *stmt = NULL;
	int rc;

	if(sqlite3_prepare_v2(db,
			      "SELECT channel_id, COALESCE(days, -1), COALESCE(count, -1), first_seq "
			      "FROM channel_retention",
			      -1, &stmt, NULL)
	   != SQLITE_OK) {
		sqlite3_finalize(stmt);
		return chat_sql__error(db, err, "reading retention policies");
	}
	while((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct chat_retention_row row = {
			.channel = sqlite3_column_int64(stmt, 0),
			.days = sqlite3_column_int64(stmt, 1),
			.count = sqlite3_column_int64(stmt, 2),
			.first = sqlite3_column_int64(stmt, 3),
		};
		if(!cb(&row, ctx)) {
			sqlite3_finalize(stmt);
			return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
		}
	}
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? CHAT_ERR_OK : chat_sql__error(db, err, "reading retention policies");
}


enum chat_err chat_retention_store__set(struct chat_store *store, int64_t channel, int64_t days,
					int64_t count, struct chat_error *err)
{
	sqlite3 *db = chat_store__db(store);
	sqlite3_stmt *stmt = NULL;
	int rc;

	if(sqlite3_prepare_v2(db,
			      "INSERT INTO channel_retention (channel_id, days, count) VALUES (?1, ?2, ?3) "
			      "ON CONFLICT (channel_id) DO UPDATE SET days = ?2, count = ?3",
			      -1, &stmt, NULL)
	   != SQLITE_OK) {
		sqlite3_finalize(stmt);
		return chat_sql__error(db, err, "storing a retention policy");
	}
	sqlite3_bind_int64(stmt, 1, channel);
	if(days >= 0) {
		sqlite3_bind_int64(stmt, 2, days);
	}
	if(count >= 0) {
		sqlite3_bind_int64(stmt, 3, count);
	}
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? CHAT_ERR_OK : chat_sql__error(db, err, "storing a retention policy");
}


enum chat_err chat_retention_store__age_cut(struct chat_store *store, int64_t channel, int64_t first,
					    int64_t max, int64_t cutoff_ms, int64_t *cut,
					    struct chat_error *err)
{
	sqlite3 *db = chat_store__db(store);
	sqlite3_stmt *stmt = NULL;
	int rc;

	/* A primary-key range of at most max rows, whatever the log's length: ts has no index, and
	 * needs none, since it grows with seq. */
	if(sqlite3_prepare_v2(db,
			      "SELECT COALESCE(MIN(seq), ?2 + ?3) FROM events "
			      "WHERE channel_id = ?1 AND seq >= ?2 AND seq < ?2 + ?3 AND ts >= ?4",
			      -1, &stmt, NULL)
	   != SQLITE_OK) {
		sqlite3_finalize(stmt);
		return chat_sql__error(db, err, "finding old events");
	}
	sqlite3_bind_int64(stmt, 1, channel);
	sqlite3_bind_int64(stmt, 2, first);
	sqlite3_bind_int64(stmt, 3, max);
	sqlite3_bind_int64(stmt, 4, cutoff_ms);
	rc = sqlite3_step(stmt);
	*cut = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : first;
	sqlite3_finalize(stmt);
	return rc == SQLITE_ROW ? CHAT_ERR_OK : chat_sql__error(db, err, "finding old events");
}


/* The first int64 of sql's first row with ?1 = channel, ?2 = first, ?3 = user, or dflt. */
static enum chat_err one_int(sqlite3 *db, const char *sql, int64_t channel, int64_t first, const char *user,
			     int64_t dflt, int64_t *out, struct chat_error *err)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	if(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) {
		sqlite3_finalize(stmt);
		return chat_sql__error(db, err, "counting unread messages");
	}
	sqlite3_bind_int64(stmt, 1, channel);
	sqlite3_bind_int64(stmt, 2, first);
	if(sqlite3_bind_parameter_count(stmt) >= 3) {
		sqlite3_bind_text(stmt, 3, user, -1, SQLITE_STATIC);
	}
	rc = sqlite3_step(stmt);
	*out = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : dflt;
	sqlite3_finalize(stmt);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? CHAT_ERR_OK
						     : chat_sql__error(db, err, "counting unread messages");
}


enum chat_err chat_retention_store__before_first(struct chat_store *store, int64_t channel, int64_t first,
						 const char *user, int64_t *all, int64_t *mine,
						 struct chat_error *err)
{
	sqlite3 *db = chat_store__db(store);

	/* msg_no is on every event (0004): the first kept row's, less itself if a message. The author's
	 * first kept message (events_by_author) numbers the author's pruned ones. */
	if(one_int(db, "SELECT msg_no - (type = 'message') FROM events WHERE channel_id = ?1 AND seq = ?2",
		   channel, first, NULL, 0, all, err)
		   != CHAT_ERR_OK
	   || one_int(db,
		      "SELECT author_msg_no - 1 FROM events WHERE channel_id = ?1 AND author = ?3 "
		      "AND type = 'message' AND seq >= ?2 ORDER BY seq LIMIT 1",
		      channel, first, user, -1, mine, err)
		      != CHAT_ERR_OK) {
		return err->code;
	}
	return CHAT_ERR_OK;
}


/* The statements of a prune, in order, each with ?1 = channel and ?2 = cut. */
static const char *const prune_sql[] = {
	"INSERT OR REPLACE INTO prune_allowed (channel_id, below) VALUES (?1, ?2)",
	"DELETE FROM events WHERE channel_id = ?1 AND seq < ?2",
	"DELETE FROM mentions WHERE channel_id = ?1 AND msg_seq < ?2",
	"DELETE FROM push_queue WHERE channel_id = ?1 AND seq < ?2",
	"INSERT INTO channel_retention (channel_id, first_seq) VALUES (?1, ?2) "
	"ON CONFLICT (channel_id) DO UPDATE SET first_seq = ?2",
	"DELETE FROM prune_allowed WHERE channel_id = ?1",
};


enum chat_err chat_retention_store__prune(struct chat_store *store, int64_t channel, int64_t first,
					  int64_t cut, int64_t *rows, struct chat_error *err)
{
	sqlite3 *db = chat_store__db(store);

	*rows = 0;
	if(cut <= first) {
		return CHAT_ERR_OK;
	}
	/* lazy: a batch a crash undoes is pruned again, and its fsync would stall the chat's sends */
	if(chat_store__begin_lazy(store, err) != CHAT_ERR_OK) {
		return err->code;
	}
	for(size_t i = 0; i < sizeof(prune_sql) / sizeof(prune_sql[0]); i++) {
		if(run(db, prune_sql[i], channel, cut, err, "pruning old events") != CHAT_ERR_OK) {
			chat_store__rollback(store);
			return err->code;
		}
		if(i == 1) {
			*rows = sqlite3_changes(db);
		}
	}
	return chat_store__commit(store, err);
}


/* The statements of an erase, in order, each with ?1 = channel. Members go before their side rows'
 * triggers would miss them (0010, 0011 delete a leaver's levels and push rows). */
static const char *const erase_sql[] = {
	"INSERT OR REPLACE INTO prune_allowed (channel_id, below) VALUES (?1, 9223372036854775807)",
	"DELETE FROM events WHERE channel_id = ?1",
	"DELETE FROM mentions WHERE channel_id = ?1",
	"DELETE FROM members WHERE channel_id = ?1",
	"DELETE FROM notify_levels WHERE channel_id = ?1",
	"DELETE FROM push_queue WHERE channel_id = ?1",
	"DELETE FROM read_cursors WHERE channel_id = ?1",
	"DELETE FROM delivered_cursors WHERE channel_id = ?1",
	"DELETE FROM channel_retention WHERE channel_id = ?1",
	"DELETE FROM prune_allowed WHERE channel_id = ?1",
	"DELETE FROM channels WHERE id = ?1",
};


enum chat_err chat_retention_store__erase_channel(struct chat_store *store, int64_t channel,
						  struct chat_error *err)
{
	sqlite3 *db = chat_store__db(store);

	if(chat_store__begin(store, err) != CHAT_ERR_OK) {
		return err->code;
	}
	for(size_t i = 0; i < sizeof(erase_sql) / sizeof(erase_sql[0]); i++) {
		if(run(db, erase_sql[i], channel, 0, err, "erasing a channel") != CHAT_ERR_OK) {
			chat_store__rollback(store);
			return err->code;
		}
	}
	return chat_store__commit(store, err);
}
