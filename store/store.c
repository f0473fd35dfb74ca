/*
 * store.c - SQLite storage: open, migrate, load, append, read.
 *
 * Design notes
 * - One connection, used only from the broker thread. WAL mode lets outside readers (sqlite3 CLI,
 *   backups) read while the broker writes.
 * - Every statement is prepared once at open (SQLITE_PREPARE_PERSISTENT) and reset after each use.
 * - Schema changes are numbered migrations (schema/NNNN_name.sql, compiled in); PRAGMA user_version
 *   counts those applied. Each migration runs in its own transaction together with its version bump,
 *   so a crash mid-upgrade leaves a database at the previous version, never between two.
 * - PRAGMA application_id marks the file as mqchat's, so a wrong path is refused instead of being
 *   "upgraded".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "ids.h"
#include "lineage.h"
#include "migrations.h"
#include "store.h"

#define APPLICATION_ID 1836147572 /* 'mqct' */

enum statement {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_INSERT_EVENT,
	S_INSERT_CHANNEL,
	S_PUT_MEMBER,
	S_DELETE_MEMBER,
	S_FIND_CLIENT_MSG,
	S_EVENT_BRIEF,
	S_IS_DELETED,
	S_EVENTS_AFTER,
	S_EVENTS_BEFORE,
	S_EVENT_JSON,
	S_SET_READ_CURSOR,
	S_ADVANCE_READ_CURSOR,
	S_ADVANCE_DELIVERED_CURSOR,
	S_DELETE_READ_CURSORS,
	S_DELETE_DELIVERED_CURSORS,
	S_PUT_CLIENT_ID,
	S_DELETE_CLIENT_ID,
	S_ERASE_MESSAGE,
	S_ERASE_EDITS,
	S_LATEST_EDIT,
	S_MSG_NO_AT,
	S_AUTHOR_MSG_NO_AT,
	S_INSERT_USER,
	S_INSERT_MENTION,
	S_ERASE_MENTIONS,
	S_COUNT
};

static const char *const statement_sql[S_COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	/* Both ordinals come from memory (index.h): this insert runs once per send on the broker's
	 * thread, so it asks the database nothing (schema/0004_lean_append.sql). */
	[S_INSERT_EVENT] =
		"INSERT INTO events (channel_id, seq, id, type, author, ts, client_msg_id, target, json,"
		" msg_no, author_msg_no) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[S_INSERT_CHANNEL] = "INSERT INTO channels (name, visibility, title, epoch, created_by, created_at)"
			     " VALUES (?, ?, ?, ?, ?, ?)",
	[S_PUT_MEMBER] = "INSERT INTO members (channel_id, user, role, joined_seq) VALUES (?, ?, ?, ?)"
			 " ON CONFLICT (channel_id, user) DO UPDATE SET role = excluded.role",
	[S_DELETE_MEMBER] = "DELETE FROM members WHERE channel_id = ? AND user = ?",
	[S_FIND_CLIENT_MSG] =
		"SELECT channel_id, seq, id, ts FROM events WHERE author = ? AND client_msg_id = ?",
	[S_EVENT_BRIEF] = "SELECT type, author, target FROM events WHERE channel_id = ? AND seq = ?",
	[S_IS_DELETED] =
		"SELECT 1 FROM events WHERE channel_id = ? AND target = ? AND type = 'delete' LIMIT 1",
	[S_EVENTS_BEFORE] = "SELECT seq, json FROM events WHERE channel_id = ? AND seq > ? AND seq < ?"
			    " ORDER BY seq DESC LIMIT ?",
	[S_EVENTS_AFTER] =
		"SELECT seq, json FROM events WHERE channel_id = ? AND seq > ? ORDER BY seq LIMIT ?",
	[S_EVENT_JSON] = "SELECT json FROM events WHERE channel_id = ? AND seq = ?",
	[S_SET_READ_CURSOR] =
		"INSERT INTO read_cursors (channel_id, user, seq, ts) VALUES (?, ?, ?, ?)"
		" ON CONFLICT (channel_id, user) DO UPDATE SET seq = excluded.seq, ts = excluded.ts",
	[S_ADVANCE_READ_CURSOR] =
		"INSERT INTO read_cursors (channel_id, user, seq, ts) VALUES (?, ?, ?, ?)"
		" ON CONFLICT (channel_id, user) DO UPDATE SET seq = excluded.seq, ts = excluded.ts"
		" WHERE excluded.seq > read_cursors.seq",
	[S_ADVANCE_DELIVERED_CURSOR] = "INSERT INTO delivered_cursors (channel_id, user, device, seq, ts)"
				       " VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel_id, user, device)"
				       " DO UPDATE SET seq = excluded.seq, ts = excluded.ts"
				       " WHERE excluded.seq > delivered_cursors.seq",
	[S_DELETE_READ_CURSORS] = "DELETE FROM read_cursors WHERE channel_id = ? AND user = ?",
	[S_DELETE_DELIVERED_CURSORS] = "DELETE FROM delivered_cursors WHERE channel_id = ? AND user = ?",
	[S_PUT_CLIENT_ID] = "INSERT INTO client_ids (client_id, user, last_seen) VALUES (?, ?, ?)"
			    " ON CONFLICT (client_id) DO UPDATE SET user = excluded.user,"
			    " last_seen = excluded.last_seen",
	[S_DELETE_CLIENT_ID] = "DELETE FROM client_ids WHERE client_id = ?",
	/* A delete erases (schema/0007_delete_erases.sql): its target and every edit of it lose their
	 * body and say "deleted":true, in the delete's own transaction. */
	[S_ERASE_MESSAGE] =
		"UPDATE events SET json = json_set(json_remove(json, '$.body'), '$.deleted', json('true'))"
		" WHERE channel_id = ? AND seq = ? AND type = 'message'",
	[S_LATEST_EDIT] =
		"SELECT json_extract(json, '$.body') FROM events WHERE channel_id = ? AND target = ?"
		" AND type = 'edit' ORDER BY seq DESC LIMIT 1",
	[S_ERASE_EDITS] =
		"UPDATE events SET json = json_set(json_remove(json, '$.body'), '$.deleted', json('true'))"
		" WHERE channel_id = ? AND target = ? AND type = 'edit'",
	[S_MSG_NO_AT] =
		"SELECT msg_no FROM events WHERE channel_id = ? AND seq <= ? ORDER BY seq DESC LIMIT 1",
	/* Without statistics the planner walks the primary key back from seq instead, row by row until
	 * the author's last message: 180 ms on a 1M-event channel for an author who never wrote. */
	[S_AUTHOR_MSG_NO_AT] =
		"SELECT author_msg_no FROM events INDEXED BY events_by_author WHERE channel_id = ?"
		" AND author = ? AND type = 'message' AND seq <= ? ORDER BY seq DESC LIMIT 1",
	/* A name already there keeps its first_seen and provisioned flag. */
	[S_INSERT_USER] = "INSERT INTO users (name, first_seen) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
	/* schema/0010_attention.sql: an edit's rows belong to the message it edits, and mention only
	 * those the message had not (the key ignores the rest) */
	[S_INSERT_MENTION] =
		"INSERT OR IGNORE INTO mentions (channel_id, msg_seq, user, event_seq, author, ts)"
		" VALUES (?, ?, ?, ?, ?, ?)",
	[S_ERASE_MENTIONS] = "DELETE FROM mentions WHERE channel_id = ? AND msg_seq = ?",
};

struct chat_store {
	sqlite3 *db;
	sqlite3_stmt *stmt[S_COUNT];
	char *lineage_path;                /* the sidecar (lineage.h), or NULL: not a plain file */
	struct chat_lineage lineage;       /* this database's, as written at the start of this run */
	const char *renewed_why;           /* why begin_run gave new epochs, or NULL */
	enum chat_synchronous synchronous; /* the configured level */
	bool lowered; /* at normal while full is configured: a lazy transaction, or its restore failed */
};


int chat_store__schema_version(void)
{
	return chat_migration_count;
}


/* What went wrong, for an SQLite code rc of a call on db. SQLITE_NOMEM is also what this file
 * returns for its own allocations and for a NULL from sqlite3_column_text, after which SQLite's
 * message is of its last call (which succeeded: "not an error"), not of this failure. */
static const char *rc_message(sqlite3 *db, int rc)
{
	return rc == SQLITE_NOMEM ? "out of memory" : sqlite3_errmsg(db);
}


/* Records SQLite's view of the last failure as an `unavailable` error. */
static enum chat_err db_error(struct chat_store *store, struct chat_error *err, const char *doing)
{
	return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "storage failed while %s: %s", doing,
			       sqlite3_errmsg(store->db));
}


/* An `unavailable` error for an allocation that failed outside SQLite, or a NULL from
 * sqlite3_column_text. */
static enum chat_err nomem_error(struct chat_error *err, const char *doing)
{
	return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "storage failed while %s: out of memory", doing);
}


/* Column col of stmt's row as text. sqlite3_column_text returns NULL for an SQL NULL, and also when
 * out of memory (converting a value to text allocates); every column read here is NOT NULL, so NULL
 * means out of memory, for the caller to fail with. */
static const char *column_text(sqlite3_stmt *stmt, int col)
{
	return (const char *)sqlite3_column_text(stmt, col);
}


static sqlite3_stmt *stmt_get(struct chat_store *store, enum statement s)
{
	sqlite3_stmt *stmt = store->stmt[s];

	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return stmt;
}


/* Runs a statement that returns no rows. */
static enum chat_err step_done(struct chat_store *store, sqlite3_stmt *stmt, struct chat_error *err,
			       const char *doing)
{
	int rc = sqlite3_step(stmt);
	enum chat_err result = CHAT_ERR_OK;

	if(rc != SQLITE_DONE) {
		result = db_error(store, err, doing);
	}
	sqlite3_reset(stmt);
	return result;
}


static int bind_text(sqlite3_stmt *stmt, int col, const char *text)
{
	if(text == NULL) {
		return sqlite3_bind_null(stmt, col);
	}
	return sqlite3_bind_text(stmt, col, text, -1, SQLITE_STATIC);
}


/* ---- opening and migrating ------------------------------------------------------------------------ */

static int query_int(sqlite3 *db, const char *sql, int *out)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);

	if(rc == SQLITE_OK) {
		rc = sqlite3_step(stmt);
		if(rc == SQLITE_ROW) {
			*out = sqlite3_column_int(stmt, 0);
			rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(stmt);
	return rc;
}


/* The PRAGMA that sets the connection's synchronous level. */
static const char *synchronous_pragma(enum chat_synchronous synchronous)
{
	return synchronous == CHAT_SYNC_FULL ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL";
}


static int set_pragmas(sqlite3 *db, enum chat_synchronous synchronous, char *err, size_t err_len)
{
	sqlite3_stmt *stmt = NULL;
	const char *mode = NULL;
	bool wal = false;

	if(sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &stmt, NULL) == SQLITE_OK
	   && sqlite3_step(stmt) == SQLITE_ROW) {
		mode = column_text(stmt, 0);
		wal = mode != NULL && strcmp(mode, "wal") == 0;
	}
	sqlite3_finalize(stmt);
	if(!wal) {
		snprintf(err, err_len, "cannot switch the database to WAL mode: %s", sqlite3_errmsg(db));
		return -1;
	}
	if(sqlite3_exec(db, synchronous_pragma(synchronous), NULL, NULL, NULL) != SQLITE_OK
	   || sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL) != SQLITE_OK
	   /* what a delete erases is overwritten in the file, not left in free space */
	   || sqlite3_exec(db, "PRAGMA secure_delete = ON", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, err_len, "cannot configure the database: %s", sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}


static int apply_migration(sqlite3 *db, const struct chat_migration *m, char *err, size_t err_len)
{
	char bump[64];
	char *msg = NULL;

	snprintf(bump, sizeof(bump), "PRAGMA user_version = %d; COMMIT;", m->version);
	if(sqlite3_exec(db, "BEGIN IMMEDIATE;", NULL, NULL, &msg) != SQLITE_OK
	   || sqlite3_exec(db, m->sql, NULL, NULL, &msg) != SQLITE_OK
	   || sqlite3_exec(db, bump, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, err_len, "schema migration %s failed: %s", m->name,
			 msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		sqlite3_exec(db, "ROLLBACK;", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}


static int migrate(sqlite3 *db, const char *path, int *found, char *err, size_t err_len)
{
	int version = 0, app_id = 0, objects = 0;

	if(query_int(db, "PRAGMA user_version", &version) != SQLITE_OK
	   || query_int(db, "PRAGMA application_id", &app_id) != SQLITE_OK
	   || query_int(db, "SELECT count(*) FROM sqlite_schema", &objects) != SQLITE_OK) {
		snprintf(err, err_len, "cannot read %s: %s", path, sqlite3_errmsg(db));
		return -1;
	}
	if((version == 0 && objects > 0) || (version > 0 && app_id != APPLICATION_ID)) {
		snprintf(err, err_len, "%s is not an mqchat database (it holds other tables)", path);
		return -1;
	}
	if(version > chat_migration_count) {
		snprintf(err, err_len,
			 "%s has schema version %d, newer than the %d this mqchat knows; "
			 "refusing to open it (use the mqchat that wrote it, or a newer one)",
			 path, version, chat_migration_count);
		return -1;
	}
	*found = version;
	for(int v = version; v < chat_migration_count; v++) {
		if(apply_migration(db, &chat_migrations[v], err, err_len) != 0) {
			return -1;
		}
	}
	return 0;
}


int chat_store__open(const char *path, enum chat_synchronous synchronous, int busy_timeout_ms,
		     struct chat_store **out, int *upgraded_from, char *err, size_t err_len)
{
	struct chat_store *store = calloc(1, sizeof(*store));
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;

	*out = NULL;
	if(store == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	if(sqlite3_open_v2(path, &store->db, flags, NULL) != SQLITE_OK) {
		snprintf(err, err_len, "cannot open database %s: %s", path,
			 store->db ? sqlite3_errmsg(store->db) : "out of memory");
		chat_store__close(store);
		return -1;
	}
	sqlite3_extended_result_codes(store->db, 1);
	sqlite3_busy_timeout(store->db, busy_timeout_ms);
	store->lineage_path = chat_lineage__path(path);
	store->synchronous = synchronous;
	if(set_pragmas(store->db, synchronous, err, err_len) != 0
	   || migrate(store->db, path, upgraded_from, err, err_len) != 0) {
		chat_store__close(store);
		return -1;
	}
	for(int s = 0; s < S_COUNT; s++) {
		if(sqlite3_prepare_v3(store->db, statement_sql[s], -1, SQLITE_PREPARE_PERSISTENT,
				      &store->stmt[s], NULL)
		   != SQLITE_OK) {
			snprintf(err, err_len, "cannot prepare \"%s\": %s", statement_sql[s],
				 sqlite3_errmsg(store->db));
			chat_store__close(store);
			return -1;
		}
	}
	*out = store;
	return 0;
}


void chat_store__set_autocheckpoint(struct chat_store *store, int pages)
{
	sqlite3_wal_autocheckpoint(store->db, pages);
}


void chat_store__close(struct chat_store *store)
{
	if(store == NULL) {
		return;
	}
	for(int s = 0; s < S_COUNT; s++) {
		sqlite3_finalize(store->stmt[s]);
	}
	sqlite3_close(store->db);
	free(store->lineage_path);
	free(store);
}


sqlite3 *chat_store__db(struct chat_store *store)
{
	return store->db;
}


/* ---- runs ----------------------------------------------------------------------------------------- */

/* The value of name in runs, malloc'd, in *out (NULL when there is none). Returns an SQLite code. */
static int run_value(sqlite3 *db, const char *name, char **out)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(db, "SELECT value FROM runs WHERE name = ?", -1, &stmt, NULL);

	*out = NULL;
	if(rc == SQLITE_OK) {
		sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
		rc = sqlite3_step(stmt);
		if(rc == SQLITE_ROW) {
			const char *value = column_text(stmt, 0);
			*out = value != NULL ? strdup(value) : NULL;
			rc = *out != NULL ? SQLITE_OK : SQLITE_NOMEM;
		} else if(rc == SQLITE_DONE) {
			rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(stmt);
	return rc;
}


static int set_run_value(sqlite3 *db, const char *name, const char *value)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(db,
				    "INSERT INTO runs (name, value) VALUES (?, ?)"
				    " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
				    -1, &stmt, NULL);

	if(rc == SQLITE_OK) {
		sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 2, value, -1, SQLITE_STATIC);
		rc = sqlite3_step(stmt) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
	}
	sqlite3_finalize(stmt);
	return rc;
}


/* Whether the previous run may have lost acknowledged events: see chat_store__begin_run. */
static bool tail_may_be_lost(const char *running, const char *synchronous, const char *prev_boot,
			     const char *boot)
{
	bool unfinished = running != NULL && strcmp(running, "1") == 0;
	bool at_normal = synchronous != NULL && strcmp(synchronous, "normal") == 0;
	bool booted = prev_boot == NULL || boot == NULL || strcmp(prev_boot, boot) != 0;

	return unfinished && at_normal && booted;
}


/* Gives every channel a new epoch; *count says how many. Each id is looked up afresh, so no read of
 * channels is open while a row of it changes. Returns an SQLite code. */
static int renew_epochs(sqlite3 *db, int *count)
{
	sqlite3_stmt *next = NULL, *update = NULL;
	int64_t id = 0;
	int rc = sqlite3_prepare_v2(db, "SELECT id FROM channels WHERE id > ? ORDER BY id LIMIT 1", -1, &next,
				    NULL);

	if(rc == SQLITE_OK) {
		rc = sqlite3_prepare_v2(db, "UPDATE channels SET epoch = ? WHERE id = ?", -1, &update, NULL);
	}
	while(rc == SQLITE_OK) {
		char epoch[CHAT_UUID_LEN + 1];

		sqlite3_reset(next);
		sqlite3_bind_int64(next, 1, id);
		rc = sqlite3_step(next);
		if(rc != SQLITE_ROW) {
			rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
			break;
		}
		id = sqlite3_column_int64(next, 0);
		sqlite3_reset(next);
		chat_ids__uuid(epoch);
		sqlite3_reset(update);
		/* a copy, which may fail: unchecked, the epoch would be set to NULL */
		rc = sqlite3_bind_text(update, 1, epoch, -1, SQLITE_TRANSIENT);
		if(rc == SQLITE_OK) {
			sqlite3_bind_int64(update, 2, id);
			rc = sqlite3_step(update) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
		}
		*count += rc == SQLITE_OK;
	}
	sqlite3_finalize(next);
	sqlite3_finalize(update);
	return rc;
}


/* The generation number stored under name, or 0 when there is none (or it is not a number). */
static int64_t generation_of(const char *text)
{
	char *end = NULL;
	long long n = text != NULL ? strtoll(text, &end, 10) : 0;

	return text != NULL && end != text && *end == '\0' && n > 0 ? (int64_t)n : 0;
}


/* Whether the database, of lineage db, may be older than what the broker last had open, according to
 * the sidecar (lineage.h). Sets store->renewed_why when it may. */
static bool replaced_while_stopped(struct chat_store *store, const struct chat_lineage *db)
{
	struct chat_lineage seen;
	int found;

	if(store->lineage_path == NULL || (found = chat_lineage__read(store->lineage_path, &seen)) == 0) {
		return false; /* nothing to compare with */
	}
	if(found < 0 || strcmp(seen.instance, db->instance) != 0) {
		store->renewed_why = "the database is not the one this broker last had open";
		return true;
	}
	if(db->generation < seen.generation) {
		store->renewed_why = "the database is older than the one this broker last had open "
				     "(a backup was restored)";
		return true;
	}
	return false;
}


/* Moves this database's lineage one generation on, in the runs table (inside the caller's
 * transaction): lineage.h. A database without an instance id gets one. */
static int next_generation(struct chat_store *store, const struct chat_lineage *db)
{
	char number[24];
	int rc;

	store->lineage = *db;
	if(store->lineage.instance[0] == '\0') {
		chat_ids__uuid(store->lineage.instance);
	}
	store->lineage.generation++;
	snprintf(number, sizeof(number), "%" PRId64, store->lineage.generation);
	rc = set_run_value(store->db, "instance", store->lineage.instance);
	return rc == SQLITE_OK ? set_run_value(store->db, "generation", number) : rc;
}


/* Writes store->lineage to the sidecar, after the database has it. */
static int write_sidecar(struct chat_store *store, char *err, size_t err_len)
{
	if(store->lineage_path == NULL) {
		return 0;
	}
	return chat_lineage__write(store->lineage_path, &store->lineage, err, err_len);
}


int chat_store__begin_run(struct chat_store *store, const char *boot_id, enum chat_synchronous synchronous,
			  int *renewed, char *err, size_t err_len)
{
	char *running = NULL, *prev_sync = NULL, *prev_boot = NULL, *instance = NULL, *generation = NULL,
	     *asked = NULL;
	struct chat_lineage db = {0};
	bool renew = false;
	int rc;

	*renewed = 0;
	store->renewed_why = NULL;
	/* This record must survive a power loss even at normal, or the next start could not tell. */
	rc = sqlite3_exec(store->db, synchronous_pragma(CHAT_SYNC_FULL), NULL, NULL, NULL);
	if(rc == SQLITE_OK) {
		rc = sqlite3_exec(store->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	}
	if(rc == SQLITE_OK && (rc = run_value(store->db, "running", &running)) == SQLITE_OK
	   && (rc = run_value(store->db, "synchronous", &prev_sync)) == SQLITE_OK
	   && (rc = run_value(store->db, "boot_id", &prev_boot)) == SQLITE_OK
	   && (rc = run_value(store->db, "instance", &instance)) == SQLITE_OK
	   && (rc = run_value(store->db, "generation", &generation)) == SQLITE_OK
	   && (rc = run_value(store->db, "new_epochs", &asked)) == SQLITE_OK) {
		if(instance != NULL && strlen(instance) == CHAT_UUID_LEN) {
			memcpy(db.instance, instance, CHAT_UUID_LEN + 1);
		}
		db.generation = generation_of(generation);
		if(asked != NULL) {
			store->renewed_why = "an operator asked for new epochs (tools/new_epochs.sh)";
			renew = true;
		} else if(replaced_while_stopped(store, &db)) {
			renew = true;
		} else if(tail_may_be_lost(running, prev_sync, prev_boot, boot_id)) {
			store->renewed_why =
				"the last run at synchronous normal did not stop cleanly and the "
				"machine has restarted since: its last acknowledged events may be lost";
			renew = true;
		}
	}
	if(rc == SQLITE_OK && renew) {
		rc = renew_epochs(store->db, renewed);
	}
	if(rc == SQLITE_OK && asked != NULL) {
		rc = sqlite3_exec(store->db, "DELETE FROM runs WHERE name = 'new_epochs'", NULL, NULL, NULL);
	}
	if(rc == SQLITE_OK) {
		rc = next_generation(store, &db);
	}
	if(rc == SQLITE_OK) {
		rc = set_run_value(store->db, "running", "1");
	}
	if(rc == SQLITE_OK) {
		rc = set_run_value(store->db, "synchronous",
				   synchronous == CHAT_SYNC_FULL ? "full" : "normal");
	}
	if(rc == SQLITE_OK) {
		rc = set_run_value(store->db, "boot_id", boot_id != NULL ? boot_id : "");
	}
	if(rc == SQLITE_OK) {
		rc = sqlite3_exec(store->db, "COMMIT", NULL, NULL, NULL);
	}
	if(rc != SQLITE_OK) {
		snprintf(err, err_len, "cannot record the start of this run: %s", rc_message(store->db, rc));
		sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
	}
	sqlite3_exec(store->db, synchronous_pragma(synchronous), NULL, NULL, NULL);
	free(running);
	free(prev_sync);
	free(prev_boot);
	free(instance);
	free(generation);
	free(asked);
	if(rc != SQLITE_OK) {
		return -1;
	}
	/* Only now: a sidecar ahead of its database would make that database look restored. */
	return write_sidecar(store, err, err_len);
}


const char *chat_store__renewed_why(const struct chat_store *store)
{
	return store->renewed_why;
}


/* One generation on, in the database (at synchronous full, in one transaction with set_running when it
 * is not NULL) and then in the sidecar. */
static int advance_generation(struct chat_store *store, const char *set_running, char *err, size_t err_len)
{
	struct chat_lineage db = store->lineage;
	int rc;

	if(!sqlite3_get_autocommit(store->db)) {
		/* Someone's transaction is open (a group commit's): BEGIN would fail and the ROLLBACK
		 * below would take that transaction's events with it. */
		snprintf(err, err_len, "cannot record a new generation inside an open transaction");
		return -1;
	}
	rc = sqlite3_exec(store->db, synchronous_pragma(CHAT_SYNC_FULL), NULL, NULL, NULL);

	if(rc == SQLITE_OK) {
		rc = sqlite3_exec(store->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	}
	if(rc == SQLITE_OK && set_running != NULL) {
		rc = set_run_value(store->db, "running", set_running);
	}
	if(rc == SQLITE_OK) {
		rc = next_generation(store, &db);
	}
	if(rc == SQLITE_OK) {
		rc = sqlite3_exec(store->db, "COMMIT", NULL, NULL, NULL);
	}
	if(rc != SQLITE_OK) {
		snprintf(err, err_len, "cannot record a new generation: %s", rc_message(store->db, rc));
		sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
		store->lineage = db;
	}
	sqlite3_exec(store->db, synchronous_pragma(store->synchronous), NULL, NULL, NULL);
	return rc == SQLITE_OK ? write_sidecar(store, err, err_len) : -1;
}


int chat_store__advance_generation(struct chat_store *store, char *err, size_t err_len)
{
	return advance_generation(store, NULL, err, err_len);
}


int chat_store__new_epochs_all(struct chat_store *store, int *count, char *err, size_t err_len)
{
	int rc = sqlite3_exec(store->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);

	*count = 0;
	if(rc == SQLITE_OK) {
		rc = renew_epochs(store->db, count);
	}
	if(rc == SQLITE_OK) {
		rc = sqlite3_exec(store->db, "COMMIT", NULL, NULL, NULL);
	}
	if(rc != SQLITE_OK) {
		snprintf(err, err_len, "cannot give the channels new epochs: %s", rc_message(store->db, rc));
		sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
		*count = 0;
		return -1;
	}
	return 0;
}


int chat_store__end_run(struct chat_store *store)
{
	char err[256];

	/* A clean stop moves the generation on too, so a copy taken while it ran (sqlite3 .backup) is
	 * older than what the broker leaves behind, and is told apart if it is ever restored. */
	return advance_generation(store, "0", err, sizeof(err));
}


/* ---- loading the index ---------------------------------------------------------------------------- */

static int load_channels(struct chat_store *store, struct chat_index *idx, char *err, size_t err_len)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(store->db, "SELECT id, name, visibility, title, epoch FROM channels", -1,
				    &stmt, NULL);

	while(rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		enum chat_visibility visibility;
		const char *name = column_text(stmt, 1), *vis = column_text(stmt, 2);
		const char *title = column_text(stmt, 3), *epoch = column_text(stmt, 4);

		if(name == NULL || vis == NULL || title == NULL || epoch == NULL) {
			rc = SQLITE_NOMEM;
			break;
		}
		rc = SQLITE_OK;
		if(!chat_visibility__parse(vis, &visibility)
		   || chat_index__add_channel(idx, sqlite3_column_int64(stmt, 0), name, title, visibility,
					      epoch)
			      == NULL) {
			snprintf(err, err_len, "cannot load channel %s", name);
			sqlite3_finalize(stmt);
			return -1;
		}
	}
	sqlite3_finalize(stmt);
	if(rc != SQLITE_DONE) {
		snprintf(err, err_len, "cannot load channels: %s", rc_message(store->db, rc));
		return -1;
	}
	return 0;
}


static int load_members(struct chat_store *store, struct chat_index *idx, char *err, size_t err_len)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(store->db,
				    "SELECT c.name, m.user, m.role, m.joined_seq"
				    " FROM members m JOIN channels c ON c.id = m.channel_id",
				    -1, &stmt, NULL);

	while(rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *name = column_text(stmt, 0), *user = column_text(stmt, 1);
		const char *role_name = column_text(stmt, 2);
		struct chat_channel *ch;
		enum chat_role role;

		if(name == NULL || user == NULL || role_name == NULL) {
			rc = SQLITE_NOMEM;
			break;
		}
		rc = SQLITE_OK;
		ch = chat_index__find(idx, name, strlen(name));
		if(ch == NULL || !chat_role__parse(role_name, &role)
		   || chat_index__add_member(idx, ch, user, role, sqlite3_column_int64(stmt, 3)) != 0) {
			snprintf(err, err_len, "cannot load member %s of %s", user, name);
			sqlite3_finalize(stmt);
			return -1;
		}
	}
	sqlite3_finalize(stmt);
	if(rc != SQLITE_DONE) {
		snprintf(err, err_len, "cannot load members: %s", rc_message(store->db, rc));
		return -1;
	}
	return 0;
}


/* Runs stmt (one row at most) for channel rowid; *row tells whether there was one. */
static int step_for_channel(sqlite3_stmt *stmt, int64_t rowid, bool *row)
{
	int rc;

	sqlite3_reset(stmt);
	sqlite3_bind_int64(stmt, 1, rowid);
	rc = sqlite3_step(stmt);
	*row = rc == SQLITE_ROW;
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}


/* Reads each channel's head (seq, ts, and the messages so far) and its last message's seq: one seek
 * each, then a walk back over the events after that message (edits, reactions, joins). */
static int load_heads(struct chat_store *store, struct chat_index *idx, char *err, size_t err_len)
{
	sqlite3_stmt *head = NULL, *last = NULL;
	struct chat_channel *ch, *tmp;
	bool row = false;
	int rc = sqlite3_prepare_v2(
		store->db,
		"SELECT seq, ts, msg_no FROM events WHERE channel_id = ? ORDER BY seq DESC LIMIT 1", -1,
		&head, NULL);

	/* Walks back from the head over the events since the last message (edits, reactions, joins). */
	if(rc == SQLITE_OK) {
		rc = sqlite3_prepare_v2(store->db,
					"SELECT seq FROM events WHERE channel_id = ? AND type = 'message'"
					" ORDER BY seq DESC LIMIT 1",
					-1, &last, NULL);
	}
	HASH_ITER(hh, idx->channels, ch, tmp) {
		if(rc == SQLITE_OK && (rc = step_for_channel(head, ch->rowid, &row)) == SQLITE_OK && row) {
			ch->head = sqlite3_column_int64(head, 0);
			ch->head_ts = sqlite3_column_int64(head, 1);
			ch->message_count = sqlite3_column_int64(head, 2);
		}
		if(rc == SQLITE_OK && ch->message_count > 0
		   && (rc = step_for_channel(last, ch->rowid, &row)) == SQLITE_OK && row) {
			ch->last_message_seq = sqlite3_column_int64(last, 0);
		}
	}
	sqlite3_finalize(head);
	sqlite3_finalize(last);
	if(rc != SQLITE_OK) {
		snprintf(err, err_len, "cannot load channel heads: %s", rc_message(store->db, rc));
		return -1;
	}
	return 0;
}


/* Puts each member's read cursor and each device's delivery cursor in the index. Cursors of users who
 * are no longer members are skipped. */
static int load_cursors(struct chat_store *store, struct chat_index *idx, char *err, size_t err_len)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(
		store->db,
		"SELECT c.name, r.user, r.seq, NULL FROM read_cursors r"
		" JOIN channels c ON c.id = r.channel_id"
		" UNION ALL SELECT c.name, d.user, d.seq, d.device FROM delivered_cursors d"
		" JOIN channels c ON c.id = d.channel_id",
		-1, &stmt, NULL);

	while(rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *name = column_text(stmt, 0), *user = column_text(stmt, 1);
		/* NULL for a read cursor: that row's device is an SQL NULL */
		bool delivery = sqlite3_column_type(stmt, 3) != SQLITE_NULL;
		const char *device = delivery ? column_text(stmt, 3) : NULL;
		struct chat_channel *ch;
		struct chat_member *m;

		if(name == NULL || user == NULL || (delivery && device == NULL)) {
			rc = SQLITE_NOMEM;
			break;
		}
		rc = SQLITE_OK;
		ch = chat_index__find(idx, name, strlen(name));
		m = ch ? chat_index__member(ch, user) : NULL;
		if(m == NULL) {
			continue;
		}
		if(device == NULL) {
			m->read_seq = sqlite3_column_int64(stmt, 2);
		} else if(chat_index__set_delivery(m, device, sqlite3_column_int64(stmt, 2)) != 0) {
			rc = SQLITE_NOMEM;
		}
	}
	sqlite3_finalize(stmt);
	if(rc != SQLITE_DONE) {
		snprintf(err, err_len, "cannot load cursors: %s", rc_message(store->db, rc));
		return -1;
	}
	return 0;
}


int chat_store__load_users(struct chat_store *store, bool (*cb)(const char *name, void *ctx), void *ctx,
			   char *err, size_t err_len)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(store->db, "SELECT name FROM users", -1, &stmt, NULL);

	while(rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *name = column_text(stmt, 0);
		rc = name != NULL && cb(name, ctx) ? SQLITE_OK : SQLITE_NOMEM;
	}
	sqlite3_finalize(stmt);
	if(rc != SQLITE_DONE) {
		snprintf(err, err_len, "cannot load users: %s", rc_message(store->db, rc));
		return -1;
	}
	return 0;
}


int chat_store__load(struct chat_store *store, struct chat_index *idx, char *err, size_t err_len)
{
	if(load_channels(store, idx, err, err_len) != 0 || load_members(store, idx, err, err_len) != 0
	   || load_heads(store, idx, err, err_len) != 0 || load_cursors(store, idx, err, err_len) != 0) {
		chat_index__clear(idx);
		return -1;
	}
	return 0;
}


/* ---- transactions and writes ---------------------------------------------------------------------- */

/* Back to the configured level after a lazy transaction (a no-op after any other). Should that fail
 * (out of memory), the next transaction tries again before it begins, and does not begin without it:
 * an acknowledged send must never commit at a level weaker than the one configured. */
static void restore_level(struct chat_store *store)
{
	if(store->lowered) {
		store->lowered =
			sqlite3_exec(store->db, synchronous_pragma(store->synchronous), NULL, NULL, NULL)
			!= SQLITE_OK;
	}
}


enum chat_err chat_store__begin(struct chat_store *store, struct chat_error *err)
{
	restore_level(store);
	if(store->lowered) {
		return db_error(store, err, "starting a transaction");
	}
	return step_done(store, stmt_get(store, S_BEGIN), err, "starting a transaction");
}


/* The level is set outside any transaction: the pager takes it at the next one. At synchronous normal
 * there is nothing to change. */
enum chat_err chat_store__begin_lazy(struct chat_store *store, struct chat_error *err)
{
	if(store->synchronous == CHAT_SYNC_FULL) {
		if(sqlite3_exec(store->db, synchronous_pragma(CHAT_SYNC_NORMAL), NULL, NULL, NULL)
		   != SQLITE_OK) {
			return db_error(store, err, "starting a transaction");
		}
		store->lowered = true;
	}
	if(step_done(store, stmt_get(store, S_BEGIN), err, "starting a transaction") != CHAT_ERR_OK) {
		restore_level(store);
		return err->code;
	}
	return CHAT_ERR_OK;
}


enum chat_err chat_store__commit(struct chat_store *store, struct chat_error *err)
{
	if(step_done(store, stmt_get(store, S_COMMIT), err, "committing") != CHAT_ERR_OK) {
		chat_store__rollback(store);
		return CHAT_ERR_UNAVAILABLE;
	}
	restore_level(store);
	return CHAT_ERR_OK;
}


void chat_store__rollback(struct chat_store *store)
{
	if(!sqlite3_get_autocommit(store->db)) {
		sqlite3_step(stmt_get(store, S_ROLLBACK));
		sqlite3_reset(store->stmt[S_ROLLBACK]);
	}
	restore_level(store);
}


/* Erases message seq of channel and its edits (see S_ERASE_MESSAGE). */
static enum chat_err erase(struct chat_store *store, int64_t channel, int64_t seq, struct chat_error *err)
{
	sqlite3_stmt *stmt = stmt_get(store, S_ERASE_MESSAGE);

	sqlite3_bind_int64(stmt, 1, channel);
	sqlite3_bind_int64(stmt, 2, seq);
	if(step_done(store, stmt, err, "erasing a deleted message") != CHAT_ERR_OK) {
		return err->code;
	}
	stmt = stmt_get(store, S_ERASE_EDITS);
	sqlite3_bind_int64(stmt, 1, channel);
	sqlite3_bind_int64(stmt, 2, seq);
	if(step_done(store, stmt, err, "erasing the edits of a deleted message") != CHAT_ERR_OK) {
		return err->code;
	}
	stmt = stmt_get(store, S_ERASE_MENTIONS); /* a deleted message mentions nobody any more */
	sqlite3_bind_int64(stmt, 1, channel);
	sqlite3_bind_int64(stmt, 2, seq);
	return step_done(store, stmt, err, "erasing the mentions of a deleted message");
}


/* One row of the mentions table for ev (below). */
static enum chat_err insert_mention(struct chat_store *store, int64_t channel, const struct chat_event *ev,
				    const char *user, struct chat_error *err)
{
	sqlite3_stmt *stmt = stmt_get(store, S_INSERT_MENTION);

	if(strcmp(user, ev->from) == 0) {
		return CHAT_ERR_OK; /* nobody is notified by themselves */
	}
	sqlite3_bind_int64(stmt, 1, channel);
	sqlite3_bind_int64(stmt, 2, ev->type == CHAT_EVENT_EDIT ? ev->target : ev->seq);
	bind_text(stmt, 3, user);
	sqlite3_bind_int64(stmt, 4, ev->seq);
	bind_text(stmt, 5, ev->from);
	sqlite3_bind_int64(stmt, 6, ev->ts);
	return step_done(store, stmt, err, "indexing mentions");
}


/* Indexes whom a message or edit mentions (schema/0010_attention.sql): a row per member it names (its
 * author excepted), one with user '' for everyone, and in a direct channel one for the other person.
 * Here rather than in a trigger: an AFTER INSERT trigger costs every append its frame, ~19,000
 * instructions a send for three of them (callgrind), and most events mention nobody. */
static enum chat_err index_mentions(struct chat_store *store, int64_t channel, const struct chat_event *ev,
				    struct chat_error *err)
{
	for(size_t i = 0; i < ev->mention_count; i++) {
		if(insert_mention(store, channel, ev, ev->mentions[i], err) != CHAT_ERR_OK) {
			return err->code;
		}
	}
	if((ev->mentions_all && insert_mention(store, channel, ev, "", err) != CHAT_ERR_OK)
	   || (ev->dm_peer != NULL && insert_mention(store, channel, ev, ev->dm_peer, err) != CHAT_ERR_OK)) {
		return err->code;
	}
	return CHAT_ERR_OK;
}


enum chat_err chat_store__latest_edit(struct chat_store *store, int64_t channel, int64_t seq, char **body,
				      struct chat_error *err)
{
	sqlite3_stmt *stmt = stmt_get(store, S_LATEST_EDIT);
	const char *text;
	int rc;

	*body = NULL;
	sqlite3_bind_int64(stmt, 1, channel);
	sqlite3_bind_int64(stmt, 2, seq);
	rc = sqlite3_step(stmt);
	if(rc == SQLITE_ROW && sqlite3_column_type(stmt, 0) != SQLITE_NULL) {
		text = column_text(stmt, 0);
		*body = text != NULL ? strdup(text) : NULL;
		sqlite3_reset(stmt);
		return *body != NULL ? CHAT_ERR_OK : nomem_error(err, "reading an edit");
	}
	sqlite3_reset(stmt);
	if(rc != SQLITE_ROW && rc != SQLITE_DONE) {
		return db_error(store, err, "reading an edit");
	}
	return CHAT_ERR_OK;
}


enum chat_err chat_store__insert_event(struct chat_store *store, int64_t channel, const struct chat_event *ev,
				       const char *json, size_t len, struct chat_error *err)
{
	sqlite3_stmt *stmt = stmt_get(store, S_INSERT_EVENT);
	int64_t reference = chat_event__reference(ev);

	sqlite3_bind_int64(stmt, 1, channel);
	sqlite3_bind_int64(stmt, 2, ev->seq);
	bind_text(stmt, 3, ev->id);
	bind_text(stmt, 4, chat_event_type__name(ev->type));
	bind_text(stmt, 5, ev->from);
	sqlite3_bind_int64(stmt, 6, ev->ts);
	bind_text(stmt, 7, ev->client_msg_id);
	if(reference > 0) {
		sqlite3_bind_int64(stmt, 8, reference);
	}
	sqlite3_bind_text(stmt, 9, json, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 10, ev->msg_no);
	if(ev->type == CHAT_EVENT_MESSAGE) {
		sqlite3_bind_int64(stmt, 11, ev->author_msg_no);
	}
	if(step_done(store, stmt, err, "appending an event") != CHAT_ERR_OK
	   || index_mentions(store, channel, ev, err) != CHAT_ERR_OK) {
		return err->code;
	}
	return ev->type == CHAT_EVENT_DELETE ? erase(store, channel, ev->target, err) : CHAT_ERR_OK;
}


enum chat_err chat_store__insert_channel(struct chat_store *store, const char *name,
					 enum chat_visibility visibility, const char *title,
					 const char *epoch, const char *created_by, int64_t created_at,
					 int64_t *rowid, struct chat_error *err)
{
	sqlite3_stmt *stmt = stmt_get(store, S_INSERT_CHANNEL);

	bind_text(stmt, 1, name);
	bind_text(stmt, 2, chat_visibility__name(visibility));
	bind_text(stmt, 3, title ? title : "");
	bind_text(stmt, 4, epoch);
	bind_text(stmt, 5, created_by);
	sqlite3_bind_int64(stmt, 6, created_at);
	if(step_done(store, stmt, err, "creating a channel") != CHAT_ERR_OK) {
		return CHAT_ERR_UNAVAILABLE;
	}
	*rowid = sqlite3_last_insert_rowid(store->db);
	return CHAT_ERR_OK;
}


enum chat_err chat_store__put_member(struct chat_store *store, int64_t channel, const char *user,
				     enum chat_role role, int64_t joined_seq, struct chat_error *err)
{
	sqlite3_stmt *stmt = stmt_get(store, S_PUT_MEMBER);

	sqlite3_bind_int64(stmt, 1, channel);
	bind_text(stmt, 2, user);
	bind_text(stmt, 3, chat_role__name(role));
	sqlite3_bind_int64(stmt, 4, joined_seq);
	return step_done(store, stmt, err, "adding a member");
}


enum chat_err chat_store__delete_member(struct chat_store *store, int64_t channel, const char *user,
					struct chat_error *err)
{
	sqlite3_stmt *stmt = stmt_get(store, S_DELETE_MEMBER);

	sqlite3_bind_int64(stmt, 1, channel);
	bind_text(stmt, 2, user);
	return step_done(store, stmt, err, "removing a member");
}


enum chat_err chat_store__set_read_cursor(struct chat_store *store, int64_t channel, const char *user,
					  int64_t seq, int64_t ts, bool only_forward, struct chat_error *err)
{
	sqlite3_stmt *stmt = stmt_get(store, only_forward ? S_ADVANCE_READ_CURSOR : S_SET_READ_CURSOR);

	sqlite3_bind_int64(stmt, 1, channel);
	bind_text(stmt, 2, user);
	sqlite3_bind_int64(stmt, 3, seq);
	sqlite3_bind_int64(stmt, 4, ts);
	return step_done(store, stmt, err, "storing a read cursor");
}


enum chat_err chat_store__advance_delivered_cursor(struct chat_store *store, int64_t channel,
						   const char *user, const char *device, int64_t seq,
						   int64_t ts, struct chat_error *err)
{
	sqlite3_stmt *stmt = stmt_get(store, S_ADVANCE_DELIVERED_CURSOR);

	sqlite3_bind_int64(stmt, 1, channel);
	bind_text(stmt, 2, user);
	bind_text(stmt, 3, device);
	sqlite3_bind_int64(stmt, 4, seq);
	sqlite3_bind_int64(stmt, 5, ts);
	return step_done(store, stmt, err, "storing a delivery cursor");
}


int chat_store__load_client_ids(struct chat_store *store,
				int (*cb)(void *ctx, const char *client_id, const char *user), void *ctx,
				char *err, size_t err_len)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(store->db, "SELECT client_id, user FROM client_ids", -1, &stmt, NULL);
	const char *id, *user;

	while(rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		id = column_text(stmt, 0);
		user = column_text(stmt, 1);
		rc = id != NULL && user != NULL && cb(ctx, id, user) == 0 ? SQLITE_OK : SQLITE_NOMEM;
	}
	sqlite3_finalize(stmt);
	if(rc != SQLITE_DONE) {
		snprintf(err, err_len, "cannot load client ids: %s", rc_message(store->db, rc));
		return -1;
	}
	return 0;
}


enum chat_err chat_store__put_client_id(struct chat_store *store, const char *client_id, const char *user,
					int64_t ts, struct chat_error *err)
{
	sqlite3_stmt *stmt;

	if(user == NULL) {
		stmt = stmt_get(store, S_DELETE_CLIENT_ID);
		bind_text(stmt, 1, client_id);
		return step_done(store, stmt, err, "releasing a client id");
	}
	stmt = stmt_get(store, S_PUT_CLIENT_ID);
	bind_text(stmt, 1, client_id);
	bind_text(stmt, 2, user);
	sqlite3_bind_int64(stmt, 3, ts);
	return step_done(store, stmt, err, "binding a client id");
}


enum chat_err chat_store__delete_cursors(struct chat_store *store, int64_t channel, const char *user,
					 struct chat_error *err)
{
	sqlite3_stmt *stmt = stmt_get(store, S_DELETE_READ_CURSORS);

	sqlite3_bind_int64(stmt, 1, channel);
	bind_text(stmt, 2, user);
	if(step_done(store, stmt, err, "forgetting cursors") != CHAT_ERR_OK) {
		return err->code;
	}
	stmt = stmt_get(store, S_DELETE_DELIVERED_CURSORS);
	sqlite3_bind_int64(stmt, 1, channel);
	bind_text(stmt, 2, user);
	return step_done(store, stmt, err, "forgetting cursors");
}


enum chat_err chat_store__insert_user(struct chat_store *store, const char *name, int64_t first_seen,
				      struct chat_error *err)
{
	sqlite3_stmt *stmt = stmt_get(store, S_INSERT_USER);

	bind_text(stmt, 1, name);
	sqlite3_bind_int64(stmt, 2, first_seen);
	return step_done(store, stmt, err, "recording a user");
}


/* ---- reads ---------------------------------------------------------------------------------------- */

/* The ordinal (column 0) of the last message with seq <= at, of anyone (author NULL) or of author. */
static enum chat_err ordinal_at(struct chat_store *store, int64_t channel, const char *author, int64_t at,
				int64_t *out, struct chat_error *err)
{
	sqlite3_stmt *stmt = stmt_get(store, author ? S_AUTHOR_MSG_NO_AT : S_MSG_NO_AT);
	int col = 1, rc;

	sqlite3_bind_int64(stmt, col++, channel);
	if(author) {
		bind_text(stmt, col++, author);
	}
	sqlite3_bind_int64(stmt, col, at);
	rc = sqlite3_step(stmt);
	*out = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
	sqlite3_reset(stmt);
	if(rc != SQLITE_ROW && rc != SQLITE_DONE) {
		return db_error(store, err, "counting unread messages");
	}
	return CHAT_ERR_OK;
}


enum chat_err chat_store__author_messages(struct chat_store *store, int64_t channel, const char *author,
					  int64_t *count, struct chat_error *err)
{
	return ordinal_at(store, channel, author, INT64_MAX, count, err);
}


enum chat_err chat_store__unread(struct chat_store *store, const struct chat_channel *ch, const char *user,
				 int64_t read_seq, int64_t *unread, struct chat_error *err)
{
	int64_t all_at_read = 0, mine_at_head = 0, mine_at_read = 0;

	*unread = 0;
	if(read_seq >= ch->last_message_seq) {
		return CHAT_ERR_OK;
	}
	if(ordinal_at(store, ch->rowid, NULL, read_seq, &all_at_read, err) != CHAT_ERR_OK
	   || ordinal_at(store, ch->rowid, user, ch->head, &mine_at_head, err) != CHAT_ERR_OK
	   || ordinal_at(store, ch->rowid, user, read_seq, &mine_at_read, err) != CHAT_ERR_OK) {
		return err->code;
	}
	*unread = (ch->message_count - all_at_read) - (mine_at_head - mine_at_read);
	return CHAT_ERR_OK;
}

enum chat_err chat_store__find_client_msg(struct chat_store *store, const char *user,
					  const char *client_msg_id, bool *found,
					  struct chat_stored_event *out, struct chat_error *err)
{
	sqlite3_stmt *stmt = stmt_get(store, S_FIND_CLIENT_MSG);
	int rc;

	bind_text(stmt, 1, user);
	bind_text(stmt, 2, client_msg_id);
	rc = sqlite3_step(stmt);
	*found = rc == SQLITE_ROW;
	if(*found) {
		const char *id = column_text(stmt, 2);
		if(id == NULL) {
			*found = false;
			sqlite3_reset(stmt);
			return nomem_error(err, "looking up a client_msg_id");
		}
		out->channel = sqlite3_column_int64(stmt, 0);
		out->seq = sqlite3_column_int64(stmt, 1);
		snprintf(out->id, sizeof(out->id), "%s", id);
		out->ts = sqlite3_column_int64(stmt, 3);
	}
	sqlite3_reset(stmt);
	if(rc != SQLITE_ROW && rc != SQLITE_DONE) {
		return db_error(store, err, "looking up a client_msg_id");
	}
	return CHAT_ERR_OK;
}


bool chat_event_brief__by(const struct chat_event_brief *brief, const char *user)
{
	return brief->author_len == strlen(user) && brief->author_len < sizeof(brief->author)
	       && strcmp(brief->author, user) == 0;
}


static enum chat_err read_deleted(struct chat_store *store, int64_t channel, int64_t seq, bool *deleted,
				  struct chat_error *err)
{
	sqlite3_stmt *stmt = stmt_get(store, S_IS_DELETED);
	int rc;

	sqlite3_bind_int64(stmt, 1, channel);
	sqlite3_bind_int64(stmt, 2, seq);
	rc = sqlite3_step(stmt);
	*deleted = rc == SQLITE_ROW;
	sqlite3_reset(stmt);
	if(rc != SQLITE_ROW && rc != SQLITE_DONE) {
		return db_error(store, err, "reading the log");
	}
	return CHAT_ERR_OK;
}


enum chat_err chat_store__event_brief(struct chat_store *store, int64_t channel, int64_t seq,
				      struct chat_event_brief *out, struct chat_error *err)
{
	sqlite3_stmt *stmt = stmt_get(store, S_EVENT_BRIEF);
	int rc;

	memset(out, 0, sizeof(*out));
	sqlite3_bind_int64(stmt, 1, channel);
	sqlite3_bind_int64(stmt, 2, seq);
	rc = sqlite3_step(stmt);
	if(rc == SQLITE_ROW) {
		const char *type = column_text(stmt, 0), *author = column_text(stmt, 1);
		if(type == NULL || author == NULL) {
			sqlite3_reset(stmt);
			return nomem_error(err, "reading the log");
		}
		out->exists = true;
		out->is_message = strcmp(type, "message") == 0;
		out->in_thread = out->is_message && sqlite3_column_type(stmt, 2) != SQLITE_NULL;
		out->author_len = strlen(author);
		snprintf(out->author, sizeof(out->author), "%s", author);
	}
	sqlite3_reset(stmt);
	if(rc != SQLITE_ROW && rc != SQLITE_DONE) {
		return db_error(store, err, "reading the log");
	}
	if(out->is_message) {
		return read_deleted(store, channel, seq, &out->deleted, err);
	}
	return CHAT_ERR_OK;
}


/* Calls cb for each row (seq, json) of stmt, bound and ready, until it ends or cb says stop. */
static enum chat_err each_event(struct chat_store *store, sqlite3_stmt *stmt, chat_store_event_cb cb,
				void *ctx, struct chat_error *err)
{
	int rc;

	while((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *json = column_text(stmt, 1);
		size_t len = (size_t)sqlite3_column_bytes(stmt, 1); /* of the text, asked for first */
		if(json == NULL) {
			sqlite3_reset(stmt);
			return nomem_error(err, "reading the log");
		}
		if(!cb(sqlite3_column_int64(stmt, 0), json, len, ctx)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_reset(stmt);
	if(rc != SQLITE_DONE) {
		return db_error(store, err, "reading the log");
	}
	return CHAT_ERR_OK;
}


enum chat_err chat_store__events_after(struct chat_store *store, int64_t channel, int64_t since,
				       int64_t limit, chat_store_event_cb cb, void *ctx,
				       struct chat_error *err)
{
	sqlite3_stmt *stmt = stmt_get(store, S_EVENTS_AFTER);

	sqlite3_bind_int64(stmt, 1, channel);
	sqlite3_bind_int64(stmt, 2, since);
	sqlite3_bind_int64(stmt, 3, limit);
	return each_event(store, stmt, cb, ctx, err);
}


enum chat_err chat_store__events_before(struct chat_store *store, int64_t channel, int64_t since,
					int64_t before, int64_t limit, chat_store_event_cb cb, void *ctx,
					struct chat_error *err)
{
	sqlite3_stmt *stmt = stmt_get(store, S_EVENTS_BEFORE);

	sqlite3_bind_int64(stmt, 1, channel);
	sqlite3_bind_int64(stmt, 2, since);
	sqlite3_bind_int64(stmt, 3, before);
	sqlite3_bind_int64(stmt, 4, limit);
	return each_event(store, stmt, cb, ctx, err);
}


enum chat_err chat_store__event_json(struct chat_store *store, int64_t channel, int64_t seq, char **json,
				     struct chat_error *err)
{
	sqlite3_stmt *stmt = stmt_get(store, S_EVENT_JSON);
	int rc;

	*json = NULL;
	sqlite3_bind_int64(stmt, 1, channel);
	sqlite3_bind_int64(stmt, 2, seq);
	rc = sqlite3_step(stmt);
	if(rc == SQLITE_ROW) {
		const char *text = column_text(stmt, 0);
		*json = text != NULL ? strdup(text) : NULL;
		if(*json == NULL) {
			/* not SQLite's failure: sqlite3_errmsg would tell of its last call, which succeeded
			 */
			sqlite3_reset(stmt);
			return nomem_error(err, "reading the log");
		}
	}
	sqlite3_reset(stmt);
	if(rc != SQLITE_ROW && rc != SQLITE_DONE) {
		return db_error(store, err, "reading the log");
	}
	return CHAT_ERR_OK;
}
