/*
 * session_tokens.c - SQL for session tokens (see session_tokens.h).
 *
 * Issuing runs in a savepoint: the outermost one is a transaction of its own, committed (and at
 * synchronous full, fsync'd) before the token is handed out, so a token that was answered survives a
 * crash; inside an open transaction it joins it.
 */
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "sql.h"
#include "session_tokens.h"

#define SQL_INSERT                                                                                           \
	"INSERT INTO session_tokens (id, user, secret_hash, created_ts, expires_ts, last_used_ts)"           \
	" VALUES (?, ?, ?, ?, ?, NULL)"
#define SQL_DELETE_EXPIRED "DELETE FROM session_tokens WHERE expires_ts <= ?"
#define SQL_DELETE_OVER_CAP                                                                                  \
	"DELETE FROM session_tokens WHERE user = ?1 AND id NOT IN (SELECT id FROM session_tokens"            \
	" WHERE user = ?1 ORDER BY n DESC LIMIT ?2)"
#define SQL_FIND                                                                                             \
	"SELECT secret_hash, created_ts, expires_ts, last_used_ts FROM session_tokens"                       \
	" WHERE id = ? AND user = ?"
#define SQL_TOUCH      "UPDATE session_tokens SET last_used_ts = ? WHERE id = ?"
#define SQL_REVOKE_ONE "DELETE FROM session_tokens WHERE user = ? AND id = ?"
#define SQL_REVOKE_ALL "DELETE FROM session_tokens WHERE user = ?"
#define SQL_LIST                                                                                             \
	"SELECT id, created_ts, expires_ts, last_used_ts FROM session_tokens"                                \
	" WHERE user = ? AND expires_ts > ? ORDER BY n"


/* Steps stmt to its end (a write) and finalizes it. */
static enum chat_err run_and_finalize(sqlite3 *db, sqlite3_stmt *stmt, struct chat_error *err,
				      const char *doing)
{
	int rc = sqlite3_step(stmt);

	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? CHAT_ERR_OK : chat_sql__error(db, err, doing);
}


static enum chat_err issue_in_savepoint(sqlite3 *db, const char *user, const struct chat_token_row *row,
					int64_t now_ms, int max_per_user, struct chat_error *err)
{
	const char *doing = "issuing a session token";
	sqlite3_stmt *stmt;

	if(chat_sql__prepare(db, SQL_DELETE_EXPIRED, &stmt, err, doing) != CHAT_ERR_OK) {
		return err->code;
	}
	sqlite3_bind_int64(stmt, 1, now_ms);
	if(run_and_finalize(db, stmt, err, doing) != CHAT_ERR_OK
	   || chat_sql__prepare(db, SQL_INSERT, &stmt, err, doing) != CHAT_ERR_OK) {
		return err->code;
	}
	sqlite3_bind_text(stmt, 1, row->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, user, -1, SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 3, row->hash, CHAT_TOKEN_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, row->created_ts);
	sqlite3_bind_int64(stmt, 5, row->expires_ts);
	if(run_and_finalize(db, stmt, err, doing) != CHAT_ERR_OK
	   || chat_sql__prepare(db, SQL_DELETE_OVER_CAP, &stmt, err, doing) != CHAT_ERR_OK) {
		return err->code;
	}
	sqlite3_bind_text(stmt, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 2, max_per_user);
	return run_and_finalize(db, stmt, err, doing);
}


enum chat_err chat_tokens__issue(struct chat_store *store, const char *user, const struct chat_token_row *row,
				 int64_t now_ms, int max_per_user, struct chat_error *err)
{
	sqlite3 *db = chat_store__db(store);

	if(sqlite3_exec(db, "SAVEPOINT session_token", NULL, NULL, NULL) != SQLITE_OK) {
		return chat_sql__error(db, err, "issuing a session token");
	}
	if(issue_in_savepoint(db, user, row, now_ms, max_per_user, err) != CHAT_ERR_OK) {
		sqlite3_exec(db, "ROLLBACK TO session_token; RELEASE session_token", NULL, NULL, NULL);
		return err->code;
	}
	if(sqlite3_exec(db, "RELEASE session_token", NULL, NULL, NULL) != SQLITE_OK) {
		chat_sql__error(db, err, "committing a session token");
		/* a failed outermost RELEASE leaves the transaction open: undo it whole */
		sqlite3_exec(db, "ROLLBACK TO session_token; RELEASE session_token", NULL, NULL, NULL);
		return err->code;
	}
	return CHAT_ERR_OK;
}


/* Column col of stmt as ms, -1 for NULL. */
static int64_t column_ms(sqlite3_stmt *stmt, int col)
{
	return sqlite3_column_type(stmt, col) == SQLITE_NULL ? -1 : sqlite3_column_int64(stmt, col);
}


enum chat_err chat_tokens__find(struct chat_store *store, const char *id, const char *user, bool *found,
				struct chat_token_row *row, struct chat_error *err)
{
	sqlite3 *db = chat_store__db(store);
	const char *doing = "checking a session token";
	sqlite3_stmt *stmt;
	int rc;

	*found = false;
	if(chat_sql__prepare(db, SQL_FIND, &stmt, err, doing) != CHAT_ERR_OK) {
		return err->code;
	}
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, user, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if(rc == SQLITE_ROW && sqlite3_column_bytes(stmt, 0) == CHAT_TOKEN_HASH_LEN
	   && sqlite3_column_blob(stmt, 0) != NULL) {
		snprintf(row->id, sizeof(row->id), "%s", id);
		memcpy(row->hash, sqlite3_column_blob(stmt, 0), CHAT_TOKEN_HASH_LEN);
		row->created_ts = sqlite3_column_int64(stmt, 1);
		row->expires_ts = sqlite3_column_int64(stmt, 2);
		row->last_used_ts = column_ms(stmt, 3);
		*found = true;
	}
	sqlite3_finalize(stmt);
	if(rc != SQLITE_ROW && rc != SQLITE_DONE) {
		return chat_sql__error(db, err, doing);
	}
	return CHAT_ERR_OK;
}


enum chat_err chat_tokens__touch(struct chat_store *store, const char *id, int64_t now_ms,
				 struct chat_error *err)
{
	sqlite3 *db = chat_store__db(store);
	const char *doing = "noting a session token's use";
	sqlite3_stmt *stmt;

	if(chat_sql__prepare(db, SQL_TOUCH, &stmt, err, doing) != CHAT_ERR_OK) {
		return err->code;
	}
	sqlite3_bind_int64(stmt, 1, now_ms);
	sqlite3_bind_text(stmt, 2, id, -1, SQLITE_STATIC);
	return run_and_finalize(db, stmt, err, doing);
}


enum chat_err chat_tokens__revoke(struct chat_store *store, const char *user, const char *id, int *revoked,
				  struct chat_error *err)
{
	sqlite3 *db = chat_store__db(store);
	const char *doing = "revoking session tokens";
	sqlite3_stmt *stmt;

	*revoked = 0;
	if(chat_sql__prepare(db, id != NULL ? SQL_REVOKE_ONE : SQL_REVOKE_ALL, &stmt, err, doing)
	   != CHAT_ERR_OK) {
		return err->code;
	}
	sqlite3_bind_text(stmt, 1, user, -1, SQLITE_STATIC);
	if(id != NULL) {
		sqlite3_bind_text(stmt, 2, id, -1, SQLITE_STATIC);
	}
	if(run_and_finalize(db, stmt, err, doing) != CHAT_ERR_OK) {
		return err->code;
	}
	*revoked = sqlite3_changes(db);
	return CHAT_ERR_OK;
}


enum chat_err chat_tokens__list(struct chat_store *store, const char *user, int64_t now_ms,
				int (*cb)(void *ctx, const struct chat_token_row *row), void *ctx,
				struct chat_error *err)
{
	sqlite3 *db = chat_store__db(store);
	const char *doing = "listing session tokens";
	struct chat_token_row row;
	sqlite3_stmt *stmt;
	int rc;

	if(chat_sql__prepare(db, SQL_LIST, &stmt, err, doing) != CHAT_ERR_OK) {
		return err->code;
	}
	sqlite3_bind_text(stmt, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, now_ms);
	while((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const unsigned char *id = sqlite3_column_text(stmt, 0);

		memset(&row, 0, sizeof(row));
		if(id == NULL) {
			sqlite3_finalize(stmt);
			return chat_error__set(err, CHAT_ERR_UNAVAILABLE,
					       "storage failed while %s: out of memory", doing);
		}
		snprintf(row.id, sizeof(row.id), "%s", (const char *)id);
		row.created_ts = sqlite3_column_int64(stmt, 1);
		row.expires_ts = sqlite3_column_int64(stmt, 2);
		row.last_used_ts = column_ms(stmt, 3);
		if(cb(ctx, &row) != 0) {
			sqlite3_finalize(stmt);
			return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
		}
	}
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? CHAT_ERR_OK : chat_sql__error(db, err, doing);
}
