/*
 * attention_store.c - the queries of mentions, notification levels and threads.
 *
 * Plans (checked with EXPLAIN QUERY PLAN on SQLite 3.40):
 * - an inbox entry's mention count: a range of mentions_by_user for (channel, me) and one for
 *   (channel, '') above the read cursor, so it costs the unread mentions, not the log;
 * - the `mentions` op: the same ranges in each of my channels below before_ts, sorted by ts (a temp
 *   b-tree over my mentions in those channels), then a primary-key lookup per event returned;
 * - a thread page: events_by_target gives the root's replies, and for each reply what targets it, all
 *   from the index (seq is part of its key); only the page's events are then read from the log;
 * - a thread's summary: the replies again, each with a lookup of its ts and a probe for a delete.
 * Statements are prepared per request: each of these requests costs far more than a prepare, except
 * the inbox's, which prepares once per `channels` request (chat_inbox_reader).
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "sql.h"
#include "attention_store.h"

static const char *const level_names[] = {
	[CHAT_NOTIFY_ALL] = "all",
	[CHAT_NOTIFY_MENTIONS] = "mentions",
	[CHAT_NOTIFY_NONE] = "none",
};

static const char set_level_sql[] = "INSERT INTO notify_levels (channel_id, user, level) VALUES (?1, ?2, ?3)"
				    " ON CONFLICT (channel_id, user) DO UPDATE SET level = excluded.level";
static const char delete_level_sql[] = "DELETE FROM notify_levels WHERE channel_id = ?1 AND user = ?2";
static const char get_level_sql[] = "SELECT level FROM notify_levels WHERE channel_id = ?1 AND user = ?2";

static const char count_mentions_sql[] =
	"SELECT count(DISTINCT event_seq) FROM mentions WHERE channel_id = ?1 AND user IN (?2, '')"
	" AND event_seq > ?3 AND author != ?2";

static const char mentions_of_sql[] =
	"SELECT m.channel_id, m.event_seq, m.ts, e.json FROM"
	" (SELECT DISTINCT channel_id, event_seq, ts FROM mentions"
	"  WHERE channel_id IN (SELECT value FROM json_each(?1)) AND user IN (?2, '') AND author != ?2"
	"  AND ts < ?3 ORDER BY ts DESC, channel_id DESC, event_seq DESC LIMIT ?4) AS m"
	" JOIN events AS e ON e.channel_id = m.channel_id AND e.seq = m.event_seq"
	" ORDER BY m.ts DESC, m.channel_id DESC, m.event_seq DESC";

/* Replies have type 'message' and target = root; what acts on a reply targets the reply's seq. A reply
 * to a reply cannot exist (send.c refuses it), so "type != 'message'" only states the intent.
 * Without statistics the planner drives the second arm from the primary key (every event of the
 * channel above since, each probed for being a reply) and the summary from a scan of the channel:
 * CROSS JOIN and INDEXED BY keep both to the thread's own rows. */
static const char thread_events_sql[] =
	"SELECT t.seq, e.ts, e.json FROM"
	" (SELECT seq FROM events WHERE channel_id = ?1 AND target = ?2 AND type = 'message' AND seq > ?3"
	"  UNION ALL"
	"  SELECT a.seq FROM events AS r INDEXED BY events_by_target"
	"  CROSS JOIN events AS a INDEXED BY events_by_target ON a.channel_id = r.channel_id AND a.target = "
	"r.seq"
	"  WHERE r.channel_id = ?1 AND r.target = ?2 AND r.type = 'message' AND a.type != 'message'"
	"  AND a.seq > ?3"
	"  ORDER BY 1 LIMIT ?4) AS t"
	" JOIN events AS e ON e.channel_id = ?1 AND e.seq = t.seq ORDER BY t.seq";

static const char thread_summary_sql[] =
	"SELECT count(*), COALESCE(max(r.ts), 0) FROM events AS r INDEXED BY events_by_target"
	" WHERE r.channel_id = ?1 AND r.target = ?2 AND r.type = 'message'"
	" AND NOT EXISTS (SELECT 1 FROM events AS d WHERE d.channel_id = r.channel_id AND d.target = r.seq"
	"                 AND d.type = 'delete')";


const char *chat_notify_level__name(enum chat_notify_level level)
{
	return level_names[level];
}


bool chat_notify_level__parse(const char *name, enum chat_notify_level *out)
{
	for(size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if(strcmp(name, level_names[i]) == 0) {
			*out = (enum chat_notify_level)i;
			return true;
		}
	}
	return false;
}


enum chat_err chat_store__set_notify_level(struct chat_store *store, int64_t channel, const char *user,
					   enum chat_notify_level level, struct chat_error *err)
{
	sqlite3 *db = chat_store__db(store);
	sqlite3_stmt *stmt = NULL;
	int rc;

	if(chat_sql__prepare(db, level == CHAT_NOTIFY_ALL ? delete_level_sql : set_level_sql, &stmt, err,
			     "storing a notification level")
	   != CHAT_ERR_OK) {
		return err->code;
	}
	sqlite3_bind_int64(stmt, 1, channel);
	sqlite3_bind_text(stmt, 2, user, -1, SQLITE_STATIC);
	if(level != CHAT_NOTIFY_ALL) {
		sqlite3_bind_text(stmt, 3, level_names[level], -1, SQLITE_STATIC);
	}
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? CHAT_ERR_OK : chat_sql__error(db, err, "storing a notification level");
}


struct chat_inbox_reader {
	sqlite3 *db;
	sqlite3_stmt *count, *level;
};


enum chat_err chat_inbox_reader__open(struct chat_store *store, struct chat_inbox_reader **out,
				      struct chat_error *err)
{
	struct chat_inbox_reader *r = calloc(1, sizeof(*r));

	*out = NULL;
	if(r == NULL) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	r->db = chat_store__db(store);
	if(chat_sql__prepare(r->db, count_mentions_sql, &r->count, err, "counting mentions") != CHAT_ERR_OK
	   || chat_sql__prepare(r->db, get_level_sql, &r->level, err, "reading notification levels")
		      != CHAT_ERR_OK) {
		chat_inbox_reader__close(r);
		return err->code;
	}
	*out = r;
	return CHAT_ERR_OK;
}


enum chat_err chat_inbox_reader__read(struct chat_inbox_reader *r, int64_t channel, const char *user,
				      int64_t read_seq, int64_t *mentions, enum chat_notify_level *level,
				      struct chat_error *err)
{
	int rc;

	*mentions = 0;
	*level = CHAT_NOTIFY_ALL;
	sqlite3_bind_int64(r->count, 1, channel);
	sqlite3_bind_text(r->count, 2, user, -1, SQLITE_STATIC);
	sqlite3_bind_int64(r->count, 3, read_seq);
	rc = sqlite3_step(r->count);
	if(rc == SQLITE_ROW) {
		*mentions = sqlite3_column_int64(r->count, 0);
	}
	sqlite3_reset(r->count);
	if(rc != SQLITE_ROW) {
		return chat_sql__error(r->db, err, "counting mentions");
	}
	sqlite3_bind_int64(r->level, 1, channel);
	sqlite3_bind_text(r->level, 2, user, -1, SQLITE_STATIC);
	rc = sqlite3_step(r->level);
	if(rc == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(r->level, 0);
		if(name == NULL || !chat_notify_level__parse(name, level)) {
			*level = CHAT_NOTIFY_ALL; /* the CHECK constraint admits no other value */
		}
	}
	sqlite3_reset(r->level);
	if(rc != SQLITE_ROW && rc != SQLITE_DONE) {
		return chat_sql__error(r->db, err, "reading notification levels");
	}
	return CHAT_ERR_OK;
}


void chat_inbox_reader__close(struct chat_inbox_reader *r)
{
	if(r != NULL) {
		sqlite3_finalize(r->count);
		sqlite3_finalize(r->level);
		free(r);
	}
}


/* Steps stmt (bound) calling cb with (channel column or fixed channel, seq, ts, json) until it ends or
 * cb says stop. Columns: channel_col (or -1 for fixed_channel), then seq, ts, json in seq_col.. */
static enum chat_err each_row(sqlite3 *db, sqlite3_stmt *stmt, int channel_col, int64_t fixed_channel,
			      int seq_col, chat_attention_event_cb cb, void *ctx, struct chat_error *err)
{
	int rc;

	while((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *json = (const char *)sqlite3_column_text(stmt, seq_col + 2);
		size_t len = (size_t)sqlite3_column_bytes(stmt, seq_col + 2);
		int64_t channel = channel_col >= 0 ? sqlite3_column_int64(stmt, channel_col) : fixed_channel;
		if(json == NULL) {
			return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
		}
		if(!cb(channel, sqlite3_column_int64(stmt, seq_col), sqlite3_column_int64(stmt, seq_col + 1),
		       json, len, ctx)) {
			return CHAT_ERR_OK;
		}
	}
	return rc == SQLITE_DONE ? CHAT_ERR_OK : chat_sql__error(db, err, "reading the log");
}


enum chat_err chat_store__mentions_of(struct chat_store *store, const char *channels_json, const char *user,
				      int64_t before_ts, int64_t limit, chat_attention_event_cb cb, void *ctx,
				      struct chat_error *err)
{
	sqlite3 *db = chat_store__db(store);
	sqlite3_stmt *stmt = NULL;
	enum chat_err rc;

	if(chat_sql__prepare(db, mentions_of_sql, &stmt, err, "reading mentions") != CHAT_ERR_OK) {
		return err->code;
	}
	sqlite3_bind_text(stmt, 1, channels_json, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, user, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, before_ts);
	sqlite3_bind_int64(stmt, 4, limit);
	/* columns: channel_id, seq, ts, json */
	rc = each_row(db, stmt, 0, 0, 1, cb, ctx, err);
	sqlite3_finalize(stmt);
	return rc;
}


enum chat_err chat_store__thread_events(struct chat_store *store, int64_t channel, int64_t root,
					int64_t since, int64_t limit, chat_attention_event_cb cb, void *ctx,
					struct chat_error *err)
{
	sqlite3 *db = chat_store__db(store);
	sqlite3_stmt *stmt = NULL;
	enum chat_err rc;

	if(chat_sql__prepare(db, thread_events_sql, &stmt, err, "reading a thread") != CHAT_ERR_OK) {
		return err->code;
	}
	sqlite3_bind_int64(stmt, 1, channel);
	sqlite3_bind_int64(stmt, 2, root);
	sqlite3_bind_int64(stmt, 3, since);
	sqlite3_bind_int64(stmt, 4, limit);
	/* columns: seq, ts, json */
	rc = each_row(db, stmt, -1, channel, 0, cb, ctx, err);
	sqlite3_finalize(stmt);
	return rc;
}


enum chat_err chat_store__thread_summary(struct chat_store *store, int64_t channel, int64_t root,
					 int64_t *count, int64_t *last_ts, struct chat_error *err)
{
	sqlite3 *db = chat_store__db(store);
	sqlite3_stmt *stmt = NULL;
	int rc;

	*count = 0;
	*last_ts = 0;
	if(chat_sql__prepare(db, thread_summary_sql, &stmt, err, "reading a thread") != CHAT_ERR_OK) {
		return err->code;
	}
	sqlite3_bind_int64(stmt, 1, channel);
	sqlite3_bind_int64(stmt, 2, root);
	rc = sqlite3_step(stmt);
	if(rc == SQLITE_ROW) {
		*count = sqlite3_column_int64(stmt, 0);
		*last_ts = sqlite3_column_int64(stmt, 1);
	}
	sqlite3_finalize(stmt);
	return rc == SQLITE_ROW ? CHAT_ERR_OK : chat_sql__error(db, err, "reading a thread");
}
