/*
 * push_store.c - the queries of push hand-off (see push_store.h and schema/0011_push.sql).
 *
 * Plans: the hand-off is one primary-key probe of notify_levels, at most one of mentions (level
 * "mentions" only), a range of pushers' (user, pushkey) index, and an upsert per pusher on
 * push_queue's primary key. The worker's due query walks push_queue_by_due from its start; the unread
 * count is a range of the events' primary key above the read cursor, capped.
 */
#include <sqlite3.h>
#include <stdint.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sql.h"
#include "push_store.h"

static const char set_sql[] =
	"INSERT INTO pushers (user, app_id, pushkey, data, ts) VALUES (?1, ?2, ?3, ?4, ?5)"
	" ON CONFLICT (user, pushkey) DO UPDATE SET app_id = excluded.app_id, data = excluded.data,"
	" ts = excluded.ts";
static const char delete_sql[] = "DELETE FROM pushers WHERE user = ?1 AND pushkey = ?2";
static const char list_sql[] =
	"SELECT app_id, pushkey, data, ts FROM pushers WHERE user = ?1 ORDER BY pushkey";
static const char users_sql[] = "SELECT DISTINCT user FROM pushers";

/* The level test of the contract: all -> every message; mentions -> messages naming the user or
 * everyone, and direct messages (0010's triggers write both into mentions); none -> nothing. */
static const char enqueue_sql[] =
	"INSERT INTO push_queue (pusher_id, channel_id, seq, first_ms, attempts, due_ms)"
	" SELECT p.id, ?1, ?2, ?3, 0, ?3 FROM pushers AS p"
	" WHERE p.user = ?4 AND CASE COALESCE((SELECT level FROM notify_levels"
	"                                      WHERE channel_id = ?1 AND user = ?4), 'all')"
	"   WHEN 'all' THEN 1"
	"   WHEN 'mentions' THEN EXISTS (SELECT 1 FROM mentions WHERE channel_id = ?1 AND msg_seq = ?2"
	"                                AND user IN (?4, ''))"
	"   ELSE 0 END"
	" ON CONFLICT (pusher_id, channel_id) DO UPDATE SET seq = seq"; /* counted: the row waits */

static const char due_sql[] =
	"SELECT q.pusher_id, q.channel_id, q.seq, q.first_ms, q.attempts, p.user, p.app_id, p.pushkey, "
	"p.data,"
	" p.ts, c.name FROM push_queue AS q"
	" JOIN pushers AS p ON p.id = q.pusher_id JOIN channels AS c ON c.id = q.channel_id"
	" WHERE q.due_ms <= ?1 ORDER BY q.due_ms LIMIT ?2";
/* The newest message from seq ?3 up that user ?2's level in channel ?1 lets through, or NULL: what a
 * waiting row stands for (the hand-off writes a row once; later messages ride on it). Both arms walk
 * an index backwards from the channel's end and stop at the first hit. */
static const char eligible_sql[] =
	"SELECT CASE COALESCE((SELECT level FROM notify_levels WHERE channel_id = ?1 AND user = ?2), 'all')"
	" WHEN 'all' THEN (SELECT seq FROM events WHERE channel_id = ?1 AND seq >= ?3 AND type = 'message'"
	"                  AND author != ?2 ORDER BY seq DESC LIMIT 1)"
	" WHEN 'mentions' THEN (SELECT msg_seq FROM mentions WHERE channel_id = ?1 AND user IN (?2, '')"
	"                       AND msg_seq >= ?3 AND author != ?2 ORDER BY msg_seq DESC LIMIT 1)"
	" END";
static const char json_sql[] = "SELECT json FROM events WHERE channel_id = ?1 AND seq = ?2";
/* An unread count past 9999 is shown as 9999: the badge says "many", and the count stays cheap. */
static const char unread_sql[] =
	"SELECT count(*) FROM (SELECT 1 FROM events WHERE channel_id = ?1"
	" AND seq > COALESCE((SELECT seq FROM read_cursors WHERE channel_id = ?1 AND user = ?2), 0)"
	" AND type = 'message' AND author != ?2 LIMIT 9999)";
static const char done_sql[] = "DELETE FROM push_queue WHERE pusher_id = ?1 AND channel_id = ?2";
static const char again_sql[] = "UPDATE push_queue SET seq = ?3, attempts = 0, due_ms = ?4, first_ms = ?4"
				" WHERE pusher_id = ?1 AND channel_id = ?2";
static const char retry_sql[] =
	"UPDATE push_queue SET attempts = attempts + 1, due_ms = ?3 WHERE pusher_id = ?1 AND channel_id = ?2";
static const char reject_sql[] = "DELETE FROM pushers WHERE id = ?1";
static const char pending_sql[] =
	"SELECT count(*), COALESCE(min(due_ms), 9223372036854775807) FROM push_queue";


/* Runs a statement that returns no row, then finalizes it. */
static enum chat_err run_once(sqlite3 *db, sqlite3_stmt *stmt, struct chat_error *err, const char *doing)
{
	int rc = sqlite3_step(stmt);

	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? CHAT_ERR_OK : chat_sql__error(db, err, doing);
}


enum chat_err chat_push_store__set(struct chat_store *store, const char *user, const char *app_id,
				   const char *pushkey, const char *data, int64_t ts_s,
				   struct chat_error *err)
{
	sqlite3 *db = chat_store__db(store);
	sqlite3_stmt *stmt = NULL;

	if(chat_sql__prepare(db, set_sql, &stmt, err, "storing a pusher") != CHAT_ERR_OK) {
		return err->code;
	}
	sqlite3_bind_text(stmt, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, app_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, pushkey, -1, SQLITE_STATIC);
	if(data != NULL) {
		sqlite3_bind_text(stmt, 4, data, -1, SQLITE_STATIC);
	}
	sqlite3_bind_int64(stmt, 5, ts_s);
	return run_once(db, stmt, err, "storing a pusher");
}


enum chat_err chat_push_store__delete(struct chat_store *store, const char *user, const char *pushkey,
				      bool *found, struct chat_error *err)
{
	sqlite3 *db = chat_store__db(store);
	sqlite3_stmt *stmt = NULL;

	*found = false;
	if(chat_sql__prepare(db, delete_sql, &stmt, err, "deleting a pusher") != CHAT_ERR_OK) {
		return err->code;
	}
	sqlite3_bind_text(stmt, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, pushkey, -1, SQLITE_STATIC);
	if(run_once(db, stmt, err, "deleting a pusher") != CHAT_ERR_OK) {
		return err->code;
	}
	*found = sqlite3_changes(db) > 0;
	return CHAT_ERR_OK;
}


enum chat_err chat_push_store__list(struct chat_store *store, const char *user, chat_pusher_cb cb, void *ctx,
				    struct chat_error *err)
{
	sqlite3 *db = chat_store__db(store);
	sqlite3_stmt *stmt = NULL;
	int rc;

	if(chat_sql__prepare(db, list_sql, &stmt, err, "listing pushers") != CHAT_ERR_OK) {
		return err->code;
	}
	sqlite3_bind_text(stmt, 1, user, -1, SQLITE_STATIC);
	while((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if(cb((const char *)sqlite3_column_text(stmt, 0), (const char *)sqlite3_column_text(stmt, 1),
		      (const char *)sqlite3_column_text(stmt, 2), sqlite3_column_int64(stmt, 3), ctx)
		   != 0) {
			sqlite3_finalize(stmt);
			return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
		}
	}
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? CHAT_ERR_OK : chat_sql__error(db, err, "listing pushers");
}


enum chat_err chat_push_store__each_user(struct chat_store *store, int (*cb)(const char *user, void *ctx),
					 void *ctx, struct chat_error *err)
{
	sqlite3 *db = chat_store__db(store);
	sqlite3_stmt *stmt = NULL;
	int rc;

	if(chat_sql__prepare(db, users_sql, &stmt, err, "reading pushers") != CHAT_ERR_OK) {
		return err->code;
	}
	while((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if(cb((const char *)sqlite3_column_text(stmt, 0), ctx) != 0) {
			sqlite3_finalize(stmt);
			return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
		}
	}
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? CHAT_ERR_OK : chat_sql__error(db, err, "reading pushers");
}


struct chat_push_enqueuer {
	sqlite3 *db;
	sqlite3_stmt *stmt;
};


enum chat_err chat_push_enqueuer__new(struct chat_store *store, struct chat_push_enqueuer **out,
				      struct chat_error *err)
{
	struct chat_push_enqueuer *q = calloc(1, sizeof(*q));

	*out = NULL;
	if(q == NULL) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	q->db = chat_store__db(store);
	if(chat_sql__prepare(q->db, enqueue_sql, &q->stmt, err, "preparing the push hand-off")
	   != CHAT_ERR_OK) {
		free(q);
		return err->code;
	}
	*out = q;
	return CHAT_ERR_OK;
}


void chat_push_enqueuer__free(struct chat_push_enqueuer *q)
{
	if(q != NULL) {
		sqlite3_finalize(q->stmt);
		free(q);
	}
}


enum chat_err chat_push_enqueuer__add(struct chat_push_enqueuer *q, int64_t channel, int64_t seq,
				      const char *user, int64_t now_ms, int *queued, struct chat_error *err)
{
	int rc;

	sqlite3_bind_int64(q->stmt, 1, channel);
	sqlite3_bind_int64(q->stmt, 2, seq);
	sqlite3_bind_int64(q->stmt, 3, now_ms);
	sqlite3_bind_text(q->stmt, 4, user, -1, SQLITE_STATIC);
	rc = sqlite3_step(q->stmt);
	*queued = rc == SQLITE_DONE ? sqlite3_changes(q->db) : 0;
	sqlite3_reset(q->stmt);
	sqlite3_clear_bindings(q->stmt);
	return rc == SQLITE_DONE ? CHAT_ERR_OK
				 : chat_sql__error(q->db, err, "handing a message off for push");
}


/* ---- the worker's connection ----------------------------------------------------------------- */

struct chat_push_db {
	sqlite3 *db;
	sqlite3_stmt *due, *eligible, *json, *unread, *done, *again, *retry, *reject, *pending;
};


void chat_push_db__close(struct chat_push_db *db)
{
	if(db == NULL) {
		return;
	}
	sqlite3_finalize(db->due);
	sqlite3_finalize(db->eligible);
	sqlite3_finalize(db->json);
	sqlite3_finalize(db->unread);
	sqlite3_finalize(db->done);
	sqlite3_finalize(db->again);
	sqlite3_finalize(db->retry);
	sqlite3_finalize(db->reject);
	sqlite3_finalize(db->pending);
	sqlite3_close(db->db);
	free(db);
}


int chat_push_db__open(const char *path, int busy_timeout_ms, struct chat_push_db **out, char *err,
		       size_t err_len)
{
	struct chat_push_db *db = calloc(1, sizeof(*db));
	struct chat_error e = {0};

	*out = NULL;
	if(db == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	if(sqlite3_open_v2(path, &db->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, err_len, "cannot open %s for push: %s", path,
			 db->db ? sqlite3_errmsg(db->db) : "out of memory");
		chat_push_db__close(db);
		return -1;
	}
	/* The broker's thread waits for this lock at most busy_timeout_ms; the worker's transactions
	 * hold it for microseconds (no fsync at normal), so a wait is short. */
	sqlite3_busy_timeout(db->db, busy_timeout_ms);
	if(sqlite3_exec(db->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK
	   || chat_sql__prepare(db->db, due_sql, &db->due, &e, "push") != CHAT_ERR_OK
	   || chat_sql__prepare(db->db, eligible_sql, &db->eligible, &e, "push") != CHAT_ERR_OK
	   || chat_sql__prepare(db->db, json_sql, &db->json, &e, "push") != CHAT_ERR_OK
	   || chat_sql__prepare(db->db, unread_sql, &db->unread, &e, "push") != CHAT_ERR_OK
	   || chat_sql__prepare(db->db, done_sql, &db->done, &e, "push") != CHAT_ERR_OK
	   || chat_sql__prepare(db->db, again_sql, &db->again, &e, "push") != CHAT_ERR_OK
	   || chat_sql__prepare(db->db, retry_sql, &db->retry, &e, "push") != CHAT_ERR_OK
	   || chat_sql__prepare(db->db, reject_sql, &db->reject, &e, "push") != CHAT_ERR_OK
	   || chat_sql__prepare(db->db, pending_sql, &db->pending, &e, "push") != CHAT_ERR_OK) {
		snprintf(err, err_len, "cannot prepare push queries: %s", sqlite3_errmsg(db->db));
		chat_push_db__close(db);
		return -1;
	}
	*out = db;
	return 0;
}


void chat_push_due__clear(struct chat_push_due *d)
{
	free(d->user);
	free(d->app_id);
	free(d->pushkey);
	free(d->data);
	free(d->room);
	free(d->event_json);
	memset(d, 0, sizeof(*d));
}


/* A copy of a text column, NULL for NULL; *oom set when the copy failed. */
static char *column_dup(sqlite3_stmt *stmt, int col, bool *oom)
{
	const unsigned char *text = sqlite3_column_text(stmt, col);
	char *copy;

	if(text == NULL) {
		return NULL;
	}
	copy = strdup((const char *)text);
	if(copy == NULL) {
		*oom = true;
	}
	return copy;
}


/* The newest message at or above from that d's user should hear of, 0 when none. -1 on error. */
static int64_t eligible_from(struct chat_push_db *db, const struct chat_push_due *d, int64_t from)
{
	int64_t seq = -1;

	sqlite3_bind_int64(db->eligible, 1, d->channel_id);
	sqlite3_bind_text(db->eligible, 2, d->user, -1, SQLITE_STATIC);
	sqlite3_bind_int64(db->eligible, 3, from);
	if(sqlite3_step(db->eligible) == SQLITE_ROW) {
		seq = sqlite3_column_int64(db->eligible, 0); /* NULL reads as 0 */
	}
	sqlite3_reset(db->eligible);
	return seq;
}


/* What d will say: its message (target_seq, event_json) and the unread count. */
static int fill_in(struct chat_push_db *db, struct chat_push_due *d)
{
	bool oom = false;
	int rc;

	d->target_seq = eligible_from(db, d, d->seq);
	if(d->target_seq < 0) {
		return -1;
	}
	if(d->target_seq == 0) {
		return 0; /* nothing to say any more (level changed, message erased): the row goes */
	}
	sqlite3_bind_int64(db->json, 1, d->channel_id);
	sqlite3_bind_int64(db->json, 2, d->target_seq);
	rc = sqlite3_step(db->json);
	if(rc == SQLITE_ROW) {
		d->event_json = column_dup(db->json, 0, &oom);
	}
	sqlite3_reset(db->json);
	if(oom || (rc != SQLITE_ROW && rc != SQLITE_DONE)) {
		return -1;
	}
	sqlite3_bind_int64(db->unread, 1, d->channel_id);
	sqlite3_bind_text(db->unread, 2, d->user, -1, SQLITE_STATIC);
	rc = sqlite3_step(db->unread);
	d->unread = rc == SQLITE_ROW ? sqlite3_column_int64(db->unread, 0) : 0;
	sqlite3_reset(db->unread);
	return rc == SQLITE_ROW ? 0 : -1;
}


int chat_push_db__due(struct chat_push_db *db, int64_t now_ms, struct chat_push_due *out, size_t max,
		      size_t *count)
{
	bool oom = false;
	size_t n = 0;
	int rc;

	*count = 0;
	sqlite3_bind_int64(db->due, 1, now_ms);
	sqlite3_bind_int64(db->due, 2, (int64_t)max);
	while(n < max && (rc = sqlite3_step(db->due)) == SQLITE_ROW) {
		struct chat_push_due *d = &out[n++];

		*d = (struct chat_push_due){
			.pusher_id = sqlite3_column_int64(db->due, 0),
			.channel_id = sqlite3_column_int64(db->due, 1),
			.seq = sqlite3_column_int64(db->due, 2),
			.first_ms = sqlite3_column_int64(db->due, 3),
			.attempts = sqlite3_column_int64(db->due, 4),
			.pushkey_ts = sqlite3_column_int64(db->due, 9),
		};
		d->user = column_dup(db->due, 5, &oom);
		d->app_id = column_dup(db->due, 6, &oom);
		d->pushkey = column_dup(db->due, 7, &oom);
		d->data = column_dup(db->due, 8, &oom);
		d->room = column_dup(db->due, 10, &oom);
		if(oom || d->user == NULL || d->app_id == NULL || d->pushkey == NULL || d->room == NULL) {
			oom = true;
			break;
		}
	}
	sqlite3_reset(db->due);
	for(size_t i = 0; i < n && !oom; i++) {
		if(fill_in(db, &out[i]) != 0) {
			oom = true;
		}
	}
	if(oom) {
		for(size_t i = 0; i < n; i++) {
			chat_push_due__clear(&out[i]);
		}
		return -1;
	}
	*count = n;
	return 0;
}


static int step_reset(sqlite3_stmt *stmt)
{
	int rc = sqlite3_step(stmt);

	sqlite3_reset(stmt);
	return rc == SQLITE_DONE ? 0 : -1;
}


/* A post of d is over (done or dropped): a newer message for its user that came meanwhile keeps the
 * row, due now; otherwise the row goes and cleared is told, inside the transaction (push_store.h). */
static int finish(struct chat_push_db *db, const struct chat_push_due *d, int64_t now_ms,
		  chat_push_cleared_cb cleared, void *ctx)
{
	int64_t from = (d->target_seq > 0 ? d->target_seq : d->seq - 1) + 1;
	int64_t newer = eligible_from(db, d, from);

	if(newer < 0) {
		return -1;
	}
	if(newer > 0) {
		sqlite3_bind_int64(db->again, 1, d->pusher_id);
		sqlite3_bind_int64(db->again, 2, d->channel_id);
		sqlite3_bind_int64(db->again, 3, from);
		sqlite3_bind_int64(db->again, 4, now_ms);
		return step_reset(db->again);
	}
	sqlite3_bind_int64(db->done, 1, d->pusher_id);
	sqlite3_bind_int64(db->done, 2, d->channel_id);
	if(step_reset(db->done) != 0) {
		return -1;
	}
	cleared(d->user, d->channel_id, ctx);
	return 0;
}


int chat_push_db__apply(struct chat_push_db *db, const struct chat_push_due *d,
			const enum chat_push_outcome *outcome, const int64_t *retry_at, const bool *rejected,
			size_t n, chat_push_cleared_cb cleared, void *ctx)
{
	struct timespec now;
	int64_t now_ms;
	int failed = 0;

	clock_gettime(CLOCK_REALTIME, &now);
	now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	if(sqlite3_exec(db->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		return -1;
	}
	for(size_t i = 0; i < n && failed == 0; i++) {
		if(outcome[i] == CHAT_PUSH_RETRY) {
			sqlite3_bind_int64(db->retry, 1, d[i].pusher_id);
			sqlite3_bind_int64(db->retry, 2, d[i].channel_id);
			sqlite3_bind_int64(db->retry, 3, retry_at[i]);
			failed = step_reset(db->retry);
		} else {
			failed = finish(db, &d[i], now_ms, cleared, ctx);
		}
		if(failed == 0 && rejected[i]) {
			sqlite3_bind_int64(db->reject, 1, d[i].pusher_id);
			failed = step_reset(db->reject); /* its rows go too (schema/0011_push.sql) */
			cleared(d[i].user, d[i].channel_id, ctx);
		}
	}
	if(failed != 0 || sqlite3_exec(db->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}


int chat_push_db__pending(struct chat_push_db *db, int64_t *count, int64_t *next_due_ms)
{
	int rc = sqlite3_step(db->pending);

	if(rc == SQLITE_ROW) {
		*count = sqlite3_column_int64(db->pending, 0);
		*next_due_ms = sqlite3_column_int64(db->pending, 1);
	}
	sqlite3_reset(db->pending);
	return rc == SQLITE_ROW ? 0 : -1;
}
