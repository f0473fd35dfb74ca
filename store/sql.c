/*
 * sql.c - the store layer's SQLite helpers (sql.h).
 */
#include "sql.h"


enum chat_err chat_sql__error(sqlite3 *db, struct chat_error *err, const char *doing)
{
	return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "storage failed while %s: %s", doing,
			       sqlite3_errmsg(db));
}


enum chat_err chat_sql__prepare(sqlite3 *db, const char *sql, sqlite3_stmt **stmt, struct chat_error *err,
				const char *doing)
{
	if(sqlite3_prepare_v2(db, sql, -1, stmt, NULL) != SQLITE_OK) {
		sqlite3_finalize(*stmt);
		*stmt = NULL;
		return chat_sql__error(db, err, doing);
	}
	return CHAT_ERR_OK;
}
