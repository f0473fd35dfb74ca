/*
 * search_store.c - the search index's file (see search_store.h): its schema, indexing, the query.
 *
 * SQL here, outside store.c, because this is another connection on another thread, on another file;
 * what it reads of the log is the events table's (channel_id, seq, id, type, author, ts, target, json)
 * columns and the channels table's (id, epoch).
 *
 * Shape of the index file:
 *   docs   one row per message indexed: where it is, who wrote it, when, its current text. doc, the
 *          integer key, is the message's ts in ms times DOC_PER_MS plus its rank among the messages of
 *          that millisecond: FTS5 yields rowids in order, so "newest first" is doc descending whatever
 *          order the channels were indexed in (a catch-up goes channel by channel), a search's cursor
 *          is a doc, and an edit keeps it.
 *   fts    FTS5 over docs (external content: snippet() reads the text from docs).
 *   marks  per channel: the last seq applied and the epoch it belongs to.
 * Triggers keep fts in step with docs; they run on the worker's thread, on this file only.
 *
 * The transaction of a pass is BEGIN (deferred), never IMMEDIATE: IMMEDIATE would take a write lock
 * on every attached database, the log's included. The log is attached with mode=ro, so nothing here
 * can ever write to it.
 */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "search_store.h"

#define LAYOUT_VERSION 1
#define DOC_PER_MS     4096 /* docs per millisecond of ts before one spills into the next ms's range */
#define BUSY_MS        5000
#define SNIPPET_TOKENS "24" /* at most this many tokens around the hits (FTS5 allows up to 64) */

/* columnsize = 0: results are ordered by doc, never ranked, so FTS5's per-document token counts (for
 * bm25) would be written for nothing. prefix = '3': a prefix query (at least 3 characters,
 * search_query.h) reads one posting list instead of merging those of every word it matches (p99
 * 150 ms -> a few ms on 1M messages, docs/benchmarks.md). */
static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS docs (doc INTEGER PRIMARY KEY, channel_id INTEGER NOT NULL,"
	" seq INTEGER NOT NULL, author TEXT NOT NULL, ts INTEGER NOT NULL, body TEXT NOT NULL);"
	"CREATE UNIQUE INDEX IF NOT EXISTS docs_by_message ON docs (channel_id, seq);"
	"CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(body, content = 'docs', content_rowid = 'doc',"
	" tokenize = 'unicode61 remove_diacritics 2', columnsize = 0, prefix = '3');"
	"CREATE TABLE IF NOT EXISTS marks (channel_id INTEGER PRIMARY KEY, epoch TEXT NOT NULL,"
	" seq INTEGER NOT NULL);"
	"CREATE TRIGGER IF NOT EXISTS docs_insert AFTER INSERT ON docs BEGIN"
	" INSERT INTO fts (rowid, body) VALUES (NEW.doc, NEW.body); END;"
	"CREATE TRIGGER IF NOT EXISTS docs_delete AFTER DELETE ON docs BEGIN"
	" INSERT INTO fts (fts, rowid, body) VALUES ('delete', OLD.doc, OLD.body); END;"
	"CREATE TRIGGER IF NOT EXISTS docs_update AFTER UPDATE OF body ON docs BEGIN"
	" INSERT INTO fts (fts, rowid, body) VALUES ('delete', OLD.doc, OLD.body);"
	" INSERT INTO fts (rowid, body) VALUES (NEW.doc, NEW.body); END;";

enum stmt_id {
	S_HEADS,
	S_HEAD,
	S_EVENTS,
	S_NEXT_DOC,
	S_INSERT,
	S_EDIT,
	S_DELETE,
	S_DROP_CHANNEL,
	S_MARK,
	S_UNMARK,
	S_GONE,
	S_PRUNED,
	S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
	[S_HEADS] = "SELECT c.id, c.epoch, COALESCE((SELECT max(seq) FROM log.events WHERE channel_id = "
		    "c.id), 0),"
		    " m.seq, m.epoch FROM log.channels AS c LEFT JOIN main.marks AS m ON m.channel_id = c.id",
	[S_HEAD] = "SELECT c.id, c.epoch, COALESCE((SELECT max(seq) FROM log.events WHERE channel_id = "
		   "c.id), 0),"
		   " m.seq, m.epoch FROM log.channels AS c LEFT JOIN main.marks AS m ON m.channel_id = c.id"
		   " WHERE c.id = ?1",
	[S_EVENTS] = "SELECT seq, type, author, ts, target, json_extract(json, '$.body'),"
		     " json_extract(json, '$.deleted') IS 1"
		     " FROM log.events WHERE channel_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
	[S_NEXT_DOC] = "SELECT COALESCE(max(doc) + 1, ?1) FROM main.docs WHERE doc >= ?1 AND doc < ?1 + ?2",
	[S_INSERT] = "INSERT OR IGNORE INTO main.docs (doc, channel_id, seq, author, ts, body)"
		     " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[S_EDIT] = "UPDATE main.docs SET body = ?3 WHERE channel_id = ?1 AND seq = ?2",
	[S_DELETE] = "DELETE FROM main.docs WHERE channel_id = ?1 AND seq = ?2",
	[S_DROP_CHANNEL] = "DELETE FROM main.docs WHERE channel_id = ?1",
	[S_MARK] = "INSERT INTO main.marks (channel_id, epoch, seq) VALUES (?1, ?2, ?3)"
		   " ON CONFLICT (channel_id) DO UPDATE SET epoch = excluded.epoch, seq = excluded.seq",
	[S_UNMARK] = "DELETE FROM main.marks WHERE channel_id = ?1",
	[S_GONE] = "SELECT channel_id FROM main.marks WHERE channel_id NOT IN (SELECT id FROM log.channels)",
	/* a channel with every event pruned has no min: all its documents go */
	[S_PRUNED] = "DELETE FROM main.docs WHERE channel_id = ?1 AND seq < COALESCE((SELECT min(seq) FROM"
		     " log.events WHERE channel_id = ?1), 9223372036854775807)",
};

/* The query: FTS5 yields the matching docs in descending order below the cursor (it consumes the rowid
 * bound and the ORDER BY); each is looked up in docs and filtered there (the asker's channels, author,
 * time), then in the log by its key: only a message the log still holds, not deleted, passes, with
 * its current text (its latest edit's, or its own). The edit lookup must use events_by_target: the
 * "target IS NOT NULL" lets the planner use that partial index, and "+x.seq" keeps it from walking
 * the channel's whole primary key instead for the ORDER BY (5 ms per hit at 12,000 events). */
static const char search_sql[] =
	"SELECT d.doc, d.channel_id, d.seq, e.id, d.author, d.ts,"
	" COALESCE((SELECT json_extract(x.json, '$.body') FROM log.events AS x "
	"WHERE x.channel_id = d.channel_id"
	" AND x.target = d.seq AND x.type = 'edit' AND x.target IS NOT NULL ORDER BY +x.seq DESC LIMIT 1),"
	" json_extract(e.json, '$.body'), ''),"
	" snippet(fts, 0, '«', '»', '…', " SNIPPET_TOKENS ")"
	" FROM fts JOIN main.docs AS d ON d.doc = fts.rowid"
	" JOIN log.events AS e ON e.channel_id = d.channel_id AND e.seq = d.seq"
	" WHERE fts MATCH ?1 AND fts.rowid < ?2"
	" AND d.channel_id IN (SELECT value FROM json_each(?3))"
	" AND d.ts > ?4 AND d.ts < ?5 AND (?6 IS NULL OR d.author = ?6)"
	" AND e.type = 'message' AND json_extract(e.json, '$.deleted') IS NOT 1"
	" ORDER BY fts.rowid DESC LIMIT ?7";

struct chat_search_db {
	sqlite3 *db;
	sqlite3_stmt *stmt[S_COUNT];
};

/* A channel as a pass sees it. */
struct head {
	int64_t id, head, mark;
	char *epoch;
	bool reset;   /* its documents and watermark go first: another epoch, or the log lost its tail */
	int64_t last; /* the last seq a pass read (mark when none) */
	size_t rows;  /* the rows to apply it read (struct batch) */
};


char *chat_search_db__path(const char *log_path)
{
	size_t len = strlen(log_path);
	char *path = malloc(len + sizeof("-search"));

	if(path != NULL) {
		memcpy(path, log_path, len);
		memcpy(path + len, "-search", sizeof("-search"));
	}
	return path;
}


/* "file:<path>?mode=ro" with the characters a URI path may not hold as they are percent-encoded. */
static char *readonly_uri(const char *path)
{
	char *uri = malloc(strlen(path) * 3 + sizeof("file:?mode=ro"));
	size_t n = 0;

	if(uri == NULL) {
		return NULL;
	}
	n += (size_t)sprintf(uri, "file:");
	for(const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if(*p == '%' || *p == '?' || *p == '#' || *p < 0x21 || *p >= 0x7F) {
			n += (size_t)sprintf(uri + n, "%%%02X", *p);
		} else {
			uri[n++] = (char)*p;
		}
	}
	strcpy(uri + n, "?mode=ro");
	return uri;
}


static int exec_ok(sqlite3 *db, const char *sql, char *err, size_t err_len, const char *doing)
{
	if(sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, err_len, "%s: %s", doing, sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}


static int layout(sqlite3 *db, char *err, size_t err_len)
{
	sqlite3_stmt *stmt = NULL;
	int version = -1;
	char set[48];

	if(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL) == SQLITE_OK
	   && sqlite3_step(stmt) == SQLITE_ROW) {
		version = sqlite3_column_int(stmt, 0);
	}
	sqlite3_finalize(stmt);
	if(version != 0 && version != LAYOUT_VERSION) {
		/* a later layout, or not ours: the index is derived from the log, so deleting the file
		 * is always safe; refusing to touch it lets a newer build's index survive a rollback */
		snprintf(err, err_len,
			 "the search index has layout %d, this build knows %d: delete it to rebuild", version,
			 LAYOUT_VERSION);
		return -1;
	}
	snprintf(set, sizeof(set), "PRAGMA user_version = %d", LAYOUT_VERSION);
	return exec_ok(db, "BEGIN", err, err_len, "cannot create the search index")
			       || exec_ok(db, schema_sql, err, err_len, "cannot create the search index")
			       || exec_ok(db, set, err, err_len, "cannot create the search index")
			       || exec_ok(db, "COMMIT", err, err_len, "cannot create the search index")
		       ? -1
		       : 0;
}


int chat_search_db__open(const char *log_path, struct chat_search_db **out, char *err, size_t err_len)
{
	struct chat_search_db *s = calloc(1, sizeof(*s));
	char *path = chat_search_db__path(log_path), *uri = readonly_uri(log_path), *attach = NULL;
	int rc = -1;

	*out = NULL;
	if(s == NULL || path == NULL || uri == NULL) {
		snprintf(err, err_len, "out of memory");
		goto done;
	}
	if(sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, NULL)
	   != SQLITE_OK) {
		snprintf(err, err_len, "cannot open the search index %s: %s", path,
			 s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto done;
	}
	sqlite3_busy_timeout(s->db, BUSY_MS);
	attach = sqlite3_mprintf("ATTACH %Q AS log", uri);
	/* synchronous = NORMAL: a commit lost at power failure is indexed again from the watermarks
	 * committed with it; secure_delete: a deleted message's text is overwritten in this file too */
	if(attach == NULL || exec_ok(s->db, "PRAGMA journal_mode = WAL", err, err_len, "search index") != 0
	   || exec_ok(s->db, "PRAGMA synchronous = NORMAL", err, err_len, "search index") != 0
	   || exec_ok(s->db, "PRAGMA secure_delete = ON", err, err_len, "search index") != 0
	   || layout(s->db, err, err_len) != 0
	   || exec_ok(s->db, attach, err, err_len, "cannot attach the log to the search index") != 0) {
		goto done;
	}
	for(int i = 0; i < S_COUNT; i++) {
		if(sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[i], NULL)
		   != SQLITE_OK) {
			snprintf(err, err_len, "cannot prepare the search index's statements: %s",
				 sqlite3_errmsg(s->db));
			goto done;
		}
	}
	*out = s;
	s = NULL;
	rc = 0;
done:
	chat_search_db__close(s);
	sqlite3_free(attach);
	free(uri);
	free(path);
	return rc;
}


void chat_search_db__close(struct chat_search_db *s)
{
	if(s != NULL) {
		for(int i = 0; i < S_COUNT; i++) {
			sqlite3_finalize(s->stmt[i]);
		}
		sqlite3_close(s->db);
		free(s);
	}
}


static enum chat_err db_error(struct chat_search_db *s, struct chat_error *err, const char *doing)
{
	return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "%s failed: %s", doing, sqlite3_errmsg(s->db));
}


/* Runs stmt (bound already) to its end and resets it; SQLITE_DONE or the error. */
static int run(sqlite3_stmt *stmt)
{
	int rc;

	while((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
	}
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return rc;
}


static int run_channel(struct chat_search_db *s, enum stmt_id id, int64_t channel)
{
	sqlite3_bind_int64(s->stmt[id], 1, channel);
	return run(s->stmt[id]);
}


static void free_heads(struct head *heads, size_t n)
{
	for(size_t i = 0; i < n; i++) {
		sqlite3_free(heads[i].epoch);
	}
	free(heads);
}


/* Appends the channels stmt yields, with their heads and watermarks, to *io; SQLITE_DONE or the
 * error. */
static int collect(sqlite3_stmt *stmt, struct head **io, size_t *count, size_t *capacity)
{
	struct head *heads = *io;
	size_t n = *count, cap = *capacity;
	int rc;

	while((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *epoch = (const char *)sqlite3_column_text(stmt, 1);
		const char *mark_epoch = (const char *)sqlite3_column_text(stmt, 4);
		struct head h = {.id = sqlite3_column_int64(stmt, 0),
				 .head = sqlite3_column_int64(stmt, 2),
				 .mark = sqlite3_column_int64(stmt, 3)};

		if(n == cap) {
			struct head *grown = realloc(heads, (cap = cap ? cap * 2 : 64) * sizeof(*heads));
			if(grown == NULL) {
				rc = SQLITE_NOMEM;
				break;
			}
			heads = grown;
		}
		h.epoch = sqlite3_mprintf("%s", epoch ? epoch : "");
		if(h.epoch == NULL) {
			rc = SQLITE_NOMEM;
			break;
		}
		h.reset = mark_epoch != NULL && (strcmp(mark_epoch, h.epoch) != 0 || h.head < h.mark);
		if(h.reset) {
			h.mark = 0;
		}
		h.last = h.mark;
		heads[n++] = h;
	}
	sqlite3_reset(stmt);
	*io = heads;
	*count = n;
	*capacity = cap;
	return rc;
}


/* The channels of the log (all, or those of only[0..n_only) that still exist) with their heads and
 * watermarks here (malloc'd array in *out). */
static int read_heads(struct chat_search_db *s, const int64_t *only, size_t n_only, struct head **out,
		      size_t *count)
{
	size_t cap = 0;
	int rc = SQLITE_DONE;

	*out = NULL;
	*count = 0;
	if(only == NULL) {
		rc = collect(s->stmt[S_HEADS], out, count, &cap);
	}
	for(size_t i = 0; only != NULL && rc == SQLITE_DONE && i < n_only; i++) {
		sqlite3_bind_int64(s->stmt[S_HEAD], 1, only[i]);
		rc = collect(s->stmt[S_HEAD], out, count, &cap);
	}
	if(rc != SQLITE_DONE) {
		free_heads(*out, *count);
		*out = NULL;
		*count = 0;
	}
	return rc;
}


/* An event of the log as a pass applies it: read in the pass's short read of the log, applied in its
 * write of the index. */
enum row_kind { ROW_SKIP, ROW_MESSAGE, ROW_EDIT, ROW_DELETE };

struct row {
	enum row_kind kind;
	int64_t seq, ts, target;
	char *author, *body; /* sqlite3_malloc'd copies (ROW_MESSAGE: both; ROW_EDIT: body) */
	int author_len, body_len;
};

/* What a pass read: rows[0..n) in channel order, each channel's a run of heads[i].rows of them. */
struct batch {
	struct row *rows;
	size_t n, cap;
};


static void free_batch(struct batch *b)
{
	for(size_t i = 0; i < b->n; i++) {
		sqlite3_free(b->rows[i].author);
		sqlite3_free(b->rows[i].body);
	}
	free(b->rows);
}


/* A copy of column i of stmt's row as text (all *len bytes, NUL-terminated), or NULL when it is not
 * text (or out of memory: *nomem). The type is asked first: asking for text converts the value. */
static char *column_copy(sqlite3_stmt *stmt, int i, int *len, bool *nomem)
{
	const char *text;
	char *copy;

	if(sqlite3_column_type(stmt, i) != SQLITE_TEXT) {
		return NULL;
	}
	text = (const char *)sqlite3_column_text(stmt, i);
	*len = sqlite3_column_bytes(stmt, i);
	copy = text != NULL ? sqlite3_malloc64((sqlite3_uint64)*len + 1) : NULL;
	if(copy == NULL) {
		*nomem = true;
		return NULL;
	}
	memcpy(copy, text, (size_t)*len);
	copy[*len] = '\0';
	return copy;
}


/* Reads the events of channel h above its watermark, at most budget of them, into b; h->last is
 * the last seq read (its watermark when none). SQLITE_DONE or the error. */
static int read_channel(struct chat_search_db *s, struct head *h, int64_t budget, struct batch *b,
			struct chat_search_pass *out)
{
	sqlite3_stmt *ev = s->stmt[S_EVENTS];
	int rc;

	h->last = h->mark;
	h->rows = 0;
	sqlite3_bind_int64(ev, 1, h->id);
	sqlite3_bind_int64(ev, 2, h->mark);
	sqlite3_bind_int64(ev, 3, budget);
	while((rc = sqlite3_step(ev)) == SQLITE_ROW) {
		const char *type = (const char *)sqlite3_column_text(ev, 1);
		bool has_body = sqlite3_column_type(ev, 5) == SQLITE_TEXT,
		     deleted = sqlite3_column_int(ev, 6), nomem = false;
		struct row r = {.kind = ROW_SKIP,
				.seq = sqlite3_column_int64(ev, 0),
				.ts = sqlite3_column_int64(ev, 3),
				.target = sqlite3_column_int64(ev, 4)};

		h->last = r.seq;
		out->events++;
		if(type != NULL && strcmp(type, "message") == 0 && has_body && !deleted) {
			r.kind = ROW_MESSAGE;
			r.author = column_copy(ev, 2, &r.author_len, &nomem);
			r.body = column_copy(ev, 5, &r.body_len, &nomem);
		} else if(type != NULL && strcmp(type, "edit") == 0 && has_body) {
			r.kind = ROW_EDIT;
			r.body = column_copy(ev, 5, &r.body_len, &nomem);
		} else if(type != NULL && strcmp(type, "delete") == 0) {
			r.kind = ROW_DELETE;
		}
		if(r.kind == ROW_SKIP) {
			continue; /* nothing to apply: only the watermark moves past it */
		}
		if(!nomem && b->n == b->cap) {
			size_t cap = b->cap ? b->cap * 2 : 256;
			struct row *grown = realloc(b->rows, cap * sizeof(*grown));
			nomem = grown == NULL;
			if(grown != NULL) {
				b->rows = grown;
				b->cap = cap;
			}
		}
		if(nomem) {
			sqlite3_free(r.author);
			sqlite3_free(r.body);
			rc = SQLITE_NOMEM;
			break;
		}
		b->rows[b->n++] = r;
		h->rows++;
	}
	sqlite3_reset(ev);
	return rc == SQLITE_ROW ? SQLITE_DONE : rc;
}


static int add_doc(struct chat_search_db *s, int64_t channel, const struct row *r)
{
	sqlite3_stmt *next = s->stmt[S_NEXT_DOC], *ins = s->stmt[S_INSERT];
	int64_t doc;
	int rc;

	/* ts is ms since 1970 (positive, far below INT64_MAX / DOC_PER_MS) */
	sqlite3_bind_int64(next, 1, (r->ts > 0 ? r->ts : 0) * DOC_PER_MS);
	sqlite3_bind_int64(next, 2, DOC_PER_MS);
	rc = sqlite3_step(next);
	doc = sqlite3_column_int64(next, 0);
	sqlite3_reset(next);
	if(rc != SQLITE_ROW) {
		return rc;
	}
	sqlite3_bind_int64(ins, 1, doc);
	sqlite3_bind_int64(ins, 2, channel);
	sqlite3_bind_int64(ins, 3, r->seq);
	sqlite3_bind_text(ins, 4, r->author, r->author_len, SQLITE_STATIC);
	sqlite3_bind_int64(ins, 5, r->ts);
	sqlite3_bind_text(ins, 6, r->body, r->body_len, SQLITE_STATIC);
	return run(ins);
}


/* Applies rows[0..h->rows) (channel h's, as read) to the index and moves its watermark to h->last.
 * SQLITE_DONE or the error. */
static int apply_channel(struct chat_search_db *s, struct head *h, const struct row *rows,
			 struct chat_search_pass *out)
{
	int rc = SQLITE_DONE;

	if(h->reset && run_channel(s, S_DROP_CHANNEL, h->id) != SQLITE_DONE) {
		return SQLITE_ERROR;
	}
	for(size_t i = 0; rc == SQLITE_DONE && i < h->rows; i++) {
		const struct row *r = &rows[i];
		sqlite3_stmt *st = s->stmt[r->kind == ROW_EDIT ? S_EDIT : S_DELETE];

		if(r->kind == ROW_MESSAGE) {
			rc = add_doc(s, h->id, r);
			out->messages++;
			continue;
		}
		sqlite3_bind_int64(st, 1, h->id);
		sqlite3_bind_int64(st, 2, r->target);
		if(r->kind == ROW_EDIT) {
			sqlite3_bind_text(st, 3, r->body, r->body_len, SQLITE_STATIC);
		}
		rc = run(st);
		if(r->kind == ROW_DELETE) {
			out->deleted += sqlite3_changes(s->db) > 0;
		}
	}
	if(rc == SQLITE_DONE && (h->last != h->mark || h->reset)) {
		sqlite3_stmt *m = s->stmt[S_MARK];
		sqlite3_bind_int64(m, 1, h->id);
		sqlite3_bind_text(m, 2, h->epoch, -1, SQLITE_STATIC);
		sqlite3_bind_int64(m, 3, h->last);
		rc = run(m);
	}
	return rc;
}


/* A pass in two transactions. The first only reads: the heads, and the events above the watermarks,
 * into memory (up to max_events, at most a few MB). The second writes the index from them. The log's
 * snapshot is held for the read alone: a pass that held it while writing (FTS5 merges included, and
 * this thread runs at the lowest priority, so it may wait long for a CPU in between) kept the log's
 * checkpoints from ever resetting its WAL while sends flowed (22,000 frames and growing where the
 * same sends with search off restarted it), and every page the broker's thread read searched the
 * longer WAL index: sends 0.77x. Between the two, the log may move on: the next pass takes that. */
enum chat_err chat_search_db__index(struct chat_search_db *s, int64_t max_events, const int64_t *only,
				    size_t n_only, struct chat_search_pass *out, struct chat_error *err)
{
	struct head *heads = NULL;
	struct batch b = {0};
	size_t n = 0, used = 0, read = 0; /* heads[0..read) were read */
	int rc;

	memset(out, 0, sizeof(*out));
	if(sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		return db_error(s, err, "indexing");
	}
	rc = read_heads(s, only, n_only, &heads, &n);
	for(; rc == SQLITE_DONE && read < n; read++) {
		struct head *h = &heads[read];
		if(h->head <= h->mark && !h->reset) {
			continue;
		}
		if(out->events >= max_events) {
			out->more = true;
			break;
		}
		rc = read_channel(s, h, max_events - out->events, &b, out);
		if(h->last < h->head) {
			out->more = true;
		}
	}
	/* the read ends here, whatever happened: only the index is written from now on */
	if(sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK && rc == SQLITE_DONE) {
		rc = SQLITE_ERROR;
	}
	if(rc == SQLITE_DONE && sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		rc = SQLITE_ERROR;
	}
	for(size_t i = 0; rc == SQLITE_DONE && i < read; i++) {
		if(heads[i].last != heads[i].mark || heads[i].reset) {
			rc = apply_channel(s, &heads[i], b.rows + used, out);
		}
		used += heads[i].rows;
	}
	free_heads(heads, n);
	free_batch(&b);
	if(rc != SQLITE_DONE || sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		db_error(s, err, "indexing");
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return err->code;
	}
	return CHAT_ERR_OK;
}


enum chat_err chat_search_db__tidy(struct chat_search_db *s, struct chat_error *err)
{
	sqlite3_stmt *gone = s->stmt[S_GONE], *marks = NULL;
	int rc;

	if(sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		return db_error(s, err, "tidying the search index");
	}
	/* channels erased from the log: their documents and watermarks (collected first: the loop
	 * deletes from marks, which the statement reads) */
	rc = sqlite3_prepare_v2(s->db, "SELECT channel_id FROM main.marks", -1, &marks, NULL) == SQLITE_OK
		     ? SQLITE_DONE
		     : SQLITE_ERROR;
	while(rc == SQLITE_DONE && (rc = sqlite3_step(gone)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(gone, 0);
		sqlite3_reset(gone);
		rc = run_channel(s, S_DROP_CHANNEL, id) == SQLITE_DONE ? run_channel(s, S_UNMARK, id)
								       : SQLITE_ERROR;
	}
	sqlite3_reset(gone);
	/* pruned seqs: below the channel's first kept event */
	while(rc == SQLITE_DONE && (rc = sqlite3_step(marks)) == SQLITE_ROW) {
		rc = run_channel(s, S_PRUNED, sqlite3_column_int64(marks, 0));
	}
	sqlite3_finalize(marks);
	if(rc != SQLITE_DONE || sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		db_error(s, err, "tidying the search index");
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return err->code;
	}
	return CHAT_ERR_OK;
}


enum chat_err chat_search_db__optimize(struct chat_search_db *s, struct chat_error *err)
{
	if(sqlite3_exec(s->db, "INSERT INTO fts (fts) VALUES ('optimize')", NULL, NULL, NULL) != SQLITE_OK) {
		return db_error(s, err, "merging the search index");
	}
	return CHAT_ERR_OK;
}


static const char *text(sqlite3_stmt *stmt, int col)
{
	const char *t = (const char *)sqlite3_column_text(stmt, col);
	return t ? t : "";
}


enum chat_err chat_search_db__search(struct chat_search_db *s, const struct chat_search_params *p,
				     chat_search_hit_cb cb, void *ctx, struct chat_error *err)
{
	sqlite3_stmt *stmt = NULL;
	enum chat_err rc = CHAT_ERR_OK;
	int step;

	/* prepared per search: a search costs far more than a prepare */
	if(sqlite3_prepare_v2(s->db, search_sql, -1, &stmt, NULL) != SQLITE_OK) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "search failed: %s", sqlite3_errmsg(s->db));
	}
	sqlite3_bind_text(stmt, 1, p->match, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, p->before_doc);
	sqlite3_bind_text(stmt, 3, p->channels, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, p->after_ts);
	sqlite3_bind_int64(stmt, 5, p->before_ts);
	if(p->author != NULL) {
		sqlite3_bind_text(stmt, 6, p->author, -1, SQLITE_STATIC);
	}
	sqlite3_bind_int64(stmt, 7, p->limit);
	while((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct chat_search_hit hit = {
			.doc = sqlite3_column_int64(stmt, 0),
			.channel = sqlite3_column_int64(stmt, 1),
			.seq = sqlite3_column_int64(stmt, 2),
			.id = text(stmt, 3),
			.author = text(stmt, 4),
			.ts = sqlite3_column_int64(stmt, 5),
			.body = text(stmt, 6),
			.snippet = text(stmt, 7),
		};
		if(!cb(&hit, ctx)) {
			step = SQLITE_DONE;
			break;
		}
	}
	if(step != SQLITE_DONE) {
		/* FTS5 reports a query it cannot parse as a plain SQLITE_ERROR at the first step; the
		 * translator makes that unreachable, but if it ever happens the asker's query is at
		 * fault, not the store */
		const char *msg = sqlite3_errmsg(s->db);
		if((step & 0xFF) == SQLITE_ERROR && strncmp(msg, "fts5:", 5) == 0) {
			rc = chat_error__set(err, CHAT_ERR_BAD_REQUEST, "query cannot be searched: %s", msg);
		} else {
			rc = chat_error__set(err, CHAT_ERR_UNAVAILABLE, "search failed: %s", msg);
		}
	}
	sqlite3_finalize(stmt);
	return rc;
}
