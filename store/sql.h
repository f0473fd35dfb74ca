/*
 * sql.h - what every file of the store layer needs around SQLite: a storage error named by what was
 * being done, and a prepare that records why it failed.
 */
#ifndef CHAT_SQL_H
#define CHAT_SQL_H

#include <sqlite3.h>

#include "errors.h"

/* Sets err to CHAT_ERR_UNAVAILABLE "storage failed while <doing>: <SQLite's message>"; returns it. */
enum chat_err chat_sql__error(sqlite3 *db, struct chat_error *err, const char *doing);

/* Prepares sql on db into *stmt; on failure *stmt is NULL and err says why (chat_sql__error). */
enum chat_err chat_sql__prepare(sqlite3 *db, const char *sql, sqlite3_stmt **stmt, struct chat_error *err,
				const char *doing);

#endif
